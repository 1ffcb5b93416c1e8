//! Sinks: per topic one Kafka consumer feeds every sink of the topic
//! through the Kafka-free core (`core`): each message is decoded once, each
//! sink's filter keeps its rows, its files are written as they fill, and on
//! each sink's trigger its files are completed and then its checkpoint
//! written. One `select!` over receive, trigger tick and shutdown, as
//! Arroyo's Kafka source does.

pub mod checkpoint;
pub mod chunk;
pub mod core;
pub mod decode;
pub mod delta;
mod delta_local_store;
mod file;
pub mod filter;
pub mod naming;
mod partition;
mod reader;
mod shape;
pub mod trigger;
mod write_error;
pub mod writer;

use crate::storage::StorageError;
use checkpoint::CheckpointError;
pub use partition::{PartitionBuffer, WriteTarget};
use rdkafka::error::KafkaError;
pub use reader::TopicReader;

/// What the process asks of its sinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkCommand {
    Run,
    /// Write what is buffered and stop (the broker keeps the rest).
    Stop,
    /// Read up to the end of the topic first, then write and stop: the
    /// embedded broker forgets everything when the process ends.
    Drain,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("sink `{sink}`: {source}")]
    Kafka { sink: String, source: KafkaError },
    #[error("sink `{sink}`: {source}")]
    Storage { sink: String, source: StorageError },
    #[error("sink `{sink}`: {source}")]
    Checkpoint {
        sink: String,
        source: CheckpointError,
    },
    #[error("sink `{sink}`: {source}")]
    Delta {
        sink: String,
        source: Box<delta::DeltaError>,
    },
    #[error("sink `{sink}`: {message}")]
    Internal { sink: String, message: String },
    /// A backfill (`--once`, `trigger once`) claims every partition itself:
    /// beside running workers it would fence them out of their partitions.
    #[error(
        "sink `{sink}`: {members} running worker(s) read `{topic}` (consumer group `{group}`); \
         a backfill beside them would take their partitions and leave them unable to write. \
         Stop them first, or leave the backlog to them: they read it as a backfill would"
    )]
    LiveWorkers {
        sink: String,
        topic: String,
        group: String,
        members: usize,
    },
}

/// Totals of one sink's run, for the summary of `trigger once`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkSummary {
    pub sink: String,
    pub events_read: u64,
    pub rows_written: u64,
    pub dead_letters: u64,
    pub files: u64,
}

impl SinkError {
    /// Whether the same step may succeed later (see [`StorageError::is_transient`]).
    pub fn is_transient(&self) -> bool {
        match self {
            SinkError::Storage { source, .. } => source.is_transient(),
            SinkError::Delta { source, .. } => source.is_transient(),
            SinkError::Checkpoint {
                source: CheckpointError::Storage(source),
                ..
            } => source.is_transient(),
            // Claims that kept crossing other writers': try again later.
            SinkError::Checkpoint {
                source: CheckpointError::Fenced { .. },
                ..
            } => true,
            _ => false,
        }
    }
}

pub(crate) fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
