//! One Kafka partition's share of a sink: the rows taken since the last
//! write, streaming into hidden files, and the two-phase write that makes
//! them durable exactly once (the protocol itself is `checkpoint`'s).

use super::checkpoint::{
    abandon, make_visible, store_of, Checkpoint, CheckpointError, CheckpointStore, CommittedFile,
    FileStore,
};
use super::chunk::Chunk;
use super::decode::{dead_letter_batch, DeadLetter};
use super::file::StreamingFile;
use super::filter::CompiledFilter;
use super::naming::{staged_path, FileKey};
use super::write_error::WriteError;
use super::writer::{encode_parquet, project, split, writer_properties};
use crate::storage::{ObjectVersion, Storage};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use pipec_compiler::plan::{Compression, Sink};
use std::collections::BTreeMap;

pub struct PartitionBuffer {
    partition: i32,
    /// The next offset to take: everything before is written or in a file
    /// being written.
    position: i64,
    /// The next offset of the last commit.
    committed_position: i64,
    /// Rewound after a storage failure: takes nothing until the reader has
    /// sought back to the rewind point.
    awaiting_seek: bool,
    /// The first offset taken since the last write.
    first_unwritten: Option<i64>,
    messages: u64,
    /// Rows kept by the filter since the last write.
    rows: u64,
    dead: Vec<DeadLetter>,
    /// The files being written, by partition directory (`""` for none).
    files: BTreeMap<String, StreamingFile>,
    /// This worker's claim on the partition: what its commits are based on.
    claim: Claim,
    /// A write whose files are complete but whose checkpoint is not yet
    /// saved, or saved with files not yet visible: the next write finishes
    /// it (the same checkpoint saved again, then the renames), never writes
    /// it anew. What is taken meanwhile is the next write's.
    finishing: Option<Finishing>,
}

struct Finishing {
    checkpoint: Checkpoint,
    written: Written,
    saved: bool,
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
    /// The columns the filter sees, under this sink's metadata names.
    pub full_schema: &'a SchemaRef,
    pub file_schema: &'a SchemaRef,
    pub data: &'a Storage,
    pub dead_letters: &'a Storage,
    /// Plain sinks' checkpoints (a Delta table is its own).
    pub checkpoints: Option<&'a CheckpointStore>,
    /// Who writes, as the checkpoint records it.
    pub owner: &'a str,
    /// A Delta table's files: written under their final names (the log,
    /// not a rename, makes them visible) and committed by the sink.
    pub delta: bool,
}

/// A Delta sink's partition at a trigger: its files complete, not yet in
/// the log (see `delta`).
#[derive(Debug)]
pub struct Sealed {
    pub part: super::delta::SealedPartition,
    pub dead: Vec<DeadLetter>,
    pub written: Written,
}

impl PartitionBuffer {
    pub fn new(partition: i32, next_offset: i64) -> Self {
        PartitionBuffer {
            partition,
            position: next_offset,
            committed_position: next_offset,
            awaiting_seek: false,
            first_unwritten: None,
            messages: 0,
            rows: 0,
            dead: Vec::new(),
            files: BTreeMap::new(),
            claim: Claim::default(),
            finishing: None,
        }
    }

    /// The buffer of a partition this worker claimed.
    pub fn with_claim(mut self, claim: Claim) -> Self {
        self.claim = claim;
        self
    }

    pub fn position(&self) -> i64 {
        self.position
    }

    /// The next offset of the last commit.
    pub fn committed_position(&self) -> i64 {
        self.committed_position
    }

    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Whether a write is still to finish (its save or renames failed):
    /// the next write finishes it first.
    pub fn is_finishing(&self) -> bool {
        self.finishing.is_some()
    }

    /// Whether it waits for the reader to seek back after a rewind.
    pub fn is_awaiting_seek(&self) -> bool {
        self.awaiting_seek
    }

    /// The reader has sought back: messages from the rewind point on are
    /// this buffer's again.
    pub fn sought(&mut self) {
        self.awaiting_seek = false;
    }

