//! Spark SQL DDL: a Parquet data-source table over the sink's files
//! (`USING PARQUET`), partition columns in the column list and named in
//! `PARTITIONED BY`, partitions registered with `MSCK REPAIR TABLE`.

use super::hive::{column_list, location_and_properties, qualified};
use super::TableDdl;

pub fn table(table: &TableDdl) -> String {
    let mut columns = table.columns.clone();
    columns.extend(table.partition_columns.iter().cloned());
    let mut out = format!(
        "CREATE TABLE IF NOT EXISTS {} (\n{}\n)\nUSING PARQUET\n",
        qualified(table),
        column_list(&columns)
    );
    if !table.partition_columns.is_empty() {
        let names: Vec<String> = table
            .partition_columns
            .iter()
            .map(|(name, _)| super::hive::identifier(name))
            .collect();
        out.push_str(&format!("PARTITIONED BY ({})\n", names.join(", ")));
    }
    out.push_str(&location_and_properties(table));
    out
}

/// A Delta table: Spark (with delta-spark) reads its schema, partitioning
/// and files from the log at the location.
pub fn delta_table(table: &TableDdl) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {}\nUSING DELTA\nLOCATION {};\n",
        qualified(table),
        super::quote_string(&table.location)
    )
}
