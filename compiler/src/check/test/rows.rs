//! A test's `expect TARGET { row { ... } }`: which table TARGET is, and
//! each cell against the type of its column.

use super::Built;
use crate::ast::{self, CellMatcher, ExpectRows, Literal};
use crate::check::endpoint::article;
use crate::check::Checker;
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::plan::{
    self, ColumnType, Partitioning, Ref, Value, DEAD_LETTER_COLUMNS, DEAD_LETTER_PARTITION,
};
use crate::test_plan::{
    CellMatch, ExpectTarget, ExpectedCell, ExpectedRow, RowsMode, TableExpectation,
};
use crate::types::DataType;

/// The database a sink's table would have if one were declared for it.
const DEFAULT_DATABASE: &str = "default";

/// A column an expected row can name.
#[derive(Debug, Clone, PartialEq)]
struct TargetColumn {
    name: String,
    column_type: ColumnType,
    nullable: bool,
}

/// A resolved `expect` target: what the plan calls it, what messages call
/// it, and its columns.
struct Target {
    target: ExpectTarget,
    description: String,
    columns: Vec<TargetColumn>,
}

impl Checker<'_> {
    pub(super) fn table_expectation(
        &mut self,
        decl: &ast::TableExpectDecl,
        built: &Built,
    ) -> Option<TableExpectation> {
        let target = self.expect_target(decl, built)?;
        let rows: Vec<Option<ExpectedRow>> = decl
            .rows
            .iter()
            .map(|row| self.expected_row(row, &target))
            .collect();
        let rows = rows.into_iter().collect::<Option<Vec<_>>>()?;
        Some(TableExpectation {
            target: target.target,
            name: written_name(decl),
            mode: match decl.mode {
                ExpectRows::Exactly => RowsMode::Exactly,
                ExpectRows::Contains => RowsMode::Contains,
                ExpectRows::Empty => RowsMode::Empty,
            },
            rows,
            span: decl.head,
        })
    }

    /// A table by name or `database.name`, else a sink (its table if it has
    /// one), else the dead-letter table. Table names ignore case, as Hive
    /// does; sink names do not.
    fn expect_target(&mut self, decl: &ast::TableExpectDecl, built: &Built) -> Option<Target> {
        let wanted = written_name(decl);
        let span = decl
            .database
            .as_ref()
            .map_or(decl.name.span, |d| d.span.to(decl.name.span));
        let tables: Vec<(usize, &plan::Table)> = built
            .tables
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.name.eq_ignore_ascii_case(&decl.name.text)
                    && decl
                        .database
                        .as_ref()
                        .is_none_or(|d| t.database.eq_ignore_ascii_case(&d.text))
            })
            .collect();
        match tables.as_slice() {
            [(index, table)] => return Some(table_target(*index, table, built)),
            [] => {}
            several => {
                let names: Vec<String> = several
                    .iter()
                    .map(|(_, t)| format!("`{}`", t.qualified_name()))
                    .collect();
                self.report(
                    Diagnostic::new(
                        Code::UnknownTarget,
                        span,
                        format!("`{wanted}` names {} tables", several.len()),
                    )
                    .with_label("which database's?")
                    .with_help(format!("write {}", names.join(" or "))),
                );
                return None;
            }
        }

        let sink_in_default = decl
            .database
            .as_ref()
            .is_none_or(|d| d.text.eq_ignore_ascii_case(DEFAULT_DATABASE));
        if let Some(index) = built
            .sinks
            .iter()
            .position(|s| s.name == decl.name.text)
            .filter(|_| sink_in_default)
        {
            let sink = &built.sinks[index];
            // A sink with a table is read through it: its columns are the
            // table's, which may be fewer than the sink writes.
            let reading: Vec<(usize, &plan::Table)> = built
                .tables
                .iter()
                .enumerate()
                .filter(|(_, t)| t.sink.index() == index)
                .collect();
            let table = reading
                .iter()
                .find(|(_, t)| t.name == sink.name)
                .or(reading.first());
            match (table, &decl.database) {
                (Some((table_index, table)), None) => {
                    return Some(table_target(*table_index, table, built))
                }
                // `default.SINK` is the sink's default table only when it
                // has no declared one.
                (Some(_), Some(_)) => {}
                (None, _) => return Some(sink_target(index, sink, built)),
            }
        }

        let dead_letters = built.dead_letters;
        let is_dead_letters = dead_letters.table.eq_ignore_ascii_case(&decl.name.text)
            && decl
                .database
                .as_ref()
                .is_none_or(|d| d.text.eq_ignore_ascii_case(&dead_letters.database));
        if is_dead_letters {
            return Some(dead_letter_target(dead_letters));
        }

        if self.declared_with_errors(decl, built) {
            return None;
        }
        let mut candidates: Vec<String> = Vec::new();
        for table in built.tables {
            candidates.push(table.name.clone());
            candidates.push(table.qualified_name());
        }
        for (index, sink) in built.sinks.iter().enumerate() {
            if !built.tables.iter().any(|t| t.sink.index() == index) {
                candidates.push(sink.name.clone());
            }
        }
        candidates.push(dead_letters.table.clone());
        candidates.push(format!("{}.{}", dead_letters.database, dead_letters.table));
        candidates.dedup();
        let help = match closest(&wanted, candidates.iter().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`?"),
            None => {
                let mut short: Vec<String> =
                    built.tables.iter().map(|t| t.qualified_name()).collect();
                short.extend(
                    built
                        .sinks
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !built.tables.iter().any(|t| t.sink.index() == *i))
                        .map(|(_, s)| s.name.clone()),
                );
                short.push(format!("{}.{}", dead_letters.database, dead_letters.table));
                let listed: Vec<String> = short.iter().map(|n| format!("`{n}`")).collect();
                format!("the tables are {}", listed.join(", "))
            }
        };
        self.report(
            Diagnostic::new(
                Code::UnknownTarget,
                span,
                format!("no table, sink or dead-letter table is named `{wanted}`"),
            )
            .with_label("unknown table")
            .with_help(help),
        );
        None
    }

    /// Whether the target is a table or sink that was declared but did not
    /// check: its own errors say enough.
    fn declared_with_errors(&self, decl: &ast::TableExpectDecl, built: &Built) -> bool {
        built.ast.declarations.iter().any(|d| match d {
            ast::Declaration::Table(t) => {
                t.name.text.eq_ignore_ascii_case(&decl.name.text)
                    && match (&t.database, &decl.database) {
                        (_, None) => true,
                        (Some(a), Some(b)) => a.text.eq_ignore_ascii_case(&b.text),
                        (None, Some(b)) => b.text.eq_ignore_ascii_case(DEFAULT_DATABASE),
                    }
            }
            ast::Declaration::Sink(s) => {
                s.name.text == decl.name.text && !built.sinks.iter().any(|p| p.name == s.name.text)
            }
            _ => false,
        })
    }

    fn expected_row(&mut self, row: &ast::RowDecl, target: &Target) -> Option<ExpectedRow> {
        let mut cells = Vec::new();
        let mut ok = true;
        let mut seen: Vec<(&str, &ast::CellDecl)> = Vec::new();
        for cell in &row.cells {
            let Some(column) = self.cell_column(cell, target) else {
                ok = false;
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(name, _)| *name == column.name) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateSetting,
                        cell.span,
                        format!("column `{}` is compared twice in this row", column.name),
                    )
                    .with_label("compared again here")
                    .with_secondary(first.span, "first compared here")
                    .with_help("a row compares each column once; keep one of them"),
                );
                ok = false;
                continue;
            }
            seen.push((&column.name, cell));
            match self.cell_match(cell, column, target) {
                Some(matcher) => cells.push(ExpectedCell {
                    column: column.name.clone(),
                    matcher,
                    span: cell.span,
                }),
                None => ok = false,
            }
        }
        ok.then_some(ExpectedRow {
            cells,
            span: row.span,
        })
    }

    fn cell_column<'t>(
        &mut self,
        cell: &ast::CellDecl,
        target: &'t Target,
    ) -> Option<&'t TargetColumn> {
        let name = &cell.column;
        if let Some(column) = target
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&name.text))
        {
            return Some(column);
        }
        let names = target.columns.iter().map(|c| c.name.as_str());
        let listed: Vec<String> = names.clone().map(|n| format!("`{n}`")).collect();
        self.report(
            Diagnostic::new(
                Code::UnknownColumn,
                name.span,
                format!("{} has no column `{}`", target.description, name.text),
            )
            .with_label("no such column")
            .with_help_opt(closest(&name.text, names).map(|c| format!("did you mean `{c}`?")))
            .with_help(format!("its columns are {}", listed.join(", "))),
        );
        None
    }

    fn cell_match(
        &mut self,
        cell: &ast::CellDecl,
        column: &TargetColumn,
        target: &Target,
    ) -> Option<CellMatch> {
        let name = &column.name;
        let column_text = match column.column_type {
            ColumnType::Data(DataType::String) => true,
            ColumnType::Data(_) | ColumnType::Int32 => false,
            ColumnType::Binary => {
                match &cell.matcher {
                    CellMatcher::Any => return Some(CellMatch::Any),
                    CellMatcher::Equals(literal) if literal.node == Literal::Null => {
                        return self
                            .cell_value(literal, column, DataType::String, target)
                            .map(CellMatch::Equals);
                    }
                    _ => {}
                }
                self.report(
                    Diagnostic::new(
                        Code::CellType,
                        cell.span,
                        format!("column `{name}` holds bytes, which a test does not compare"),
                    )
                    .with_label("a binary column")
                    .with_help(format!(
                        "compare `raw_text`, the same bytes as text, or write `{name} = any`"
                    )),
                );
                return None;
            }
        };
        let data_type = match column.column_type {
            ColumnType::Data(data_type) => data_type,
            _ => DataType::Int,
        };
        let text_only = |what: &str| {
            Diagnostic::new(
                Code::CellType,
                cell.span,
                format!(
                    "`{what}` compares text, but column `{name}` is {} {data_type}",
                    article(data_type)
                ),
            )
            .with_label(format!("`{name}` is not a string column"))
            .with_help(format!("compare its value: `{name} = ...`"))
        };
        match &cell.matcher {
            CellMatcher::Any => Some(CellMatch::Any),
            CellMatcher::Contains(text) => {
                if !column_text {
                    self.report(text_only("contains"));
                    return None;
                }
                Some(CellMatch::Contains(text.value.clone()))
            }
            CellMatcher::Matches(pattern) => {
                if !column_text {
                    self.report(text_only("matches"));
                    return None;
                }
                self.check_pattern(pattern)
                    .then(|| CellMatch::Matches(pattern.value.clone()))
            }
            CellMatcher::Equals(literal) => {
                let value = self.cell_value(literal, column, data_type, target)?;
                Some(CellMatch::Equals(value))
            }
        }
    }

    /// The literal as a value of the column's type.
    fn cell_value(
        &mut self,
        literal: &ast::Spanned<Literal>,
        column: &TargetColumn,
        data_type: DataType,
        target: &Target,
    ) -> Option<Value> {
        let name = &column.name;
        let mismatch = |found: &str| {
            Diagnostic::new(
                Code::CellType,
                literal.span,
                format!(
                    "column `{name}` is {} {data_type}, not {found}",
                    article(data_type)
                ),
            )
        };
        let found = match &literal.node {
            Literal::Null if column.nullable => return Some(Value::Null),
            Literal::Null => {
                self.report(
                    Diagnostic::new(
                        Code::CellType,
                        literal.span,
                        format!("column `{name}` of {} is never null", target.description),
                    )
                    .with_label("every row has a value here")
                    .with_help(format!("write `{name} = any` to accept any value")),
                );
                return None;
            }
            Literal::String(text) => match data_type {
                DataType::String => return Some(Value::String(text.clone())),
                DataType::Timestamp => match crate::time::parse_timestamp(text) {
                    Some(micros) => return Some(Value::Timestamp(micros)),
                    None => {
                        self.report(
                            mismatch("this text")
                                .with_label("not an RFC 3339 time")
                                .with_help("write a time such as \"2020-08-02T22:49:11Z\""),
                        );
                        return None;
                    }
                },
                _ => DataType::String,
            },
            Literal::Int(i) => match data_type {
                DataType::Int => return Some(Value::Int(*i)),
                DataType::Float => return Some(Value::Float(*i as f64)),
                _ => DataType::Int,
            },
            Literal::Float(f) => match data_type {
                DataType::Float => return Some(Value::Float(*f)),
                _ => DataType::Float,
            },
            Literal::Bool(b) => match data_type {
                DataType::Bool => return Some(Value::Bool(*b)),
                _ => DataType::Bool,
            },
        };
        let help = match data_type {
            DataType::String => Some(format!(
                "quote it: `\"{}\"`",
                self.source.slice(literal.span)
            )),
            DataType::Timestamp => {
                Some("write the time as text, such as \"2020-08-02T22:49:11Z\"".to_string())
            }
            _ => None,
        };
        self.report(
            mismatch(&format!("{} {found}", article(found)))
                .with_label(format!("this is {} {found}", article(found)))
                .with_help_opt(help),
        );
        None
    }
}

