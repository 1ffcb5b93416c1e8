//! One Kafka partition's share of a sink: the events read since the last
//! write, and the two-phase write that makes them durable exactly once.

use super::checkpoint::{Checkpoint, CheckpointStore, CommittedFile, FileStore};
use super::decode::{classify, dead_letter_batch, BatchBuilder, DeadLetter};
use super::filter::CompiledFilter;
use super::naming::{is_pending, partition_of, pending_name, FileKey};
use super::writer::{encode_parquet, project, split};
use crate::storage::{Storage, StorageError};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use pipec_compiler::plan::{Compression, Schema, Sink};

/// Rows are turned into Arrow (and filtered) in batches of this many.
pub const DECODE_BATCH: usize = 4096;

pub struct PartitionBuffer {
    partition: i32,
    /// The next offset to read: everything before is written or buffered.
    position: i64,
    /// The first offset read since the last write.
    first_unwritten: Option<i64>,
    messages: u64,
    builder: BatchBuilder,
    /// Filtered rows, ready to write.
    batches: Vec<RecordBatch>,
    rows: u64,
    dead: Vec<DeadLetter>,
}

/// What one write of a partition did.
#[derive(Debug, Default)]
pub struct Written {
    pub messages: u64,
    pub rows: u64,
    pub dead_letters: u64,
    pub files: u64,
    pub next_offset: i64,
}

/// Where and how a partition writes.
pub struct WriteTarget<'a> {
    pub sink: &'a Sink,
    pub topic: &'a str,
    pub cluster: &'a str,
    pub filter: Option<&'a CompiledFilter>,
    pub file_schema: &'a SchemaRef,
    pub data: &'a Storage,
    pub dead_letters: &'a Storage,
    pub checkpoints: &'a CheckpointStore,
}

impl PartitionBuffer {
    pub fn new(partition: i32, next_offset: i64, schema: &Schema) -> Result<Self, ArrowError> {
        Ok(PartitionBuffer {
            partition,
            position: next_offset,
            first_unwritten: None,
            messages: 0,
            builder: BatchBuilder::new(schema)?,
            batches: Vec::new(),
            rows: 0,
            dead: Vec::new(),
        })
    }

    pub fn position(&self) -> i64 {
        self.position
    }

    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Rows kept so far, counting rows not yet filtered as kept.
    pub fn rows(&self) -> u64 {
        self.rows + self.builder.len() as u64
    }

    pub fn pending_rows(&self) -> usize {
        self.builder.len()
    }

    /// Takes one message; `true` if it became a dead letter.
    pub fn accept(
        &mut self,
        topic: &str,
        schema: &Schema,
        offset: i64,
        timestamp_micros: i64,
        payload: Option<Vec<u8>>,
    ) -> bool {
        self.first_unwritten.get_or_insert(offset);
        self.position = offset + 1;
        self.messages += 1;
        match classify(payload.as_deref(), schema) {
            Ok(row) => {
                let raw = String::from_utf8(payload.unwrap_or_default())
                    .expect("a message that parsed as JSON is UTF-8");
                self.builder.push(raw, timestamp_micros, row);
                false
            }
            Err(reason) => {
                self.dead.push(DeadLetter {
                    raw: payload.unwrap_or_default(),
                    reason,
                    topic: topic.to_string(),
                    partition: self.partition,
                    offset,
                    timestamp_micros,
                });
                true
            }
        }
    }

    /// Turns the rows read so far into Arrow and keeps those the filter passes.
    pub fn decode(&mut self, filter: Option<&CompiledFilter>) -> Result<(), String> {
        let Some(batch) = self.builder.finish().map_err(|e| e.to_string())? else {
            return Ok(());
        };
        let kept = match filter {
            Some(filter) => filter.apply(&batch).map_err(|e| e.to_string())?,
            None => batch,
        };
        self.rows += kept.num_rows() as u64;
        if kept.num_rows() > 0 {
            self.batches.push(kept);
        }
        Ok(())
    }

