//! Tables: the DDL view of a sink's files, and the dead-letter table.

use super::settings::Slot;
use super::{Checker, Declared};
use crate::ast::{self, Ast, DeadLettersStmt, Declaration, Name, TableStmt};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::plan::{self, Location, Ref, TableColumn};
use crate::source::Span;
use std::collections::BTreeMap;

const DEFAULT_DATABASE: &str = "default";
const COMPRESSION_PROPERTY: &str = "parquet.compress";

impl Checker<'_> {
    pub(super) fn tables(
        &mut self,
        ast: &Ast,
        sink_decls: &Declared<ast::SinkDecl>,
        sinks: &[plan::Sink],
        dead_letters: &plan::DeadLetters,
    ) -> Vec<plan::Table> {
        let mut tables: Vec<(plan::Table, Span)> = Vec::new();
        // Lower-cased qualified name → span: names are unique ignoring case.
        let mut seen: std::collections::HashMap<String, Span> = std::collections::HashMap::new();
        // Sink name → its place in `sinks`, looked up once per table (a scan
        // per table grew as the square of the file: 10% of `check` at 4,000).
        let sink_index: std::collections::HashMap<&str, usize> = sinks
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        for decl in ast.declarations.iter().filter_map(|d| match d {
            Declaration::Table(t) => Some(t),
            _ => None,
        }) {
            let Some(table) = self.table(decl, sink_decls, sinks, &sink_index) else {
                continue;
            };
            let span = decl
                .database
                .as_ref()
                .map_or(decl.name.span, |d| d.span.to(decl.name.span));
            let folded = table.qualified_name().to_ascii_lowercase();
            if let Some(first) = seen.get(&folded) {
                self.report(
                    Diagnostic::new(
                        Code::Duplicate,
                        span,
                        format!("table `{}` is declared twice", table.qualified_name()),
                    )
                    .with_label("a second table with this name")
                    .with_secondary(*first, "first declared here")
                    .with_help("table names are unique per database, ignoring case"),
                );
                continue;
            }
            let dead_letter_name = format!("{}.{}", dead_letters.database, dead_letters.table);
            if table
                .qualified_name()
                .eq_ignore_ascii_case(&dead_letter_name)
            {
                self.report(
                    Diagnostic::new(
                        Code::Duplicate,
                        span,
                        format!("`{dead_letter_name}` is the dead-letter table"),
                    )
                    .with_label("this name is taken")
                    .with_help("rename this table, or name the dead-letter table in `dead_letters { table ... }`"),
                );
                continue;
            }
            seen.insert(folded, span);
            tables.push((table, span));
        }
        tables.into_iter().map(|(t, _)| t).collect()
    }

    fn table(
        &mut self,
        decl: &ast::TableDecl,
        sink_decls: &Declared<ast::SinkDecl>,
        sinks: &[plan::Sink],
        sink_index: &std::collections::HashMap<&str, usize>,
    ) -> Option<plan::Table> {
        if let Some(database) = &decl.database {
            self.check_hive_name(database, "database", false);
        }
        self.check_hive_name(&decl.name, "table", false);
        let mut from = Slot::new("from");
        let mut columns = Slot::new("columns");
        let mut location = Slot::new("location");
        let mut partitioned_by = Slot::new("partitioned by");
        let mut properties: Vec<&(ast::StringLit, ast::StringLit)> = Vec::new();
        for statement in &decl.statements {
            let span = statement.span;
            match &statement.node {
                TableStmt::From(name) => from.set(self, name, span),
                TableStmt::Columns(names) => columns.set(self, names, span),
                TableStmt::Location(l) => location.set(self, l, span),
                TableStmt::PartitionedBy(names) => partitioned_by.set(self, names, span),
                TableStmt::Properties(list) => properties.extend(list),
            }
        }
        let location = match location.get() {
            Some(literal) => Some(self.location(literal)?),
            None => None,
        };
        // A table reads the sink of its own name unless it says otherwise.
        let sink_name: &Name = match from.get() {
            Some(name) => name,
            None if sink_decls.index_of(&decl.name.text).is_some() => &decl.name,
            None => {
                let help = closest(&decl.name.text, sink_decls.names())
                    .map_or("add `from my_sink`".to_string(), |s| {
                        format!("add `from {s}`")
                    });
                self.report(
                    Diagnostic::new(
                        Code::MissingSetting,
                        decl.name.span,
                        format!(
                            "table `{}` has no `from`, and no sink has its name",
                            decl.name.text
                        ),
                    )
                    .with_label("which sink's files does this table read?")
                    .with_help(help),
                );
                return None;
            }
        };
        let Some(&sink) = sink_index.get(sink_name.text.as_str()) else {
            if sink_decls.index_of(&sink_name.text).is_none() {
                self.unknown(Code::UnknownSink, "sink", sink_name, sink_decls.names());
            }
            return None;
        };
        let sink_plan = &sinks[sink];

        let table_columns = match columns.get() {
            None => sink_plan
                .columns
                .iter()
                .map(|c| TableColumn {
                    name: c.name.clone(),
                    data_type: c.data_type,
                })
                .collect(),
            Some(names) => self.table_columns(names, sink_plan)?,
        };

        let sink_partition = sink_plan.partitioning.as_ref().map(|p| p.column());
        let partition_columns = match (partitioned_by.get(), sink_partition) {
            (Some(names), sink_partition) => {
                let matches = match (names.as_slice(), sink_partition) {
                    ([name], Some((column, _))) => name.text == column,
                    _ => false,
                };
                if !matches {
                    let (label, help) = match sink_partition {
                        Some((column, _)) => (
                            format!("sink `{}` writes `{column}=...` directories", sink_plan.name),
                            format!("write `partitioned by {column}`, or leave it out: it follows the sink"),
                        ),
                        None => (
                            format!("sink `{}` is not partitioned", sink_plan.name),
                            format!("partition the sink (`partition by ...` in sink `{}`), or remove this", sink_plan.name),
                        ),
                    };
                    let span = partitioned_by.span().unwrap_or(decl.name.span);
                    self.report(
                        Diagnostic::new(
                            Code::PartitionMismatch,
                            span,
                            "the table's partitions do not match its sink's directories",
                        )
                        .with_label(label)
                        .with_help(help),
                    );
                    return None;
                }
                sink_partition
                    .map(|(name, data_type)| TableColumn {
                        name: name.to_string(),
                        data_type,
                    })
                    .into_iter()
                    .collect()
            }
            (None, Some((name, data_type))) => vec![TableColumn {
                name: name.to_string(),
                data_type,
            }],
            (None, None) => Vec::new(),
        };

        let mut table_properties = BTreeMap::new();
        table_properties.insert(
            COMPRESSION_PROPERTY.to_string(),
            sink_plan.compression.hive_name().to_string(),
        );
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for (key, value) in properties {
            if let Some(first) = seen.insert(&key.value, key.span) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateSetting,
                        key.span,
                        format!("property `{}` is set twice", key.value),
                    )
                    .with_secondary(first, "first set here"),
                );
                continue;
            }
            let Some(value_text) = self.interpolate(value) else {
                continue;
            };
            if key.value == COMPRESSION_PROPERTY
                && !value_text.eq_ignore_ascii_case(sink_plan.compression.hive_name())
            {
                self.report(
                    Diagnostic::new(
                        Code::PropertyConflict,
                        value.span,
                        format!(
                            "the table says `{value_text}` but sink `{}` writes {}",
                            sink_plan.name,
                            sink_plan.compression.hive_name()
                        ),
                    )
                    .with_label("disagrees with the sink's compression")
                    .with_help(format!(
                        "pipec sets `{COMPRESSION_PROPERTY}` from the sink: remove it here, or write `compression {}` in the sink",
                        value_text.to_ascii_lowercase()
                    )),
                );
                continue;
            }
            table_properties.insert(key.value.clone(), value_text);
        }

        Some(plan::Table {
            database: decl
                .database
                .as_ref()
                .map_or(DEFAULT_DATABASE.to_string(), |d| d.text.clone()),
            name: decl.name.text.clone(),
            sink: Ref::new(sink, sink_plan.name.clone()),
            columns: table_columns,
            partition_columns,
            location: location.map(|l| l.as_str().to_string()),
            properties: table_properties,
        })
    }

    /// A table may show some of its sink's columns, but none it does not write.
    fn table_columns(&mut self, names: &[Name], sink: &plan::Sink) -> Option<Vec<TableColumn>> {
        let mut out: Vec<TableColumn> = Vec::new();
        let mut ok = true;
        for name in names {
            if out.iter().any(|c| c.name == name.text) {
                self.report(
                    Diagnostic::new(
                        Code::Duplicate,
                        name.span,
                        format!("column `{}` is listed twice", name.text),
                    )
                    .with_label("listed again here"),
                );
                ok = false;
                continue;
            }
            match sink.columns.iter().find(|c| c.name == name.text) {
                Some(column) => out.push(TableColumn {
                    name: column.name.clone(),
                    data_type: column.data_type,
                }),
                None => {
                    let partition = sink.partitioning.as_ref().map(|p| p.column().0);
                    let help = if partition == Some(name.text.as_str()) {
                        Some(format!(
                            "`{}` is the partition column: it is added to the table by itself",
                            name.text
                        ))
                    } else {
                        closest(&name.text, sink.columns.iter().map(|c| c.name.as_str()))
                            .map(|c| format!("did you mean `{c}`?"))
                    };
                    let written: Vec<_> = sink
                        .columns
                        .iter()
                        .map(|c| format!("`{}`", c.name))
                        .collect();
                    self.report(
                        Diagnostic::new(
                            Code::ColumnNotWritten,
                            name.span,
                            format!(
                                "sink `{}` does not write a column `{}`",
                                sink.name, name.text
                            ),
                        )
                        .with_label("not in the sink's files")
                        .with_help_opt(help)
                        .with_help(format!("the sink writes {}", written.join(", "))),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// The dead-letter table's place and name, with the defaults.
    pub(super) fn dead_letters(&mut self, ast: &Ast) -> (plan::DeadLetters, Span) {
        let mut path = Slot::new("path");
        let mut table = Slot::new("table");
        let mut first_block: Option<Span> = None;
        for decl in &ast.declarations {
            let Declaration::DeadLetters(block) = decl else {
                continue;
            };
            if let Some(first) = first_block {
                self.report(
                    Diagnostic::new(
                        Code::Duplicate,
                        block.keyword,
                        "a second `dead_letters` block",
                    )
                    .with_secondary(first, "the first one"),
                );
            }
            first_block.get_or_insert(block.keyword);
            for statement in &block.statements {
                match &statement.node {
                    DeadLettersStmt::Path(p) => path.set(self, p, statement.span),
                    DeadLettersStmt::Table { database, name } => {
                        table.set(self, (database, name), statement.span)
                    }
                }
            }
        }
        let location = path
            .get()
            .and_then(|literal| self.written_location(literal))
            .unwrap_or_else(|| Location::Relative("dead_letters".to_string()));
        let (database, name) = match table.get() {
            Some((database, name)) => {
                if let Some(database) = database {
                    self.check_hive_name(database, "database", false);
                }
                self.check_hive_name(name, "table", false);
                (
                    database
                        .as_ref()
                        .map_or(DEFAULT_DATABASE.to_string(), |d| d.text.clone()),
                    name.text.clone(),
                )
            }
            None => (DEFAULT_DATABASE.to_string(), "dead_letters".to_string()),
        };
        (
            plan::DeadLetters {
                path: location,
                database,
                table: name,
            },
            path.span().unwrap_or_default(),
        )
    }
}