fn written_name(decl: &ast::TableExpectDecl) -> String {
    match &decl.database {
        Some(database) => format!("{}.{}", database.text, decl.name.text),
        None => decl.name.text.clone(),
    }
}

fn table_target(index: usize, table: &plan::Table, built: &Built) -> Target {
    let sink = &built.sinks[table.sink.index()];
    let mut columns: Vec<TargetColumn> = table
        .columns
        .iter()
        .map(|c| TargetColumn {
            name: c.name.clone(),
            column_type: ColumnType::Data(c.data_type),
            nullable: sink
                .columns
                .iter()
                .find(|s| s.name == c.name)
                .is_none_or(|s| s.nullable),
        })
        .collect();
    columns.extend(table.partition_columns.iter().map(|c| TargetColumn {
        name: c.name.clone(),
        column_type: ColumnType::Data(c.data_type),
        nullable: partition_nullable(sink, built),
    }));
    Target {
        target: ExpectTarget::Table(Ref::new(index, table.qualified_name())),
        description: format!("table `{}`", table.qualified_name()),
        columns,
    }
}

fn sink_target(index: usize, sink: &plan::Sink, built: &Built) -> Target {
    let mut columns: Vec<TargetColumn> = sink
        .columns
        .iter()
        .map(|c| TargetColumn {
            name: c.name.clone(),
            column_type: ColumnType::Data(c.data_type),
            nullable: c.nullable,
        })
        .collect();
    if let Some(partitioning) = &sink.partitioning {
        let (name, data_type) = partitioning.column();
        columns.push(TargetColumn {
            name: name.to_string(),
            column_type: ColumnType::Data(data_type),
            nullable: partition_nullable(sink, built),
        });
    }
    Target {
        target: ExpectTarget::Sink(Ref::new(index, sink.name.clone())),
        description: format!("sink `{}`", sink.name),
        columns,
    }
}

