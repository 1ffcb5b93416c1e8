//! How far the sinks trail the API, per topic partition, in events and bytes.
//!
//! The embedded broker (librdkafka's mock cluster) keeps about 5 MB or
//! 100,000 message sets per partition and silently drops the oldest beyond
//! that. So in embedded mode the API asks [`Backlog::admits`] before it
//! produces, and answers 503 while the unwritten backlog is near the bound:
//! an event it acknowledged is never dropped before a sink wrote it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// Where to stop accepting: well below the mock cluster's bounds, since its
/// byte count includes batch overhead we do not see.
#[derive(Debug, Clone, Copy)]
pub struct BacklogLimit {
    pub bytes: u64,
    pub events: u64,
}

impl BacklogLimit {
    /// 60% of the mock cluster's 5 MB and 100,000 message sets.
    pub const EMBEDDED: BacklogLimit = BacklogLimit {
        bytes: 3 * 1024 * 1024,
        events: 60_000,
    };
}

#[derive(Debug, Default)]
struct PartitionBacklog {
    /// `(offset, bytes)` of every produced event not yet written by every sink.
    pending: VecDeque<(i64, u64)>,
    bytes: u64,
    /// Per sink: the next offset it still has to write.
    written_to: BTreeMap<String, i64>,
}

/// Shared by the API (which produces) and the sinks (which write).
#[derive(Debug)]
pub struct Backlog {
    limit: BacklogLimit,
    /// The sinks reading each topic; a topic no sink reads is bounded too,
    /// since whoever reads it later would find events missing.
    readers: Mutex<BTreeMap<String, Vec<String>>>,
    partitions: Mutex<BTreeMap<(String, i32), PartitionBacklog>>,
}

/// The backlog of the fullest partition of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogSize {
    pub bytes: u64,
    pub events: u64,
}

