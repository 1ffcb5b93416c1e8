//! One Parquet file written while its rows arrive. Row groups are encoded
//! and uploaded as they fill, on a task of their own (so on the other core
//! while the reader decodes), and a sink's memory is about one row group
//! per open file, not a whole file: a backfill's memory stays flat however
//! long the topic is.

use super::write_error::WriteError;
use crate::storage::Storage;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::AsyncArrowWriter;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Batches a file's task may hold queued before the reader waits for it:
/// enough to keep both cores busy, few enough that memory stays bounded.
const QUEUED_BATCHES: usize = 4;

/// A hidden file being written. [`StreamingFile::finish`] completes it (the
/// object exists only then, on object stores); dropping it abandons it.
pub struct StreamingFile {
    /// Where, relative to its storage.
    pub pending: String,
    sender: Option<mpsc::Sender<RecordBatch>>,
    /// Set when the file is abandoned: the task then aborts the upload
    /// (an object store's multipart upload) instead of completing it.
    abandoned: Arc<AtomicBool>,
    task: JoinHandle<Result<FinishedFile, WriteError>>,
}

/// What a completed file holds, for a table log that records it.
#[derive(Debug, Clone, Copy, Default)]
pub struct FinishedFile {
    pub rows: i64,
    pub bytes: i64,
}

impl StreamingFile {
    /// Starts writing `pending`; nothing is visible until it is renamed.
    pub fn create(
        storage: &Storage,
        pending: String,
        schema: SchemaRef,
        properties: WriterProperties,
    ) -> StreamingFile {
        let (sender, mut receiver) = mpsc::channel::<RecordBatch>(QUEUED_BATCHES);
        let upload = storage.writer(&pending);
        let storage = storage.clone();
        let abandoned = Arc::new(AtomicBool::new(false));
        let abandon = abandoned.clone();
        let task = tokio::spawn(async move {
            let failed = |error: ParquetError| parquet_error(&storage, error);
            let mut writer =
                AsyncArrowWriter::try_new(upload, schema, Some(properties)).map_err(failed)?;
            while let Some(batch) = receiver.recv().await {
                if abandon.load(Ordering::Acquire) {
                    break;
                }
                writer.write(&batch).await.map_err(failed)?;
            }
            if abandon.load(Ordering::Acquire) {
                let mut upload = writer.into_inner();
                if let Err(error) = upload.abort().await {
                    tracing::debug!(%error, "an abandoned upload could not be aborted");
                }
                return Ok(FinishedFile::default());
            }
            let metadata = writer.finish().await.map_err(failed)?;
            Ok(FinishedFile {
                rows: metadata.file_metadata().num_rows(),
                bytes: writer.bytes_written() as i64,
            })
        });
        StreamingFile {
            pending,
            sender: Some(sender),
            abandoned,
            task,
        }
    }

    /// Queues rows; waits while the file's task is behind. An error is the
    /// file's: its upload failed, and the file must be written again.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<(), WriteError> {
        let sender = self
            .sender
            .as_ref()
            .expect("a file is written before it is finished");
        if sender.send(batch).await.is_err() {
            // The task ended early: it failed, and says why.
            self.sender = None;
            return Err(self.outcome().await.err().unwrap_or_else(|| {
                WriteError::Failed("a Parquet file's writer stopped early".into())
            }));
        }
        Ok(())
    }

    /// Writes the last row group and the footer, and completes the upload.
    pub async fn finish(mut self) -> Result<FinishedFile, WriteError> {
        self.sender = None;
        self.outcome().await
    }

    async fn outcome(&mut self) -> Result<FinishedFile, WriteError> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(error) => Err(WriteError::Failed(format!(
                "a Parquet file's writer failed: {error}"
            ))),
        }
    }
}

impl Drop for StreamingFile {
    /// Abandoned (a rewind, a revoked partition, a stop): the upload is
    /// aborted, never completed, so no object appears (a local upload's
    /// staging file is removed, an object store's parts are discarded).
    /// Finishing takes the sender first, so a finished file is not this.
    fn drop(&mut self) {
        // The flag before the channel closes: the task reads it after.
        if self.sender.is_some() {
            self.abandoned.store(true, Ordering::Release);
            self.sender = None;
        }
    }
}

/// A writer's failure: an upload's error is the store's, with its kind (an
/// outage is retried, missing rights are not); anything else is a bug.
fn parquet_error(storage: &Storage, error: ParquetError) -> WriteError {
    let ParquetError::External(source) = error else {
        return WriteError::Failed(error.to_string());
    };
    // object_store's `BufWriter` reports through `std::io::Error`.
    let source = match source.downcast::<std::io::Error>() {
        Ok(io) if io.get_ref().is_some() => (*io).into_inner().expect("checked just above"),
        Ok(io) => io,
        Err(other) => other,
    };
    let error = match source.downcast::<object_store::Error>() {
        Ok(error) => *error,
        Err(source) => object_store::Error::Generic {
            store: "upload",
            source,
        },
    };
    WriteError::Storage(storage.error(error))
}
