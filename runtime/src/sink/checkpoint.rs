//! A sink's progress per Kafka partition, in its checkpoint directory, and
//! the commit protocol of plain sinks, whole: claim ([`CheckpointStore::claim`]),
//! recover ([`resume`], [`recover`], [`remove_orphans`]), commit
//! ([`CheckpointStore::save`], then [`make_visible`]) and fence
//! ([`abandon`]). `partition` stages files and calls these steps in order; a
//! Delta sink commits through its table instead (`delta`).
//!
//! Writing a checkpoint is the commit point of a trigger: it records the
//! next offset to read and the hidden files that hold everything before it.
//! Those files become visible only after (by rename), and a restart rolls
//! forward the renames a crash interrupted and deletes hidden files that no
//! checkpoint names. So a table holds each event exactly once.
//!
//! # Fencing: one writer per partition, whatever Kafka believes
//!
//! Several workers share a checkpoint directory, and Kafka may hand a
//! partition to a new worker while the old one still runs (a rebalance it
//! has not heard of yet, or a pause past the session timeout: a zombie).
//! Every checkpoint write is therefore conditional on the version of the
//! checkpoint the writer last read or wrote ([`Storage::put_if`]: S3's
//! `If-Match`, a lock on a local disk):
//!
//! 1. **Claim.** A worker that takes a partition reads its checkpoint and
//!    writes it back with `generation + 1` and itself as `owner`. From then
//!    on, any write based on an older version fails.
//! 2. **Recover.** Only after its claim does it finish the renames the
//!    checkpoint names and delete the partition's other hidden files: a
//!    zombie's files can no longer be committed, so they are abandoned.
//!    Hidden files live below the partition's own staging prefix
//!    (`naming::staging_prefix`), so this lists what the partition left,
//!    never the table.
//! 3. **Commit.** Each trigger writes the checkpoint on the version of the
//!    claim (or the last commit). A conflict means another worker claimed
//!    the partition: this worker is fenced; it deletes its hidden files,
//!    forgets the partition, and its events stay in Kafka for the owner.
//!
//! Invariants: a partition's checkpoint only moves forward (every write
//! starts from the last one); a file becomes visible only if the checkpoint
//! that names it was written, so no two visible files of a partition
//! overlap; hidden names carry the writer's generation, so two writers
//! never write the same object. On a local disk, files and their
//! directories are fsynced before the checkpoint names them, and the
//! checkpoint before it counts as written (`Storage::sync`).

use super::naming::{generation_of, is_pending, staging_prefix};
use crate::storage::{ConditionalPutError, ObjectVersion, Storage, StorageError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The Kafka cluster the offsets belong to.
    pub cluster: String,
    pub topic: String,
    pub partition: i32,
    /// Every message before this offset is in the sink's files (or was
    /// filtered out, or is in the dead-letter table).
    pub next_offset: i64,
    /// The files of the trigger that wrote this checkpoint.
    pub files: Vec<CommittedFile>,
    /// How many times a worker has claimed the partition (see the module
    /// docs); the current owner's claim number.
    #[serde(default)]
    pub generation: u64,
    /// Who claimed it last, for people reading the file.
    #[serde(default)]
    pub owner: String,
}

/// A file written hidden, to be made visible under its final name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedFile {
    pub store: FileStore,
    pub pending: String,
    pub visible: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStore {
    Data,
    DeadLetters,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("checkpoint `{path}` is damaged: {reason}")]
    Damaged { path: String, reason: String },
    /// Another worker claimed the partition since this one read it.
    #[error("partition {partition} of `{topic}` was claimed by another worker")]
    Fenced { topic: String, partition: i32 },
}

/// A checkpoint as read, with the version a conditional write replaces.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub checkpoint: Option<Checkpoint>,
    pub version: ObjectVersion,
}

#[derive(Debug, Clone)]
pub struct CheckpointStore {
    storage: Storage,
}

impl CheckpointStore {
    pub fn new(storage: Storage) -> Self {
        CheckpointStore { storage }
    }

    fn path(topic: &str, partition: i32) -> String {
        format!("offsets/{topic}/{partition}.json")
    }

