//! Tables on object storage, end to end, on the real S3 server that
//! `tests/run.sh` starts (`tests/services/s3.sh`, SeaweedFS): the seed's
//! pipeline writes its tables, checkpoints and dead letters to S3; `pipec
//! query` answers the seed's queries over them as an independent reader
//! (pyarrow's S3 file system, then DuckDB over what it read) does; no hidden
//! file is left; and Trino runs the Trino DDL over the same objects.

mod common;

use common::{normalized, Pipec, ROOT};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One test at a time: the outage test stops the shared S3 server.
static SERVER: Mutex<()> = Mutex::new(());

const PIPELINE: &str = "tests/pipelines/seed_on_s3.pipe";
/// The same with Delta tables.
const DELTA_PIPELINE: &str = "tests/pipelines/seed_delta_on_s3.pipe";

/// Every object below `root` (an `s3://bucket/prefix` URL), and the answers
/// to `queries` over the visible Parquet files of the two tables, read by
/// pyarrow and queried by DuckDB.
fn independent_reader(root: &str, queries: &[String]) -> serde_json::Value {
    let python = common::python().expect("PIPEC_TEST_PYTHON names the test venv's python");
    let script = r#"
import duckdb, json, os, sys
import pyarrow.dataset as ds
from pyarrow import fs
root, queries = sys.argv[1], json.loads(sys.argv[2])
endpoint = os.environ["AWS_ENDPOINT_URL"]
s3 = fs.S3FileSystem(
    endpoint_override=endpoint.split("://", 1)[1], scheme=endpoint.split("://", 1)[0],
    access_key=os.environ["AWS_ACCESS_KEY_ID"], secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    region=os.environ.get("AWS_REGION", "us-east-1"))
base = root[len("s3://"):]
objects = [i.path[len(base) + 1:] for i in s3.get_file_info(fs.FileSelector(base, recursive=True))
           if i.type == fs.FileType.File]
con = duckdb.connect()
for table in ["sword_purchases", "guild_joins"]:
    files = [f"{base}/{o}" for o in objects
             if o.startswith(table + "/") and o.endswith(".parquet") and not o.split("/")[-1].startswith(".")]
    arrow = ds.dataset(files, filesystem=s3, format="parquet").to_table()
    con.register(table, arrow)
answers = [[list(r) for r in con.execute(q).fetchall()] for q in queries]
print(json.dumps({"objects": sorted(objects), "answers": answers}, default=str))
"#;
    let output = Command::new(python)
        .args(["-c", script, root, &serde_json::to_string(queries).unwrap()])
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "pyarrow on S3: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_seed_on_s3_is_queried_by_pipec_pyarrow_and_trino_alike() {
    let Some(bucket) = common::s3_bucket() else {
        return;
    };
    let _server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let root = format!("{bucket}/{}", common::unique("seed"));
    let pipec = Pipec::start_with_env(
        &[PIPELINE, "--listen", "127.0.0.1:0"],
        &[("PIPEC_S3_ROOT", &root)],
    );
    let mut sent = 0;
    for (host, swords, guilds) in [("user1.comcast.com", 8, 5), ("user2.att.com", 6, 9)] {
        for (path, count) in [("/purchase_a_sword", swords), ("/join_a_guild", guilds)] {
            for _ in 0..count {
                let response = pipec.get(path, &[("Host", host), ("Accept", "*/*")]);
                assert_eq!(response.status, 200);
                sent += 1;
            }
        }
    }
    assert_eq!(sent, 28);
    // A malformed message too, straight into the topic: a dead letter per sink.
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

    let queries = common::seed_queries();
    let reader = independent_reader(&root, &queries);
    let objects: Vec<&str> = reader["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(
        objects
            .iter()
            .all(|o| !o.rsplit('/').next().unwrap().starts_with('.')),
        "no hidden file is left: {objects:#?}"
    );
    for expected in [
        "checkpoints/sword_purchases/offsets/events/0.json",
        "checkpoints/guild_joins/offsets/events/1.json",
    ] {
        assert!(objects.contains(&expected), "{expected} in {objects:#?}");
    }
    assert!(
        objects
            .iter()
            .any(|o| o.starts_with("dead_letters/sink=guild_joins/") && o.ends_with(".parquet")),
        "{objects:#?}"
    );
    let env = [("PIPEC_S3_ROOT", root.as_str())];
    for (query, theirs) in queries.iter().zip(reader["answers"].as_array().unwrap()) {
        let ours = query_with_env(query, &env);
        assert_eq!(
            normalized(&ours),
            normalized(theirs.as_array().unwrap()),
            "pipec vs pyarrow+DuckDB: {query}"
        );
    }
    assert_eq!(
        query_with_env(&queries[0], &env),
        [serde_json::json!([28])],
        "14 swords and 14 guild joins"
    );
    let dead = query_with_env(
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

    if let Ok(trino) = std::env::var("PIPEC_TEST_TRINO") {
        trino_reads_the_s3_tables(&trino, &env, &queries);
    }
}

/// `pipec query PIPELINE --format json SQL` with `env` (the S3 root).
fn query_with_env(sql: &str, env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    common::pipec_query_rows_with_env(PIPELINE, ".", sql, env)
}

fn trino_reads_the_s3_tables(script: &str, env: &[(&str, &str)], queries: &[String]) {
    let mut ddl = Command::new(env!("CARGO_BIN_EXE_pipec"));
    ddl.args(["ddl", PIPELINE, "--dialect", "trino"])
        .current_dir(ROOT);
    for (key, value) in env {
        ddl.env(key, value);
    }
    let ddl = ddl.output().expect("pipec runs");
    assert!(ddl.status.success());
    let text = String::from_utf8(ddl.stdout).unwrap();
    assert!(text.contains("external_location = 's3://"), "{text}");
    let trino = |args: &[&str]| common::trino_sql(script, args);
    // Test binaries run one after another: the local tables of tests/trino.rs
    // are dropped and made again there, as these are here.
    for table in ["sword_purchases", "guild_joins", "dead_letters"] {
        trino(&["sql", &format!("DROP TABLE IF EXISTS default.{table}")]);
    }
    let file = common::scratch("trino-s3").join("tables.sql");
    std::fs::write(&file, text).unwrap();
    trino(&["sql-file", &file.display().to_string()]);
    let total = trino(&[
        "sql",
        "select count(*) from (select * from guild_joins union all select * from sword_purchases)",
    ]);
    assert_eq!(total, [["28"]]);
    let by_host = trino(&[
        "sql",
        "select host, count(*) from sword_purchases group by host",
    ]);
    let ours = query_with_env(&queries[1], env);
    let theirs: Vec<serde_json::Value> = by_host.iter().map(|r| serde_json::json!(r)).collect();
    assert_eq!(normalized(&theirs), normalized(&ours));
}

/// The `X-Id` header of every row of `table` below `root`: of its visible
/// Parquet files by pyarrow, or of its Delta table's latest snapshot by the
/// `deltalake` package.
fn ids_in_s3(root: &str, table: &str, delta: bool) -> Vec<String> {
    let python = common::python().expect("PIPEC_TEST_PYTHON names the test venv's python");
    let script = r#"
import json, os, sys
import pyarrow.dataset as ds
from pyarrow import fs
root, table = sys.argv[1], sys.argv[2]
endpoint = os.environ["AWS_ENDPOINT_URL"]
s3 = fs.S3FileSystem(
    endpoint_override=endpoint.split("://", 1)[1], scheme=endpoint.split("://", 1)[0],
    access_key=os.environ["AWS_ACCESS_KEY_ID"], secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    region=os.environ.get("AWS_REGION", "us-east-1"))
base = root[len("s3://"):] + "/" + table
files = [i.path for i in s3.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True))
         if i.type == fs.FileType.File and i.path.endswith(".parquet")
         and not i.path.rsplit("/", 1)[-1].startswith(".")]
