//! `pipec run --metastore thrift://HOST:PORT`: the sinks role keeps a Hive
//! Metastore in step with the files, so Trino, Spark and Hive find every
//! table and every partition without anyone running DDL or `MSCK REPAIR`.
//!
//! The registrar creates the database and each plain Parquet table from
//! the model `pipec ddl` prints (`pipec_compiler::ddl::metastore`), adds
//! columns a compatible change added, and refuses a table the metastore
//! holds otherwise. Then it lists each table's `column=value` directories
//! and adds the partitions it has not registered yet (`if not exists`).
//! A directory exists only once a commit made a file visible in it (the
//! files are staged under `.pipec-staging/`), so a registered partition is
//! never empty, and a crash between a commit and its registration is
//! mended by the next listing. The metastore is never in the sinks' way:
//! while it is down, registration waits and retries, and `/health` and
//! `/metrics` show the partitions waiting.

mod thrift;

use crate::metrics::Metrics;
use crate::storage::{Storage, StorageError};
use pipec_compiler::ddl::metastore::{self, Comparison, Table};
use pipec_compiler::ddl::{self, DdlOptions, Dialect};
use pipec_compiler::plan::Plan;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

pub use thrift::ThriftCatalog;

/// How often the tables' directories are listed: a new partition is
/// registered within this after the commit that made it.
pub const POLL: Duration = Duration::from_secs(2);

/// How long `pipec run` waits for the metastore at start before it goes
/// on and registers in the background.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, thiserror::Error)]
pub enum CatalogError {
    /// Worth trying again: the metastore is down, slow or restarting.
    #[error("the metastore at {uri} did not answer: {reason}")]
    Unreachable { uri: String, reason: String },
    /// The metastore answered no.
    #[error("the metastore refused {call}: {reason}")]
    Refused { call: String, reason: String },
}

/// A partition to add: its values, in the order of the partition keys,
/// and its directory's location.
pub type NewPartition = (Vec<String>, String);

/// The calls of the metastore's Thrift API the registrar makes.
#[async_trait::async_trait]
pub trait Catalog: Send + Sync {
    /// Creates the database unless it exists.
    async fn ensure_database(&self, name: &str, location: &str) -> Result<(), CatalogError>;
    async fn table(&self, database: &str, name: &str) -> Result<Option<Table>, CatalogError>;
    async fn create_table(&self, table: &Table) -> Result<(), CatalogError>;
    /// Alters the registered table to `table`'s columns (added at the end).
    async fn alter_columns(&self, table: &Table) -> Result<(), CatalogError>;
    /// Adds the partitions (values, location) that are not there yet.
    async fn add_partitions(
        &self,
        table: &Table,
        partitions: &[NewPartition],
    ) -> Result<(), CatalogError>;
}

/// The registrar's part of `/health`: never a reason for a 503 (the
/// sinks are not held up), but what an operator looks at first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MetastoreHealth {
    pub uri: String,
    /// `up`, `unreachable` or `refused` (a table it will not alter).
    pub state: String,
    /// Partition directories committed and not yet registered.
    pub unregistered_partitions: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Unix seconds since the state began.
    pub since: i64,
}

/// Shared between the registrar and `/health`.
#[derive(Default)]
pub struct MetastoreStatus(Mutex<Option<MetastoreHealth>>);

impl MetastoreStatus {
    pub fn report(&self) -> Option<MetastoreHealth> {
        self.0.lock().expect("not poisoned").clone()
    }

