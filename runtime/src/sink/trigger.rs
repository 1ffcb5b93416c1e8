//! When a sink writes its buffered rows: a pure rolling policy.

use pipec_compiler::plan::Trigger;
use std::time::Duration;

/// A backfill's rows per file: its memory stays bounded (a few hundred MB
/// at the seed's event size) however much the topic holds.
pub const ONCE_ROWS_PER_FILE: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerPolicy {
    /// Whichever bound is reached first; at least one is set.
    Every {
        interval: Option<Duration>,
        rows: Option<u64>,
    },
    /// Drain what the topic holds at start, write, stop: one file per
    /// partition, or one per `ONCE_ROWS_PER_FILE` rows of a bigger backlog.
    Once,
}

impl TriggerPolicy {
    pub fn from_plan(trigger: &Trigger) -> Self {
        match trigger {
            Trigger::Once => TriggerPolicy::Once,
            Trigger::Every { interval_ms, rows } => TriggerPolicy::Every {
                interval: interval_ms.map(Duration::from_millis),
                rows: *rows,
            },
        }
    }

    /// How often to look at the clock; `None`: only rows (or the end) decide.
    pub fn tick(&self) -> Option<Duration> {
        match self {
            TriggerPolicy::Every { interval, .. } => *interval,
            TriggerPolicy::Once => None,
        }
    }

    /// The row count at which one partition's buffer is written, if rows
    /// decide at all: `every N rows` counts the rows the sink keeps (after
    /// its filter) in one Kafka partition, so each file has N rows.
    pub fn rows_per_file(&self) -> Option<u64> {
        match self {
            TriggerPolicy::Every { rows, .. } => *rows,
            TriggerPolicy::Once => None,
        }
    }

    /// Which partitions to write now, given each one's buffered messages
    /// and kept rows and the time since the last write of all of them.
    /// An interval writes every partition that read something (messages
    /// read but all filtered out still count: writing moves the checkpoint
    /// past them); a row count writes the partitions that reached it; a
    /// backfill writes all once they hold a full file between them.
    pub fn due(&self, buffers: &[Buffered], since_last: Duration) -> Due {
        match self {
            TriggerPolicy::Once => {
                let rows: u64 = buffers.iter().map(|b| b.rows).sum();
                if rows >= ONCE_ROWS_PER_FILE {
                    Due::All
                } else {
                    Due::Nothing
                }
            }
            TriggerPolicy::Every { interval, rows } => {
                let read = buffers.iter().any(|b| b.messages > 0);
                if read && interval.is_some_and(|every| since_last >= every) {
                    return Due::All;
                }
                let full: Vec<i32> = match rows {
                    Some(limit) => buffers
                        .iter()
                        .filter(|b| b.rows >= *limit)
                        .map(|b| b.partition)
                        .collect(),
                    None => Vec::new(),
                };
                if full.is_empty() {
                    Due::Nothing
                } else {
                    Due::Partitions(full)
                }
            }
        }
    }
}

/// What one Kafka partition of a sink holds, unwritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffered {
    pub partition: i32,
    pub messages: u64,
    /// Rows kept by the filter.
    pub rows: u64,
}

/// The trigger's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Nothing,
    /// Every partition that read something (and the interval restarts).
    All,
    /// These partitions' buffers only.
    Partitions(Vec<i32>),
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn one(messages: u64, rows: u64) -> [Buffered; 1] {
        [Buffered {
            partition: 0,
            messages,
            rows,
        }]
    }

    #[test]
    fn interval_fires_only_with_something_read() {
        let policy = TriggerPolicy::Every {
            interval: Some(10 * SECOND),
            rows: None,
        };
        assert_eq!(policy.due(&one(5, 5), 9 * SECOND), Due::Nothing);
        assert_eq!(policy.due(&one(5, 5), 10 * SECOND), Due::All);
        assert_eq!(
            policy.due(&one(5, 0), 10 * SECOND),
            Due::All,
            "filtered-out messages still move the checkpoint"
        );
        assert_eq!(
            policy.due(&one(0, 0), 60 * SECOND),
            Due::Nothing,
            "nothing read: no empty file"
        );
    }

    #[test]
    fn rows_count_kept_rows_per_partition() {
        let policy = TriggerPolicy::Every {
            interval: Some(60 * SECOND),
            rows: Some(4),
        };
        let buffers = [
            Buffered {
                partition: 0,
                messages: 100,
                rows: 3,
            },
            Buffered {
                partition: 1,
                messages: 4,
                rows: 4,
            },
            Buffered {
                partition: 2,
                messages: 2,
                rows: 2,
            },
        ];
        assert_eq!(
            policy.due(&buffers, SECOND),
            Due::Partitions(vec![1]),
            "messages the filter dropped do not count, nor other partitions' rows"
        );
        assert_eq!(policy.due(&buffers, 60 * SECOND), Due::All);
        let rows_only = TriggerPolicy::Every {
            interval: None,
            rows: Some(10),
        };
        assert_eq!(rows_only.due(&one(9, 9), 3600 * SECOND), Due::Nothing);
        assert_eq!(
            rows_only.due(&one(10, 10), Duration::ZERO),
            Due::Partitions(vec![0])
        );
        assert_eq!(rows_only.tick(), None);
        assert_eq!(rows_only.rows_per_file(), Some(10));
    }

    #[test]
    fn once_fires_only_on_a_full_file() {
        let once = TriggerPolicy::Once;
        assert_eq!(
            once.due(&one(5_000_000, ONCE_ROWS_PER_FILE - 1), 3600 * SECOND),
            Due::Nothing
        );
        assert_eq!(
            once.due(&one(ONCE_ROWS_PER_FILE, ONCE_ROWS_PER_FILE), Duration::ZERO),
            Due::All
        );
        assert_eq!(
            TriggerPolicy::from_plan(&Trigger::Every {
                interval_ms: Some(10_000),
                rows: None
            }),
            TriggerPolicy::Every {
                interval: Some(10 * SECOND),
                rows: None
            }
        );
    }
}