raws = []
if sys.argv[3] == "delta":
    from deltalake import DeltaTable
    options = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
               "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
               "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"), "AWS_ALLOW_HTTP": "true"}
    raws = DeltaTable("s3://" + base, storage_options=options).to_pyarrow_table(columns=["raw_event"]).column(0).to_pylist()
elif files:
    raws = ds.dataset(files, filesystem=s3, format="parquet").to_table(columns=["raw_event"]).column(0).to_pylist()
print(json.dumps([json.loads(raw)["X-Id"] for raw in raws]))
sys.stdout.flush()
os._exit(0)
"#;
    let format = if delta { "delta" } else { "plain" };
    let output = Command::new(python)
        .args(["-c", script, root, table, format])
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "pyarrow on S3: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn s3_service(command: &str) {
    let status = Command::new("bash")
        .args(["tests/services/s3.sh", command])
        .current_dir(ROOT)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("bash runs");
    assert!(status.success(), "s3.sh {command}");
}

#[test]
fn an_object_store_outage_under_load_stops_no_sink_and_loses_nothing() {
    outage_under_load(PIPELINE, false);
}

#[test]
fn an_object_store_outage_under_load_loses_nothing_of_a_delta_table() {
    outage_under_load(DELTA_PIPELINE, true);
}

/// 20 s without the S3 server under load: no sink stops, and every
/// acknowledged event is in its table once afterwards.
fn outage_under_load(pipeline: &str, delta: bool) {
    let Some(bucket) = common::s3_bucket() else {
        return;
    };
    let _server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let root = format!("{bucket}/{}", common::unique("outage"));
    let pipec = Pipec::start_with_env(
        &[pipeline, "--listen", "127.0.0.1:0"],
        &[("PIPEC_S3_ROOT", &root), ("RUST_LOG", "warn")],
    );
    let addr = pipec.addr;
    let stop_load = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let stop_load = stop_load.clone();
        std::thread::spawn(move || {
            let mut acknowledged = Vec::new();
            let mut refused = 0;
            let mut i = 0;
            while !stop_load.load(std::sync::atomic::Ordering::Relaxed) {
                let id = format!("id-{i}");
                i += 1;
                let response = common::http::request(
                    addr,
                    "GET",
                    "/purchase_a_sword",
                    &[("X-Id", id.as_str())],
                    b"",
                );
                match response.status {
                    200 => acknowledged.push(id),
                    _ => refused += 1,
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (acknowledged, refused)
        })
    };
    std::thread::sleep(Duration::from_secs(4));
    s3_service("stop");
    let outage = Instant::now();
    std::thread::sleep(Duration::from_secs(20));
    s3_service("start");
    eprintln!("S3 was down for {:?}", outage.elapsed());
    std::thread::sleep(Duration::from_secs(4));
    stop_load.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acknowledged, refused) = load.join().unwrap();
    eprintln!(
        "{} requests acknowledged, {refused} refused during the run",
        acknowledged.len()
    );
    assert!(
        acknowledged.len() > 500,
        "the load ran: {}",
        acknowledged.len()
    );
    let status = pipec.stop();
    assert!(
        status.success(),
        "pipec exits cleanly: no sink stopped ({status:?})"
    );
    let written = ids_in_s3(&root, "sword_purchases", delta);
    let mut counts = std::collections::BTreeMap::new();
    for id in &written {
        *counts.entry(id.as_str()).or_insert(0) += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "written more than once: {twice:?}");
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged ids missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}
