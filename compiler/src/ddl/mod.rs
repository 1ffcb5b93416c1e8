//! Stage 3: [`Plan`] → table DDL. Hive first (the seed's engine), then the
//! Spark and Trino dialects, all from the schema the sink writers use, so
//! tables and files cannot disagree.

mod alter;
mod hive;
pub mod metastore;
mod spark;
mod trino;

pub use alter::alter;

pub use crate::plan::ColumnType;
use crate::plan::{Location, Plan, Table, DEAD_LETTER_COLUMNS, DEAD_LETTER_PARTITION};
use crate::types::DataType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Hive,
    Spark,
    Trino,
}

/// What the plan cannot know: where relative paths resolve, and what the
/// engine's catalog is set to.
#[derive(Debug, Clone)]
pub struct DdlOptions {
    /// The absolute data directory of `pipec run --data-dir`.
    pub data_root: String,
    /// The digits of a second Trino's Hive catalog keeps in a timestamp
    /// (`hive.timestamp-precision`): 3 (its default, MILLISECONDS), 6 or 9.
    /// Its DDL must name exactly that precision.
    pub trino_timestamp_precision: u8,
}

impl DdlOptions {
    /// Trino's own default precision: DDL that runs on an untouched catalog.
    pub const TRINO_DEFAULT_PRECISION: u8 = 3;

    pub fn new(data_root: impl Into<String>) -> Self {
        DdlOptions {
            data_root: data_root.into(),
            trino_timestamp_precision: Self::TRINO_DEFAULT_PRECISION,
        }
    }
}

/// One table, ready for any dialect.
#[derive(Debug, Clone)]
pub struct TableDdl {
    pub database: String,
    pub name: String,
    pub columns: Vec<(String, ColumnType)>,
    pub partition_columns: Vec<(String, ColumnType)>,
    pub location: String,
    pub properties: Vec<(String, String)>,
    /// A Delta Lake table: engines take its schema from its log.
    pub delta: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no table `{wanted}`; the tables are {}", known.join(", "))]
pub struct UnknownTable {
    pub wanted: String,
    pub known: Vec<String>,
}

/// Why there is no DDL to print.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DdlError {
    #[error(transparent)]
    UnknownTable(#[from] UnknownTable),
    #[error(
        "Hive cannot read Delta Lake tables: {} {} `format delta`. \
         Use `--dialect spark` (Spark with delta-spark) or `--dialect trino` (Trino's delta_lake connector), \
         or give the sink plain Parquet files (no `format`) for Hive",
        if tables.len() == 1 { "table" } else { "tables" },
        tables.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ") + if tables.len() == 1 { " is" } else { " are" }
    )]
    HiveCannotReadDelta { tables: Vec<String> },
}

/// The DDL of every table of the plan (and its dead-letter table), or of
/// the one named `only` (`name` or `database.name`).
pub fn generate(
    plan: &Plan,
    dialect: Dialect,
    options: &DdlOptions,
    only: Option<&str>,
) -> Result<String, DdlError> {
    let mut tables = tables(plan, options, dialect);
    if let Some(wanted) = only {
        let known: Vec<String> = tables
            .iter()
            .map(|t| format!("{}.{}", t.database, t.name))
            .collect();
        tables.retain(|t| {
            t.name.eq_ignore_ascii_case(wanted)
                || format!("{}.{}", t.database, t.name).eq_ignore_ascii_case(wanted)
        });
        if tables.is_empty() {
            return Err(UnknownTable {
                wanted: wanted.to_string(),
                known,
            }
            .into());
        }
    }
    if dialect == Dialect::Hive {
        let delta: Vec<String> = tables
            .iter()
            .filter(|t| t.delta)
            .map(|t| format!("{}.{}", t.database, t.name))
            .collect();
        if !delta.is_empty() {
            return Err(DdlError::HiveCannotReadDelta { tables: delta });
        }
    }
    // Each database once, before its first table: a fresh metastore has
    // only Hive's `default` (and Trino's file metastore not even that).
    let mut databases: Vec<&str> = Vec::new();
    for table in &tables {
        if !databases
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&table.database))
        {
            databases.push(&table.database);
        }
    }
    let mut creates: Vec<String> = databases
        .iter()
        .filter_map(|database| match dialect {
            Dialect::Hive | Dialect::Spark => hive::database(database),
            Dialect::Trino => Some(trino::schema(database)),
        })
        .collect();
    if dialect == Dialect::Trino {
        // Delta tables live in Trino's `delta_lake` catalog, with schemas of its own.
        let mut delta_databases: Vec<&str> = Vec::new();
        for table in tables.iter().filter(|t| t.delta) {
            if !delta_databases
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&table.database))
            {
                delta_databases.push(&table.database);
            }
        }
        creates.extend(delta_databases.iter().map(|d| trino::delta_schema(d)));
    }
    let statements: Vec<String> = tables
        .iter()
        .map(|table| match dialect {
            Dialect::Hive => hive::table(table),
            Dialect::Spark if table.delta => spark::delta_table(table),
            Dialect::Spark => spark::table(table),
            Dialect::Trino if table.delta => trino::delta_table(table),
            Dialect::Trino => trino::table(table, options),
        })
        .collect();
    let mut out = String::new();
    if dialect == Dialect::Trino {
        out.push_str(&trino::preamble(&tables, options));
    }
    if !creates.is_empty() {
        out.push_str(&creates.concat());
        out.push('\n');
    }
    out.push_str(&statements.join("\n"));
    Ok(out)
}

