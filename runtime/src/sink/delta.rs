//! Delta Lake tables (`format delta`): the table is the checkpoint.
//!
//! Each trigger's files of every partition this worker writes go into one
//! Delta commit, with a `txn` action per Kafka partition: its application
//! id names the pipeline, sink, topic, cluster and partition, and its
//! version is the partition's next offset (as kafka-delta-ingest does). A
//! worker resumes a partition from that version, and commits a partition's
//! rows only while the table's version for it is still the offset its rows
//! start at: a worker that lost the partition (a pause past its session, a
//! rebalance it did not hear of) finds it moved on and commits nothing of
//! it. Commits race through the log's put-if-absent; a lost race is retried
//! on the newer snapshot, so another worker's commit never drops rows.

use super::delta_local_store::DeltaLocalStore;
use crate::storage::{object_store_error_is_transient, Storage, StorageError};
use deltalake_core::kernel::transaction::{CommitBuilder, CommitProperties, TransactionError};
use deltalake_core::kernel::{
    Action, Add, DataType as DeltaType, Snapshot, StructField, Transaction,
};
use deltalake_core::logstore::{
    default_logstore, logstore_factories, LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig,
};
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use deltalake_core::{DeltaResult, DeltaTable, DeltaTableBuilder, DeltaTableError};
use pipec_compiler::plan::Sink;
use pipec_compiler::types::DataType;
use std::collections::HashMap;
use std::sync::{Arc, Once};
use std::time::Duration;
use url::Url;

/// Table properties that say which pipeline's sink writes the table.
pub const PIPELINE_PROPERTY: &str = "pipec.pipeline";
pub const SINK_PROPERTY: &str = "pipec.sink";

/// Commits lost to other writers before the write counts as failed (and is
/// read again from Kafka): conflicts are retried, not fatal.
const MAX_COMMIT_ATTEMPTS: u32 = 100;

/// Why a Delta table cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    /// The store failed: may be retried (see [`StorageError::is_transient`]).
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The table is not one this sink may write, or not as declared.
    #[error("Delta table `{location}`: {reason}")]
    Refused { location: String, reason: String },
    #[error("Delta table `{location}`: {source}")]
    Delta {
        location: String,
        source: DeltaTableError,
    },
}

impl DeltaError {
    pub fn is_transient(&self) -> bool {
        match self {
            DeltaError::Storage(error) => error.is_transient(),
            DeltaError::Refused { .. } => false,
            DeltaError::Delta { source, .. } => delta_error_is_transient(source),
        }
    }
}

/// A Delta error is retried when the store failed (however delta-rs or its
/// kernel wrapped the object store's error; the store's own rule applies)
/// or a commit lost its race. Anything else (a log entry that does not
/// parse, a protocol pipec cannot write, a schema that does not fit) stays
/// as it is however often it is tried.
fn delta_error_is_transient(error: &DeltaTableError) -> bool {
    match error {
        DeltaTableError::VersionAlreadyExists(_) => true,
        DeltaTableError::ObjectStore { source } => object_store_error_is_transient(source),
        DeltaTableError::KernelError(kernel) => kernel_error_is_transient(kernel),
        DeltaTableError::Io { .. } => true,
        DeltaTableError::Transaction { source } => match source {
            TransactionError::MaxCommitAttempts(_) | TransactionError::VersionAlreadyExists(_) => {
                true
            }
            TransactionError::ObjectStore { source } => object_store_error_is_transient(source),
            other => chain_holds_transient_store_error(other),
        },
        other => chain_holds_transient_store_error(other),
    }
}

fn kernel_error_is_transient(error: &buoyant_kernel::Error) -> bool {
    use buoyant_kernel::Error as KernelError;
    match error {
        KernelError::ObjectStore(source) => object_store_error_is_transient(source),
        KernelError::IOError(_) => true,
        KernelError::Backtraced { source, .. } => kernel_error_is_transient(source),
        other => chain_holds_transient_store_error(other),
    }
}