    fn set(&self, uri: &str, state: &str, unregistered: u64, reason: Option<String>) {
        let mut current = self.0.lock().expect("not poisoned");
        let since = match current.as_ref() {
            Some(old) if old.state == state => old.since,
            _ => unix_now(),
        };
        *current = Some(MetastoreHealth {
            uri: uri.to_string(),
            state: state.to_string(),
            unregistered_partitions: unregistered,
            reason,
            since,
        });
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `thrift://HOST:PORT`, as Hive's `hive.metastore.uris` names one
/// metastore: the host and port.
pub fn parse_uri(uri: &str) -> Result<(String, u16), String> {
    let wrong = |why: &str| {
        format!("the metastore `{uri}` is not a metastore URI: {why} (expected thrift://HOST:PORT, such as thrift://127.0.0.1:9083)")
    };
    let rest = uri
        .strip_prefix("thrift://")
        .ok_or_else(|| wrong("it does not start with thrift://"))?;
    let (host, port) = rest
        .trim_end_matches('/')
        .rsplit_once(':')
        .ok_or_else(|| wrong("it has no port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains('/') {
        return Err(wrong("it has no host"));
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| wrong(&format!("`{port}` is not a port")))?;
    Ok((host.to_string(), port))
}

/// Why `pipec run` does not start.
#[derive(Debug, thiserror::Error)]
pub enum MetastoreError {
    #[error(
        "the metastore at {uri} holds {} the pipeline cannot register over; nothing was changed in it and nothing was started:\n  - {}\n  = help: drop or rename the table in the metastore, or give the sink a new `path` and its table a new name",
        if reasons.len() == 1 { "a table" } else { "tables" },
        reasons.join("\n  - ")
    )]
    Breaking { uri: String, reasons: Vec<String> },
    #[error("{0}")]
    Uri(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// One table the registrar keeps registered.
struct Entry {
    table: Table,
    /// Where its partition directories are listed.
    storage: Storage,
    ready: bool,
    registered: BTreeSet<String>,
}

pub struct Registrar {
    uri: String,
    catalog: Arc<dyn Catalog>,
    entries: Vec<Entry>,
    metrics: Arc<Metrics>,
    refused: Option<String>,
}

impl Registrar {
    /// The plan's plain Parquet tables and its dead-letter table, as the
    /// metastore will hold them. Delta tables are left to their log.
    pub fn new(
        plan: &Plan,
        data_dir: &Path,
        uri: &str,
        catalog: Arc<dyn Catalog>,
        metrics: Arc<Metrics>,
    ) -> Result<Registrar, MetastoreError> {
        let root = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let options = DdlOptions::new(root.display().to_string());
        let tables = ddl::tables(plan, &options, Dialect::Hive);
        let mut locations: Vec<&pipec_compiler::plan::Location> = plan
            .tables
            .iter()
            .map(|t| &plan.sink(&t.sink).path)
            .collect();
        locations.push(&plan.dead_letters.path);
        let mut entries = Vec::new();
        for (ddl, location) in tables.iter().zip(locations) {
            if ddl.delta {
                tracing::info!(table = %format!("{}.{}", ddl.database, ddl.name), "a Delta table: engines find it through its own log, so it is not registered in the metastore");
                continue;
            }
            entries.push(Entry {
                table: metastore::table(ddl),
                storage: Storage::open(location, data_dir)?,
                ready: false,
                registered: BTreeSet::new(),
            });
        }
        Ok(Registrar {
            uri: uri.to_string(),
            catalog,
            entries,
            metrics,
            refused: None,
        })
    }

    /// Makes the tables as the pipeline says, if the metastore answers
    /// within `timeout`. A table it holds otherwise stops the start, with
    /// nothing changed; a metastore that does not answer does not.
    pub async fn prepare(&mut self, timeout: Duration) -> Result<(), MetastoreError> {
        match tokio::time::timeout(timeout, self.ensure_tables()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Prepared::Breaking(reasons))) => Err(MetastoreError::Breaking {
                uri: self.uri.clone(),
                reasons,
            }),
            Ok(Err(Prepared::Catalog(error))) => {
                tracing::warn!(%error, "the metastore is not ready: the sinks start, and tables and partitions are registered once it answers");
                Ok(())
            }
            Err(_) => {
                tracing::warn!(uri = %self.uri, "the metastore did not answer in {}s: the sinks start, and tables and partitions are registered once it answers", timeout.as_secs());
                Ok(())
            }
        }
    }

    /// Registers until `stop` says so, a round every [`POLL`].
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut down_since: Option<Instant> = None;
        let mut last_warning = Instant::now();
        loop {
            match self.round().await {
                Ok(unregistered) => {
                    if let Some(since) = down_since.take() {
                        tracing::info!(uri = %self.uri, down_seconds = since.elapsed().as_secs(), "the metastore answers again; waiting partitions are registered");
                    }
                    self.metrics.metastore_up.set(1);
                    let state = if self.refused.is_some() {
                        "refused"
                    } else {
                        "up"
                    };
                    self.metrics.metastore.set(
                        &self.uri,
                        state,
                        unregistered,
                        self.refused.clone(),
                    );
                }
                Err(error) => {
                    self.metrics.metastore_up.set(0);
                    self.metrics.metastore_errors.inc();
                    let unregistered = self.count_unregistered().await;
                    let first = down_since.is_none();
                    let since = *down_since.get_or_insert_with(Instant::now);
                    if first || last_warning.elapsed() >= Duration::from_secs(60) {
                        last_warning = Instant::now();
                        tracing::warn!(%error, unregistered, down_seconds = since.elapsed().as_secs(), "cannot register in the metastore; the sinks go on, and registration is retried");
                    }
                    let state = match error {
                        CatalogError::Unreachable { .. } => "unreachable",
                        CatalogError::Refused { .. } => "refused",
                    };
                    self.metrics.metastore.set(
                        &self.uri,
                        state,
                        unregistered,
                        Some(error.to_string()),
                    );
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => {
                    // A last round: what the sinks committed while stopping.
                    let _ = self.round().await;
                    return;
                }
            }
        }
    }

    /// One round: tables made if they are not yet, then the new partition
    /// directories registered. Returns how many still wait.
    async fn round(&mut self) -> Result<u64, CatalogError> {
        if self.entries.iter().any(|e| !e.ready) && self.refused.is_none() {
            match self.ensure_tables().await {
                Ok(()) => {}
                Err(Prepared::Catalog(error)) => return Err(error),
                Err(Prepared::Breaking(reasons)) => {
                    let reason = reasons.join("; ");
                    tracing::error!(uri = %self.uri, %reason, "the metastore holds tables the pipeline cannot register over: they are left as they are, and their partitions are not registered");
                    self.refused = Some(reason);
                }
            }
        }
        let mut unregistered = 0;
        for entry in &mut self.entries {
            let label = format!("{}.{}", entry.table.database, entry.table.name);
            let new = match new_directories(entry).await {
                Ok(new) => new,
                Err(error) => {
                    // The sinks see the store's trouble too, and say so.
                    tracing::debug!(table = %label, %error, "cannot list the table's directories");
                    continue;
                }
            };
            if entry.ready && !new.is_empty() {
                let partitions: Vec<NewPartition> = new
                    .iter()
                    .map(|(directory, values)| {
                        let location =
                            format!("{}/{directory}", entry.table.location.trim_end_matches('/'));
                        (values.clone(), location)
                    })
                    .collect();
                self.catalog
                    .add_partitions(&entry.table, &partitions)
                    .await
                    .inspect_err(|_| {
                        self.metrics
                            .metastore_unregistered
                            .with_label_values(&[&label])
                            .set(new.len() as i64);
                    })?;
                self.metrics
                    .metastore_partitions_registered
                    .with_label_values(&[&label])
                    .inc_by(new.len() as u64);
                tracing::info!(table = %label, partitions = new.len(), "registered in the metastore");
                entry.registered.extend(new.into_iter().map(|(d, _)| d));
                self.metrics
                    .metastore_unregistered
                    .with_label_values(&[&label])
                    .set(0);
            } else {
                self.metrics
                    .metastore_unregistered
                    .with_label_values(&[&label])
                    .set(new.len() as i64);
                unregistered += new.len() as u64;
            }
        }
        Ok(unregistered)
    }

    async fn count_unregistered(&self) -> u64 {
        let mut count = 0;
        for entry in &self.entries {
            if let Ok(new) = new_directories(entry).await {
                let label = format!("{}.{}", entry.table.database, entry.table.name);
                self.metrics
                    .metastore_unregistered
                    .with_label_values(&[&label])
                    .set(new.len() as i64);
                count += new.len() as u64;
            }
        }
        count
    }

    /// Every table as the pipeline says: all compared first, so a table
    /// that cannot be registered over leaves the metastore untouched.
    async fn ensure_tables(&mut self) -> Result<(), Prepared> {
        let mut plans = Vec::new();
        let mut breaking = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let wanted = &entry.table;
            let registered = self
                .catalog
                .table(&wanted.database, &wanted.name)
                .await
                .map_err(Prepared::Catalog)?;
            match registered.map(|r| metastore::compare(&r, wanted)) {
                None => plans.push((index, Change::Create)),
                Some(Comparison::Same) => plans.push((index, Change::None)),
                Some(Comparison::AddColumns(added)) => plans.push((index, Change::Add(added))),
                Some(Comparison::Breaking(reasons)) => breaking.extend(reasons),
            }
        }
        if !breaking.is_empty() {
            return Err(Prepared::Breaking(breaking));
        }
        let mut databases = BTreeSet::new();
        for (index, change) in plans {
            let entry = &mut self.entries[index];
            let table = &entry.table;
            let label = format!("{}.{}", table.database, table.name);
            if databases.insert(table.database.clone()) {
                self.catalog
                    .ensure_database(&table.database, &database_location(table))
                    .await
                    .map_err(Prepared::Catalog)?;
            }
            match change {
                Change::None => {}
                Change::Create => {
                    self.catalog
                        .create_table(table)
                        .await
                        .map_err(Prepared::Catalog)?;
                    tracing::info!(table = %label, location = %table.location, "created in the metastore");
                }
                Change::Add(added) => {
                    self.catalog
                        .alter_columns(table)
                        .await
                        .map_err(Prepared::Catalog)?;
                    let names: Vec<&str> = added.iter().map(|c| c.name.as_str()).collect();
                    tracing::info!(table = %label, added = ?names, "columns added in the metastore");
                }
            }
            entry.ready = true;
        }
        Ok(())
    }
}

enum Change {
    None,
    Create,
    Add(Vec<metastore::Column>),
}

enum Prepared {
    Catalog(CatalogError),
    Breaking(Vec<String>),
}

/// The table's partition directories not registered yet, with their
/// values. An unpartitioned table has none.
async fn new_directories(entry: &Entry) -> Result<Vec<(String, Vec<String>)>, StorageError> {
    if entry.table.partition_keys.is_empty() {
        return Ok(Vec::new());
    }
    let directories = entry.storage.directories().await?;
    Ok(directories
        .into_iter()
        .filter(|d| !entry.registered.contains(d))
        .filter_map(|d| {
            metastore::partition_values(&d, &entry.table.partition_keys).map(|values| (d, values))
        })
        .collect())
}

/// A database made for a table lives beside it: the metastore wants a
/// location, and its default warehouse may not be one it can write.
fn database_location(table: &Table) -> String {
    let location = table.location.trim_end_matches('/');
    match location.rsplit_once('/') {
        Some((parent, _)) if !parent.ends_with(':') && !parent.ends_with('/') => parent.to_string(),
        _ => location.to_string(),
    }
}

#[cfg(test)]
mod tests;
