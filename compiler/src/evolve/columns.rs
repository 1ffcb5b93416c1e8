//! A sink's files: the columns and partition directories already written
//! against what the new sink writes. [`compare_columns`] is for a caller
//! that knows only the files (a Parquet footer, the `col=value/` names);
//! `diff` uses the same comparison with the old plan's sink as the files.

use super::{Change, Locate};
use crate::ast::{Ast, SinkStmt};
use crate::diagnostic::Code;
use crate::plan::{ColumnSource, Sink};
use crate::types::DataType;

/// One column as the files already written have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenColumn {
    pub name: String,
    /// `None` for a type pipec does not write (a file from another tool).
    pub data_type: Option<DataType>,
    pub nullable: bool,
}

/// What a sink's files already hold: their columns, in file order, and the
/// names of the partition directories' columns (`day` of `day=2024-05-01/`),
/// outermost first; none when the files are not partitioned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrittenLayout {
    pub columns: Vec<WrittenColumn>,
    pub partition_columns: Vec<String>,
}

impl WrittenLayout {
    /// What `sink` writes: the layout of its files.
    pub fn of_sink(sink: &Sink) -> Self {
        WrittenLayout {
            columns: sink
                .columns
                .iter()
                .map(|c| WrittenColumn {
                    name: c.name.clone(),
                    data_type: Some(c.data_type),
                    nullable: c.nullable,
                })
                .collect(),
            partition_columns: sink
                .partitioning
                .iter()
                .map(|p| p.column().0.to_string())
                .collect(),
        }
    }
}

/// The files already written (`written`) against the sink the new file
/// declares, classified as `pipec diff` does: a column of another type is
/// breaking, other partition directories are breaking, a column renamed in
/// place is breaking (needs care when the new column still reads the old
/// name as its JSON key), a column gone needs care, a column added or made
/// nullable is compatible, a column made non-nullable needs care. Spans
/// are in the new file (`new_ast`): the field, the sink's `columns` or
/// `partition` statement, else the sink's name. A caller without the
/// file's text passes `&Ast { declarations: Vec::new() }` and gets
/// `Span::default()` everywhere.
pub fn compare_columns(written: &WrittenLayout, new_sink: &Sink, new_ast: &Ast) -> Vec<Change> {
    let locate = Locate::new(new_ast);
    let new_partitions: Vec<String> = new_sink
        .partitioning
        .iter()
        .map(|p| p.column().0.to_string())
        .collect();
    let mut changes = Vec::new();
    if written.partition_columns != new_partitions {
        let shown = |names: &[String]| match names {
            [] => "none".to_string(),
            names => names.join("/"),
        };
        changes.push(partitioning_changed(
            new_sink,
            locate,
            &shown(&written.partition_columns),
            &shown(&new_partitions),
        ));
    }
    // A column moving into or out of the partition directories is part of
    // the partitioning change.
    let moved = |column: &str| {
        written.partition_columns != new_partitions
            && (written.partition_columns.iter().any(|c| c == column)
                || new_partitions.iter().any(|c| c == column))
    };
    changes.extend(columns(written, new_sink, locate, &moved));
    changes
}

pub(crate) fn partitioning_changed(sink: &Sink, locate: Locate, was: &str, now: &str) -> Change {
    let name = &sink.name;
    Change::new(
        Code::PartitioningChanged,
        locate.sink_statement(name, |s| matches!(s, SinkStmt::Partition(_))),
        format!(
            "sink `{name}` is now partitioned by {now} (was {was}): the files already under `{}` are laid out by {was}, and one table cannot read both",
            sink.path.as_str()
        ),
    )
    .help("write the new layout to a new `path` and `checkpoint` (the sink then writes the topic again from its start), and leave the old files to their own table")
}

/// The columns of `written` against `sink`'s, leaving out those
/// `explained` says were already reported.
pub(crate) fn columns(
    written: &WrittenLayout,
    sink: &Sink,
    locate: Locate,
    explained: &dyn Fn(&str) -> bool,
) -> Vec<Change> {
    let name = &sink.name;
    let schema = locate
        .topic_schema(&sink.topic.name)
        .unwrap_or_default()
        .to_string();
    let field_span = |column: &str| {
        locate
            .field_type(&schema, column)
            .or_else(|| locate.sink_column(name, column))
    };
    let mut changes = Vec::new();
    let mut matched = vec![false; written.columns.len()];
    for (index, column) in sink.columns.iter().enumerate() {
        let before = written.columns.iter().position(|c| c.name == column.name);
        if let Some(i) = before {
            matched[i] = true;
            if explained(&column.name) {
                continue;
            }
            let was = &written.columns[i];
            if was.data_type != Some(column.data_type) {
                let was_type = type_name(was.data_type);
                changes.push(
                    Change::new(
                        Code::TypeChanged,
                        field_span(&column.name),
                        format!(
                            "column `{}` of sink `{name}` changed type from {} to {}: the files already under `{}` hold it as {}",
                            column.name, was_type, column.data_type, sink.path.as_str(), was_type
                        ),
                    )
                    .help("keep the column's type and add the new value as a new column"),
                );
            } else if was.nullable && !column.nullable {
                changes.push(Change::new(
                    Code::FieldNowRequired,
                    field_span(&column.name),
                    format!(
                        "column `{}` of sink `{name}` is now never null: the files already written may hold nulls in it",
                        column.name
                    ),
                ));
            } else if !was.nullable && column.nullable {
                changes.push(Change::new(
                    Code::FieldNowOptional,
                    field_span(&column.name),
                    format!("column `{}` of sink `{name}` may now be null", column.name),
                ));
            }
            continue;
        }
        let in_place = written.columns.get(index).filter(|was| {
            !matched[index]
                && was.data_type == Some(column.data_type)
                && sink.columns.iter().all(|c| c.name != was.name)
        });
        if let Some(was) = in_place {
            matched[index] = true;
            if explained(&column.name) || explained(&was.name) {
                continue;
            }
            // A field column that no longer reads the old name as its key
            // was renamed without `from`: the topic's messages carry the
            // old key too. Other renames only change the files' column.
            let code = match &column.source {
                ColumnSource::Field(key) if *key != was.name => Code::ColumnRenamed,
                _ => Code::FieldRenamed,
            };
            changes.push(Change::new(
                code,
                field_span(&column.name),
                format!(
                    "column `{}` of sink `{name}` renamed to `{}`: the files already under `{}` have `{}`, so their rows show `{}` as null",
                    was.name, column.name, sink.path.as_str(), was.name, column.name
                ),
            ));
            continue;
        }
        if !explained(&column.name) {
            changes.push(Change::new(
                Code::ColumnAdded,
                locate.sink_column(name, &column.name),
                format!(
                    "column `{}` added to sink `{name}`: files written before read it as null",
                    column.name
                ),
            ));
        }
    }
    for (was, _) in written.columns.iter().zip(&matched).filter(|(_, m)| !**m) {
        if explained(&was.name) {
            continue;
        }
        changes.push(Change::new(
            Code::FieldRemoved,
            locate.sink_statement(name, |s| matches!(s, SinkStmt::Columns(_))),
            format!(
                "column `{}` is no longer written by sink `{name}`: the files already under `{}` keep it, and its table no longer shows it",
                was.name,
                sink.path.as_str()
            ),
        ));
    }
    changes
}

fn type_name(data_type: Option<DataType>) -> &'static str {
    data_type.map_or("a type pipec does not write", DataType::name)
}
