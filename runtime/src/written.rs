//! What a data directory already holds, per sink of a plan: the columns of
//! its Parquet files (read from their footers), its partition directories
//! (`col=value/`) and whether it has checkpoints. `pipec check --against`
//! and `pipec run` compare this with a changed pipeline: the files on disk
//! are the truth about the schema that ran.

use crate::storage::{Storage, StorageError};
use arrow::datatypes::{DataType as ArrowType, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pipec_compiler::ast::Declaration;
use pipec_compiler::evolve::{compare_columns, Change, Class, WrittenColumn, WrittenLayout};
use pipec_compiler::plan::Plan;
use pipec_compiler::types::DataType;
use pipec_compiler::Code;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenSink {
    pub sink: String,
    /// The newest file's columns and the partition directories' columns;
    /// empty when the sink wrote no file yet.
    pub layout: WrittenLayout,
    /// The newest file, relative to the sink's path.
    pub newest_file: Option<String>,
    pub files: usize,
    /// Checkpoint objects at the sink's checkpoint location.
    pub checkpoints: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum WrittenError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("`{file}` is not a Parquet file pipec can read: {reason}")]
    Unreadable { file: String, reason: String },
}

/// Every sink of `plan` as `data_dir` holds it (a sink with nothing written
/// has no files and no checkpoints).
pub async fn written(plan: &Plan, data_dir: &Path) -> Result<Vec<WrittenSink>, WrittenError> {
    let mut out = Vec::new();
    for sink in &plan.sinks {
        let data = Storage::open(&sink.path, data_dir)?;
        // A Delta table is its own checkpoint: its log.
        let checkpoints = match &sink.checkpoint {
            Some(location) => Storage::open(location, data_dir)?,
            None => data.subdirectory("_delta_log"),
        };
        let mut files: Vec<String> = data
            .list("")
            .await?
            .into_iter()
            .filter(|p| p.ends_with(".parquet") && !is_hidden(p) && !p.starts_with("_delta_log/"))
            .collect();
        // Names carry the offsets zero-padded, so the last name sorts last
        // within a partition; the newest of all is the last by name here.
        files.sort();
        let partition_columns = files
            .first()
            .map(|f| {
                f.split('/')
                    .filter_map(|part| part.split_once('=').map(|(c, _)| c.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let newest = files.last().cloned();
        let columns = match &newest {
            Some(file) => columns_of(&data, file).await?,
            None => Vec::new(),
        };
        let checkpoint_count = checkpoints
            .list("")
            .await?
            .into_iter()
            .filter(|p| !is_hidden(p))
            .count();
        out.push(WrittenSink {
            sink: sink.name.clone(),
            layout: WrittenLayout {
                columns,
                partition_columns,
            },
            newest_file: newest,
            files: files.len(),
            checkpoints: checkpoint_count,
        });
    }
    Ok(out)
}

/// Pending and temporary files start with a dot.
fn is_hidden(path: &str) -> bool {
    path.split('/').any(|part| part.starts_with('.'))
}

async fn columns_of(data: &Storage, file: &str) -> Result<Vec<WrittenColumn>, WrittenError> {
    let unreadable = |reason: String| WrittenError::Unreadable {
        file: file.to_string(),
        reason,
    };
    let bytes: Bytes = data
        .get(file)
        .await?
        .ok_or_else(|| unreadable("it disappeared while being read".into()))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| unreadable(e.to_string()))?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|field| WrittenColumn {
            name: field.name().clone(),
            data_type: pipec_type(field.data_type()),
            nullable: field.is_nullable(),
        })
        .collect())
}

/// The pipec type an Arrow type stores, for the types pipec writes.
pub fn pipec_type(arrow: &ArrowType) -> Option<DataType> {
    match arrow {
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => Some(DataType::String),
        ArrowType::Int64 => Some(DataType::Int),
        ArrowType::Float64 => Some(DataType::Float),
        ArrowType::Boolean => Some(DataType::Bool),
        ArrowType::Timestamp(
            TimeUnit::Microsecond | TimeUnit::Millisecond | TimeUnit::Nanosecond,
            _,
        ) => Some(DataType::Timestamp),
        _ => None,
    }
}

/// What running `plan` over `data_dir` would do to what is there: per sink
/// that wrote files, its columns and partition directories against its
/// newest file (`evolve::compare_columns`); a sink with files but no
/// checkpoint (the checkpoint moved) starts over. Spans point into
/// `ast`, the new file.
pub async fn against(
    plan: &Plan,
    ast: &pipec_compiler::ast::Ast,
    data_dir: &Path,
) -> Result<Vec<Change>, WrittenError> {
    let mut changes = Vec::new();
    for (sink, written) in plan.sinks.iter().zip(written(plan, data_dir).await?) {
        if written.files == 0 {
            continue;
        }
        changes.extend(compare_columns(&written.layout, sink, ast));
        if written.checkpoints == 0 {
            let span = ast
                .declarations
                .iter()
                .find_map(|d| match d {
                    Declaration::Sink(s) if s.name.text == sink.name => Some(s.name.span),
                    _ => None,
                })
                .unwrap_or_default();
            changes.push(Change {
                class: Class::of(Code::SinkStartsOver),
                code: Code::SinkStartsOver,
                message: format!(
                    "sink `{}` has {} file{} at `{}` but no checkpoint at `{}`: it starts over and writes again what the topic still holds",
                    sink.name,
                    written.files,
                    if written.files == 1 { "" } else { "s" },
                    sink.path.as_str(),
                    sink.checkpoint.as_ref().map_or("_delta_log", |c| c.as_str())
                ),
                span,
                help: Some(
                    "point `checkpoint` back where it was, or give the sink a new `path` so the rows are not written twice"
                        .into(),
                ),
            });
        }
    }
    changes.sort_by_key(|c| (c.span.start, c.span.end));
    Ok(changes)
}