/// Whether an object store's error somewhere in the error's sources says
/// the store may answer later.
fn chain_holds_transient_store_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = error.source();
    while let Some(cause) = next {
        if let Some(store) = cause.downcast_ref::<object_store::Error>() {
            return object_store_error_is_transient(store);
        }
        next = cause.source();
    }
    false
}

/// One finished data file of a commit, relative to the table's root.
#[derive(Debug, Clone)]
pub struct SealedFile {
    pub path: String,
    pub partition_values: HashMap<String, Option<String>>,
    pub bytes: i64,
    pub rows: i64,
}

/// What one Kafka partition brings to a commit.
#[derive(Debug, Clone)]
pub struct SealedPartition {
    pub partition: i32,
    /// The offset its rows start at: the table's version for the partition
    /// when this worker's last commit of it landed (or it claimed it).
    pub from: i64,
    pub next_offset: i64,
    pub files: Vec<SealedFile>,
}

/// What a commit did.
#[derive(Debug, Default)]
pub struct Committed {
    /// The table version the commit created (`None`: nothing to commit).
    pub version: Option<i64>,
    /// Partitions another worker has moved on: nothing of them committed.
    pub fenced: Vec<i32>,
    /// Commits lost to other writers and retried.
    pub conflicts: u32,
}

/// A sink's Delta table, as this worker writes it.
pub struct DeltaSinkTable {
    table: DeltaTable,
    location: String,
    /// `pipec/PIPELINE/SINK/TOPIC/CLUSTER/`: each partition's txn app id
    /// is this and the partition number.
    app_prefix: String,
    partition_by: Option<Vec<String>>,
}

impl DeltaSinkTable {
    /// Opens the sink's table, creating it if there is none. Refused: a
    /// directory of files that is not a Delta table, another pipeline's
    /// table, a schema the sink's rows do not fit.
    pub async fn open(
        storage: &Storage,
        pipeline: &str,
        sink: &Sink,
    ) -> Result<DeltaSinkTable, DeltaError> {
        let location = storage.display().to_string();
        let mut table = load(storage).await.map_err(|e| unreadable(e, &location))?;
        let refused = |reason: String| DeltaError::Refused {
            location: location.clone(),
            reason,
        };
        if table.version().is_none() {
            let stray: Vec<String> = storage
                .list("")
                .await?
                .into_iter()
                .filter(|p| !p.rsplit('/').next().unwrap_or(p).starts_with(['.', '_']))
                .take(3)
                .collect();
            if !stray.is_empty() {
                return Err(refused(format!(
                    "the directory holds files ({}) but no Delta log (`_delta_log/`): it is not a Delta table. \
                     Give the sink a `path` of its own, or move those files away",
                    stray.join(", ")
                )));
            }
            create(&table, pipeline, sink, &location).await?;
            table = load(storage).await?;
        }
        let this = DeltaSinkTable {
            table,
            location,
            app_prefix: String::new(),
            partition_by: sink
                .partitioning
                .as_ref()
                .map(|p| vec![p.column().0.to_string()]),
        };
        this.check_owner(pipeline, &sink.name)?;
        let mut this = this;
        this.evolve(sink).await?;
        Ok(this)
    }

    /// Names the Kafka cluster (and topic) the txn versions are offsets of.
    pub fn set_offsets_of(&mut self, pipeline: &str, sink: &str, topic: &str, cluster: &str) {
        self.app_prefix = format!("pipec/{pipeline}/{sink}/{topic}/{cluster}/");
    }

    fn app_id(&self, partition: i32) -> String {
        format!("{}{partition}", self.app_prefix)
    }

    fn delta_error(&self, source: DeltaTableError) -> DeltaError {
        delta_error(&self.location, source)
    }

    fn check_owner(&self, pipeline: &str, sink: &str) -> Result<(), DeltaError> {
        check_owner(&self.table, &self.location, pipeline, sink)
    }

