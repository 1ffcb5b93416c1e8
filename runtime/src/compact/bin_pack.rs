//! OPTIMIZE's bin-packing, reading one row group of one file at a time.
//!
//! deltalake-core's own OPTIMIZE reads each bin through a DataFusion scan
//! of the table. Rewriting 1 GB of 10 MB files, it held 430–530 MiB
//! (bench/run, stage 7), whatever its scan parallelism and upload
//! concurrency were set to. Here a bin's files are read in turn by
//! parquet's async reader, in batches of [`BATCH_ROWS`] rows, and written
//! by deltalake-core's `PartitionWriter` (the writer of its own OPTIMIZE
//! and writes, statistics included). What is held at once is one row
//! group being read, one being written ([`ROW_GROUP_BYTES`] at most) and the
//! upload's parts, whatever the bin or the table holds.

use buoyant_kernel::expressions::Scalar;
use bytes::Bytes;
use deltalake_core::arrow::datatypes::{Schema, SchemaRef};
use deltalake_core::datafile::writer::{PartitionWriter, PartitionWriterConfig};
use deltalake_core::kernel::schema::cast::cast_record_batch;
use deltalake_core::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake_core::kernel::{Action, EagerSnapshot, Remove};
use deltalake_core::logstore::ObjectStoreRef;
use deltalake_core::protocol::DeltaOperation;
use deltalake_core::table::config::TablePropertiesExt;
use deltalake_core::table::state::DeltaTableState;
use deltalake_core::{DeltaResult, DeltaTable, DeltaTableError, Path};
use futures::future::{BoxFuture, FutureExt};
use futures::StreamExt;
use indexmap::IndexMap;
use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;
use std::ops::Range;
use std::sync::Arc;

/// Rows per batch read: 2 MiB of the bench's 2 KB rows, few enough that a
/// batch is small beside the row groups either side of it.
const BATCH_ROWS: usize = 1024;

/// Row groups of the files compaction writes: half the sinks' own
/// (`sink::writer::ROW_GROUP_BYTES`), still eight to a 128 MiB file.
const ROW_GROUP_BYTES: usize = 16 * 1024 * 1024;

/// Parts of a rewritten file in flight to the store at once (5 MiB each).
const UPLOAD_CONCURRENCY: usize = 2;

/// What a round of bin-packing did.
pub(super) struct Packed {
    /// The table after the rewrite commit (or as it was, if none was due).
    pub table: DeltaTable,
    pub files_removed: u64,
    pub files_added: u64,
}

/// A file compaction may rewrite.
struct Small {
    path: Path,
    size: u64,
    remove: Remove,
}

/// The small files of one partition directory that go into one new file.
struct Bin {
    partition_values: HashMap<String, Option<String>>,
    files: Vec<Small>,
}

