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

    /// Whether to write now, given what is buffered and how long since the
    /// last write. Messages read but all filtered out still count as
    /// progress: writing then moves the checkpoint past them.
    pub fn due(&self, buffered_messages: u64, buffered_rows: u64, since_last: Duration) -> bool {
        match self {
            TriggerPolicy::Once => buffered_rows >= ONCE_ROWS_PER_FILE,
            TriggerPolicy::Every { interval, rows } => {
                let by_rows = rows.is_some_and(|limit| buffered_rows >= limit);
                let by_time =
                    interval.is_some_and(|every| since_last >= every) && buffered_messages > 0;
                by_rows || by_time
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn interval_fires_only_with_something_read() {
        let policy = TriggerPolicy::Every {
            interval: Some(10 * SECOND),
            rows: None,
        };
        assert!(!policy.due(5, 5, 9 * SECOND));
        assert!(policy.due(5, 5, 10 * SECOND));
        assert!(
            policy.due(5, 0, 10 * SECOND),
            "filtered-out messages still move the checkpoint"
        );
        assert!(
            !policy.due(0, 0, 60 * SECOND),
            "nothing read: no empty file"
        );
    }

    #[test]
    fn rows_fire_before_the_interval() {
        let policy = TriggerPolicy::Every {
            interval: Some(60 * SECOND),
            rows: Some(1000),
        };
        assert!(!policy.due(5000, 999, SECOND));
        assert!(policy.due(1000, 1000, SECOND));
        let rows_only = TriggerPolicy::Every {
            interval: None,
            rows: Some(10),
        };
        assert!(!rows_only.due(9, 9, 3600 * SECOND));
        assert!(rows_only.due(10, 10, Duration::ZERO));
        assert_eq!(rows_only.tick(), None);
    }

    #[test]
    fn once_fires_only_on_a_full_file() {
        let once = TriggerPolicy::Once;
        assert!(!once.due(5_000_000, ONCE_ROWS_PER_FILE - 1, 3600 * SECOND));
        assert!(once.due(ONCE_ROWS_PER_FILE, ONCE_ROWS_PER_FILE, Duration::ZERO));
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