    /// Adds the optional columns the sink writes and the table lacks (a
    /// compatible change); refuses any other difference before anything
    /// is written.
    async fn evolve(&mut self, sink: &Sink) -> Result<(), DeltaError> {
        let snapshot = self.table.snapshot().map_err(|e| self.delta_error(e))?;
        let schema = snapshot.schema();
        let mut added = Vec::new();
        for wanted in table_fields(sink) {
            match schema.field(wanted.name()) {
                None if wanted.is_nullable() => added.push(wanted),
                None => {
                    return Err(DeltaError::Refused {
                        location: self.location.clone(),
                        reason: format!(
                            "the table has no column `{}`, and the sink's is required: old rows have no value for it. \
                             Make the field optional, or write a new table",
                            wanted.name()
                        ),
                    })
                }
                Some(found) if found.data_type() != wanted.data_type() => {
                    return Err(DeltaError::Refused {
                        location: self.location.clone(),
                        reason: format!(
                            "column `{}` is {} in the table but the sink writes {}: the table's files would disagree. \
                             Keep the type, or write a new table (a new `path`)",
                            wanted.name(),
                            found.data_type(),
                            wanted.data_type()
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        let table_partitions = snapshot.metadata().partition_columns().to_vec();
        let wanted_partitions = self.partition_by.clone().unwrap_or_default();
        if table_partitions != wanted_partitions {
            return Err(DeltaError::Refused {
                location: self.location.clone(),
                reason: format!(
                    "the table is partitioned by [{}] but the sink by [{}]. Keep the partitioning, or write a new table",
                    table_partitions.join(", "),
                    wanted_partitions.join(", ")
                ),
            });
        }
        if added.is_empty() {
            return Ok(());
        }
        tracing::info!(table = %self.location, columns = ?added.iter().map(|f| f.name().clone()).collect::<Vec<_>>(), "adding the sink's new optional columns to the Delta table");
        let table = self.table.clone();
        self.table = table
            .add_columns()
            .with_fields(added)
            .await
            .map_err(|e| self.delta_error(e))?;
        Ok(())
    }

    /// The table as of now.
    pub async fn refresh(&mut self) -> Result<(), DeltaError> {
        self.table
            .update_incremental(None)
            .await
            .map_err(|e| delta_error(&self.location, e))
    }

    pub fn version(&self) -> i64 {
        self.table.version().map_or(-1, |v| v as i64)
    }

    /// Where the partition's rows go on from, as of the loaded snapshot.
    pub async fn next_offset(&self, partition: i32) -> Result<i64, DeltaError> {
        let snapshot = self.table.snapshot().map_err(|e| self.delta_error(e))?;
        let version = snapshot
            .transaction_version(self.table.log_store().as_ref(), self.app_id(partition))
            .await
            .map_err(|e| self.delta_error(e))?;
        Ok(version.unwrap_or(0))
    }

    /// Commits the partitions' files and offsets in one Delta commit, for
    /// each partition only if its version is still the offset its rows
    /// start at. A commit lost to another writer is tried again on the
    /// newer snapshot, with the fencing looked at anew.
    pub async fn commit(
        &mut self,
        partitions: &[SealedPartition],
    ) -> Result<Committed, DeltaError> {
        let mut outcome = Committed::default();
        for attempt in 1..=MAX_COMMIT_ATTEMPTS {
            self.refresh().await?;
            outcome.fenced.clear();
            let mut actions = Vec::new();
            let now = super::now_micros() / 1000;
            for part in partitions {
                let current = self.next_offset(part.partition).await?;
                if current == part.next_offset && part.next_offset > part.from {
                    // The range is in the table already: an attempt of this
                    // commit landed although its answer was lost (or a zombie
                    // committed the very same offsets). Its rows are there once.
                    continue;
                }
                if current != part.from {
                    outcome.fenced.push(part.partition);
                    continue;
                }
                actions.extend(part.files.iter().map(|f| Action::Add(add(f, now))));
                actions.push(Action::Txn(Transaction::new_with_last_update(
                    self.app_id(part.partition),
                    part.next_offset,
                    Some(now),
                )));
            }
            if actions.is_empty() {
                return Ok(outcome);
            }
            let snapshot = self.table.snapshot().map_err(|e| self.delta_error(e))?;
            let builder: CommitBuilder = CommitProperties::default().with_max_retries(0).into();
            let operation = DeltaOperation::Write {
                mode: SaveMode::Append,
                partition_by: self.partition_by.clone(),
                predicate: None,
            };
            let result = builder
                .with_actions(actions)
                .build(Some(snapshot), self.table.log_store(), operation)
                .await;
            match result {
                Ok(finalized) => {
                    outcome.version = Some(finalized.version as i64);
                    return Ok(outcome);
                }
                Err(error) if is_lost_race(&error) => {
                    outcome.conflicts += 1;
                    tracing::debug!(table = %self.location, attempt, "another writer committed first; committing again on its snapshot");
                    tokio::time::sleep(race_delay(attempt)).await;
                }
                Err(error) => return Err(self.delta_error(error)),
            }
        }
        Err(DeltaError::Delta {
            location: self.location.clone(),
            source: DeltaTableError::Transaction {
                source: TransactionError::MaxCommitAttempts(MAX_COMMIT_ATTEMPTS as i32),
            },
        })
    }
}

/// Refuses a table that is not this sink's: another pipeline's or sink's
/// (each would skip the other's offsets), or one pipec did not create.
pub fn check_owner(
    table: &DeltaTable,
    location: &str,
    pipeline: &str,
    sink: &str,
) -> Result<(), DeltaError> {
    let snapshot = table.snapshot().map_err(|e| delta_error(location, e))?;
    let configuration = snapshot.metadata().configuration();
    let owner = (
        configuration.get(PIPELINE_PROPERTY),
        configuration.get(SINK_PROPERTY),
    );
    match owner {
        (Some(p), Some(s)) if p == pipeline && s == sink => Ok(()),
        (Some(p), Some(s)) => Err(DeltaError::Refused {
            location: location.to_string(),
            reason: format!(
                "it is written by sink `{s}` of pipeline `{p}`, not by sink `{sink}` of `{pipeline}`: \
                 two writers would each skip the other's offsets. Give this sink a `path` of its own"
            ),
        }),
        _ => Err(DeltaError::Refused {
            location: location.to_string(),
            reason: format!(
                "it was not created by pipec (no `{PIPELINE_PROPERTY}` property), so its offsets are unknown. \
                 Give sink `{sink}` a `path` of its own"
            ),
        }),
    }
}

/// A commit that lost the race for its version to another writer.
fn is_lost_race(error: &DeltaTableError) -> bool {
    matches!(
        error,
        DeltaTableError::VersionAlreadyExists(_)
            | DeltaTableError::Transaction {
                source: TransactionError::MaxCommitAttempts(_)
                    | TransactionError::VersionAlreadyExists(_)
            }
    )
}

/// A short, growing, jittered pause, so racing writers spread out.
fn race_delay(attempt: u32) -> Duration {
    let base = Duration::from_millis(10).saturating_mul(attempt.min(50));
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() % 10_000_000);
    base + Duration::from_nanos(u64::from(jitter))
}

fn add(file: &SealedFile, modification_time: i64) -> Add {
    Add {
        path: encode_path(&file.path),
        partition_values: file.partition_values.clone(),
        size: file.bytes,
        modification_time,
        data_change: true,
        stats: Some(format!("{{\"numRecords\":{}}}", file.rows)),
        tags: None,
        deletion_vector: None,
        base_row_id: None,
        default_row_commit_version: None,
        clustering_provider: None,
    }
}

/// A relative path as the Delta log keeps it: a URI path, so `%` and other
/// reserved characters of a partition directory are percent-encoded.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/=".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The Delta partition value of a Hive-style directory (`day=2020-08-02`):
/// unescaped, and the Hive default partition is null.
pub fn partition_values(directory: &str) -> HashMap<String, Option<String>> {
    let mut values = HashMap::new();
    if let Some((column, value)) = directory.split_once('=') {
        let value = (value != "__HIVE_DEFAULT_PARTITION__").then(|| unescape(value));
        values.insert(column.to_string(), value);
    }
    values
}

fn unescape(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            if let Some(byte) = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The table's columns: the sink's file columns, then its partition column.
pub fn table_fields(sink: &Sink) -> Vec<StructField> {
    let mut fields: Vec<StructField> = sink
        .columns
        .iter()
        .map(|c| StructField::new(c.name.clone(), delta_type(c.data_type), c.nullable))
        .collect();
    if let Some(partitioning) = &sink.partitioning {
        let (column, data_type) = partitioning.column();
        // A partition value may be null (the Hive default partition).
        fields.push(StructField::new(column, delta_type(data_type), true));
    }
    fields
}

fn delta_type(data_type: DataType) -> DeltaType {
    match data_type {
        DataType::String => DeltaType::STRING,
        DataType::Int => DeltaType::LONG,
        DataType::Float => DeltaType::DOUBLE,
        DataType::Bool => DeltaType::BOOLEAN,
        // Delta's `timestamp`: microseconds, UTC, as the sinks write them.
        DataType::Timestamp => DeltaType::TIMESTAMP,
    }
}

async fn create(
    table: &DeltaTable,
    pipeline: &str,
    sink: &Sink,
    location: &str,
) -> Result<(), DeltaError> {
    let mut builder = table
        .create()
        .with_table_name(sink.name.clone())
        .with_columns(table_fields(sink))
        .with_save_mode(SaveMode::Ignore)
        .with_raise_if_key_not_exists(false)
        .with_configuration([
            (PIPELINE_PROPERTY, Some(pipeline.to_string())),
            (SINK_PROPERTY, Some(sink.name.clone())),
            // Readers replay at most this many JSON commits after a checkpoint.
            ("delta.checkpointInterval", Some("10".to_string())),
        ]);
    if let Some(partitioning) = &sink.partitioning {
        builder = builder.with_partition_columns([partitioning.column().0.to_string()]);
    }
    match builder.await {
        Ok(_) => {
            tracing::info!(table = location, sink = %sink.name, "created the Delta table");
            Ok(())
        }
        // Another worker created it meanwhile: it is loaded and checked next.
        Err(error) if is_lost_race(&error) => Ok(()),
        Err(error) => Err(delta_error(location, error)),
    }
}

/// A log that cannot be read for a reason retrying does not change: said
/// with what to do (a store that failed is left to be retried).
fn unreadable(error: DeltaError, location: &str) -> DeltaError {
    match error {
        DeltaError::Delta { source, .. } if !delta_error_is_transient(&source) => {
            DeltaError::Refused {
                location: location.to_string(),
                reason: format!(
                    "its log cannot be read ({source}). Nothing was written. Restore the damaged \
                     `_delta_log/` entry (from a backup, or by removing it if it is the last and no \
                     reader has seen it), or give the sink a new `path`"
                ),
            }
        }
        other => other,
    }
}

/// The table at the storage's directory, loaded if it has a log.
pub async fn load(storage: &Storage) -> Result<DeltaTable, DeltaError> {
    let mut table = open(storage)?;
    match table.load().await {
        Ok(()) => Ok(table),
        Err(DeltaTableError::NotATable(_)) => Ok(table),
        Err(error) => Err(delta_error(storage.display(), error)),
    }
}

/// The table at the storage's directory with its latest snapshot, `None`
/// before its first commit: for a reader (see `catalog::delta`), which needs
/// no file's actions in memory before its scan reads them, as `load` keeps.
pub async fn snapshot(storage: &Storage) -> Result<Option<(DeltaTable, Snapshot)>, DeltaError> {
    let table = open(storage)?;
    match Snapshot::try_new(table.log_store().as_ref(), None).await {
        Ok(snapshot) => Ok(Some((table, snapshot))),
        Err(DeltaTableError::NotATable(_)) => Ok(None),
        Err(error) => Err(delta_error(storage.display(), error)),
    }
}

/// The table at the storage's directory, its log not read yet.
fn open(storage: &Storage) -> Result<DeltaTable, DeltaError> {
    register_object_store_schemes();
    let location = storage.display().to_string();
    let url = Url::parse(&storage.reader_url()).map_err(|e| DeltaError::Refused {
        location: location.clone(),
        reason: format!("not a URL a Delta table can be at: {e}"),
    })?;
    let mut builder =
        DeltaTableBuilder::from_url(url.clone()).map_err(|e| delta_error(&location, e))?;
    builder = if storage.store_url().is_some() {
        builder.with_storage_backend(storage.object_store(), url)
    } else {
        // What delta-rs would build for a `file://` URL, listing its log
        // after an offset at the cost of what is past it.
        builder.with_storage_backend(Arc::new(DeltaLocalStore::new()), url)
    };
    builder.build().map_err(|e| delta_error(&location, e))
}

fn delta_error(location: &str, source: DeltaTableError) -> DeltaError {
    match source {
        DeltaTableError::ObjectStore { source } => DeltaError::Storage(StorageError::Io {
            location: location.to_string(),
            source,
        }),
        source => DeltaError::Delta {
            location: location.to_string(),
            source,
        },
    }
}

/// delta-rs knows only local and in-memory stores by itself; pipec hands it
/// its own object stores (configured from `AWS_*` and the like), committed
/// through the default log store's put-if-absent, which S3 honours.
fn register_object_store_schemes() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for scheme in ["s3", "s3a", "gs", "az", "azure", "abfs", "abfss"] {
            if let Ok(url) = Url::parse(&format!("{scheme}://")) {
                logstore_factories().insert(url, Arc::new(PutIfAbsentLogStores));
            }
        }
    });
}

struct PutIfAbsentLogStores;

impl LogStoreFactory for PutIfAbsentLogStores {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_directories_become_delta_partition_values() {
        let values = partition_values("day=2020-08-02");
        assert_eq!(values["day"].as_deref(), Some("2020-08-02"));
        let values = partition_values("kind=a%2Fb%3Dc");
        assert_eq!(values["kind"].as_deref(), Some("a/b=c"));
        assert_eq!(
            partition_values("kind=__HIVE_DEFAULT_PARTITION__")["kind"],
            None
        );
        assert!(partition_values("").is_empty());
    }

    #[test]
    fn store_failures_under_delta_rs_are_retried_and_log_damage_is_not() {
        let refused = || object_store::Error::Generic {
            store: "S3",
            source: "error sending request".into(),
        };
        let denied = object_store::Error::PermissionDenied {
            path: "t/_delta_log".into(),
            source: "403".into(),
        };
        let kernel = DeltaTableError::KernelError(buoyant_kernel::Error::ObjectStore(refused()));
        assert!(delta_error_is_transient(&kernel));
        assert!(delta_error_is_transient(&DeltaTableError::ObjectStore {
            source: refused()
        }));
        assert!(!delta_error_is_transient(&DeltaTableError::ObjectStore {
            source: denied
        }));
        let commit = DeltaTableError::Transaction {
            source: TransactionError::ObjectStore { source: refused() },
        };
        assert!(delta_error_is_transient(&commit));
        assert!(!delta_error_is_transient(
            &DeltaTableError::InvalidJsonLog {
                json_err: serde_json::from_str::<u8>("{").unwrap_err(),
                line: "{".into(),
                version: 3,
            }
        ));
        assert!(!delta_error_is_transient(&DeltaTableError::Generic(
            "bad".into()
        )));
    }

    #[test]
    fn log_paths_are_uri_encoded() {
        assert_eq!(
            encode_path("kind=a%2Fb/part-x.parquet"),
            "kind=a%252Fb/part-x.parquet"
        );
        assert_eq!(
            encode_path("day=2020-08-02/p.parquet"),
            "day=2020-08-02/p.parquet"
        );
        assert_eq!(encode_path("kind=a b/p"), "kind=a%20b/p");
    }
}
