//! SQL over the catalog: statements run one after another, read-only where
//! asked, with a row and a time limit.

mod format;

pub use format::{to_csv, to_json_rows, to_table};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
pub use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParser;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    /// Rows returned per statement; more are cut, and the result says so.
    pub max_rows: Option<usize>,
    pub timeout: Option<Duration>,
    /// Refuse DDL, DML, COPY and session statements.
    pub read_only: bool,
}

impl QueryLimits {
    pub const CLI: QueryLimits = QueryLimits {
        max_rows: None,
        timeout: None,
        read_only: false,
    };
}

/// One statement's answer.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub truncated: bool,
}

impl QueryResult {
    pub fn row_count(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The SQL is wrong: a parse or planning error, with its position.
    #[error("{message}")]
    Invalid {
        message: String,
        /// 1-based line and column, when the parser named them.
        position: Option<(usize, usize)>,
        /// What to write instead, when something close is known.
        help: Option<String>,
    },
    #[error("writes are not allowed here: {0}")]
    NotReadOnly(String),
    #[error("the query took longer than {0:?}")]
    Timeout(Duration),
    #[error("the query failed: {0}")]
    Execution(String),
    #[error("no SQL statement given")]
    Empty,
}

/// Runs every statement of `sql`.
pub async fn run(
    ctx: &SessionContext,
    sql: &str,
    limits: QueryLimits,
) -> Result<Vec<QueryResult>, QueryError> {
    let statements = DFParser::parse_sql(sql).map_err(|e| invalid(&e))?;
    if statements.is_empty() {
        return Err(QueryError::Empty);
    }
    let options = SQLOptions::new()
        .with_allow_ddl(!limits.read_only)
        .with_allow_dml(!limits.read_only)
        .with_allow_statements(!limits.read_only);
    let mut results = Vec::new();
    for statement in statements {
        let work = async {
            let plan = ctx
                .state()
                .statement_to_plan(statement)
                .await
                .map_err(|e| unknown_table(ctx, sql, &e).unwrap_or_else(|| invalid(&e)))?;
            options
                .verify_plan(&plan)
                .map_err(|e| QueryError::NotReadOnly(strip(&e.to_string())))?;
            let frame = ctx
                .execute_logical_plan(plan)
                .await
                .map_err(|e| invalid(&e))?;
            let schema: SchemaRef = frame.schema().inner().clone();
            let (frame, cap) = match limits.max_rows {
                Some(max) => (
                    frame.limit(0, Some(max + 1)).map_err(|e| invalid(&e))?,
                    Some(max),
                ),
                None => (frame, None),
            };
            let mut batches = frame
                .collect()
                .await
                .map_err(|e| QueryError::Execution(strip(&e.to_string())))?;
            let mut truncated = false;
            if let Some(max) = cap {
                let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                if rows > max {
                    truncated = true;
                    batches = truncate(batches, max);
                }
            }
            Ok(QueryResult {
                schema,
                batches,
                truncated,
            })
        };
        let result = match limits.timeout {
            Some(timeout) => tokio::time::timeout(timeout, work)
                .await
                .map_err(|_| QueryError::Timeout(timeout))??,
            None => work.await?,
        };
        results.push(result);
    }
    Ok(results)
}

fn truncate(batches: Vec<RecordBatch>, max: usize) -> Vec<RecordBatch> {
    let mut left = max;
    let mut out = Vec::new();
    for batch in batches {
        if left == 0 {
            break;
        }
        let take = batch.num_rows().min(left);
        out.push(batch.slice(0, take));
        left -= take;
    }
    out
}

/// DataFusion's messages without its layer prefixes.
fn strip(message: &str) -> String {
    let mut text = message.trim();
    for prefix in [
        "Error during planning: ",
        "SQL error: ",
        "Schema error: ",
        "Execution error: ",
        "External error: ",
    ] {
        text = text.strip_prefix(prefix).unwrap_or(text);
    }
    text.to_string()
}

fn invalid(error: &DataFusionError) -> QueryError {
    let message = strip(&error.to_string());
    QueryError::Invalid {
        position: position(&message),
        message,
        help: None,
    }
}

/// DataFusion's "table 'pipec.default.x' not found" in the user's terms:
/// the name as written, where it is, and the closest table there is.
fn unknown_table(ctx: &SessionContext, sql: &str, error: &DataFusionError) -> Option<QueryError> {
    let message = strip(&error.to_string());
    let resolved = message
        .strip_prefix("table '")?
        .strip_suffix("' not found")?;
    let parts: Vec<&str> = resolved.split('.').collect();
    let table = *parts.last()?;
    let catalog = ctx.catalog(crate::catalog::CATALOG)?;
    let mut known: Vec<String> = Vec::new();
    for schema_name in catalog.schema_names() {
        if schema_name == crate::catalog::FILES_SCHEMA {
            continue;
        }
        let Some(schema) = catalog.schema(&schema_name) else {
            continue;
        };
        for name in schema.table_names() {
            known.push(if schema_name == "default" {
                name
            } else {
                format!("{schema_name}.{name}")
            });
        }
    }
    known.sort();
    let written = match parts.as_slice() {
        [_, database, table] if *database != "default" => format!("{database}.{table}"),
        _ => table.to_string(),
    };
    let help = pipec_compiler::diagnostic::closest(&written, known.iter().map(String::as_str))
        .map(|c| format!("did you mean `{c}`?"))
        .into_iter()
        .chain(std::iter::once(if known.is_empty() {
            "the pipeline has no tables".to_string()
        } else {
            format!("the tables are {}", known.join(", "))
        }))
        .collect::<Vec<_>>()
        .join("; ");
    Some(QueryError::Invalid {
        message: format!("unknown table `{written}`"),
        position: word_position(sql, table),
        help: Some(help),
    })
}

/// 1-based line and column of the first whole-word, case-insensitive
/// occurrence of `word` in `text`.
fn word_position(text: &str, word: &str) -> Option<(usize, usize)> {
    let lower = text.to_lowercase();
    let word = word.to_lowercase();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(found) = lower[from..].find(&word) {
        let start = from + found;
        let end = start + word.len();
        let before = lower[..start].chars().next_back();
        let after = lower[end..].chars().next();
        if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
            let line = lower[..start].matches('\n').count() + 1;
            let line_start = lower[..start].rfind('\n').map_or(0, |i| i + 1);
            return Some((line, lower[line_start..start].chars().count() + 1));
        }
        from = end;
    }
    None
}

