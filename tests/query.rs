//! `pipec query` and `POST /sql`: the seed's queries verbatim, answered as
//! DuckDB answers them over the same files; and SQL over HTTP stays read-only.

mod common;

use common::{scratch, Pipec};

use std::process::Command;

fn pipec_query(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pipec"))
        .arg("query")
        .args(args)
        .current_dir(common::ROOT)
        .output()
        .expect("pipec runs")
}

fn seed_tables() -> std::path::PathBuf {
    common::seed_files(
        "query",
        &[
            ("user1.comcast.com", [6, 11, 9]),
            ("user2.att.com", [13, 4, 17]),
        ],
    )
}

#[test]
fn the_seed_queries_run_verbatim_and_agree_with_duckdb() {
    if common::python().is_none() {
        assert!(
            std::env::var_os("PIPEC_REQUIRE_KAFKA").is_none(),
            "tests/run.sh sets PIPEC_TEST_PYTHON"
        );
        return;
    }
    let data = seed_tables();
    let data_arg = data.display().to_string();
    let queries = common::seed_queries();
    assert_eq!(queries.len(), 4);
    for query in &queries {
        let ours = common::pipec_query_rows("pipelines/game_events.pipe", &data_arg, query);
        let duck_sql = format!(
            "create view sword_purchases as select * from read_parquet('{d}/sword_purchases/*.parquet'); \
             create view guild_joins as select * from read_parquet('{d}/guild_joins/*.parquet'); {query}",
            d = data.display()
        );
        let theirs: Vec<serde_json::Value> = common::duckdb(&duck_sql)
            .into_iter()
            .map(serde_json::Value::Array)
            .collect();
        assert_eq!(
            common::normalized(&ours),
            common::normalized(&theirs),
            "{query}"
        );
    }
    // The seed's numbers for this load.
    let total = pipec_query(&[
        "pipelines/game_events.pipe",
        "--data-dir",
        &data_arg,
        "--format",
        "csv",
        &queries[0],
    ]);
    assert_eq!(String::from_utf8_lossy(&total.stdout), "total_events\n41\n");
}

#[test]
fn table_output_is_like_the_presto_cli_and_errors_point_at_the_sql() {
    let data = seed_tables();
    let data_arg = data.display().to_string();
    let output = pipec_query(&[
        "pipelines/game_events.pipe",
        "--data-dir",
        &data_arg,
        "select host, count(*) as total_events from sword_purchases group by host order by host",
    ]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "       host        | total_events \n\
         -------------------+--------------\n \
         user1.comcast.com |           11 \n \
         user2.att.com     |            4 \n\
         (2 rows)\n"
    );
    let bad = pipec_query(&[
        "pipelines/game_events.pipe",
        "--data-dir",
        &data_arg,
        "select host frm sword_purchases",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("error:"), "{stderr}");
    assert!(
        stderr.contains("  | select host frm sword_purchases"),
        "{stderr}"
    );
    let unknown = pipec_query(&[
        "pipelines/game_events.pipe",
        "--data-dir",
        &data_arg,
        "select * from sword_purchase",
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("sword_purchase"));
}

#[test]
fn sql_over_http_reads_and_never_writes() {
    let data = scratch("sql-http");
    let data_env = data.display().to_string();
    let pipec = Pipec::start_with_env(
        &[
            "examples/storefront.pipe",
            "--listen",
            "127.0.0.1:0",
            "--sql",
            "--sql-max-rows",
            "5",
            "--sql-timeout",
            "1",
        ],
        &[
            ("SHOP_API_TOKEN", "sql-token"),
            ("PIPEC_DATA_DIR", &data_env),
        ],
    );
    let sql = |text: &str, token: Option<&str>| {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "text/plain")];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth.as_str()));
        }
        pipec.post("/sql", &headers, text.as_bytes())
    };
    assert_eq!(sql("select 1", None).status, 401);
    assert_eq!(sql("select 1", Some("wrong")).status, 401);
    let ok = sql(
        "select count(*) as n from shop.purchases",
        Some("sql-token"),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["rows"], serde_json::json!([{ "n": 0 }]));

    let limited = sql("select * from generate_series(1, 100)", Some("sql-token")).json();
    assert_eq!(limited["row_count"], 5);
    assert_eq!(limited["truncated"], true);
    let slow = sql(
        "select count(*) from generate_series(1, 60000) a, generate_series(1, 60000) b",
        Some("sql-token"),
    );
    assert_eq!(slow.status, 400);
    assert_eq!(slow.json()["error"], "timeout");

    let target = data.join("written-by-sql.csv").display().to_string();
    for write in [
        "create table t as select 1".to_string(),
        "create view v as select 1".to_string(),
        "drop table shop.purchases".to_string(),
        "insert into shop.purchases select * from shop.purchases".to_string(),
        format!("copy (select 1) to '{target}'"),
        format!("create external table e stored as csv location '{target}'"),
        "set datafusion.execution.batch_size = 1".to_string(),
    ] {
        let response = sql(&write, Some("sql-token"));
        assert_eq!(response.status, 400, "{write}: {}", response.text());
        let code = response.json()["error"].as_str().unwrap().to_string();
        assert!(
            code == "read_only" || code == "invalid_sql",
            "{write}: {code}"
        );
    }
    assert!(!std::path::Path::new(&target).exists(), "COPY wrote a file");
    // The tables are still there and still answer.
    assert_eq!(
        sql(
            "select count(*) as n from shop.purchases",
            Some("sql-token")
        )
        .status,
        200
    );
    let csv = pipec.post(
        "/sql?format=csv",
        &[("Authorization", "Bearer sql-token")],
        b"select 1 as one",
    );
    assert_eq!(csv.text(), "one\n1\n");
}

#[test]
fn datafusion_settings_come_from_its_environment_variables() {
    let data = seed_tables();
    let data = data.to_str().unwrap();
    let setting = "select value from information_schema.df_settings \
                   where name = 'datafusion.execution.batch_size'";
    let tuned = common::pipec_query_rows_with_env(
        "pipelines/game_events.pipe",
        data,
        setting,
        &[("DATAFUSION_EXECUTION_BATCH_SIZE", "1234")],
    );
    assert_eq!(tuned, vec![serde_json::json!(["1234"])]);
    // The tuned session still answers the seed's query.
    let rows = common::pipec_query_rows_with_env(
        "pipelines/game_events.pipe",
        data,
        "select count(*) from sword_purchases",
        &[("DATAFUSION_EXECUTION_BATCH_SIZE", "7")],
    );
    assert_eq!(rows, vec![serde_json::json!([15])]);

    let wrong = Command::new(env!("CARGO_BIN_EXE_pipec"))
        .args([
            "query",
            "pipelines/game_events.pipe",
            "--data-dir",
            data,
            "select 1",
        ])
        .env("DATAFUSION_EXECUTION_BATCH_SIZE", "many")
        .current_dir(common::ROOT)
        .output()
        .expect("pipec runs");
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("batch_size"), "{stderr}");
}
