//! Hive 2.3+ DDL: `CREATE EXTERNAL TABLE ... STORED AS PARQUET`, backticks
//! where Hive's parser needs them (the seed's own DDL names a bare
//! `timestamp` column, which Hive 2.3 rejects).

use super::{quote_string, ColumnType, TableDdl};
use crate::hive::is_reserved;
use crate::types::DataType;

pub fn identifier(name: &str) -> String {
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphabetic());
    if plain && !is_reserved(name) {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

pub fn type_name(column_type: ColumnType) -> &'static str {
    match column_type {
        ColumnType::Data(DataType::String) => "STRING",
        ColumnType::Data(DataType::Int) => "BIGINT",
        ColumnType::Data(DataType::Float) => "DOUBLE",
        ColumnType::Data(DataType::Bool) => "BOOLEAN",
        ColumnType::Data(DataType::Timestamp) => "TIMESTAMP",
        ColumnType::Binary => "BINARY",
        ColumnType::Int32 => "INT",
    }
}

/// `CREATE DATABASE IF NOT EXISTS`, for any database but Hive's own
/// `default` (Hive and Spark both accept this form).
pub fn database(database: &str) -> Option<String> {
    (!database.eq_ignore_ascii_case("default"))
        .then(|| format!("CREATE DATABASE IF NOT EXISTS {};\n", identifier(database)))
}

pub fn qualified(table: &TableDdl) -> String {
    format!(
        "{}.{}",
        identifier(&table.database),
        identifier(&table.name)
    )
}

pub fn column_list(columns: &[(String, ColumnType)]) -> String {
    columns
        .iter()
        .map(|(name, t)| format!("  {} {}", identifier(name), type_name(*t)))
        .collect::<Vec<_>>()
        .join(",\n")
}

pub fn table(table: &TableDdl) -> String {
    let mut out = format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {} (\n{}\n)\n",
        qualified(table),
        column_list(&table.columns)
    );
    if !table.partition_columns.is_empty() {
        let partitions: Vec<String> = table
            .partition_columns
            .iter()
            .map(|(name, t)| format!("{} {}", identifier(name), type_name(*t)))
            .collect();
        out.push_str(&format!("PARTITIONED BY ({})\n", partitions.join(", ")));
    }
    out.push_str("STORED AS PARQUET\n");
    out.push_str(&location_and_properties(table));
    out
}

/// `LOCATION ... TBLPROPERTIES (...);`, then the partition repair: the
/// tail Hive and Spark share.
pub fn location_and_properties(table: &TableDdl) -> String {
    let mut out = format!("LOCATION {}", quote_string(&table.location));
    if !table.properties.is_empty() {
        let properties: Vec<String> = table
            .properties
            .iter()
            .map(|(k, v)| format!("{}={}", quote_string(k), quote_string(v)))
            .collect();
        out.push_str(&format!("\nTBLPROPERTIES ({})", properties.join(", ")));
    }
    out.push_str(";\n");
    if !table.partition_columns.is_empty() {
        out.push_str(&format!("MSCK REPAIR TABLE {};\n", qualified(table)));
    }
    out
}
