//! [`TableDdl`] → the Hive Metastore's model of a table: what `pipec run
//! --metastore` registers, from the same tables `pipec ddl --dialect hive`
//! prints, so the DDL and the registered table cannot disagree. Also how a
//! table already in the metastore compares with the pipeline's.

use super::{hive, TableDdl};

/// Parquet through Hive's own classes, as `STORED AS PARQUET` sets them.
pub const INPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
pub const OUTPUT_FORMAT: &str = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
pub const SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";

/// The value a partition directory's null has (`__HIVE_DEFAULT_PARTITION__`),
/// in the directory name and in the metastore alike.
pub const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// A column as the metastore keeps it: lower-case name, Hive type name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_name: String,
}

/// An external Parquet table, as `create_table` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub database: String,
    pub name: String,
    pub columns: Vec<Column>,
    pub partition_keys: Vec<Column>,
    /// As Hive and Spark read it: `file:///...` or `s3a://...`.
    pub location: String,
    /// `EXTERNAL=TRUE` (the files are the pipeline's, never the
    /// metastore's to delete) and the table's own properties.
    pub parameters: Vec<(String, String)>,
}

/// The metastore's model of a plain Parquet table. Hive folds names to
/// lower case, so the model does too.
pub fn table(ddl: &TableDdl) -> Table {
    let column = |(name, column_type): &(String, super::ColumnType)| Column {
        name: name.to_ascii_lowercase(),
        type_name: hive::type_name(*column_type).to_ascii_lowercase(),
    };
    let mut parameters = vec![("EXTERNAL".to_string(), "TRUE".to_string())];
    parameters.extend(ddl.properties.iter().cloned());
    Table {
        database: ddl.database.to_ascii_lowercase(),
        name: ddl.name.to_ascii_lowercase(),
        columns: ddl.columns.iter().map(column).collect(),
        partition_keys: ddl.partition_columns.iter().map(column).collect(),
        location: ddl.location.clone(),
        parameters,
    }
}

/// How a registered table stands against the pipeline's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    Same,
    /// The pipeline has these columns after the registered ones (an added
    /// optional field): `ALTER TABLE ... ADD COLUMNS`.
    AddColumns(Vec<Column>),
    /// Columns or partitioning the registered table cannot be altered to
    /// without misreading its files: each reason, for the operator.
    Breaking(Vec<String>),
}

/// Compares a table read from the metastore with the pipeline's, by the
/// classes `pipec diff` uses for files: columns may be added at the end;
/// a column removed, retyped or moved, other partitioning or another
/// location is another table.
pub fn compare(registered: &Table, wanted: &Table) -> Comparison {
    let mut reasons = Vec::new();
    let qualified = format!("{}.{}", wanted.database, wanted.name);
    if registered.partition_keys != wanted.partition_keys {
        reasons.push(format!(
            "`{qualified}` is partitioned by ({}) in the metastore and by ({}) in the pipeline",
            list(&registered.partition_keys),
            list(&wanted.partition_keys)
        ));
    }
    if !same_location(&registered.location, &wanted.location) {
        reasons.push(format!(
            "`{qualified}` is at `{}` in the metastore and at `{}` in the pipeline",
            registered.location, wanted.location
        ));
    }
    for (index, old) in registered.columns.iter().enumerate() {
        match wanted.columns.iter().position(|c| c.name == old.name) {
            None => reasons.push(format!(
                "column `{}` of `{qualified}` is in the metastore but not in the pipeline",
                old.name
            )),
            Some(at) if wanted.columns[at].type_name != old.type_name => reasons.push(format!(
                "column `{}` of `{qualified}` is {} in the metastore and {} in the pipeline",
                old.name, old.type_name, wanted.columns[at].type_name
            )),
            Some(at) if at != index => reasons.push(format!(
                "column `{}` of `{qualified}` is column {} in the metastore and {} in the pipeline (Parquet tables in Hive read columns by position)",
                old.name,
                index + 1,
                at + 1
            )),
            Some(_) => {}
        }
    }
    if !reasons.is_empty() {
        return Comparison::Breaking(reasons);
    }
    let added: Vec<Column> = wanted.columns[registered.columns.len()..].to_vec();
    if added.is_empty() {
        Comparison::Same
    } else {
        Comparison::AddColumns(added)
    }
}

