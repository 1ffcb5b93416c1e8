//! Why a partition's write did not commit: shared by the file writer and
//! the commit protocol, and owned by neither.

use crate::storage::StorageError;

/// Why a write did not commit.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Another worker claimed the partition: nothing of this write is
    /// visible, and its events are left in Kafka for the owner.
    #[error("partition {partition} was claimed by another worker")]
    Fenced { partition: i32 },
    /// The store failed; what was taken since the last commit must be read
    /// again (see `PartitionBuffer::rewind`).
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Failed(String),
}

impl From<String> for WriteError {
    fn from(message: String) -> Self {
        WriteError::Failed(message)
    }
}

impl From<arrow::error::ArrowError> for WriteError {
    fn from(error: arrow::error::ArrowError) -> Self {
        WriteError::Failed(error.to_string())
    }
}
