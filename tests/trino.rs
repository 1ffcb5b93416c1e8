//! Trino (476, Hive connector, file metastore, its defaults) runs the DDL
//! exactly as `pipec ddl --dialect trino` prints it over files pipec wrote,
//! and answers the seed's four queries as `pipec query` and DuckDB do; a
//! partitioned table's partitions are found and a filter on the partition
//! column reads only its partition. `tests/run.sh` starts the server
//! (`tests/services/trino.sh`) and names the script in PIPEC_TEST_TRINO.

mod common;

use common::{normalized, pipec_query_rows, scratch, Pipec, ROOT};
use std::process::Command;
use std::sync::Mutex;

/// One test at a time on the shared server: both create `default.dead_letters`.
static SERVER: Mutex<()> = Mutex::new(());

/// The `trino.sh` of the running server, or `None` (and a note) without one.
fn trino() -> Option<String> {
    match std::env::var("PIPEC_TEST_TRINO") {
        Ok(script) => Some(script),
        Err(_) if std::env::var_os("PIPEC_REQUIRE_KAFKA").is_some() => {
            panic!("tests/run.sh sets PIPEC_TEST_TRINO")
        }
        Err(_) => {
            eprintln!("no PIPEC_TEST_TRINO: skipping; `bash tests/run.sh` starts Trino");
            None
        }
    }
}

use common::trino_sql as trino_run;