    /// Rows kept so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Takes a chunk of decoded messages: the rows this sink's filter keeps
    /// go on to the files, each to its partition directory's.
    pub async fn take(
        &mut self,
        chunk: &Chunk,
        target: &WriteTarget<'_>,
    ) -> Result<(), WriteError> {
        let first = *self.first_unwritten.get_or_insert(chunk.first_offset);
        self.position = chunk.next_offset;
        self.messages += chunk.messages;
        self.dead.extend(chunk.dead.iter().cloned());
        let Some(batch) = &chunk.batch else {
            return Ok(());
        };
        // The same columns under this sink's metadata names.
        let batch = RecordBatch::try_new(target.full_schema.clone(), batch.columns().to_vec())?;
        let kept = match target.filter {
            Some(filter) => filter.apply(&batch).map_err(|e| e.to_string())?,
            None => batch,
        };
        self.rows += kept.num_rows() as u64;
        if kept.num_rows() == 0 {
            return Ok(());
        }
        for (directory, rows) in split(&kept, target.sink.partitioning.as_ref())? {
            let rows = project(&rows, target.file_schema)?;
            let file = match self.files.entry(directory) {
                std::collections::btree_map::Entry::Occupied(open) => open.into_mut(),
                std::collections::btree_map::Entry::Vacant(new) => {
                    let key = FileKey {
                        topic: target.topic,
                        partition: self.partition,
                        first_offset: first,
                        last_offset: first,
                        cluster: target.cluster,
                    };
                    let pending = if target.delta {
                        join(new.key(), &key.delta_name())
                    } else {
                        staged_path(
                            target.topic,
                            self.partition,
                            &join(new.key(), &key.open_name()),
                            self.claim.generation,
                        )
                    };
                    new.insert(StreamingFile::create(
                        target.data,
                        pending,
                        target.file_schema.clone(),
                        writer_properties(target.sink.compression),
                    ))
                }
            };
            file.write(rows).await?;
        }
        Ok(())
    }

    /// Forgets what was taken into files not yet complete, after a failure
    /// of the store: they are abandoned, and the partition is read again
    /// from the returned offset (the last commit's, or that of a write
    /// whose files are complete and whose checkpoint is still to be saved).
    pub fn rewind(&mut self) -> i64 {
        self.files.clear();
        self.position = match &self.finishing {
            Some(finishing) => finishing.checkpoint.next_offset,
            None => self.committed_position,
        };
        self.first_unwritten = None;
        self.messages = 0;
        self.rows = 0;
        self.dead.clear();
        self.awaiting_seek = true;
        self.position
    }

    /// A Delta sink's write, up to its commit: the files completed, and
    /// what the commit records of them. The buffer moves on; the commit
    /// point stays where it was until [`PartitionBuffer::committed`] (a
    /// failed or fenced commit is followed by a rewind or a fence).
    pub async fn seal(&mut self) -> Result<Option<Sealed>, WriteError> {
        if self.first_unwritten.is_none() {
            return Ok(None);
        }
        let mut files = Vec::new();
        for (directory, file) in std::mem::take(&mut self.files) {
            let path = file.pending.clone();
            let finished = file.finish().await?;
            files.push(super::delta::SealedFile {
                partition_values: super::delta::partition_values(&directory),
                path,
                bytes: finished.bytes,
                rows: finished.rows,
            });
        }
        let written = Written {
            messages: self.messages,
            rows: self.rows,
            dead_letters: self.dead.len() as u64,
            files: files.len() as u64,
            next_offset: self.position,
        };
        let sealed = Sealed {
            part: super::delta::SealedPartition {
                partition: self.partition,
                from: self.committed_position,
                next_offset: self.position,
                files,
            },
            dead: std::mem::take(&mut self.dead),
            written,
        };
        self.first_unwritten = None;
        self.messages = 0;
        self.rows = 0;
        Ok(Some(sealed))
    }

    /// A Delta commit of this partition up to `next_offset` landed.
    pub fn committed(&mut self, next_offset: i64) {
        self.committed_position = next_offset;
    }