    pub async fn load(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<Checkpoint>, CheckpointError> {
        Ok(self.load_versioned(topic, partition).await?.checkpoint)
    }

    pub async fn load_versioned(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Versioned, CheckpointError> {
        let path = Self::path(topic, partition);
        let Some((bytes, version)) = self.storage.get_versioned(&path).await? else {
            return Ok(Versioned {
                checkpoint: None,
                version: ObjectVersion::Absent,
            });
        };
        let checkpoint = serde_json::from_slice(&bytes).map_err(|e| CheckpointError::Damaged {
            path: format!("{}/{path}", self.storage.display()),
            reason: e.to_string(),
        })?;
        Ok(Versioned {
            checkpoint: Some(checkpoint),
            version,
        })
    }

    /// Replaces the partition's checkpoint in one atomic write, if it is
    /// still at `expected`; the new version.
    pub async fn save(
        &self,
        checkpoint: &Checkpoint,
        expected: &ObjectVersion,
    ) -> Result<ObjectVersion, CheckpointError> {
        let bytes = serde_json::to_vec_pretty(checkpoint).expect("a checkpoint serialises");
        let path = Self::path(&checkpoint.topic, checkpoint.partition);
        match self.storage.put_if(&path, bytes, expected).await {
            Ok(version) => Ok(version),
            Err(ConditionalPutError::Conflict { .. }) => {
                // A write whose answer was lost (a timeout, an outage) and is
                // now retried finds itself already there: that is success.
                let current = self
                    .load_versioned(&checkpoint.topic, checkpoint.partition)
                    .await?;
                match current.checkpoint {
                    Some(found) if &found == checkpoint => Ok(current.version),
                    _ => Err(CheckpointError::Fenced {
                        topic: checkpoint.topic.clone(),
                        partition: checkpoint.partition,
                    }),
                }
            }
            Err(ConditionalPutError::Storage(error)) => Err(error.into()),
        }
    }

    /// Makes `owner` the partition's writer: its checkpoint (or a new one,
    /// at `fresh`) written back with the next generation. Retried when a
    /// writer of an older generation commits in between.
    pub async fn claim(
        &self,
        fresh: Checkpoint,
        owner: &str,
    ) -> Result<(Checkpoint, ObjectVersion), CheckpointError> {
        const ATTEMPTS: usize = 10;
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            let read = self.load_versioned(&fresh.topic, fresh.partition).await?;
            let mut claimed = read.checkpoint.clone().unwrap_or_else(|| fresh.clone());
            claimed.generation += 1;
            claimed.owner = owner.to_string();
            match self.save(&claimed, &read.version).await {
                Ok(version) => return Ok((claimed, version)),
                Err(error @ CheckpointError::Fenced { .. }) => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("a failed attempt"))
    }
}

/// The store a committed file is in.
pub fn store_of<'a>(
    file: &CommittedFile,
    data: &'a Storage,
    dead_letters: &'a Storage,
) -> &'a Storage {
    match file.store {
        FileStore::Data => data,
        FileStore::DeadLetters => dead_letters,
    }
}

/// Renames a committed file visible. Done already (by a worker that
/// recovered the partition meanwhile) counts as done.
pub async fn make_visible(storage: &Storage, file: &CommittedFile) -> Result<(), StorageError> {
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

/// Finishes the renames of the last committed write, which a crash may have
/// interrupted, and deletes hidden files of writes that never committed.
pub async fn recover(
    checkpoint: &Checkpoint,
    data: &Storage,
    dead_letters: &Storage,
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
        &checkpoint.topic,
        checkpoint.partition,
        checkpoint.generation,
    )
    .await
}

/// Deletes this partition's hidden files that no checkpoint committed, of
/// writers of generations before `generation` (the caller's claim): a later
/// claimant's files are its own, however old this listing is. Lists the
/// partition's staging prefix only: the cost is what the partition left,
/// not what the table holds.
pub async fn remove_orphans(
    data: &Storage,
    dead_letters: &Storage,
    topic: &str,
    partition: i32,
    generation: u64,
) -> Result<(), StorageError> {
    for storage in [data, dead_letters] {
        for path in storage.list(&staging_prefix(topic, partition)).await? {
            let name = path.rsplit('/').next().unwrap_or(&path);
            if is_pending(name) && generation_of(name) < generation {
                tracing::info!(file = %path, "removing a file of a write that never committed");
                storage.delete(&path).await?;
            }
        }
    }
    Ok(())
}