/// The plan's tables and its dead-letter table, with locations as
/// `dialect`'s engine reads them.
pub fn tables(plan: &Plan, options: &DdlOptions, dialect: Dialect) -> Vec<TableDdl> {
    let mut out: Vec<TableDdl> = plan
        .tables
        .iter()
        .map(|t| table(plan, t, options, dialect))
        .collect();
    let dead = &plan.dead_letters;
    out.push(TableDdl {
        database: dead.database.clone(),
        name: dead.table.clone(),
        columns: DEAD_LETTER_COLUMNS
            .iter()
            .map(|(name, column_type, _)| (name.to_string(), *column_type))
            .collect(),
        partition_columns: vec![(
            DEAD_LETTER_PARTITION.into(),
            ColumnType::Data(DataType::String),
        )],
        location: uri(&dead.path, options, dialect),
        properties: vec![("parquet.compress".into(), "SNAPPY".into())],
        delta: false,
    });
    out
}

fn table(plan: &Plan, table: &Table, options: &DdlOptions, dialect: Dialect) -> TableDdl {
    let sink = plan.sink(&table.sink);
    TableDdl {
        database: table.database.clone(),
        name: table.name.clone(),
        columns: table
            .columns
            .iter()
            .map(|c| (c.name.clone(), ColumnType::Data(c.data_type)))
            .collect(),
        partition_columns: table
            .partition_columns
            .iter()
            .map(|c| (c.name.clone(), ColumnType::Data(c.data_type)))
            .collect(),
        location: match &table.location {
            Some(written) => engine_url(written, dialect),
            None => uri(&sink.path, options, dialect),
        },
        properties: table
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        delta: !sink.format.is_parquet(),
    }
}

/// A location as `dialect`'s engine wants it in `LOCATION`.
fn uri(location: &Location, options: &DdlOptions, dialect: Dialect) -> String {
    let url = match location {
        Location::Relative(path) => {
            format!("file://{}/{path}", options.data_root.trim_end_matches('/'))
        }
        Location::Absolute(path) => format!("file://{path}"),
        Location::Url(url) => url.clone(),
    };
    engine_url(&url, dialect)
}

/// One URL in each engine's scheme for it. Hive and Spark read S3 through
/// Hadoop's S3A (`s3a://`); Trino's native file systems take `s3://`, and
/// read local files only as `local://` (a `file://` location lists its
/// files back as `local://` and finds none of them: trinodb/trino#26072).
pub fn engine_url(url: &str, dialect: Dialect) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some(parts) => parts,
        None => return url.to_string(),
    };
    let scheme = match (dialect, scheme.to_ascii_lowercase().as_str()) {
        (Dialect::Hive | Dialect::Spark, "s3" | "s3n") => "s3a",
        (Dialect::Trino, "s3a" | "s3n") => "s3",
        (Dialect::Trino, "file") => "local",
        _ => scheme,
    };
    format!("{scheme}://{rest}")
}

/// A string literal in single quotes, quotes doubled.
fn quote_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests;