    /// The two-phase write: hidden files, checkpoint (the commit point),
    /// then the files made visible.
    pub async fn write(&mut self, target: WriteTarget<'_>) -> Result<Written, String> {
        let Some(first) = self.first_unwritten else {
            return Ok(Written { next_offset: self.position, ..Written::default() });
        };
        self.decode(target.filter)?;
        let last = self.position - 1;
        let key = FileKey {
            topic: target.topic,
            partition: self.partition,
            first_offset: first,
            last_offset: last,
            cluster: target.cluster,
        };
        let name = key.file_name();
        let mut files = Vec::new();
        if !self.batches.is_empty() {
            let all = arrow::compute::concat_batches(&self.batches[0].schema(), &self.batches)
                .map_err(|e| e.to_string())?;
            for (directory, rows) in split(&all, target.sink.partitioning.as_ref()).map_err(|e| e.to_string())? {
                let rows = project(&rows, target.file_schema).map_err(|e| e.to_string())?;
                let bytes = encode_parquet(&rows, target.sink.compression).map_err(|e| e.to_string())?;
                files.push(put_hidden(target.data, FileStore::Data, &directory, &name, bytes).await?);
            }
        }
        if !self.dead.is_empty() {
            let batch = dead_letter_batch(&self.dead).map_err(|e| e.to_string())?;
            let bytes = encode_parquet(&batch, Compression::Snappy).map_err(|e| e.to_string())?;
            files.push(put_hidden(target.dead_letters, FileStore::DeadLetters, "", &name, bytes).await?);
        }
        let checkpoint = Checkpoint {
            cluster: target.cluster.to_string(),
            topic: target.topic.to_string(),
            partition: self.partition,
            next_offset: self.position,
            files,
        };
        target.checkpoints.save(&checkpoint).await.map_err(|e| e.to_string())?;
        for file in &checkpoint.files {
            let storage = match file.store {
                FileStore::Data => target.data,
                FileStore::DeadLetters => target.dead_letters,
            };
            storage.rename(&file.pending, &file.visible).await.map_err(|e| e.to_string())?;
        }
        let written = Written {
            messages: self.messages,
            rows: self.rows,
            dead_letters: self.dead.len() as u64,
            files: checkpoint.files.len() as u64,
            next_offset: self.position,
        };
        self.first_unwritten = None;
        self.messages = 0;
        self.rows = 0;
        self.batches.clear();
        self.dead.clear();
        Ok(written)
    }
}

async fn put_hidden(
    storage: &Storage,
    store: FileStore,
    directory: &str,
    name: &str,
    bytes: Vec<u8>,
) -> Result<CommittedFile, String> {
    let join = |file: &str| {
        if directory.is_empty() {
            file.to_string()
        } else {
            format!("{directory}/{file}")
        }
    };
    let file = CommittedFile {
        store,
        pending: join(&pending_name(name)),
        visible: join(name),
    };
    storage.put(&file.pending, bytes).await.map_err(|e| e.to_string())?;
    Ok(file)
}

/// Finishes the renames of the last committed write, which a crash may have
/// interrupted, and deletes hidden files of writes that never committed.
pub async fn recover(
    checkpoint: &Checkpoint,
    data: &Storage,
    dead_letters: &Storage,
    topic: &str,
) -> Result<(), StorageError> {
    for file in &checkpoint.files {
        let storage = match file.store {
            FileStore::Data => data,
            FileStore::DeadLetters => dead_letters,
        };
        if storage.exists(&file.pending).await? {
            tracing::info!(file = %file.visible, "finishing a write interrupted after its checkpoint");
            storage.rename(&file.pending, &file.visible).await?;
        }
    }
    remove_orphans(data, dead_letters, topic, checkpoint.partition).await
}

/// Deletes this partition's hidden files that no checkpoint committed.
pub async fn remove_orphans(
    data: &Storage,
    dead_letters: &Storage,
    topic: &str,
    partition: i32,
) -> Result<(), StorageError> {
    for storage in [data, dead_letters] {
        for path in storage.list("").await? {
            let name = path.rsplit('/').next().unwrap_or(&path);
            if is_pending(name) && partition_of(name, topic) == Some(partition) {
                tracing::info!(file = %path, "removing a file of a write that never committed");
                storage.delete(&path).await?;
            }
        }
    }
    Ok(())
}