    /// The two-phase write: hidden files completed, checkpoint (the commit
    /// point), then the files made visible. After a storage error before
    /// the commit the buffer must be rewound.
    pub async fn write(&mut self, target: WriteTarget<'_>) -> Result<Written, WriteError> {
        if self.finishing.is_some() {
            return self.finish(&target).await;
        }
        let Some(first) = self.first_unwritten else {
            return Ok(Written {
                next_offset: self.position,
                ..Written::default()
            });
        };
        let key = FileKey {
            topic: target.topic,
            partition: self.partition,
            first_offset: first,
            last_offset: self.position - 1,
            cluster: target.cluster,
        };
        let name = key.file_name();
        let mut files = Vec::new();
        for (directory, file) in std::mem::take(&mut self.files) {
            let pending = file.pending.clone();
            file.finish().await?;
            // On disk before the checkpoint names it.
            target.data.sync(&pending).await?;
            files.push(CommittedFile {
                store: FileStore::Data,
                pending,
                visible: join(&directory, &name),
            });
        }
        if !self.dead.is_empty() {
            let batch = dead_letter_batch(&self.dead)?;
            let bytes = encode_parquet(&batch, Compression::Snappy).map_err(|e| e.to_string())?;
            let file = CommittedFile {
                store: FileStore::DeadLetters,
                pending: staged_path(target.topic, self.partition, &name, self.claim.generation),
                visible: name.clone(),
            };
            target.dead_letters.put(&file.pending, bytes).await?;
            target.dead_letters.sync(&file.pending).await?;
            files.push(file);
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
        // The files are complete: from here on this write is only ever
        // finished, and what is taken meanwhile is the next write's.
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
        self.dead.clear();
        self.finishing = Some(Finishing {
            checkpoint,
            written,
            saved: false,
        });
        self.finish(&target).await
    }

    /// Saves the finishing write's checkpoint (the commit point) if it is
    /// not saved yet, then makes its files visible.
    async fn finish(&mut self, target: &WriteTarget<'_>) -> Result<Written, WriteError> {
        let finishing = self
            .finishing
            .as_ref()
            .expect("called with a write to finish");
        if !finishing.saved {
            self.save(target).await?;
        }
        let finishing = self.finishing.as_ref().expect("saved above");
        for file in &finishing.checkpoint.files {
            make_visible(store_of(file, target.data, target.dead_letters), file).await?;
        }
        let finishing = self.finishing.take().expect("finished above");
        Ok(finishing.written)
    }

    /// Saves the checkpoint on the version of this worker's claim. A save
    /// that failed is retried as it was, so one that landed although its
    /// answer was lost is recognized: the checkpoint found is this one.
    async fn save(&mut self, target: &WriteTarget<'_>) -> Result<(), WriteError> {
        let finishing = self
            .finishing
            .as_mut()
            .expect("called with a write to finish");
        let checkpoint = &finishing.checkpoint;
        let Some(checkpoints) = target.checkpoints else {
            return Err(WriteError::Failed(
                "this is a bug in pipec: a Delta sink's partitions commit through its table".into(),
            ));
        };
        match checkpoints.save(checkpoint, &self.claim.version).await {
            Ok(version) => {
                self.claim.version = version;
                finishing.saved = true;
                self.committed_position = checkpoint.next_offset;
                Ok(())
            }
            Err(CheckpointError::Fenced { .. }) => {
                let current = checkpoints
                    .load_versioned(target.topic, self.partition)
                    .await
                    .ok();
                if let Some(current) = &current {
                    if current.checkpoint.as_ref() == Some(checkpoint) {
                        // An earlier attempt of this very save landed.
                        self.claim.version = current.version.clone();
                        finishing.saved = true;
                        self.committed_position = checkpoint.next_offset;
                        return Ok(());
                    }
                }
                let current = current.and_then(|c| c.checkpoint);
                abandon(
                    checkpoint,
                    current.as_ref(),
                    target.data,
                    target.dead_letters,
                )
                .await;
                self.finishing = None;
                Err(WriteError::Fenced {
                    partition: self.partition,
                })
            }
            Err(CheckpointError::Storage(error)) => Err(WriteError::Storage(error)),
            Err(error) => Err(WriteError::Failed(error.to_string())),
        }
    }
}

/// The files below a directory, hidden ones too, as sorted paths relative
/// to it; none if it is missing.
#[cfg(test)]
pub(crate) fn names_in(dir: &std::path::Path) -> Vec<String> {
    fn walk(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten() {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }
    let mut names = Vec::new();
    walk(dir, "", &mut names);
    names.sort();
    names
}

/// `directory/file`, or `file` at the top.
fn join(directory: &str, file: &str) -> String {
    if directory.is_empty() {
        file.to_string()
    } else {
        format!("{directory}/{file}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::checkpoint::recover;
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
        full_schema: SchemaRef,
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
        let full_schema = full.clone();
        Fixture {
            full_schema,
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
                full_schema: &self.full_schema,
                file_schema: &self.file_schema,
                data: &self.data,
                dead_letters: &self.dead,
                checkpoints: Some(&self.checkpoints),
                delta: false,
                owner: "test",
            }
        }

        fn files(&self, sub: &str) -> Vec<String> {
            names_in(&self.dir.join(sub))
        }
    }

    /// Messages from offset `from` on, decoded as the topic's reader does.
    async fn feed(f: &Fixture, buffer: &mut PartitionBuffer, from: i64, messages: &[&str]) {
        let schema = &f.plan.schemas[0];
        let mut chunk = super::super::chunk::ChunkBuilder::default();
        for (i, text) in messages.iter().enumerate() {
            chunk.push(from + i as i64, 0, Some(text.as_bytes().to_vec()));
        }
        let mut builder = super::super::chunk::batch_builder(schema).unwrap();
        let chunk = chunk
            .take()
            .unwrap()
            .decode("t", 0, schema, &mut builder)
            .unwrap();
        buffer.take(&chunk, &f.target()).await.unwrap();
    }

    #[tokio::test]
    async fn the_watermark_covers_written_filtered_and_dead_messages() {
        let f = fixture("watermark");
        let mut buffer = PartitionBuffer::new(0, 10);
        assert_eq!(buffer.position(), 10);
        feed(
            &f,
            &mut buffer,
            10,
            &[
                r#"{"kind":"keep"}"#,
                r#"{"kind":"drop"}"#,
                "not json",
                r#"{"kind":"keep","n":2}"#,
            ],
        )
        .await;
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
        feed(&f, &mut buffer, 14, &[r#"{"kind":"drop"}"#]).await;
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
        let mut buffer = PartitionBuffer::new(0, 0);
        feed(&f, &mut buffer, 0, &[r#"{"kind":"keep"}"#]).await;
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
        let orphan = staged_path(
            "t",
            0,
            "part-t-000-00000000000000000001-00000000000000000009-cafe0001.parquet",
            0,
        );
        let other_partition = staged_path(
            "t",
            1,
            "part-t-001-00000000000000000000-00000000000000000009-cafe0001.parquet",
            0,
        );
        let later_claimant = staged_path(
            "t",
            0,
            "part-t-000-00000000000000000001-00000000000000000009-cafe0001.parquet",
            2,
        );
        for file in [&orphan, &other_partition, &later_claimant] {
            f.data.put(file, b"partial".to_vec()).await.unwrap();
        }
        recover(&checkpoint, &f.data, &f.dead).await.unwrap();
        let files = f.data.list("").await.unwrap();
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

    /// Issue 26: a claim's recovery lists what its partition left in
    /// staging, never the table: the same keys beside 1,000 files as beside
    /// 100,000 (the times are printed; tests assert no timings).
    #[tokio::test]
    async fn a_claim_lists_its_partitions_staging_not_the_table() {
        let mut listed = Vec::new();
        for files in [1_000usize, 100_000] {
            let f = fixture(&format!("claim-{files}"));
            let table = f.dir.join("s");
            for day in 0..10 {
                std::fs::create_dir_all(table.join(format!("day={day}"))).unwrap();
            }
            for i in 0..files {
                let name = format!("part-t-{:03}-{i:020}-{i:020}-cafe0001.parquet", i % 12);
                std::fs::write(table.join(format!("day={}", i % 10)).join(name), b"").unwrap();
            }
            let mut buffer = PartitionBuffer::new(0, 0);
            feed(&f, &mut buffer, 0, &[r#"{"kind":"keep"}"#]).await;
            buffer.write(f.target()).await.unwrap();
            let committed = f.checkpoints.load("t", 0).await.unwrap().unwrap();
            let (claimed, _) = f.checkpoints.claim(committed, "next").await.unwrap();
            let orphan = staged_path(
                "t",
                0,
                "day=3/part-t-000-00000000000000000001-00000000000000000009-cafe0001.parquet",
                0,
            );
            f.data.put(&orphan, b"partial".to_vec()).await.unwrap();
            let before = f.data.objects_listed() + f.dead.objects_listed();
            let started = std::time::Instant::now();
            recover(&claimed, &f.data, &f.dead).await.unwrap();
            let took = started.elapsed();
            let keys = f.data.objects_listed() + f.dead.objects_listed() - before;
            assert!(
                !f.data.exists(&orphan).await.unwrap(),
                "the orphan is removed"
            );
            eprintln!("a claim beside {files} files in the table: {keys} keys listed in {took:?}");
            listed.push(keys);
            std::fs::remove_dir_all(&f.dir).unwrap();
        }
        assert_eq!(
            listed[0], listed[1],
            "a claim's listing grew with the table: {listed:?} keys at 1,000 and 100,000 files"
        );
        assert!(listed[1] <= 1, "{listed:?}");
    }

    /// The zombie of issue 12: paused with a buffer, woken after the new
    /// owner took over. Without fencing it made a file visible that
    /// overlapped the owner's and moved the checkpoint back.
    #[tokio::test]
    async fn a_worker_that_lost_its_partition_cannot_commit_for_it() {
        let f = fixture("fenced");
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
            PartitionBuffer::new(0, claimed.next_offset).with_claim(Claim {
                generation: claimed.generation,
                version,
            })
        };
        let keep = r#"{"kind":"keep"}"#;
        let (claimed, version) = f.checkpoints.claim(fresh(), "zombie").await.unwrap();
        let mut zombie = open(claimed, version);
        feed(&f, &mut zombie, 0, &[keep, keep, keep]).await;
        // The new owner claims, reads the same offsets and more, commits.
        let (claimed, version) = f.checkpoints.claim(fresh(), "owner").await.unwrap();
        assert_eq!(claimed.generation, 2);
        let mut owner = open(claimed, version);
        feed(&f, &mut owner, 0, &[keep, keep, keep, keep, keep]).await;
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
        feed(&f, &mut owner, 5, &[keep]).await;
        assert_eq!(owner.write(f.target()).await.unwrap().next_offset, 6);
        std::fs::remove_dir_all(&f.dir).unwrap();
    }

    /// A retried write whose first commit landed: when the partition has
    /// moved on meanwhile, the fenced retry must not delete the files the
    /// checkpoint names, or the owner's recovery finds nothing to finish.
    #[tokio::test]
    async fn a_fenced_retry_leaves_the_files_a_landed_commit_names() {
        let f = fixture("fenced-retry");
        let mut zombie = PartitionBuffer::new(0, 0);
        feed(&f, &mut zombie, 0, &[r#"{"kind":"keep"}"#]).await;
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
        let mut retry = PartitionBuffer::new(0, 0);
        feed(&f, &mut retry, 0, &[r#"{"kind":"keep"}"#]).await;
        assert!(matches!(
            retry.write(f.target()).await,
            Err(WriteError::Fenced { partition: 0 })
        ));
        assert!(
            f.files("s").contains(&file.pending),
            "the committed hidden file is left for the owner"
        );
        recover(&claimed, &f.data, &f.dead).await.unwrap();
        assert_eq!(f.files("s"), std::slice::from_ref(&file.visible));
        std::fs::remove_dir_all(&f.dir).unwrap();
    }
}
