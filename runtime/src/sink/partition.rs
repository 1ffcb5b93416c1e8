//! One Kafka partition's share of a sink: the events read since the last
//! write, and the two-phase write that makes them durable exactly once.

use super::checkpoint::{Checkpoint, CheckpointError, CheckpointStore, CommittedFile, FileStore};
use super::decode::{classify, dead_letter_batch, BatchBuilder, DeadLetter};
use super::filter::CompiledFilter;
use super::naming::{generation_of, is_pending, partition_of, pending_name, FileKey};
use super::writer::{encode_parquet, project, split};
use crate::storage::{ObjectVersion, Storage, StorageError};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use pipec_compiler::plan::{Compression, MetadataNames, Schema, Sink};

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
    /// No message of this partition was seen since it was opened.
    fresh: bool,
    /// This worker's claim on the partition: what its commits are based on.
    claim: Claim,
    /// A checkpoint this buffer committed whose files are not all visible
    /// yet: a retry only finishes its renames, never writes it again.
    committed: Option<Checkpoint>,
}

/// A worker's claim on a partition (see `checkpoint`'s fencing protocol).
#[derive(Debug, Clone)]
pub struct Claim {
    pub generation: u64,
    /// The checkpoint's version as this worker last wrote it.
    pub version: ObjectVersion,
}

impl Default for Claim {
    /// No checkpoint yet, claimed by nobody: the first commit creates it.
    fn default() -> Self {
        Claim {
            generation: 0,
            version: ObjectVersion::Absent,
        }
    }
}

/// Why a write did not commit.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Another worker claimed the partition: nothing of this write is
    /// visible, and its events are left in Kafka for the owner.
    #[error("partition {partition} was claimed by another worker")]
    Fenced { partition: i32 },
    /// The store failed; the write can be done again from the start.
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
    /// Who writes, as the checkpoint records it.
    pub owner: &'a str,
}

impl PartitionBuffer {
    pub fn new(
        partition: i32,
        next_offset: i64,
        schema: &Schema,
        metadata: &MetadataNames,
    ) -> Result<Self, ArrowError> {
        Ok(PartitionBuffer {
            partition,
            position: next_offset,
            first_unwritten: None,
            messages: 0,
            builder: BatchBuilder::new(schema, metadata)?,
            batches: Vec::new(),
            rows: 0,
            dead: Vec::new(),
            fresh: true,
            claim: Claim::default(),
            committed: None,
        })
    }