/// `... at Line: 1, Column: 15` in sqlparser's messages.
fn position(message: &str) -> Option<(usize, usize)> {
    let rest = &message[message.rfind("Line: ")? + "Line: ".len()..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_table_is_named_as_written_with_the_closest() {
        let ctx = SessionContext::new_with_config(
            datafusion::prelude::SessionConfig::new()
                .with_default_catalog_and_schema(crate::catalog::CATALOG, "default"),
        );
        ctx.sql("create view sword_purchases as select 1 as x")
            .await
            .unwrap();
        let sql = "select count(*)\nfrom Sword_Purchase";
        let error = run(&ctx, sql, QueryLimits::CLI).await.unwrap_err();
        let QueryError::Invalid {
            message,
            position,
            help,
        } = error
        else {
            panic!("{error:?}")
        };
        assert_eq!(message, "unknown table `sword_purchase`");
        assert_eq!(position, Some((2, 6)));
        let help = help.unwrap();
        assert!(
            help.starts_with("did you mean `sword_purchases`?"),
            "{help}"
        );
        assert!(!help.contains("pipec."), "{help}");
    }

    #[test]
    fn positions_come_from_the_parser_message() {
        assert_eq!(
            position("Expected: end of statement, found: x at Line: 2, Column: 15"),
            Some((2, 15))
        );
        assert_eq!(position("table 'nope' not found"), None);
    }

    #[tokio::test]
    async fn read_only_refuses_every_kind_of_write() {
        let ctx = SessionContext::new();
        let limits = QueryLimits {
            max_rows: Some(10),
            timeout: Some(Duration::from_secs(10)),
            read_only: true,
        };
        for sql in [
            "CREATE TABLE t AS SELECT 1",
            "CREATE VIEW v AS SELECT 1",
            "DROP TABLE IF EXISTS t",
            "INSERT INTO t VALUES (1)",
            "COPY (SELECT 1) TO '/tmp/pipec-should-not-exist.csv'",
            "SET datafusion.execution.batch_size = 1",
            "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION '/tmp/x.csv'",
        ] {
            let error = run(&ctx, sql, limits).await.unwrap_err();
            assert!(
                matches!(
                    error,
                    QueryError::NotReadOnly(_) | QueryError::Invalid { .. }
                ),
                "{sql}: {error:?}"
            );
        }
        assert!(!std::path::Path::new("/tmp/pipec-should-not-exist.csv").exists());
        let results = run(
            &ctx,
            "select * from (values (1), (2), (3)) as t(x); select 42",
            QueryLimits {
                max_rows: Some(2),
                ..limits
            },
        )
        .await
        .unwrap();
        assert_eq!((results[0].row_count(), results[0].truncated), (2, true));
        assert_eq!((results[1].row_count(), results[1].truncated), (1, false));
    }
}
