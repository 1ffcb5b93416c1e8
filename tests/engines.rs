//! The generated DDL on real engines (tests/engines/spark_hive.py): Hive's
//! parser takes every statement and refuses the seed's own; Spark SQL with
//! Hive support runs it over pipec's Parquet, and the seed's queries answer
//! there as `pipec query` answers them.

mod common;

use common::scratch;
use std::process::Command;

#[test]
fn spark_and_hive_run_the_generated_ddl_over_pipec_files() {
    let Some(python) = common::python() else {
        assert!(
            std::env::var_os("PIPEC_REQUIRE_KAFKA").is_none(),
            "tests/run.sh sets PIPEC_TEST_PYTHON"
        );
        return;
    };
    let data = common::seed_files(
        "engines",
        &[
            ("user1.comcast.com", [3, 8, 5]),
            ("user2.att.com", [2, 6, 9]),
        ],
    );
    let data_arg = data.display().to_string();

    let ddl = Command::new(env!("CARGO_BIN_EXE_pipec"))
        .args(["ddl", "pipelines/game_events.pipe", "--data-dir", &data_arg])
        .current_dir(common::ROOT)
        .output()
        .unwrap();
    assert!(
        ddl.status.success(),
        "{}",
        String::from_utf8_lossy(&ddl.stderr)
    );
    let work = scratch("spark-work");
    let ddl_file = work.join("tables.sql");
    std::fs::write(&ddl_file, &ddl.stdout).unwrap();
    let queries_file = common::path("examples/seed_queries.sql");
    let report = common::spark_report(
        &python,
        "spark_hive.py",
        &[ddl_file.as_os_str(), queries_file.as_ref()],
        &work,
    );

    // (a) Hive's parser.
    let parsed = report["parsed"].as_array().unwrap();
    assert_eq!(
        parsed.len(),
        4,
        "two tables, the dead-letter table and its MSCK REPAIR: {parsed:#?}"
    );
    for statement in parsed {
        assert_eq!(statement["ok"], true, "Hive rejects: {statement}");
    }
    assert_eq!(
        report["seed"]["rejected"], true,
        "the seed's bare `timestamp` must not parse: {}",
        report["seed"]
    );
    assert_eq!(
        report["tables"],
        serde_json::json!(["dead_letters", "guild_joins", "sword_purchases"])
    );

    // (b) The seed's queries: Spark over the DDL, pipec query over the plan.
    let queries = common::seed_queries();
    let spark_results = report["results"].as_array().unwrap();
    assert_eq!(spark_results.len(), queries.len());
    for (query, spark_rows) in queries.iter().zip(spark_results) {
        let ours = common::pipec_query_rows("pipelines/game_events.pipe", &data_arg, query);
        assert_eq!(
            common::normalized(&ours),
            common::normalized(spark_rows.as_array().unwrap()),
            "{query}"
        );
    }
    assert_eq!(
        spark_results[0],
        serde_json::json!([[28]]),
        "14 swords and 14 guild joins"
    );
}