    /// The buffer of a partition this worker claimed.
    pub fn with_claim(mut self, claim: Claim) -> Self {
        self.claim = claim;
        self
    }

    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    pub fn mark_positioned(&mut self) {
        self.fresh = false;
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
    pub async fn write(&mut self, target: WriteTarget<'_>) -> Result<Written, WriteError> {
        if let Some(checkpoint) = self.committed.clone() {
            return self.finish(&checkpoint, &target).await;
        }
        let Some(first) = self.first_unwritten else {
            return Ok(Written {
                next_offset: self.position,
                ..Written::default()
            });
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
            for (directory, rows) in
                split(&all, target.sink.partitioning.as_ref()).map_err(|e| e.to_string())?
            {
                let rows = project(&rows, target.file_schema).map_err(|e| e.to_string())?;
                let bytes =
                    encode_parquet(&rows, target.sink.compression).map_err(|e| e.to_string())?;
                files.push(
                    put_hidden(
                        target.data,
                        FileStore::Data,
                        &directory,
                        &name,
                        self.claim.generation,
                        bytes,
                    )
                    .await?,
                );
            }
        }
        if !self.dead.is_empty() {
            let batch = dead_letter_batch(&self.dead).map_err(|e| e.to_string())?;
            let bytes = encode_parquet(&batch, Compression::Snappy).map_err(|e| e.to_string())?;
            files.push(
                put_hidden(
                    target.dead_letters,
                    FileStore::DeadLetters,
                    "",
                    &name,
                    self.claim.generation,
                    bytes,
                )
                .await?,
            );
        }
        let checkpoint = Checkpoint {
            cluster: target.cluster.to_string(),
            topic: target.topic.to_string(),
            partition: self.partition,
            next_offset: self.position,
            files,
            generation: self.claim.generation,
            owner: target.owner.to_string(),
        };
        match target
            .checkpoints
            .save(&checkpoint, &self.claim.version)
            .await
        {
            Ok(version) => self.claim.version = version,
            Err(CheckpointError::Fenced { .. }) => {
                // Never to be committed by this worker: delete its hidden
                // files, but those the current checkpoint names (an earlier
                // attempt of this write that landed after all), which are
                // the owner's recovery to finish.
                let current = target
                    .checkpoints
                    .load(target.topic, self.partition)
                    .await
                    .ok()
                    .flatten();
                for file in &checkpoint.files {
                    let named = current
                        .as_ref()
                        .is_some_and(|c| c.files.iter().any(|f| f.pending == file.pending));
                    if !named {
                        let storage = store_of(file, target.data, target.dead_letters);
                        if let Err(error) = storage.delete(&file.pending).await {
                            tracing::warn!(file = %file.pending, %error, "cannot delete the hidden file of a fenced write; the partition's next claim removes it");
                        }
                    }
                }
                return Err(WriteError::Fenced {
                    partition: self.partition,
                });
            }
            Err(CheckpointError::Storage(error)) => return Err(WriteError::Storage(error)),
            Err(error) => return Err(WriteError::Failed(error.to_string())),
        }
        // Committed: a failure from here on is finished by the retry (renames
        // only) or by the partition's next owner's recovery.
        self.committed = Some(checkpoint.clone());
        self.finish(&checkpoint, &target).await
    }

    /// Makes a committed write's files visible and empties the buffer.
    async fn finish(
        &mut self,
        checkpoint: &Checkpoint,
        target: &WriteTarget<'_>,
    ) -> Result<Written, WriteError> {
        for file in &checkpoint.files {
            make_visible(store_of(file, target.data, target.dead_letters), file).await?;
        }
        self.committed = None;
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

fn store_of<'a>(file: &CommittedFile, data: &'a Storage, dead_letters: &'a Storage) -> &'a Storage {
    match file.store {
        FileStore::Data => data,
        FileStore::DeadLetters => dead_letters,
    }
}

/// Renames a committed file visible. Done already (by a worker that
/// recovered the partition meanwhile) counts as done.
async fn make_visible(storage: &Storage, file: &CommittedFile) -> Result<(), StorageError> {
    match storage.rename(&file.pending, &file.visible).await {
        Ok(()) => Ok(()),
        Err(error) => {
            if !storage.exists(&file.pending).await? && storage.exists(&file.visible).await? {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}

async fn put_hidden(
    storage: &Storage,
    store: FileStore,
    directory: &str,
    name: &str,
    generation: u64,
    bytes: Vec<u8>,
) -> Result<CommittedFile, StorageError> {
    let join = |file: &str| {
        if directory.is_empty() {
            file.to_string()
        } else {
            format!("{directory}/{file}")
        }
    };
    let file = CommittedFile {
        store,
        pending: join(&pending_name(name, generation)),
        visible: join(name),
    };
    storage.put(&file.pending, bytes).await?;
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
        let storage = store_of(file, data, dead_letters);
        if storage.exists(&file.pending).await? {
            tracing::info!(file = %file.visible, "finishing a write interrupted after its checkpoint");
            make_visible(storage, file).await?;
        } else if !storage.exists(&file.visible).await? {
            tracing::error!(file = %file.visible, partition = checkpoint.partition, "a file the checkpoint committed is missing, hidden or visible: its rows are lost");
        }
    }
    remove_orphans(
        data,
        dead_letters,
        topic,
        checkpoint.partition,
        checkpoint.generation,
    )
    .await
}

/// Deletes this partition's hidden files that no checkpoint committed, of
/// writers of generations before `generation` (the caller's claim): a later
/// claimant's files are its own, however old this listing is.
pub async fn remove_orphans(
    data: &Storage,
    dead_letters: &Storage,
    topic: &str,
    partition: i32,
    generation: u64,
) -> Result<(), StorageError> {
    for storage in [data, dead_letters] {
        for path in storage.list("").await? {
            let name = path.rsplit('/').next().unwrap_or(&path);
            if is_pending(name)
                && partition_of(name, topic) == Some(partition)
                && generation_of(name) < generation
            {
                tracing::info!(file = %path, "removing a file of a write that never committed");
                storage.delete(&path).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipec_compiler::plan::Location;
    use pipec_compiler::{compile, Plan, Source};
    use std::collections::BTreeMap;

    const PIPELINE: &str = "schema e {\n kind: string\n n: int?\n}\ntopic t { schema e }\n\
        sink s { from t\n where kind == \"keep\"\n path \"s\"\n checkpoint \"c\" }";

    struct Fixture {
        plan: Plan,
        dir: std::path::PathBuf,
        data: Storage,
        dead: Storage,
        checkpoints: CheckpointStore,
        filter: CompiledFilter,
        file_schema: SchemaRef,
    }

    fn fixture(name: &str) -> Fixture {
        let plan = compile(&Source::new("t.pipe", PIPELINE), &BTreeMap::new())
            .unwrap()
            .plan;
        let dir =
            std::env::temp_dir().join(format!("pipec-partition-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data = Storage::open(&Location::Relative("s".into()), &dir).unwrap();
        let dead = Storage::open(&Location::Relative("dead/sink=s".into()), &dir).unwrap();
        let checkpoints =
            CheckpointStore::new(Storage::open(&Location::Relative("c".into()), &dir).unwrap());
        let full = super::super::decode::full_schema(&plan.schemas[0], &plan.sinks[0].metadata);
        let filter = CompiledFilter::new(plan.sinks[0].filter.as_ref().unwrap(), &full).unwrap();
        let file_schema = full.clone();
        Fixture {
            plan,
            dir,
            data,
            dead,
            checkpoints,
            filter,
            file_schema,
        }
    }

    impl Fixture {
        fn target(&self) -> WriteTarget<'_> {
            WriteTarget {
                sink: &self.plan.sinks[0],
                topic: "t",
                cluster: "cafe0001",
                filter: Some(&self.filter),
                file_schema: &self.file_schema,
                data: &self.data,
                dead_letters: &self.dead,
                checkpoints: &self.checkpoints,
                owner: "test",
            }
        }

        fn files(&self, sub: &str) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(self.dir.join(sub))
                .map(|d| {
                    d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names
        }
    }

    fn feed(buffer: &mut PartitionBuffer, schema: &Schema, from: i64, messages: &[&str]) {
        for (i, text) in messages.iter().enumerate() {
            buffer.accept(
                "t",
                schema,
                from + i as i64,
                0,
                Some(text.as_bytes().to_vec()),
            );
        }
    }

    #[tokio::test]
    async fn the_watermark_covers_written_filtered_and_dead_messages() {
        let f = fixture("watermark");
        let schema = &f.plan.schemas[0];
        let mut buffer = PartitionBuffer::new(0, 10, schema, &MetadataNames::default()).unwrap();
        assert_eq!(buffer.position(), 10);
        feed(
            &mut buffer,
            schema,
            10,
            &[
                r#"{"kind":"keep"}"#,
                r#"{"kind":"drop"}"#,
                "not json",
                r#"{"kind":"keep","n":2}"#,
            ],
        );
        assert_eq!((buffer.position(), buffer.messages()), (14, 4));
        let written = buffer.write(f.target()).await.unwrap();
        assert_eq!(
            (
                written.rows,
                written.dead_letters,
                written.files,
                written.next_offset
            ),
            (2, 1, 2, 14)
        );
        let name = "part-t-000-00000000000000000010-00000000000000000013-cafe0001.parquet";
        assert_eq!(f.files("s"), [name]);
        assert_eq!(f.files("dead/sink=s"), [name]);
        let checkpoint = f.checkpoints.load("t", 0).await.unwrap().unwrap();
        assert_eq!(checkpoint.next_offset, 14);
        assert_eq!(checkpoint.files.len(), 2);
        // Nothing read since: a write does nothing and keeps the position.
        let again = buffer.write(f.target()).await.unwrap();
        assert_eq!((again.files, again.next_offset), (0, 14));
        // Only filtered-out messages: no file, but the checkpoint moves on.
        feed(&mut buffer, schema, 14, &[r#"{"kind":"drop"}"#]);
        let filtered = buffer.write(f.target()).await.unwrap();
        assert_eq!((filtered.files, filtered.next_offset), (0, 15));
        assert_eq!(
            f.checkpoints
                .load("t", 0)
                .await
                .unwrap()
                .unwrap()
                .next_offset,
            15
        );
        std::fs::remove_dir_all(&f.dir).unwrap();
    }

    #[tokio::test]
    async fn recovery_finishes_committed_renames_and_drops_uncommitted_files() {
        let f = fixture("recover");
        let schema = &f.plan.schemas[0];
        let mut buffer = PartitionBuffer::new(0, 0, schema, &MetadataNames::default()).unwrap();
        feed(&mut buffer, schema, 0, &[r#"{"kind":"keep"}"#]);
        buffer.write(f.target()).await.unwrap();
        // The next worker claims the partition (generation 1) and recovers.
        let committed_checkpoint = f.checkpoints.load("t", 0).await.unwrap().unwrap();
        let (checkpoint, _) = f
            .checkpoints
            .claim(committed_checkpoint, "next")
            .await
            .unwrap();
        assert_eq!(checkpoint.generation, 1);
        let committed = &checkpoint.files[0];
        // A crash after the checkpoint, before the rename...
        f.data
            .rename(&committed.visible, &committed.pending)
            .await
            .unwrap();
        // ...and the hidden files of writes that never committed: an
        // earlier writer's, another partition's, and a later claimant's
        // (this recovery's listing may be older than that claim).
        let orphan = pending_name(
            "part-t-000-00000000000000000001-00000000000000000009-cafe0001.parquet",
            0,
        );
        let other_partition = pending_name(
            "part-t-001-00000000000000000000-00000000000000000009-cafe0001.parquet",
            0,
        );
        let later_claimant = pending_name(
            "part-t-000-00000000000000000001-00000000000000000009-cafe0001.parquet",
            2,
        );
        for file in [&orphan, &other_partition, &later_claimant] {
            f.data.put(file, b"partial".to_vec()).await.unwrap();
        }
        recover(&checkpoint, &f.data, &f.dead, "t").await.unwrap();
        let files = f.files("s");
        assert!(files.contains(&committed.visible), "{files:?}");
        assert!(!files.contains(&orphan), "{files:?}");
        assert!(
            files.contains(&other_partition),
            "another partition's files are its owner's: {files:?}"
        );
        assert!(
            files.contains(&later_claimant),
            "a later claimant's write in progress is its own: {files:?}"
        );
        std::fs::remove_dir_all(&f.dir).unwrap();
    }

    /// The zombie of issue 12: paused with a buffer, woken after the new
    /// owner took over. Without fencing it made a file visible that
    /// overlapped the owner's and moved the checkpoint back.
    #[tokio::test]
    async fn a_worker_that_lost_its_partition_cannot_commit_for_it() {
        let f = fixture("fenced");
        let schema = &f.plan.schemas[0];
        let metadata = MetadataNames::default();
        let fresh = || Checkpoint {
            cluster: "cafe0001".into(),
            topic: "t".into(),
            partition: 0,
            next_offset: 0,
            files: vec![],
            generation: 0,
            owner: String::new(),
        };
        let open = |claimed: Checkpoint, version| {
            PartitionBuffer::new(0, claimed.next_offset, schema, &metadata)
                .unwrap()
                .with_claim(Claim {
                    generation: claimed.generation,
                    version,
                })
        };
        let keep = r#"{"kind":"keep"}"#;
        let (claimed, version) = f.checkpoints.claim(fresh(), "zombie").await.unwrap();
        let mut zombie = open(claimed, version);
        feed(&mut zombie, schema, 0, &[keep, keep, keep]);
        // The new owner claims, reads the same offsets and more, commits.
        let (claimed, version) = f.checkpoints.claim(fresh(), "owner").await.unwrap();
        assert_eq!(claimed.generation, 2);
        let mut owner = open(claimed, version);
        feed(&mut owner, schema, 0, &[keep, keep, keep, keep, keep]);
        owner.write(f.target()).await.unwrap();
        // The zombie wakes and writes: refused, and nothing of it remains.
        let error = zombie.write(f.target()).await.unwrap_err();
        assert!(
            matches!(error, WriteError::Fenced { partition: 0 }),
            "{error}"
        );
        assert_eq!(
            f.files("s"),
            ["part-t-000-00000000000000000000-00000000000000000004-cafe0001.parquet"],
            "one visible file, the owner's, and no hidden file of the zombie"
        );
        let checkpoint = f.checkpoints.load("t", 0).await.unwrap().unwrap();
        assert_eq!(
            (checkpoint.next_offset, checkpoint.owner.as_str()),
            (5, "test"),
            "the checkpoint never moves back"
        );
        // The owner goes on committing on its own version.
        feed(&mut owner, schema, 5, &[keep]);
        assert_eq!(owner.write(f.target()).await.unwrap().next_offset, 6);
        std::fs::remove_dir_all(&f.dir).unwrap();
    }

    /// A retried write whose first commit landed: when the partition has
    /// moved on meanwhile, the fenced retry must not delete the files the
    /// checkpoint names, or the owner's recovery finds nothing to finish.
    #[tokio::test]
    async fn a_fenced_retry_leaves_the_files_a_landed_commit_names() {
        let f = fixture("fenced-retry");
        let schema = &f.plan.schemas[0];
        let mut zombie = PartitionBuffer::new(0, 0, schema, &MetadataNames::default()).unwrap();
        feed(&mut zombie, schema, 0, &[r#"{"kind":"keep"}"#]);
        zombie.write(f.target()).await.unwrap();
        let committed = f.checkpoints.load("t", 0).await.unwrap().unwrap();
        let file = committed.files[0].clone();
        // As if the rename had not happened before the worker lost the
        // partition, and its retry wrote the same write again.
        f.data.rename(&file.visible, &file.pending).await.unwrap();
        let (claimed, _) = f
            .checkpoints
            .claim(committed.clone(), "owner")
            .await
            .unwrap();
        let mut retry = PartitionBuffer::new(0, 0, schema, &MetadataNames::default()).unwrap();
        feed(&mut retry, schema, 0, &[r#"{"kind":"keep"}"#]);
        assert!(matches!(
            retry.write(f.target()).await,
            Err(WriteError::Fenced { partition: 0 })
        ));
        assert!(
            f.files("s").contains(&file.pending),
            "the committed hidden file is left for the owner"
        );
        recover(&claimed, &f.data, &f.dead, "t").await.unwrap();
        assert_eq!(f.files("s"), std::slice::from_ref(&file.visible));
        std::fs::remove_dir_all(&f.dir).unwrap();
    }
}