fn dead_letter_target(dead_letters: &plan::DeadLetters) -> Target {
    let mut columns: Vec<TargetColumn> = DEAD_LETTER_COLUMNS
        .iter()
        .map(|(name, column_type, nullable)| TargetColumn {
            name: name.to_string(),
            column_type: *column_type,
            nullable: *nullable,
        })
        .collect();
    columns.push(TargetColumn {
        name: DEAD_LETTER_PARTITION.to_string(),
        column_type: ColumnType::Data(DataType::String),
        nullable: false,
    });
    Target {
        target: ExpectTarget::DeadLetters,
        description: format!(
            "the dead-letter table `{}.{}`",
            dead_letters.database, dead_letters.table
        ),
        columns,
    }
}

/// A partition directory is null (`__HIVE_DEFAULT_PARTITION__`) when the
/// value it comes from is.
fn partition_nullable(sink: &plan::Sink, built: &Built) -> bool {
    let source = match &sink.partitioning {
        Some(Partitioning::Column { column, .. }) => column,
        Some(Partitioning::Date { source, .. }) => source,
        None => return true,
    };
    if let Some(column) = sink.columns.iter().find(|c| &c.name == source) {
        return column.nullable;
    }
    if sink
        .metadata
        .columns()
        .iter()
        .any(|(name, _, _)| name == source)
    {
        return false;
    }
    built
        .scope
        .topic_schema(sink.topic.index())
        .and_then(|schema| schema.field_named(source))
        .is_none_or(|field| field.optional)
}
