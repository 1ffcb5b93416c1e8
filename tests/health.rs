//! Nothing fails silently (issue 26), end to end on the real binary: a sink
//! that stops shows at once in the log, `/health` and `/metrics`, and the
//! process does what the policy says (by default: refuse events, exit
//! non-zero; `--on-sink-failure degrade`: keep serving); `POST /sql` sees
//! every trigger's commit by the next query, on local disk and on S3.

mod common;

use common::{pipec_query_rows_with_env, scratch, Pipec};
use std::path::Path;
use std::time::{Duration, Instant};

/// The seed's pipeline with a 2 s trigger and every table below
/// `PIPEC_S3_ROOT`, which may be a local directory as well as a bucket.
const PIPELINE: &str = "tests/pipelines/seed_on_s3.pipe";
const SWORDS: &str = "select count(*) as n from default.sword_purchases";

/// What `/health` and `/metrics` said while a sink was failed.
struct Failure {
    health: serde_json::Value,
    metrics: String,
}

/// Polls `/health` until it names `sink` as failed (within `within`), and
/// reads `/metrics` at once after: the two places an operator looks.
fn failure_of(pipec: &Pipec, sink: &str, within: Duration) -> Failure {
    let deadline = Instant::now() + within;
    loop {
        let response = pipec.get("/health", &[]);
        if response.status == 503 {
            let health = response.json();
            let failed = health["sinks"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["sink"] == sink && s["state"] == "failed");
            if failed {
                let metrics = pipec.get("/metrics", &[]).text();
                return Failure { health, metrics };
            }
        } else {
            assert_eq!(response.status, 200, "{}", response.text());
        }
        assert!(
            Instant::now() < deadline,
            "`{sink}` was not reported failed within {within:?}: {}",
            response.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `/health` until the process says it is stopping (within `within`).
fn stopping_of(pipec: &Pipec, within: Duration) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let response = pipec.get("/health", &[]);
        let health = response.json();
        if health["status"] == "stopping" {
            assert_eq!(response.status, 503, "{health}");
            return health;
        }
        assert!(
            Instant::now() < deadline,
            "not stopping within {within:?}: {health}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sink_entry<'a>(health: &'a serde_json::Value, sink: &str) -> &'a serde_json::Value {
    health["sinks"]
        .as_array()
        .and_then(|sinks| sinks.iter().find(|s| s["sink"] == sink))
        .unwrap_or_else(|| panic!("`/health` names `{sink}`: {health}"))
}

fn metric_line(metrics: &str, sink: &str) -> String {
    let prefix = format!("pipec_sink_up{{sink=\"{sink}\"}}");
    metrics
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{metrics}"))
        .to_string()
}

/// A data directory whose `sword_purchases` checkpoint of partition 0 is
/// damaged, as an operator found it (issue 26).
fn damaged_checkpoint(name: &str) -> std::path::PathBuf {
    let data = scratch(name);
    let offsets = data.join("tables/checkpoints/sword_purchases/offsets/events");
    std::fs::create_dir_all(&offsets).unwrap();
    std::fs::write(offsets.join("0.json"), b"{garbage").unwrap();
    data
}

fn local_args(data: &Path) -> Vec<String> {
    let data = data.display().to_string();
    vec![
        PIPELINE.into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        data,
    ]
}

fn local_root(data: &Path) -> String {
    data.join("tables").display().to_string()
}

fn log_text(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[test]
fn by_default_a_damaged_checkpoint_is_shown_at_once_then_events_are_refused_and_pipec_exits() {
    let data = damaged_checkpoint("health-damaged-exit");
    let log = data.join("pipec.log");
    let args = local_args(&data);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = local_root(&data);
    let mut pipec = Pipec::start_logged(&args, &[("PIPEC_S3_ROOT", &root)], &log);

    let failure = failure_of(&pipec, "sword_purchases", Duration::from_secs(30));
    assert_ne!(failure.health["status"], "ok", "{}", failure.health);
    // The policy acts on the failure a moment later: the process is then
    // stopping, and `/health` says so.
    let stopping = stopping_of(&pipec, Duration::from_secs(5));
    assert!(
        stopping["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("sword_purchases"),
        "{stopping}"
    );
    let entry = sink_entry(&failure.health, "sword_purchases");
    let reason = entry["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("damaged"), "{entry}");
    assert!(
        reason.contains("0.json"),
        "the reason names the file: {entry}"
    );
    assert!(
        metric_line(&failure.metrics, "sword_purchases").ends_with(" 0"),
        "{}",
        failure.metrics
    );
    // New events are refused with a JSON reason, not acknowledged into a
    // topic nobody reads.
    // (The grace may just have ended: then nothing answers at all.)
    if let Some(refused) = common::http::try_request(pipec.addr, "GET", "/purchase_a_sword") {
        assert_eq!(refused.status, 503, "{}", refused.text());
        assert_eq!(refused.json()["error"], "stopping", "{}", refused.text());
    }

    let status = pipec
        .wait_exit(Duration::from_secs(30))
        .expect("pipec exits by itself once a sink has stopped");
    assert!(
        !status.success(),
        "a supervisor must see a failure: {status}"
    );
    let said = log_text(&log);
    let error = said
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("damaged"))
        .unwrap_or_else(|| panic!("an ERROR line with the reason:\n{said}"));
    assert!(error.contains("sword_purchases"), "{error}");
}

#[test]
fn with_degrade_a_damaged_checkpoint_is_shown_at_once_and_pipec_keeps_serving() {
    let data = damaged_checkpoint("health-damaged-degrade");
    let log = data.join("pipec.log");
    let mut args = local_args(&data);
    args.extend(["--on-sink-failure".into(), "degrade".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = local_root(&data);
    let mut pipec = Pipec::start_logged(&args, &[("PIPEC_S3_ROOT", &root)], &log);

    let failure = failure_of(&pipec, "sword_purchases", Duration::from_secs(30));
    assert_eq!(failure.health["status"], "unhealthy", "{}", failure.health);
    let entry = sink_entry(&failure.health, "sword_purchases");
    assert!(
        entry["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("damaged"),
        "{entry}"
    );
    assert!(entry["since"].as_i64().is_some(), "{entry}");
    assert!(metric_line(&failure.metrics, "sword_purchases").ends_with(" 0"));
    // The log says it while the process runs, not when it ends.
    let said = log_text(&log);
    assert!(
        said.lines()
            .any(|l| l.contains("ERROR") && l.contains("damaged")),
        "an ERROR line with the reason while running:\n{said}"
    );
    // Liveness stays apart from readiness: the process is alive.
    let live = pipec.get("/health/live", &[]);
    assert_eq!(live.status, 200);
    assert_eq!(live.json()["status"], "alive");
    let ready = pipec.get("/health/ready", &[]);
    assert_eq!(ready.status, 503, "{}", ready.text());
    // The status page's figures say the same.
    let figures = pipec.get("/_pipec/status.json", &[]).json();
    assert_eq!(figures["health"]["status"], "unhealthy", "{figures}");
    assert!(
        figures["health"]["unhealthy"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["sink"] == "sword_purchases" && s["state"] == "failed"),
        "{figures}"
    );
    let failed: Vec<_> = figures["nodes"]
        .as_object()
        .unwrap()
        .values()
        .filter(|n| n["kind"] == "sink" && n["state"] == "failed")
        .collect();
    assert!(
        failed
            .iter()
            .any(|n| n["reason"].as_str().is_some_and(|r| r.contains("damaged"))),
        "a sink node of the page failed, with the reason: {figures}"
    );
    // Degraded, it keeps serving.
    let accepted = pipec.get("/purchase_a_sword", &[("Host", "user1.comcast.com")]);
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    assert!(
        pipec.wait_exit(Duration::from_secs(3)).is_none(),
        "`degrade` keeps the process running"
    );
    assert_eq!(pipec.get("/health", &[]).status, 503);
    let status = pipec.stop();
    assert!(!status.success(), "the stop still reports the failed sink");
}

#[test]
fn a_store_that_refuses_writes_is_shown_at_once_and_pipec_exits() {
    let Some(bucket) = common::s3_bucket() else {
        return;
    };
    let (Ok(key), Ok(secret)) = (
        std::env::var("PIPEC_S3_READ_ONLY_ACCESS_KEY"),
        std::env::var("PIPEC_S3_READ_ONLY_SECRET_KEY"),
    ) else {
        panic!("`tests/services/s3.sh env` names the read-only identity");
    };
    let data = scratch("health-read-only-store");
    let log = data.join("pipec.log");
    let root = format!("{bucket}/{}", common::unique("read-only"));
    let args = local_args(&data);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = [
        ("PIPEC_S3_ROOT", root.as_str()),
        ("AWS_ACCESS_KEY_ID", key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
    ];
    let mut pipec = Pipec::start_logged(&args, &env, &log);

    let failure = failure_of(&pipec, "sword_purchases", Duration::from_secs(60));
    assert_eq!(failure.health["status"], "stopping", "{}", failure.health);
    let entry = sink_entry(&failure.health, "sword_purchases");
    let reason = entry["reason"].as_str().unwrap_or_default().to_string();
    assert!(!reason.is_empty(), "{entry}");
    assert!(metric_line(&failure.metrics, "sword_purchases").ends_with(" 0"));
    let status = pipec
        .wait_exit(Duration::from_secs(60))
        .expect("pipec exits by itself once a sink has stopped");
    assert!(!status.success(), "{status}");
    let said = log_text(&log);
    assert!(
        said.lines()
            .any(|l| l.contains("ERROR") && l.contains("sink stopped")),
        "an ERROR line naming the stop:\n{said}"
    );
    // Refused at once, as permanent: not retried until the bound.
    assert!(
        !said.contains("retrying"),
        "a refusal of rights is not transient:\n{said}"
    );
}

/// Swords sent in rounds; after each trigger, `POST /sql` answers what
/// `pipec query` (a fresh process) answers. The first version built its
/// session once and cached the listing: it kept the first round's count.
fn sql_is_fresh_after_each_trigger(name: &str, root: &str) {
    let data = scratch(name);
    let mut args = local_args(&data);
    args.push("--sql".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let data_arg = data.display().to_string();
    let env = [("PIPEC_S3_ROOT", root)];
    let pipec = Pipec::start_with_env(&args, &env);
    let sql = |text: &str| {
        let response = pipec.post("/sql", &[("Content-Type", "text/plain")], text.as_bytes());
        assert_eq!(response.status, 200, "{}", response.text());
        response.json()["rows"][0]["n"].as_i64().expect("a count")
    };
    let mut sent = 0;
    for round in [5, 7, 3] {
        for _ in 0..round {
            let response = pipec.get("/purchase_a_sword", &[("Host", "user1.comcast.com")]);
            assert_eq!(response.status, 200, "{}", response.text());
        }
        sent += round;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let query = pipec_query_rows_with_env(PIPELINE, &data_arg, SWORDS, &env);
            let committed = query[0][0].as_i64().expect("a count");
            if committed == sent {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{committed} of {sent} swords committed"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(
            sql(SWORDS),
            sent,
            "`/sql` after the trigger of round {round}"
        );
    }
    assert!(pipec.stop().success());
}

#[test]
fn sql_sees_each_trigger_on_local_disk() {
    let data = scratch("health-sql-local-tables");
    sql_is_fresh_after_each_trigger("health-sql-local", &data.display().to_string());
}

#[test]
fn sql_sees_each_trigger_on_s3() {
    let Some(bucket) = common::s3_bucket() else {
        return;
    };
    let root = format!("{bucket}/{}", common::unique("sql-fresh"));
    sql_is_fresh_after_each_trigger("health-sql-s3", &root);
}
