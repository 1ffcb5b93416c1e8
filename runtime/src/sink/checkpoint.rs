//! A sink's progress per Kafka partition, in its checkpoint directory.
//!
//! Writing a checkpoint is the commit point of a trigger: it records the
//! next offset to read and the hidden files that hold everything before it.
//! Those files become visible only after (by rename), and a restart rolls
//! forward the renames a crash interrupted and deletes hidden files that no
//! checkpoint names. So a table holds each event exactly once.

use crate::storage::{Storage, StorageError};
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
        let path = Self::path(topic, partition);
        let Some(bytes) = self.storage.get(&path).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CheckpointError::Damaged {
                path: format!("{}/{path}", self.storage.display()),
                reason: e.to_string(),
            })
    }

    /// Replaces the partition's checkpoint in one atomic write.
    pub async fn save(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let bytes = serde_json::to_vec_pretty(checkpoint).expect("a checkpoint serialises");
        self.storage
            .put(&Self::path(&checkpoint.topic, checkpoint.partition), bytes)
            .await?;
        Ok(())
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
        };
        store.save(&checkpoint).await.unwrap();
        let later = Checkpoint {
            next_offset: 50,
            files: vec![],
            ..checkpoint.clone()
        };
        store.save(&later).await.unwrap();
        assert_eq!(store.load("events", 0).await.unwrap(), Some(later));
        assert_eq!(store.load("events", 1).await.unwrap(), None);
        std::fs::write(dir.join("cp/offsets/events/1.json"), b"{trunc").unwrap();
        assert!(matches!(
            store.load("events", 1).await,
            Err(CheckpointError::Damaged { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
