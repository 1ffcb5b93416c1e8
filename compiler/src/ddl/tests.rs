use super::*;
use crate::{compile, Source};
use std::collections::BTreeMap;

fn ddl(text: &str, dialect: Dialect) -> String {
    let plan = compile(&Source::new("t.pipe", text), &BTreeMap::new())
        .unwrap()
        .plan;
    generate(&plan, dialect, &DdlOptions::new("/srv/pipec"), None).unwrap()
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
    let options = DdlOptions::new("/d");
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
        trino.contains("  timestamp TIMESTAMP(3),\n  accept VARCHAR,"),
        "{trino}"
    );
}

#[test]
fn locations_are_in_each_engines_scheme() {
    let text = "schema e { a: string }\ntopic t { schema e }\n\
                sink local { from t\n path \"local\"\n checkpoint \"c1\" }\n\
                sink remote { from t\n path \"s3://bucket/remote\"\n checkpoint \"s3://bucket/c2\" }\n\
                table shop.remote { from remote }\n";
    let hive = ddl(text, Dialect::Hive);
    assert!(
        hive.starts_with("CREATE DATABASE IF NOT EXISTS shop;\n"),
        "{hive}"
    );
    assert!(hive.contains("LOCATION 's3a://bucket/remote'"), "{hive}");
    assert!(
        hive.contains("LOCATION 'file:///srv/pipec/dead_letters'"),
        "{hive}"
    );
    let trino = ddl(text, Dialect::Trino);
    assert!(
        trino.contains("external_location = 's3://bucket/remote'"),
        "{trino}"
    );
    assert!(
        trino.contains("external_location = 'local:///srv/pipec/dead_letters'"),
        "{trino}"
    );
    assert!(
        trino.contains("CREATE SCHEMA IF NOT EXISTS shop;\nCREATE SCHEMA IF NOT EXISTS default;\n"),
        "{trino}"
    );
    assert!(trino.contains("fs.native-local.enabled=true"), "{trino}");
    assert!(trino.contains("fs.native-s3.enabled=true"), "{trino}");
    assert_eq!(engine_url("s3a://b/x", Dialect::Trino), "s3://b/x");
    assert_eq!(engine_url("gs://b/x", Dialect::Hive), "gs://b/x");
}

#[test]
fn trino_timestamps_take_the_catalogs_precision() {
    let plan = compile(&Source::new("t.pipe", SEED), &BTreeMap::new())
        .unwrap()
        .plan;
    let options = DdlOptions {
        trino_timestamp_precision: 6,
        ..DdlOptions::new("/d")
    };
    let text = generate(&plan, Dialect::Trino, &options, None).unwrap();
    assert!(text.contains("timestamp TIMESTAMP(6)"), "{text}");
    assert!(text.contains("must be MICROSECONDS"), "{text}");
}