impl Backlog {
    /// `readers`: topic → the sinks that read it.
    pub fn new(limit: BacklogLimit, readers: BTreeMap<String, Vec<String>>) -> Self {
        Backlog {
            limit,
            readers: Mutex::new(readers),
            partitions: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn limit(&self) -> BacklogLimit {
        self.limit
    }

    /// Whether `incoming` more bytes of events fit on `topic`.
    pub fn admits(&self, topic: &str, incoming: u64) -> bool {
        let size = self.size(topic);
        size.bytes + incoming <= self.limit.bytes && size.events < self.limit.events
    }

    pub fn size(&self, topic: &str) -> BacklogSize {
        let partitions = self.partitions.lock().expect("backlog lock");
        partitions
            .iter()
            .filter(|((t, _), _)| t == topic)
            .map(|(_, p)| BacklogSize {
                bytes: p.bytes,
                events: p.pending.len() as u64,
            })
            .max_by_key(|s| s.bytes)
            .unwrap_or(BacklogSize {
                bytes: 0,
                events: 0,
            })
    }

    /// The broker acknowledged an event at `offset`.
    pub fn produced(&self, topic: &str, partition: i32, offset: i64, bytes: u64) {
        let mut partitions = self.partitions.lock().expect("backlog lock");
        let entry = partitions
            .entry((topic.to_string(), partition))
            .or_default();
        // Acknowledgements can arrive out of order; keep offsets sorted.
        let at = entry.pending.partition_point(|(o, _)| *o < offset);
        entry.pending.insert(at, (offset, bytes));
        entry.bytes += bytes;
    }

    /// `sink` durably wrote everything of `topic`/`partition` before `next_offset`.
    pub fn written(&self, sink: &str, topic: &str, partition: i32, next_offset: i64) {
        let mut partitions = self.partitions.lock().expect("backlog lock");
        let entry = partitions
            .entry((topic.to_string(), partition))
            .or_default();
        let position = entry
            .written_to
            .entry(sink.to_string())
            .or_insert(next_offset);
        *position = (*position).max(next_offset);
        let readers = self.readers.lock().expect("readers lock");
        release(
            entry,
            readers.get(topic).map(Vec::as_slice).unwrap_or_default(),
        );
    }

    /// `sink` stopped reading (a `trigger once` sink that finished): it no
    /// longer holds events back.
    pub fn retire(&self, sink: &str) {
        let mut readers = self.readers.lock().expect("readers lock");
        for names in readers.values_mut() {
            names.retain(|name| name != sink);
        }
        let mut partitions = self.partitions.lock().expect("backlog lock");
        for ((topic, _), entry) in partitions.iter_mut() {
            let topic_readers = readers.get(topic).map(Vec::as_slice).unwrap_or_default();
            if !topic_readers.is_empty() {
                release(entry, topic_readers);
            }
        }
    }
}

/// Drops what the slowest reader has written.
fn release(entry: &mut PartitionBacklog, readers: &[String]) {
    let slowest = readers
        .iter()
        .map(|r| entry.written_to.get(r).copied().unwrap_or(i64::MIN))
        .min()
        .unwrap_or(i64::MIN);
    while let Some(&(offset, bytes)) = entry.pending.front() {
        if offset >= slowest {
            break;
        }
        entry.pending.pop_front();
        entry.bytes -= bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backlog(limit_bytes: u64) -> Backlog {
        let readers = BTreeMap::from([(
            "events".to_string(),
            vec!["swords".to_string(), "guilds".to_string()],
        )]);
        Backlog::new(
            BacklogLimit {
                bytes: limit_bytes,
                events: 1_000,
            },
            readers,
        )
    }

    #[test]
    fn refuses_once_the_fullest_partition_is_at_the_limit() {
        let backlog = backlog(300);
        for offset in 0..3 {
            assert!(backlog.admits("events", 100));
            backlog.produced("events", 0, offset, 100);
        }
        assert!(!backlog.admits("events", 1));
        assert!(backlog.admits("other", 100));
        assert_eq!(
            backlog.size("events"),
            BacklogSize {
                bytes: 300,
                events: 3
            }
        );
    }

    #[test]
    fn releases_only_what_every_reader_wrote() {
        let backlog = backlog(300);
        for offset in 0..3 {
            backlog.produced("events", 0, offset, 100);
        }
        backlog.written("swords", "events", 0, 3);
        assert_eq!(
            backlog.size("events").events,
            3,
            "guilds has written nothing"
        );
        backlog.written("guilds", "events", 0, 2);
        assert_eq!(
            backlog.size("events"),
            BacklogSize {
                bytes: 100,
                events: 1
            }
        );
        // A sink's position never moves back.
        backlog.written("guilds", "events", 0, 1);
        assert_eq!(backlog.size("events").events, 1);
        assert!(backlog.admits("events", 200));
    }

    #[test]
    fn a_retired_reader_holds_nothing_back() {
        let backlog = backlog(300);
        for offset in 0..3 {
            backlog.produced("events", 0, offset, 100);
        }
        backlog.written("swords", "events", 0, 3);
        assert_eq!(backlog.size("events").events, 3);
        backlog.retire("guilds");
        assert_eq!(backlog.size("events").events, 0);
    }

    #[test]
    fn out_of_order_acknowledgements_are_kept_in_offset_order() {
        let backlog = backlog(1_000);
        backlog.produced("events", 0, 5, 10);
        backlog.produced("events", 0, 3, 10);
        backlog.produced("events", 0, 4, 10);
        backlog.written("swords", "events", 0, 5);
        backlog.written("guilds", "events", 0, 5);
        assert_eq!(
            backlog.size("events"),
            BacklogSize {
                bytes: 10,
                events: 1
            }
        );
    }

    #[test]
    fn the_event_count_is_bounded_too() {
        let backlog = backlog(u64::MAX / 2);
        for offset in 0..1_000 {
            backlog.produced("events", 0, offset, 1);
        }
        assert!(!backlog.admits("events", 1));
    }
}