/// Rewrites the small files of each partition directory into as few files
/// of about `target` bytes as their sizes allow, in one commit that
/// removes them (`dataChange: false`).
pub(super) async fn bin_pack(
    table: DeltaTable,
    target: NonZeroU64,
    properties: WriterProperties,
) -> DeltaResult<Packed> {
    let log_store = table.log_store();
    let state: DeltaTableState = table.snapshot()?.clone();
    let snapshot = state.snapshot();
    let bins = plan(snapshot, &table, target.get()).await?;
    if bins.is_empty() {
        return Ok(Packed {
            table,
            files_removed: 0,
            files_added: 0,
        });
    }
    let partition_columns = snapshot.metadata().partition_columns();
    let table_schema = snapshot.arrow_schema();
    let file_schema: SchemaRef = Arc::new(Schema::new(
        table_schema
            .fields()
            .iter()
            .filter(|field| !partition_columns.contains(field.name()))
            .cloned()
            .collect::<Vec<_>>(),
    ));
    let stats_columns = snapshot
        .table_properties()
        .data_skipping_stats_columns
        .as_ref()
        .map(|columns| columns.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    let store = log_store.object_store(None);
    // The writer holds about four copies of the row group it builds
    // (encoded pages, the file buffer, the upload's copy): 16 MiB groups
    // kept `pipec compact` of 1 GB at 201 MiB, 32 MiB ones at 241 MiB.
    let properties = properties
        .into_builder()
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .build();
    let mut actions = Vec::new();
    let (mut files_removed, mut files_added) = (0u64, 0u64);
    for bin in bins {
        let config = PartitionWriterConfig::try_new(
            file_schema.clone(),
            typed_partition_values(snapshot, partition_columns, &bin.partition_values)?,
            Some(properties.clone()),
            // A bin is one file: its inputs add up to about the target.
            None,
            None,
            Some(UPLOAD_CONCURRENCY),
            None,
        )?;
        let mut writer = PartitionWriter::try_with_config(
            store.clone(),
            config,
            snapshot.table_properties().num_indexed_cols(),
            stats_columns.clone(),
        )?;
        if let Err(error) = copy(&store, &bin.files, &file_schema, &mut writer).await {
            // Leave no multipart upload behind; a file the writer finished
            // is an orphan VACUUM deletes.
            if let Err(abort) = writer.abort().await {
                tracing::warn!(%abort, "could not abort a compaction file's upload");
            }
            return Err(error);
        }
        for mut add in writer.close().await? {
            add.data_change = false;
            files_added += 1;
            actions.push(Action::Add(add));
        }
        files_removed += bin.files.len() as u64;
        actions.extend(bin.files.into_iter().map(|f| Action::Remove(f.remove)));
    }
    let commit = CommitProperties::default().with_metadata([(
        "operationMetrics".to_string(),
        serde_json::json!({
            "numRemovedFiles": files_removed,
            "numAddedFiles": files_added,
        }),
    )]);
    let operation = DeltaOperation::Optimize {
        predicate: None,
        target_size: target.get().min(i64::MAX as u64) as i64,
    };
    // An append that lands first is no conflict (it only adds files); the
    // commit builder retries on the newer version.
    let finalized = CommitBuilder::from(commit)
        .with_actions(actions)
        .build(Some(&state), log_store.clone(), operation)
        .await?;
    let mut table = table;
    table.update_incremental(Some(finalized.version())).await?;
    Ok(Packed {
        table,
        files_removed,
        files_added,
    })
}

/// Streams the bin's files, oldest first, into the writer.
async fn copy(
    store: &ObjectStoreRef,
    files: &[Small],
    file_schema: &SchemaRef,
    writer: &mut PartitionWriter,
) -> DeltaResult<()> {
    for file in files {
        let reader = StoredFile {
            store: store.clone(),
            path: file.path.clone(),
            size: file.size,
        };
        let mut batches = ParquetRecordBatchStreamBuilder::new(reader)
            .await?
            .with_batch_size(BATCH_ROWS)
            .build()?;
        while let Some(batch) = batches.next().await {
            // Files written before a column was added lack it: null.
            let batch = cast_record_batch(&batch?, file_schema.clone(), false, true)?;
            writer.write(&batch).await?;
        }
    }
    Ok(())
}

/// A data file of the table, as parquet's async reader reads it: the
/// footer, then each row group's column chunks, through the table's store.
struct StoredFile {
    store: ObjectStoreRef,
    path: Path,
    size: u64,
}

impl AsyncFileReader for StoredFile {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        // Nothing is encrypted, and no page index is wanted.
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// Bins of each partition directory's files smaller than the target: as
/// many bins as the directory's small bytes need at `target` each, filled
/// in commit order to about equal sizes, so a directory ends with
/// ⌈bytes / target⌉ files. A bin of one file would rewrite it for nothing.
async fn plan(snapshot: &EagerSnapshot, table: &DeltaTable, target: u64) -> DeltaResult<Vec<Bin>> {
    type Directory = BTreeMap<String, Option<String>>;
    let mut directories: BTreeMap<Directory, Vec<Small>> = BTreeMap::new();
    let log_store = table.log_store();
    let mut views = snapshot.file_views(log_store.as_ref(), None);
    while let Some(view) = views.next().await {
        let view = view?;
        let size = view.size().max(0) as u64;
        if size >= target {
            continue;
        }
        let partition_values = view.partition_values_map();
        directories
            .entry(partition_values.into_iter().collect())
            .or_default()
            .push(Small {
                path: view.object_store_path(),
                size,
                remove: view.remove_action(false),
            });
    }
    let mut bins = Vec::new();
    for (directory, mut files) in directories {
        // Views come newest first; a compacted file keeps the commit order.
        files.reverse();
        let partition_values: HashMap<_, _> = directory.into_iter().collect();
        for files in balanced(files, target) {
            if files.len() > 1 {
                bins.push(Bin {
                    partition_values: partition_values.clone(),
                    files,
                });
            }
        }
    }
    Ok(bins)
}

/// Splits files, in order, into ⌈total / target⌉ runs of about equal size.
fn balanced(files: Vec<Small>, target: u64) -> Vec<Vec<Small>> {
    let total: u64 = files.iter().map(|f| f.size).sum();
    let count = total.div_ceil(target.max(1)).max(1);
    let mut runs: Vec<Vec<Small>> = Vec::new();
    let mut run = Vec::new();
    let mut before = 0u64;
    for file in files {
        // The run a file belongs to is where its middle byte falls.
        let index = ((before + file.size / 2) * count / total.max(1)).min(count - 1);
        if index as usize > runs.len() && !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
        before += file.size;
        run.push(file);
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// The directory's partition values typed as the table's schema says, as
/// the writer records them in the new file's `add`.
fn typed_partition_values(
    snapshot: &EagerSnapshot,
    partition_columns: &[String],
    raw: &HashMap<String, Option<String>>,
) -> DeltaResult<IndexMap<String, Scalar>> {
    let schema = snapshot.schema();
    let mut typed = IndexMap::new();
    for column in partition_columns {
        let field = schema
            .field(column)
            .ok_or_else(|| DeltaTableError::SchemaMismatch {
                msg: format!("partition column `{column}` is not in the table's schema"),
            })?;
        let value = match raw.get(column).cloned().flatten() {
            Some(value) => field
                .data_type()
                .as_primitive_opt()
                .ok_or_else(|| DeltaTableError::SchemaMismatch {
                    msg: format!("partition column `{column}` is not of a primitive type"),
                })?
                .parse_scalar(&value)
                .map_err(|e| DeltaTableError::Generic(e.to_string()))?,
            None => Scalar::Null(field.data_type().clone()),
        };
        typed.insert(column.clone(), value);
    }
    Ok(typed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(size: u64) -> Small {
        Small {
            path: Path::from(format!("f{size}")),
            size,
            remove: Remove {
                path: String::new(),
                data_change: false,
                deletion_timestamp: None,
                extended_file_metadata: None,
                partition_values: None,
                size: None,
                tags: None,
                deletion_vector: None,
                base_row_id: None,
                default_row_commit_version: None,
            },
        }
    }

    fn sizes(runs: &[Vec<Small>]) -> Vec<Vec<u64>> {
        runs.iter()
            .map(|run| run.iter().map(|f| f.size).collect())
            .collect()
    }

    #[test]
    fn splits_a_directory_into_as_many_files_as_its_bytes_need_at_the_target() {
        // 110 files of 10 make 1,100: 9 files at a target of 128, where
        // filling each to the target in turn would make 10 (11 files of 10).
        let runs = balanced((0..110).map(|_| small(10)).collect(), 128);
        assert_eq!(runs.len(), 9);
        assert!(runs.iter().all(|run| (12..=13).contains(&run.len())));
        assert_eq!(runs.iter().map(Vec::len).sum::<usize>(), 110);
    }

    #[test]
    fn keeps_small_directories_whole_and_files_in_order() {
        assert_eq!(
            sizes(&balanced(vec![small(1), small(2), small(3)], 128)),
            [vec![1, 2, 3]]
        );
        let runs = balanced(vec![small(60), small(60), small(60)], 100);
        assert_eq!(sizes(&runs), [vec![60], vec![60, 60]]);
    }
}
