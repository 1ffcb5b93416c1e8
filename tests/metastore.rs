//! `pipec run --metastore` against a real Hive standalone metastore 4.0.1
//! (`tests/services/hms.sh`), read by a real Trino 476 through it (its
//! `hms` catalog) and by Spark 4 (`tests/engines/spark_metastore.py`):
//! nobody runs DDL, `MSCK REPAIR` or a sync call.
//! `tests/run.sh` starts both and names the scripts in PIPEC_TEST_HMS and
//! PIPEC_TEST_TRINO.

mod common;

use common::{normalized, pipec_query_rows, scratch, Pipec, ROOT};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One test at a time: both register `default.dead_letters`.
static METASTORE: Mutex<()> = Mutex::new(());

/// The scripts of the running metastore and Trino, or `None` (and a note).
fn services() -> Option<(String, String)> {
    match (
        std::env::var("PIPEC_TEST_HMS"),
        std::env::var("PIPEC_TEST_TRINO"),
    ) {
        (Ok(hms), Ok(trino)) => Some((hms, trino)),
        _ if std::env::var_os("PIPEC_REQUIRE_KAFKA").is_some() => {
            panic!("tests/run.sh sets PIPEC_TEST_HMS and PIPEC_TEST_TRINO")
        }
        _ => {
            eprintln!(
                "no PIPEC_TEST_HMS or PIPEC_TEST_TRINO: skipping; `bash tests/run.sh` starts them"
            );
            None
        }
    }
}

