//! Trino (and Presto) DDL for the Hive connector: `WITH (external_location,
//! format, partitioned_by)`, partition columns last, reserved words in
//! double quotes, partitions registered with `sync_partition_metadata`.

use super::{quote_string, ColumnType, DdlOptions, TableDdl};
use crate::types::DataType;

/// Trino's reserved keywords (those that must be quoted as identifiers).
const RESERVED: &[&str] = &[
    "alter",
    "and",
    "as",
    "between",
    "by",
    "case",
    "cast",
    "constraint",
    "create",
    "cross",
    "cube",
    "current_catalog",
    "current_date",
    "current_path",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "deallocate",
    "delete",
    "describe",
    "distinct",
    "drop",
    "else",
    "end",
    "escape",
    "except",
    "execute",
    "exists",
    "extract",
    "false",
    "for",
    "from",
    "full",
    "group",
    "grouping",
    "having",
    "in",
    "inner",
    "insert",
    "intersect",
    "into",
    "is",
    "join",
    "json_array",
    "json_exists",
    "json_object",
    "json_query",
    "json_table",
    "json_value",
    "left",
    "like",
    "listagg",
    "localtime",
    "localtimestamp",
    "natural",
    "normalize",
    "not",
    "null",
    "on",
    "or",
    "order",
    "outer",
    "prepare",
    "recursive",
    "right",
    "rollup",
    "select",
    "skip",
    "table",
    "then",
    "trim",
    "true",
    "uescape",
    "union",
    "unnest",
    "using",
    "values",
    "when",
    "where",
    "with",
];

pub(super) fn identifier(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let plain = lower.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && lower.starts_with(|c: char| c.is_ascii_alphabetic());
    if plain && !RESERVED.contains(&lower.as_str()) {
        lower
    } else {
        format!("\"{}\"", lower.replace('"', "\"\""))
    }
}

pub(super) fn type_name(column_type: ColumnType, options: &DdlOptions) -> String {
    match column_type {
        ColumnType::Data(DataType::String) => "VARCHAR".into(),
        ColumnType::Data(DataType::Int) => "BIGINT".into(),
        ColumnType::Data(DataType::Float) => "DOUBLE".into(),
        ColumnType::Data(DataType::Bool) => "BOOLEAN".into(),
        ColumnType::Data(DataType::Timestamp) => {
            format!("TIMESTAMP({})", options.trino_timestamp_precision)
        }
        ColumnType::Binary => "VARBINARY".into(),
        ColumnType::Int32 => "INTEGER".into(),
    }
}

/// What the Hive catalog must be set to for these statements, said once at
/// the top: the tables are only as right as the catalog they run in.
pub fn preamble(tables: &[TableDdl], options: &DdlOptions) -> String {
    let precision = match options.trino_timestamp_precision {
        3 => "MILLISECONDS (the default)",
        6 => "MICROSECONDS",
        _ => "NANOSECONDS",
    };
    let mut out = format!(
        "-- Trino, Hive connector. Timestamps are TIMESTAMP({}): the catalog's\n\
         -- hive.timestamp-precision must be {precision}.\n",
        options.trino_timestamp_precision
    );
    if tables.iter().any(|t| t.delta) {
        out.push_str(&format!(
            "-- Delta tables: a delta_lake catalog named `{DELTA_CATALOG}` with\n\
             -- delta.register-table-procedure.enabled=true; query them as {DELTA_CATALOG}.SCHEMA.TABLE.\n"
        ));
    }
    let scheme = |prefix: &str| tables.iter().any(|t| t.location.starts_with(prefix));
    if scheme("local://") {
        out.push_str(
            "-- Local files: fs.native-local.enabled=true and local.location=/ in the catalog.\n",
        );
    }
    if scheme("s3://") {
        out.push_str(
            "-- S3: fs.native-s3.enabled=true (and s3.endpoint, s3.region, credentials).\n",
        );
    }
    out.push('\n');
    out
}

/// `CREATE SCHEMA IF NOT EXISTS`, for `default` too: Trino's file-based
/// and Glue metastores start without one.
pub fn schema(database: &str) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {};\n", identifier(database))
}

/// The schema of Delta tables in Trino's `delta_lake` catalog.
pub fn delta_schema(database: &str) -> String {
    format!(
        "CREATE SCHEMA IF NOT EXISTS {DELTA_CATALOG}.{};\n",
        identifier(database)
    )
}

/// A Delta table is registered, not created: Trino's `delta_lake` catalog
/// reads its schema and files from the log at the location.
pub fn delta_table(table: &TableDdl) -> String {
    format!(
        "CALL {DELTA_CATALOG}.system.register_table(schema_name => {}, table_name => {}, table_location => {});\n",
        quote_string(&table.database.to_ascii_lowercase()),
        quote_string(&table.name.to_ascii_lowercase()),
        quote_string(&table.location)
    )
}

/// The name the DDL gives Trino's `delta_lake` catalog.
pub const DELTA_CATALOG: &str = "delta";

pub fn table(table: &TableDdl, options: &DdlOptions) -> String {
    let qualified = format!(
        "{}.{}",
        identifier(&table.database),
        identifier(&table.name)
    );
    let columns: Vec<String> = table
        .columns
        .iter()
        .chain(&table.partition_columns)
        .map(|(name, t)| format!("  {} {}", identifier(name), type_name(*t, options)))
        .collect();
    let mut with = vec![
        format!("  external_location = {}", quote_string(&table.location)),
        "  format = 'PARQUET'".to_string(),
    ];
    if !table.partition_columns.is_empty() {
        let names: Vec<String> = table
            .partition_columns
            .iter()
            .map(|(name, _)| quote_string(&name.to_ascii_lowercase()))
            .collect();
        with.push(format!("  partitioned_by = ARRAY[{}]", names.join(", ")));
    }
    let mut out = format!(
        "CREATE TABLE IF NOT EXISTS {qualified} (\n{}\n)\nWITH (\n{}\n);\n",
        columns.join(",\n"),
        with.join(",\n")
    );
    if !table.partition_columns.is_empty() {
        out.push_str(&format!(
            "CALL system.sync_partition_metadata({}, {}, 'FULL');\n",
            quote_string(&table.database.to_ascii_lowercase()),
            quote_string(&table.name.to_ascii_lowercase())
        ));
    }
    out
}