/// `pipec ddl PIPELINE --dialect trino --data-dir DATA`, as printed.
fn trino_ddl(pipeline: &str, data: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_pipec"))
        .args(["ddl", pipeline, "--dialect", "trino", "--data-dir", data])
        .current_dir(ROOT)
        .output()
        .expect("pipec runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs the DDL text as a file of statements, after dropping the tables it
/// creates (a table of an earlier run on this server would point elsewhere;
/// dropping an external table keeps its files).
fn run_ddl(script: &str, ddl: &str, tables: &[&str], name: &str) {
    for table in tables {
        trino_run(script, &["sql", &format!("DROP TABLE IF EXISTS {table}")]);
    }
    let file = scratch(name).join("tables.sql");
    std::fs::write(&file, ddl).unwrap();
    trino_run(script, &["sql-file", &file.display().to_string()]);
}

/// The seed's queries over the same files, by DuckDB.
fn duckdb_seed_answers(data: &str, queries: &[String]) -> Vec<Vec<serde_json::Value>> {
    let python = common::python().expect("PIPEC_TEST_PYTHON names the test venv's python");
    let script = r#"
import duckdb, json, sys
data, queries = sys.argv[1], json.loads(sys.argv[2])
con = duckdb.connect()
for table in ["sword_purchases", "guild_joins"]:
    con.execute(f"create view {table} as select * from read_parquet('{data}/{table}/*.parquet')")
print(json.dumps([[list(r) for r in con.execute(q).fetchall()] for q in queries], default=str))
"#;
    let output = Command::new(python)
        .args(["-c", script, data, &serde_json::to_string(queries).unwrap()])
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "DuckDB: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Vec<serde_json::Value>> = serde_json::from_slice(&output.stdout).unwrap();
    answers
}

fn as_rows(rows: &[Vec<String>]) -> Vec<serde_json::Value> {
    rows.iter().map(|r| serde_json::json!(r)).collect()
}

#[test]
fn trino_runs_the_trino_ddl_and_answers_the_seed_queries_as_pipec_and_duckdb_do() {
    let Some(script) = trino() else {
        return;
    };
    let _server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let data = common::seed_files(
        "trino-seed",
        &[
            ("user1.comcast.com", [3, 8, 5]),
            ("user2.att.com", [2, 6, 9]),
        ],
    );
    let data_arg = data.display().to_string();
    let ddl = trino_ddl("pipelines/game_events.pipe", &data_arg);
    assert!(ddl.contains("TIMESTAMP(3)"), "Trino's default precision");
    assert!(ddl.contains(&format!("'local://{data_arg}/sword_purchases'")));
    run_ddl(
        &script,
        &ddl,
        &[
            "default.sword_purchases",
            "default.guild_joins",
            "default.dead_letters",
        ],
        "trino-seed-ddl",
    );
    let queries = common::seed_queries();
    let duckdb = duckdb_seed_answers(&data_arg, &queries);
    for (query, duck) in queries.iter().zip(&duckdb) {
        let ours = pipec_query_rows("pipelines/game_events.pipe", &data_arg, query);
        let theirs = as_rows(&trino_run(&script, &["sql", query]));
        assert_eq!(
            normalized(&theirs),
            normalized(&ours),
            "Trino vs pipec: {query}"
        );
        assert_eq!(
            normalized(duck),
            normalized(&ours),
            "DuckDB vs pipec: {query}"
        );
    }
    let total = trino_run(&script, &["sql", &queries[0]]);
    assert_eq!(total, [["28"]], "14 swords and 14 guild joins");
    // The Kafka time and the mixed-case header columns read back too.
    let hosts = trino_run(
        &script,
        &[
            "sql",
            "select count(*) from sword_purchases where host = 'user1.comcast.com' \
             and user_agent is null and \"timestamp\" > timestamp '2020-01-01 00:00:00'",
        ],
    );
    assert_eq!(hosts, [["8"]]);
}

#[test]
fn trino_finds_the_partitions_of_a_partitioned_table_and_prunes_them() {
    let Some(script) = trino() else {
        return;
    };
    let _server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let data = scratch("trino-partitioned");
    let data_arg = data.display().to_string();
    let pipec = Pipec::start(&[
        "tests/pipelines/webshop.pipe",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data_arg,
    ]);
    for (i, day) in [
        "2024-05-01",
        "2024-05-01",
        "2024-05-01",
        "2024-05-02",
        "2024-05-02",
    ]
    .iter()
    .enumerate()
    {
        let body = serde_json::json!({
            "order_id": format!("o{i}"), "status": "paid", "price": 60.0, "qty": 2,
            "timestamp": format!("{day}T10:00:00Z"),
        });
        let response = pipec.post(
            "/orders",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        );
        assert_eq!(response.status, 202);
    }
    assert!(pipec.stop().success());
    let ddl = trino_ddl("tests/pipelines/webshop.pipe", &data_arg);
    assert!(ddl.starts_with("-- Trino"), "{ddl}");
    assert!(ddl.contains("CREATE SCHEMA IF NOT EXISTS shop;"), "{ddl}");
    run_ddl(
        &script,
        &ddl,
        &["shop.big_orders", "shop.all_orders", "default.dead_letters"],
        "trino-partitioned-ddl",
    );
    let days = trino_run(
        &script,
        &[
            "sql",
            "select day, count(*) from shop.all_orders group by day order by day",
        ],
    );
    assert_eq!(days, [["2024-05-01", "3"], ["2024-05-02", "2"]]);
    let ours = pipec_query_rows(
        "tests/pipelines/webshop.pipe",
        &data_arg,
        "select day as a, count(*) as b from shop.all_orders group by day",
    );
    assert_eq!(normalized(&as_rows(&days)), normalized(&ours));
    // Pruning: the scan of one day reads that day's rows only.
    let plan = trino_run(
        &script,
        &[
            "sql",
            "explain analyze select count(*) from shop.all_orders where day = '2024-05-02'",
        ],
    );
    let text: String = plan
        .iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    let scan = text
        .lines()
        .skip_while(|l| !l.contains("TableScan") && !l.contains("ScanFilter"))
        .find(|l| l.contains("Input:"))
        .unwrap_or_else(|| panic!("no scan input in:\n{text}"));
    assert!(
        scan.contains("Input: 2 rows"),
        "the other day's 3 rows were read too: {scan}\n{text}"
    );
}