fn list(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| format!("{} {}", c.name, c.type_name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The metastore keeps `file:///x` as Hadoop resolved it, `file:/x`, and
/// may drop a trailing slash.
fn same_location(registered: &str, wanted: &str) -> bool {
    let normal = |location: &str| {
        let location = location.trim_end_matches('/');
        match location.strip_prefix("file://") {
            Some(path) => format!("file:{path}"),
            None => location.to_string(),
        }
    };
    normal(registered) == normal(wanted)
}

/// The partition values of a `column=value` directory below a table, in
/// the order of `keys`, as the metastore names them (escaped characters
/// decoded; null stays the default partition's name). `None` for a
/// directory that is not one of the table's partitions.
pub fn partition_values(directory: &str, keys: &[Column]) -> Option<Vec<String>> {
    let parts: Vec<&str> = directory.trim_matches('/').split('/').collect();
    if parts.len() != keys.len() || keys.is_empty() {
        return None;
    }
    parts
        .iter()
        .zip(keys)
        .map(|(part, key)| {
            let (column, value) = part.split_once('=')?;
            column
                .eq_ignore_ascii_case(&key.name)
                .then(|| unescape(value))
        })
        .collect()
}

/// Hive's `FileUtils.unescapePathName`: `%XX` is the byte XX.
fn unescape(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = value.get(i + 1..i + 3);
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::ColumnType;
    use crate::types::DataType;

    fn ddl() -> TableDdl {
        TableDdl {
            database: "Game".into(),
            name: "Swords".into(),
            columns: vec![
                ("Host".into(), ColumnType::Data(DataType::String)),
                ("amount".into(), ColumnType::Data(DataType::Int)),
            ],
            partition_columns: vec![("day".into(), ColumnType::Data(DataType::String))],
            location: "file:///data/swords".into(),
            properties: vec![("parquet.compress".into(), "SNAPPY".into())],
            delta: false,
        }
    }

    fn column(name: &str, type_name: &str) -> Column {
        Column {
            name: name.into(),
            type_name: type_name.into(),
        }
    }

    #[test]
    fn models_an_external_parquet_table_in_lower_case() {
        let table = table(&ddl());
        assert_eq!(
            (table.database.as_str(), table.name.as_str()),
            ("game", "swords")
        );
        assert_eq!(
            table.columns,
            [column("host", "string"), column("amount", "bigint")]
        );
        assert_eq!(table.partition_keys, [column("day", "string")]);
        assert_eq!(table.parameters[0], ("EXTERNAL".into(), "TRUE".into()));
        assert!(table
            .parameters
            .contains(&("parquet.compress".into(), "SNAPPY".into())));
    }

    #[test]
    fn an_added_column_at_the_end_is_compatible_and_what_the_metastore_resolved_is_the_same() {
        let wanted = table(&ddl());
        let mut registered = wanted.clone();
        registered.location = "file:/data/swords".into();
        assert_eq!(compare(&registered, &wanted), Comparison::Same);
        registered.columns.pop();
        assert_eq!(
            compare(&registered, &wanted),
            Comparison::AddColumns(vec![column("amount", "bigint")])
        );
    }

    #[test]
    fn a_retyped_removed_or_moved_column_or_other_partitioning_is_breaking() {
        let wanted = table(&ddl());
        let breaking = |edit: &dyn Fn(&mut Table)| {
            let mut registered = wanted.clone();
            edit(&mut registered);
            match compare(&registered, &wanted) {
                Comparison::Breaking(reasons) => reasons.join("; "),
                other => panic!("expected a breaking change, got {other:?}"),
            }
        };
        assert!(breaking(&|t| t.columns[1].type_name = "int".into())
            .contains("column `amount` of `game.swords` is int in the metastore and bigint"));
        assert!(breaking(&|t| t.columns.push(column("gone", "string"))).contains("`gone`"));
        assert!(breaking(&|t| t.columns.swap(0, 1)).contains("by position"));
        assert!(breaking(&|t| t.partition_keys.clear()).contains("partitioned by ()"));
        assert!(breaking(&|t| t.location = "s3a://b/x".into()).contains("s3a://b/x"));
    }

    #[test]
    fn reads_partition_values_from_directory_names() {
        let keys = [column("day", "string")];
        assert_eq!(
            partition_values("day=2026-12-07", &keys),
            Some(vec!["2026-12-07".into()])
        );
        assert_eq!(
            partition_values("DAY=a%3Ab%25", &keys),
            Some(vec!["a:b%".into()])
        );
        assert_eq!(
            partition_values("day=__HIVE_DEFAULT_PARTITION__", &keys),
            Some(vec![DEFAULT_PARTITION.into()])
        );
        assert_eq!(partition_values(".pipec-staging", &keys), None);
        assert_eq!(partition_values("host=a", &keys), None);
        assert_eq!(partition_values("day=a", &[]), None);
    }
}
