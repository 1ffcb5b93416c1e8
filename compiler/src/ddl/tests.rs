use super::*;
use crate::{compile, Source};
use std::collections::BTreeMap;

fn ddl(text: &str, dialect: Dialect) -> String {
    let plan = compile(&Source::new("t.pipe", text), &BTreeMap::new())
        .unwrap()
        .plan;
    generate(
        &plan,
        dialect,
        &DdlOptions {
            data_root: "/srv/pipec".into(),
        },
        None,
    )
    .unwrap()
}

const SEED: &str = include_str!("../../../pipelines/game_events.pipe");

#[test]
fn the_seed_tables_in_hive_quote_timestamp() {
    let text = ddl(SEED, Dialect::Hive);
    assert!(text.starts_with(
        "CREATE EXTERNAL TABLE IF NOT EXISTS default.sword_purchases (\n  raw_event STRING,\n  `timestamp` TIMESTAMP,\n  Accept STRING,"
    ), "{text}");
    assert!(text.contains("LOCATION 'file:///srv/pipec/sword_purchases'\nTBLPROPERTIES ('parquet.compress'='SNAPPY');"));
}

#[test]
fn one_table_by_name_or_an_error_listing_them() {
    let plan = compile(&Source::new("t.pipe", SEED), &BTreeMap::new())
        .unwrap()
        .plan;
    let options = DdlOptions {
        data_root: "/d".into(),
    };
    let one = generate(&plan, Dialect::Trino, &options, Some("default.guild_joins")).unwrap();
    assert_eq!(one.matches("CREATE TABLE").count(), 1);
    let error = generate(&plan, Dialect::Hive, &options, Some("swords")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no table `swords`; the tables are default.sword_purchases, default.guild_joins, default.dead_letters"
    );
}

#[test]
fn identifiers_are_quoted_per_dialect() {
    assert_eq!(hive::identifier("timestamp"), "`timestamp`");
    assert_eq!(hive::identifier("Host"), "Host");
    assert_eq!(hive::identifier("_x"), "`_x`");
    let trino = ddl(SEED, Dialect::Trino);
    assert!(
        trino.contains("  timestamp TIMESTAMP(6),\n  accept VARCHAR,"),
        "{trino}"
    );
}
