//! Delta sinks (`format delta`) read by engines that are not pipec's:
//! Spark 4 with delta-spark runs `pipec ddl --dialect spark` as printed,
//! Trino 476's `delta_lake` catalog runs `--dialect trino` as printed, and
//! the `deltalake` Python package reads the tables; the seed's four
//! queries answer there as `pipec query` answers them. Compaction while
//! the sinks write: a reader polling `count(*)` never sees it go down or
//! past what was acknowledged, and `pipec compact` leaves one file per
//! partition directory with the same rows and an OPTIMIZE commit.

mod common;

use common::{normalized, pipec_query_rows, scratch, Pipec};
use std::process::Command;
use std::time::{Duration, Instant};

const SEED: &str = "pipelines/game_events_delta.pipe";

/// One test at a time on the shared Trino: both register the seed's names.
static TRINO: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn seed_tables(name: &str) -> String {
    let data = common::seed_files_of(
        SEED,
        name,
        &[
            ("user1.comcast.com", [3, 8, 5]),
            ("user2.att.com", [2, 6, 9]),
        ],
    );
    data.display().to_string()
}

fn ddl(dialect: &str, data: &str) -> String {
    let output = common::pipec(&["ddl", SEED, "--dialect", dialect, "--data-dir", data]);
    assert!(output.status.success(), "{}", common::text(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// A Python script of the test venv, with ARGS; its standard output as JSON.
fn python_json(script: &str, args: &[&str]) -> serde_json::Value {
    let python = common::python().expect("PIPEC_TEST_PYTHON names the test venv's python");
    let output = Command::new(python)
        .args(["-c", script])
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "python: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Rows and files of a Delta table's latest snapshot, by the `deltalake`
/// package (delta-rs's Python binding, but its own log reader and Parquet
/// through pyarrow), with the table's history.
const READ_DELTA: &str = r#"
import json, os, sys
from deltalake import DeltaTable
table = DeltaTable(sys.argv[1])
column = sys.argv[2]
rows = table.to_pyarrow_table(columns=[column]).column(0).to_pylist()
print(json.dumps({
    "version": table.version(),
    "rows": [str(r) for r in rows],
    "files": table.file_uris(),
    "operations": [c.get("operation") for c in table.history()],
}))
sys.stdout.flush()
os._exit(0)
"#;

#[test]
fn the_hive_dialect_refuses_a_delta_table_and_says_what_to_use() {
    let output = common::pipec(&["ddl", SEED]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = common::text(&output.stderr);
    assert!(stderr.contains("Hive cannot read Delta"), "{stderr}");
    assert!(stderr.contains("--dialect spark"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing printed to run");
}

#[test]
fn spark_with_delta_spark_and_the_deltalake_package_read_the_seed_tables_as_pipec_does() {
    let Some(python) = common::python() else {
        assert!(
            std::env::var_os("PIPEC_REQUIRE_KAFKA").is_none(),
            "tests/run.sh sets PIPEC_TEST_PYTHON"
        );
        return;
    };
    let data = seed_tables("delta-spark");
    let work = scratch("delta-spark-work");
    let ddl_file = work.join("tables.sql");
    let printed = ddl("spark", &data);
    assert!(printed.contains("USING DELTA"), "{printed}");
    std::fs::write(&ddl_file, &printed).unwrap();
    let queries_file = common::path("examples/seed_queries.sql");
    let report = common::spark_report(
        &python,
        "spark_delta.py",
        &[ddl_file.as_os_str(), queries_file.as_ref()],
        &work,
    );
    let results = report["queries"].as_array().unwrap();
    let queries = common::seed_queries();
    assert_eq!(results.len(), queries.len());
    for (query, spark) in queries.iter().zip(results) {
        let ours = pipec_query_rows(SEED, &data, query);
        assert_eq!(
            normalized(&ours),
            normalized(spark["rows"].as_array().unwrap()),
            "Spark vs pipec: {query}"
        );
    }
    assert_eq!(
        results[0]["rows"],
        serde_json::json!([[28]]),
        "14 swords and 14 joins"
    );

    let swords = python_json(READ_DELTA, &[&format!("{data}/sword_purchases"), "Host"]);
    let rows = swords["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 14, "{swords}");
    assert_eq!(rows.iter().filter(|h| *h == "user1.comcast.com").count(), 8);
}

/// `trino.sh` of the running server, or `None` without one.
fn trino() -> Option<String> {
    match std::env::var("PIPEC_TEST_TRINO") {
        Ok(script) => Some(script),
        Err(_) if std::env::var_os("PIPEC_REQUIRE_KAFKA").is_some() => {
            panic!("tests/run.sh sets PIPEC_TEST_TRINO")
        }
        Err(_) => None,
    }
}

#[test]
fn trino_registers_the_seed_tables_as_printed_and_answers_as_pipec_does() {
    let Some(script) = trino() else {
        return;
    };
    let _server = TRINO.lock().unwrap_or_else(|e| e.into_inner());
    let data = seed_tables("delta-trino");
    let printed = ddl("trino", &data);
    // register_table refuses a name that is registered: an earlier run's
    // tables (their files are kept) go first.
    for table in ["sword_purchases", "guild_joins"] {
        let _ = Command::new("bash")
            .args([
                &script,
                "sql",
                &format!("CALL delta.system.unregister_table(schema_name => 'default', table_name => '{table}')"),
            ])
            .output();
    }
    let hive_tables = ["default.dead_letters"];
    for table in hive_tables {
        common::trino_sql(&script, &["sql", &format!("DROP TABLE IF EXISTS {table}")]);
    }
    let file = scratch("delta-trino-ddl").join("tables.sql");
    std::fs::write(&file, &printed).unwrap();
    common::trino_sql(&script, &["sql-file", &file.display().to_string()]);
    for query in common::seed_queries() {
        let ours = pipec_query_rows(SEED, &data, &query);
        // The tables are in the `delta` catalog; the seed's queries name them bare.
        let qualified = query
            .replace("from guild_joins", "from delta.default.guild_joins")
            .replace("from sword_purchases", "from delta.default.sword_purchases");
        let theirs: Vec<serde_json::Value> = common::trino_sql(&script, &["sql", &qualified])
            .iter()
            .map(|r| serde_json::json!(r))
            .collect();
        assert_eq!(
            normalized(&theirs),
            normalized(&ours),
            "Trino vs pipec: {query}"
        );
    }
}

const COMPACTING: &str = "tests/pipelines/delta_compaction.pipe";

/// While the sink writes every 100 ms and compacts every 2 s, a reader of
/// the table (the `deltalake` package, polling) counts its rows: the count
/// never goes down and never exceeds the events acknowledged so far.
#[test]
fn readers_never_see_a_compaction_half_done_and_pipec_compact_leaves_one_file_per_directory() {
    if common::python().is_none() {
        return;
    }
    let data = scratch("delta-compaction");
    let data_arg = data.display().to_string();
    let pipec = Pipec::start(&[
        COMPACTING,
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data_arg,
    ]);
    let table = format!("{data_arg}/clicks");
    let acknowledged = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let poller = {
        let python = common::python().unwrap();
        let (table, acknowledged) = (table.clone(), acknowledged.clone());
        std::thread::spawn(move || {
            // One Python process polling, so that polls are frequent.
            let script = r#"
import os, sys, time
from deltalake import DeltaTable
table = None
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        if table is None:
            table = DeltaTable(sys.argv[1])
        else:
            table.update_incremental()
        print(table.version(), table.count(), flush=True)
    except Exception as e:
        print("error", type(e).__name__, flush=True)
    time.sleep(0.05)
os._exit(0)
"#;
            let mut child = Command::new(python)
                .args(["-c", script, &table, "9"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::BufRead;
            let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut seen = Vec::new();
            for line in stdout.lines() {
                let line = line.unwrap();
                // The bound is read after the count: acknowledged only grows.
                let bound = acknowledged.load(std::sync::atomic::Ordering::SeqCst);
                seen.push((line, bound));
            }
            child.wait().unwrap();
            seen
        })
    };
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < Duration::from_secs(8) {
        post_click(&pipec, sent);
        sent += 1;
        acknowledged.store(sent, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(5));
    }
    let seen = poller.join().unwrap();
    let metrics = String::from_utf8_lossy(&pipec.get("/metrics", &[]).body).into_owned();
    assert!(pipec.stop().success());

    let mut counts = Vec::new();
    for (line, bound) in &seen {
        let mut parts = line.split_whitespace();
        let (Some(version), Some(count)) = (parts.next(), parts.next()) else {
            continue;
        };
        if version == "error" {
            // No table yet: the sink creates it at its first claim.
            assert!(
                counts.is_empty(),
                "a read failed after the table existed: {line}"
            );
            continue;
        }
        let count: u64 = count.parse().unwrap();
        assert!(
            count <= *bound,
            "{count} rows seen, only {bound} acknowledged"
        );
        counts.push(count);
    }
    assert!(counts.len() > 50, "the reader polled: {seen:?}");
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "the count went down: {counts:?}"
    );
    let compactions: f64 = metrics
        .lines()
        .find(|l| l.starts_with("pipec_delta_compactions_total{sink=\"clicks\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0);
    assert!(
        compactions >= 1.0,
        "no compaction while the sink wrote:\n{metrics}"
    );

    // Stopped: every acknowledged click is in the table, once.
    let before = python_json(READ_DELTA, &[&table, "id"]);
    let mut ids: Vec<String> = before["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (0..sent).map(|i| format!("c{i}")).collect();
    expected.sort();
    assert_eq!(ids, expected, "every acknowledged id exactly once");
    let operations = before["operations"].as_array().unwrap();
    assert!(operations.iter().any(|o| o == "OPTIMIZE"), "{operations:?}");

    // The automatic compaction may have caught up before the stop: a run
    // with it off adds small commits, so that `pipec compact` has work.
    let uncompacting = data.join("uncompacting.pipe");
    let text = std::fs::read_to_string(COMPACTING).unwrap();
    assert!(text.contains("compact   every 2s to 1MB"));
    std::fs::write(
        &uncompacting,
        text.replace("compact   every 2s to 1MB", "compact   off"),
    )
    .unwrap();
    let uncompacting = uncompacting.display().to_string();
    let pipec = Pipec::start(&[
        &uncompacting,
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data_arg,
    ]);
    for _ in 0..60 {
        post_click(&pipec, sent);
        sent += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(pipec.stop().success());
    let before = python_json(READ_DELTA, &[&table, "id"]);
    let files_before = before["files"].as_array().unwrap().len();
    assert!(files_before > 3, "small commits to compact: {before}");
    let mut expected: Vec<String> = (0..sent).map(|i| format!("c{i}")).collect();
    expected.sort();

    // On demand: at most one file per partition directory (all are far
    // below the target size), the same rows, and an OPTIMIZE commit.
    let compact = common::pipec(&["compact", &uncompacting, "--data-dir", &data_arg]);
    assert!(
        compact.status.success(),
        "{}",
        common::text(&compact.stderr)
    );
    let summary = common::text(&compact.stdout);
    assert!(summary.contains("clicks:"), "{summary}");
    let after = python_json(READ_DELTA, &[&table, "id"]);
    let mut after_ids: Vec<String> = after["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    after_ids.sort();
    assert_eq!(after_ids, expected);
    let mut per_directory = std::collections::BTreeMap::new();
    for file in after["files"].as_array().unwrap() {
        let file = file.as_str().unwrap();
        let directory = file.rsplit_once('/').unwrap().0.to_string();
        *per_directory.entry(directory).or_insert(0) += 1;
    }
    assert_eq!(per_directory.len(), 3, "{per_directory:?}");
    assert!(per_directory.values().all(|&n| n == 1), "{per_directory:?}");
    // The last commit is the on-demand OPTIMIZE (VACUUM commits only when
    // it deletes something: here every replaced file is under a minute old).
    assert_eq!(after["operations"][0], "OPTIMIZE", "{after}");
    assert!(
        after["version"].as_i64() > before["version"].as_i64(),
        "{after}"
    );
}

const ON_S3: &str = "tests/pipelines/seed_delta_on_s3.pipe";

/// The same engines over the seed's Delta tables on the S3 server: Spark
/// through `s3a://`, Trino's `delta_lake` catalog through `s3://`, and the
/// `deltalake` package, each as `pipec ddl` prints it for them.
#[test]
fn spark_trino_and_deltalake_read_the_seed_delta_tables_on_s3() {
    let (Some(python), Ok(bucket)) = (common::python(), std::env::var("PIPEC_TEST_S3_URL")) else {
        assert!(
            std::env::var_os("PIPEC_REQUIRE_KAFKA").is_none(),
            "tests/run.sh sets PIPEC_TEST_PYTHON and PIPEC_TEST_S3_URL"
        );
        return;
    };
    let root = format!("{bucket}/{}", common::unique("delta-seed"));
    let env = [("PIPEC_S3_ROOT", root.as_str())];
    let pipec = Pipec::start_with_env(&[ON_S3, "--listen", "127.0.0.1:0"], &env);
    for (host, swords, guilds) in [("user1.comcast.com", 8, 5), ("user2.att.com", 6, 9)] {
        for (path, count) in [("/purchase_a_sword", swords), ("/join_a_guild", guilds)] {
            for _ in 0..count {
                let response = pipec.get(path, &[("Host", host), ("Accept", "*/*")]);
                assert_eq!(response.status, 200);
            }
        }
    }
    // A malformed message too, straight into the topic: a dead letter per
    // sink (so the dead-letter table's directory exists for Spark's MSCK).
    let mut kcat = Command::new("kcat")
        .args(["-P", "-b", &pipec.bootstrap, "-t", "events"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("kcat runs");
    {
        use std::io::Write;
        kcat.stdin.as_mut().unwrap().write_all(b"{oops\n").unwrap();
    }
    assert!(kcat.wait().unwrap().success());
    assert!(pipec.stop().success());
    let dead = common::pipec_query_rows_with_env(
        ON_S3,
        ".",
        "select sink as a, raw_text as b from dead_letters order by sink",
        &env,
    );
    assert_eq!(
        dead,
        [
            serde_json::json!(["guild_joins", "{oops"]),
            serde_json::json!(["sword_purchases", "{oops"])
        ]
    );
    let queries = common::seed_queries();
    let ours: Vec<_> = queries
        .iter()
        .map(|q| common::pipec_query_rows_with_env(ON_S3, ".", q, &env))
        .collect();
    assert_eq!(ours[0], [serde_json::json!([28])], "14 swords and 14 joins");
    let printed = |dialect: &str| {
        let output = common::pipec_command(&["ddl", ON_S3, "--dialect", dialect])
            .env("PIPEC_S3_ROOT", &root)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", common::text(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };

    // Spark 4 with delta-spark.
    let work = scratch("delta-s3-spark");
    let ddl_file = work.join("tables.sql");
    let spark_ddl = printed("spark");
    assert!(spark_ddl.contains("LOCATION 's3a://"), "{spark_ddl}");
    std::fs::write(&ddl_file, spark_ddl).unwrap();
    let queries_file = common::path("examples/seed_queries.sql");
    let report = common::spark_report(
        &python,
        "spark_delta.py",
        &[ddl_file.as_os_str(), queries_file.as_ref()],
        &work,
    );
    for ((query, spark), ours) in queries
        .iter()
        .zip(report["queries"].as_array().unwrap())
        .zip(&ours)
    {
        assert_eq!(
            normalized(ours),
            normalized(spark["rows"].as_array().unwrap()),
            "Spark on S3 vs pipec: {query}"
        );
    }

    // The deltalake package, with the S3 server's settings.
    let script = r#"
import json, os, sys
from deltalake import DeltaTable
options = {"AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
           "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
           "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
           "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"), "AWS_ALLOW_HTTP": "true"}
counts = [DeltaTable(sys.argv[1] + "/" + t, storage_options=options).count()
          for t in ["sword_purchases", "guild_joins"]]
print(json.dumps(counts))
sys.stdout.flush()
os._exit(0)
"#;
    assert_eq!(python_json(script, &[&root]), serde_json::json!([14, 14]));

    // Trino's delta_lake catalog.
    let Some(trino) = trino() else {
        return;
    };
    let _server = TRINO.lock().unwrap_or_else(|e| e.into_inner());
    let trino_ddl = printed("trino");
    assert!(
        trino_ddl.contains("table_location => 's3://"),
        "{trino_ddl}"
    );
    for table in ["sword_purchases", "guild_joins"] {
        let _ = Command::new("bash")
            .args([
                &trino,
                "sql",
                &format!("CALL delta.system.unregister_table(schema_name => 'default', table_name => '{table}')"),
            ])
            .output();
    }
    common::trino_sql(
        &trino,
        &["sql", "DROP TABLE IF EXISTS default.dead_letters"],
    );
    let file = scratch("delta-s3-trino").join("tables.sql");
    std::fs::write(&file, trino_ddl).unwrap();
    common::trino_sql(&trino, &["sql-file", &file.display().to_string()]);
    for (query, ours) in queries.iter().zip(&ours) {
        let qualified = query
            .replace("from guild_joins", "from delta.default.guild_joins")
            .replace("from sword_purchases", "from delta.default.sword_purchases");
        let theirs: Vec<serde_json::Value> = common::trino_sql(&trino, &["sql", &qualified])
            .iter()
            .map(|r| serde_json::json!(r))
            .collect();
        assert_eq!(
            normalized(&theirs),
            normalized(ours),
            "Trino on S3 vs pipec: {query}"
        );
    }
}

/// Click number `n` (id `c{n}`, kinds in turn), acknowledged.
fn post_click(pipec: &Pipec, n: u64) {
    let kind = ["a", "b", "c"][(n % 3) as usize];
    let response = pipec.post(
        "/click",
        &[("Content-Type", "application/json")],
        format!(r#"{{"id":"c{n}","kind":"{kind}"}}"#).as_bytes(),
    );
    assert_eq!(response.status, 200);
}