/// Step 2 of the protocol, after a claim: the offset the partition goes on
/// from. A checkpoint of this cluster has its interrupted renames finished
/// and the partition's orphans deleted; one of another cluster (the topic
/// was recreated, or the data directory moved) is read from the start,
/// after its orphans are deleted, because its offsets mean nothing here.
pub async fn resume(
    claimed: &Checkpoint,
    cluster: &str,
    data: &Storage,
    dead_letters: &Storage,
    sink: &str,
) -> Result<i64, StorageError> {
    if claimed.cluster == cluster {
        recover(claimed, data, dead_letters).await?;
        return Ok(claimed.next_offset);
    }
    tracing::warn!(
        sink, partition = claimed.partition, checkpoint_cluster = %claimed.cluster, cluster,
        "the checkpoint is of another Kafka cluster; reading this partition from its start"
    );
    remove_orphans(
        data,
        dead_letters,
        &claimed.topic,
        claimed.partition,
        claimed.generation,
    )
    .await?;
    Ok(0)
}

/// Step 3's other outcome: a fenced writer's hidden files, never to be
/// committed by it, are deleted, but those the `current` checkpoint names
/// (which are the owner's recovery to finish). A delete that fails is left
/// to the partition's next claim.
pub async fn abandon(
    fenced: &Checkpoint,
    current: Option<&Checkpoint>,
    data: &Storage,
    dead_letters: &Storage,
) {
    for file in &fenced.files {
        let named = current.is_some_and(|c| c.files.iter().any(|f| f.pending == file.pending));
        if !named {
            let storage = store_of(file, data, dead_letters);
            if let Err(error) = storage.delete(&file.pending).await {
                tracing::warn!(file = %file.pending, %error, "cannot delete the hidden file of a fenced write; the partition's next claim removes it");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipec_compiler::plan::Location;

    #[tokio::test]
    async fn saves_and_loads_per_partition() {
        let dir = std::env::temp_dir().join(format!("pipec-checkpoint-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store =
            CheckpointStore::new(Storage::open(&Location::Relative("cp".into()), &dir).unwrap());
        assert_eq!(store.load("events", 0).await.unwrap(), None);
        let checkpoint = Checkpoint {
            cluster: "c".into(),
            topic: "events".into(),
            partition: 0,
            next_offset: 42,
            files: vec![CommittedFile {
                store: FileStore::Data,
                pending: ".a.pending".into(),
                visible: "a.parquet".into(),
            }],
            generation: 0,
            owner: String::new(),
        };
        let (claimed, version) = store.claim(checkpoint.clone(), "me").await.unwrap();
        assert_eq!((claimed.generation, claimed.owner.as_str()), (1, "me"));
        let later = Checkpoint {
            next_offset: 50,
            files: vec![],
            ..claimed.clone()
        };
        let version = store.save(&later, &version).await.unwrap();
        assert_eq!(store.load("events", 0).await.unwrap(), Some(later.clone()));
        // Another worker claims the partition: the first is fenced, and the
        // checkpoint keeps what the first committed.
        let (theirs, _) = store.claim(checkpoint.clone(), "them").await.unwrap();
        assert_eq!((theirs.generation, theirs.next_offset), (2, 50));
        let stale = Checkpoint {
            next_offset: 60,
            ..later.clone()
        };
        assert!(matches!(
            store.save(&stale, &version).await,
            Err(CheckpointError::Fenced { partition: 0, .. })
        ));
        assert_eq!(store.load("events", 0).await.unwrap(), Some(theirs));
        assert_eq!(store.load("events", 1).await.unwrap(), None);
        std::fs::write(dir.join("cp/offsets/events/1.json"), b"{trunc").unwrap();
        assert!(matches!(
            store.load("events", 1).await,
            Err(CheckpointError::Damaged { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