fn script(script: &str, args: &[&str]) -> String {
    let output = Command::new("bash")
        .arg(script)
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// One statement on Trino's `hms` catalog: its CSV rows.
fn trino(trino: &str, sql: &str) -> Vec<Vec<String>> {
    common::trino_sql_in(trino, "hms", &["sql", sql])
}

/// Forgets tables an earlier test registered elsewhere (external tables:
/// their files stay), as an operator would before reusing the names.
fn forget(trino_script: &str, tables: &[&str]) {
    for table in tables {
        // A schema not made yet is nothing to forget.
        let _ = Command::new("bash")
            .args([
                trino_script,
                "sql",
                &format!("DROP TABLE IF EXISTS {table}"),
            ])
            .env("PIPEC_TRINO_CATALOG", "hms")
            .current_dir(ROOT)
            .output();
    }
}

fn gauge(pipec: &Pipec, name: &str) -> Option<f64> {
    let metrics = pipec.get("/metrics", &[]).text();
    metrics
        .lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[test]
fn trino_answers_the_seed_queries_over_what_pipec_registered_without_ddl() {
    let Some((hms, trino_script)) = services() else {
        return;
    };
    let _metastore = METASTORE.lock().unwrap_or_else(|e| e.into_inner());
    forget(
        &trino_script,
        &[
            "default.sword_purchases",
            "default.guild_joins",
            "default.dead_letters",
        ],
    );
    let uri = script(&hms, &["uri"]);
    let data = scratch("metastore-seed");
    let data_arg = data.display().to_string();
    let pipec = Pipec::start_with_env(
        &[
            "pipelines/game_events.pipe",
            "--listen",
            "127.0.0.1:0",
            "--metastore",
            &uri,
        ],
        &[("PIPEC_DATA_DIR", &data_arg)],
    );
    for (host, counts) in [
        ("user1.comcast.com", [3, 8, 5]),
        ("user2.att.com", [2, 6, 9]),
    ] {
        for (path, count) in ["/", "/purchase_a_sword", "/join_a_guild"]
            .iter()
            .zip(counts)
        {
            for _ in 0..count {
                let response = pipec.get(path, &[("Host", host), ("Accept", "*/*")]);
                assert_eq!(response.status, 200);
            }
        }
    }
    let health = pipec.get("/health", &[]).json();
    assert_eq!(health["metastore"]["state"], "up", "{health}");
    assert!(pipec.stop().success());
    for query in common::seed_queries() {
        let ours = pipec_query_rows("pipelines/game_events.pipe", &data_arg, &query);
        let theirs: Vec<serde_json::Value> = trino(&trino_script, &query)
            .iter()
            .map(|r| serde_json::json!(r))
            .collect();
        assert_eq!(
            normalized(&theirs),
            normalized(&ours),
            "Trino vs pipec: {query}"
        );
    }
    assert_eq!(
        trino(&trino_script, &common::seed_queries()[0]),
        [["28"]],
        "14 swords and 14 guild joins"
    );
    // Spark finds the same tables in the metastore, with no DDL either.
    let Some(python) = common::python() else {
        eprintln!("no PIPEC_TEST_PYTHON: Spark skipped");
        return;
    };
    let queries_file = common::path("examples/seed_queries.sql");
    let report = common::spark_report(
        &python,
        "spark_metastore.py",
        &[std::ffi::OsStr::new(&uri), queries_file.as_ref()],
        &scratch("metastore-spark"),
    );
    let spark_results = report["results"].as_array().unwrap();
    for (query, spark_rows) in common::seed_queries().iter().zip(spark_results) {
        let ours = pipec_query_rows("pipelines/game_events.pipe", &data_arg, query);
        assert_eq!(
            normalized(spark_rows.as_array().unwrap()),
            normalized(&ours),
            "Spark vs pipec: {query}"
        );
    }
    assert_eq!(spark_results[0], serde_json::json!([[28]]));
}

/// Posts one visit; its id.
fn visit(pipec: &Pipec, id: &str, day: &str, extra: &str) {
    let body = format!(r#"{{"id":"{id}","at":"{day}T10:00:00Z","n":1{extra}}}"#);
    let response = pipec.post(
        "/visit",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(response.status, 202, "{}", response.text());
}

fn count(trino_script: &str, sql: &str) -> u64 {
    trino(trino_script, sql)[0][0].parse().unwrap()
}

#[test]
fn new_days_are_registered_within_a_trigger_an_outage_loses_nothing_and_changes_are_checked() {
    let Some((hms, trino_script)) = services() else {
        return;
    };
    let _metastore = METASTORE.lock().unwrap_or_else(|e| e.into_inner());
    forget(&trino_script, &["web.visits", "default.dead_letters"]);
    let uri = script(&hms, &["uri"]);
    let data = scratch("metastore-days");
    let data_arg = data.display().to_string();
    let pipeline = "tests/pipelines/metastore_days.pipe";
    let start = |file: &str| {
        Pipec::start_with_env(
            &[file, "--listen", "127.0.0.1:0", "--metastore", &uri],
            &[("PIPEC_DATA_DIR", &data_arg)],
        )
    };
    let pipec = start(pipeline);

    // Once the sink writes (its first trigger lands), a new day: seen
    // through the metastore within the trigger (2 s) + 5 s.
    visit(&pipec, "warm", "2026-11-30", "");
    let warm = Instant::now();
    while count(&trino_script, "select count(*) from web.visits") != 1 {
        assert!(
            warm.elapsed() < Duration::from_secs(60),
            "the first visit never arrived"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let posted = Instant::now();
    visit(&pipec, "first", "2026-12-01", "");
    let day = "select count(*) from web.visits where day = '2026-12-01'";
    // A query sees what was registered when it began (the CLI itself
    // takes a second or two to start), so that is when the day was seen.
    let seen_after = loop {
        let asked = posted.elapsed();
        assert!(
            asked < Duration::from_secs(7),
            "the new day was not visible in Trino within the trigger plus 5 s"
        );
        if count(&trino_script, day) == 1 {
            break asked;
        }
        std::thread::sleep(Duration::from_millis(200));
    };

    // The metastore stops for 20 s while events for new days keep coming.
    script(&hms, &["stop"]);
    let mut acked = 2;
    let mut highest_lag = 0.0f64;
    let outage = Instant::now();
    let mut index = 0;
    while outage.elapsed() < Duration::from_secs(20) {
        index += 1;
        visit(
            &pipec,
            &format!("down-{index}"),
            &format!("2026-11-{:02}", index % 28 + 1),
            "",
        );
        acked += 1;
        highest_lag = highest_lag.max(
            gauge(
                &pipec,
                "pipec_metastore_unregistered_partitions{table=\"web.visits\"}",
            )
            .unwrap_or(0.0),
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(gauge(&pipec, "pipec_metastore_up"), Some(0.0));
    let health = pipec.get("/health", &[]).json();
    assert_eq!(health["status"], "ok", "the sinks go on: {health}");
    assert_eq!(health["metastore"]["state"], "unreachable", "{health}");
    assert!(
        highest_lag >= 1.0,
        "the lag rose while the metastore was down"
    );
    script(&hms, &["start"]);
    let down_for = outage.elapsed();
    let back = Instant::now();
    while gauge(
        &pipec,
        "pipec_metastore_unregistered_partitions{table=\"web.visits\"}",
    ) != Some(0.0)
        || gauge(&pipec, "pipec_metastore_up") != Some(1.0)
    {
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the waiting partitions were not registered"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let registered_after = back.elapsed();
    // Every acknowledged visit once, every day directory registered.
    let all = "select count(*), count(distinct id) from web.visits";
    let waited = Instant::now();
    while trino(&trino_script, all) != [[acked.to_string(), acked.to_string()]] {
        assert!(
            waited.elapsed() < Duration::from_secs(15),
            "{:?} for {acked} acknowledged",
            trino(&trino_script, all)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let directories = std::fs::read_dir(data.join("visits"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("day="))
        .count() as u64;
    assert_eq!(
        count(&trino_script, "select count(distinct day) from web.visits"),
        directories
    );
    assert!(pipec.stop().success());

    // An added optional field: the column is added, old rows read null.
    let evolved = data.join("evolved.pipe");
    let text = std::fs::read_to_string(common::path(pipeline)).unwrap();
    std::fs::write(
        &evolved,
        text.replace("  n:  int\n", "  n:  int\n  ref: string?\n"),
    )
    .unwrap();
    let pipec = start(&evolved.display().to_string());
    visit(&pipec, "with-ref", "2026-12-02", r#","ref":"mail""#);
    let columns = || -> Vec<String> {
        trino(&trino_script, "describe web.visits")
            .into_iter()
            .map(|r| r[0].clone())
            .collect()
    };
    let waited = Instant::now();
    while count(
        &trino_script,
        "select count(*) from web.visits where ref = 'mail'",
    ) != 1
    {
        assert!(
            waited.elapsed() < Duration::from_secs(15),
            "columns {:?}",
            columns()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(columns().contains(&"ref".to_string()));
    assert_eq!(
        count(
            &trino_script,
            "select count(*) from web.visits where ref is null"
        ),
        acked,
        "the rows written before the change read it as null"
    );
    assert!(pipec.stop().success());

    // int → string: refused at start, the metastore left as it was.
    let broken = data.join("broken.pipe");
    std::fs::write(&broken, text.replace("  n:  int\n", "  n:  string\n")).unwrap();
    let before = trino(&trino_script, "describe web.visits");
    let output = common::run_to_end(&[
        &broken.display().to_string(),
        "--listen",
        "127.0.0.1:0",
        "--metastore",
        &uri,
        "--data-dir",
        &data_arg,
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nothing was started"), "{stderr}");
    assert_eq!(trino(&trino_script, "describe web.visits"), before);
    eprintln!(
        "a new day visible in Trino {seen_after:?} after its event (trigger 2 s); metastore down {down_for:?}: \
         {acked} acknowledged, all in Trino once, {directories} days registered; \
         unregistered partitions peaked at {highest_lag}, back to 0 {registered_after:?} after the restart began"
    );
}
