//! `pipec ddl NEW --alter OLD`: the columns the new plan's tables have and
//! the old one's lack, added to the tables the engines already have. Only
//! additions: a type or partitioning change cannot be altered onto files
//! already written (`pipec diff` says so), and dropping a column is left
//! to a person.

use super::{hive, tables, trino, ColumnType, DdlOptions, Dialect, TableDdl};
use crate::plan::Plan;

/// The `ALTER TABLE` statements that bring the tables of `old` to the
/// columns of `new`, in `dialect`; a comment when there are none.
pub fn alter(old: &Plan, new: &Plan, dialect: Dialect, options: &DdlOptions) -> String {
    let before = tables(old, options, dialect);
    let now = tables(new, options, dialect);
    let mut statements = Vec::new();
    let mut notes = Vec::new();
    for table in &now {
        let qualified = format!("{}.{}", table.database, table.name);
        let Some(was) = before.iter().find(|t| {
            t.database.eq_ignore_ascii_case(&table.database)
                && t.name.eq_ignore_ascii_case(&table.name)
        }) else {
            notes.push(format!(
                "-- {qualified} is new: `pipec ddl --table {qualified}` creates it.\n"
            ));
            continue;
        };
        let added: Vec<(String, ColumnType)> = table
            .columns
            .iter()
            .filter(|(name, _)| {
                !was.columns
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(name))
            })
            .cloned()
            .collect();
        if added.is_empty() {
            continue;
        }
        statements.push(match dialect {
            Dialect::Hive => hive_add(table, &added),
            Dialect::Spark => spark_add(table, &added),
            Dialect::Trino => trino_add(table, &added, options),
        });
    }
    let mut out = String::new();
    if statements.is_empty() {
        out.push_str("-- No table gains a column: nothing to alter.\n");
    } else if dialect == Dialect::Trino {
        out.push_str(&trino::preamble(&now, options));
    }
    out.push_str(&notes.concat());
    out.push_str(&statements.join("\n"));
    out
}

/// Hive: `CASCADE`, or the partitions registered before keep their old
/// columns and show the new ones as null even in new files.
fn hive_add(table: &TableDdl, added: &[(String, ColumnType)]) -> String {
    let cascade = if table.partition_columns.is_empty() {
        ""
    } else {
        " CASCADE"
    };
    format!(
        "ALTER TABLE {} ADD COLUMNS (\n{}\n){cascade};\n",
        hive::qualified(table),
        hive::column_list(added)
    )
}

fn spark_add(table: &TableDdl, added: &[(String, ColumnType)]) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMNS (\n{}\n);\n",
        hive::qualified(table),
        hive::column_list(added)
    )
}

/// Trino adds one column a statement; `IF NOT EXISTS` lets it run again.
fn trino_add(table: &TableDdl, added: &[(String, ColumnType)], options: &DdlOptions) -> String {
    let qualified = format!(
        "{}.{}",
        trino::identifier(&table.database),
        trino::identifier(&table.name)
    );
    added
        .iter()
        .map(|(name, column_type)| {
            format!(
                "ALTER TABLE {qualified} ADD COLUMN IF NOT EXISTS {} {};\n",
                trino::identifier(name),
                trino::type_name(*column_type, options)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compile, Source};
    use std::collections::BTreeMap;

    fn plan(text: &str) -> Plan {
        compile(&Source::new("t.pipe", text), &BTreeMap::new())
            .unwrap()
            .plan
    }

    const OLD: &str = "schema e {\n  kind: string\n}\ntopic t { schema e }\n\
        sink s { from t\n path \"s\"\n checkpoint \"c\"\n partition by kind }\n\
        table analytics.s { from s }\n";
    const NEW: &str =
        "schema e {\n  kind: string\n  count: int?\n  at: timestamp?\n}\ntopic t { schema e }\n\
        sink s { from t\n path \"s\"\n checkpoint \"c\"\n partition by kind }\n\
        table analytics.s { from s }\n";

    #[test]
    fn each_dialect_adds_the_new_columns() {
        let options = DdlOptions::new("/d");
        let (old, new) = (plan(OLD), plan(NEW));
        assert_eq!(
            alter(&old, &new, Dialect::Hive, &options),
            "ALTER TABLE analytics.s ADD COLUMNS (\n  count BIGINT,\n  at TIMESTAMP\n) CASCADE;\n"
        );
        assert_eq!(
            alter(&old, &new, Dialect::Spark, &options),
            "ALTER TABLE analytics.s ADD COLUMNS (\n  count BIGINT,\n  at TIMESTAMP\n);\n"
        );
        let trino = alter(&old, &new, Dialect::Trino, &options);
        assert!(trino.starts_with("-- Trino, Hive connector."), "{trino}");
        assert!(
            trino.ends_with(
                "ALTER TABLE analytics.s ADD COLUMN IF NOT EXISTS count BIGINT;\n\
             ALTER TABLE analytics.s ADD COLUMN IF NOT EXISTS at TIMESTAMP(3);\n"
            ),
            "{trino}"
        );
    }

    #[test]
    fn nothing_to_alter_is_said() {
        let options = DdlOptions::new("/d");
        let old = plan(OLD);
        assert_eq!(
            alter(&old, &old, Dialect::Trino, &options),
            "-- No table gains a column: nothing to alter.\n"
        );
    }

    #[test]
    fn a_new_table_is_left_to_create() {
        let options = DdlOptions::new("/d");
        let old = plan("schema e {\n  kind: string\n}\ntopic t { schema e }\n");
        let text = alter(&old, &plan(OLD), Dialect::Hive, &options);
        assert!(
            text.contains("-- analytics.s is new: `pipec ddl --table analytics.s` creates it.\n"),
            "{text}"
        );
    }
}
