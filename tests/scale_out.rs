//! Scale out (issue 12): three `--role sinks` workers in one consumer group
//! on the real broker, a six-partition topic, one `--role api` under a load
//! whose every request carries a unique id. During the load a random worker
//! is killed with SIGKILL and restarted ten times, one is stopped (SIGSTOP)
//! past the session timeout and woken (a zombie), and all three restart one
//! after another. At the end the rows, read by an independent reader, are
//! the acknowledged ids exactly once; no hidden file is visible; no two files
//! of a partition overlap; no checkpoint ever moved back (watched all
//! along, on both stores). Once on a data directory the workers share, once
//! on S3; and both again with a Delta sink (`scale_out_delta.pipe`), whose
//! table is read by the `deltalake` package and whose log is watched: no
//! partition's txn version moves back, and no commit adds rows of a
//! partition from below the table's version for it (what a woken zombie
//! would do), while automatic compaction runs.

mod common;

use common::{kafka_broker, scratch, signal, unique, Pipec, ROOT};
use pipec_compiler::plan::Location;
use pipec_runtime::sink::checkpoint::CheckpointStore;
use pipec_runtime::storage::Storage;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the sink writes: plain Parquet files with checkpoints, or a Delta table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Plain,
    Delta,
}

impl Format {
    fn pipeline(self) -> &'static str {
        match self {
            Format::Plain => "tests/pipelines/scale_out.pipe",
            Format::Delta => "tests/pipelines/scale_out_delta.pipe",
        }
    }
}

/// The two runs share the topic and the consumer group: one at a time.
static GROUP: Mutex<()> = Mutex::new(());

/// Where the tables go: a local data directory, or an S3 prefix.
#[derive(Clone)]
enum Store {
    Local(std::path::PathBuf),
    S3(String),
}

impl Store {
    fn args(&self) -> Vec<String> {
        match self {
            Store::Local(dir) => vec!["--data-dir".into(), dir.display().to_string()],
            Store::S3(_) => vec![
                "--data-dir".into(),
                scratch("scale-unused").display().to_string(),
            ],
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Store::Local(_) => vec![],
            Store::S3(root) => vec![("PIPEC_SCALE_ROOT", root.clone())],
        }
    }

    fn start(&self, format: Format, bootstrap: &str, role: &str, worker: Option<&str>) -> Pipec {
        let mut args: Vec<String> = vec![
            format.pipeline().into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--brokers".into(),
            bootstrap.into(),
            "--role".into(),
            role.into(),
            "--status-interval".into(),
            "0".into(),
        ];
        args.extend(self.args());
        if let Some(worker) = worker {
            args.extend(["--worker-id".into(), worker.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Pipec::start_with_env(&args, &env)
    }

    /// Every object below the store's root, with the `request_id`s of
    /// `all_events`: of its visible Parquet files by pyarrow, or of its
    /// Delta table's latest snapshot by the `deltalake` package; never by
    /// pipec.
    fn read(&self, format: Format) -> (Vec<String>, Vec<String>) {
        let python = common::python().expect("PIPEC_TEST_PYTHON names the test venv's python");
        let script = r#"
import json, os, sys
import pyarrow.dataset as ds
from pyarrow import fs
root = sys.argv[1]
if root.startswith("s3://"):
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    filesystem = fs.S3FileSystem(
        endpoint_override=endpoint.split("://", 1)[1], scheme=endpoint.split("://", 1)[0],
        access_key=os.environ["AWS_ACCESS_KEY_ID"], secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ.get("AWS_REGION", "us-east-1"))
    base = root[len("s3://"):]
else:
    filesystem = fs.LocalFileSystem()
    base = root
infos = filesystem.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True))
objects = sorted(i.path[len(base) + 1:] for i in infos if i.type == fs.FileType.File)
files = [base + "/" + o for o in objects if o.startswith("all_events/") and o.endswith(".parquet")
         and not o.rsplit("/", 1)[-1].startswith(".")]
if sys.argv[2] == "delta":
    from deltalake import DeltaTable
    options = {}
    if root.startswith("s3://"):
        options = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
                   "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
                   "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"), "AWS_ALLOW_HTTP": "true",
                   "conditional_put": "etag"}
    table = root + "/all_events"
    ids = (DeltaTable(table, storage_options=options).to_pyarrow_table(columns=["request_id"]).column(0).to_pylist()
           if any(o.startswith("all_events/_delta_log/") for o in objects) else [])
else:
    ids = ds.dataset(files, filesystem=filesystem, format="parquet").to_table(columns=["request_id"]).column(0).to_pylist() if files else []
print(json.dumps({"objects": objects, "ids": ids}))
sys.stdout.flush()
os._exit(0)
"#;
        let root = match self {
            Store::Local(dir) => dir.join("scale").display().to_string(),
            Store::S3(root) => root.clone(),
        };
        let format = match format {
            Format::Plain => "plain",
            Format::Delta => "delta",
        };
        let output = std::process::Command::new(python)
            .args(["-c", script, &root, format])
            .output()
            .expect("python runs");
        assert!(
            output.status.success(),
            "pyarrow: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let strings = |key: &str| -> Vec<String> {
            read[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        (strings("objects"), strings("ids"))
    }
}

impl Store {
    /// A directory below the store's root.
    fn storage(&self, relative: &str) -> Storage {
        let location = match self {
            Store::Local(dir) => {
                Location::Absolute(dir.join("scale").join(relative).display().to_string())
            }
            Store::S3(root) => Location::Url(format!("{root}/{relative}")),
        };
        Storage::open(&location, std::path::Path::new(".")).unwrap()
    }

    /// What the watcher reads the offsets from.
    fn offsets(&self, format: Format) -> Offsets {
        match format {
            // Through the runtime's own reader of checkpoints (what is
            // checked is the values, not how they are read).
            Format::Plain => {
                Offsets::Checkpoints(CheckpointStore::new(self.storage("checkpoints/all_events")))
            }
            // The Delta log's JSON commits, read as the protocol defines them.
            Format::Delta => Offsets::DeltaLog {
                log: self.storage("all_events/_delta_log"),
                next_version: 0,
                versions: BTreeMap::new(),
                optimized: 0,
            },
        }
    }
}

/// Where the watcher sees each partition's committed offset.
enum Offsets {
    Checkpoints(CheckpointStore),
    DeltaLog {
        log: Storage,
        next_version: u64,
        /// Each partition's txn version as of the commits read so far.
        versions: BTreeMap<i32, i64>,
        /// Compaction commits seen among them.
        optimized: u64,
    },
}

impl Offsets {
    /// Each partition's committed offset now, and what was seen wrong on
    /// the way (a Delta commit adding rows from below the table's version).
    async fn read(&mut self) -> (BTreeMap<i32, i64>, Vec<String>) {
        match self {
            Offsets::Checkpoints(checkpoints) => {
                let mut offsets = BTreeMap::new();
                for partition in 0..6 {
                    if let Ok(Some(checkpoint)) = checkpoints.load("scale_events", partition).await
                    {
                        offsets.insert(partition, checkpoint.next_offset);
                    }
                }
                (offsets, Vec::new())
            }
            Offsets::DeltaLog {
                log,
                next_version,
                versions,
                optimized,
            } => {
                let mut wrong = Vec::new();
                let names: BTreeSet<String> =
                    log.list("").await.unwrap_or_default().into_iter().collect();
                loop {
                    let name = format!("{:020}.json", *next_version);
                    if !names.contains(&name) {
                        break;
                    }
                    let Ok(Some(commit)) = log.get(&name).await else {
                        break;
                    };
                    let mut moved = BTreeMap::new();
                    for line in String::from_utf8_lossy(&commit).lines() {
                        let action: serde_json::Value = serde_json::from_str(line).unwrap();
                        if action["commitInfo"]["operation"] == "OPTIMIZE" {
                            *optimized += 1;
                        }
                        if let Some(txn) = action.get("txn") {
                            let app = txn["appId"].as_str().unwrap();
                            let partition: i32 = app.rsplit('/').next().unwrap().parse().unwrap();
                            moved.insert(partition, txn["version"].as_i64().unwrap());
                        }
                        if let Some(add) = action.get("add").filter(|a| a["dataChange"] == true) {
                            let file = add["path"].as_str().unwrap().rsplit('/').next().unwrap();
                            if let Some((partition, first)) = delta_file_offset(file) {
                                let version = versions.get(&partition).copied().unwrap_or(0);
                                if first < version {
                                    wrong.push(format!("{name} adds partition {partition}'s rows from offset {first}, below its version {version}"));
                                }
                            }
                        }
                    }
                    versions.extend(moved);
                    *next_version += 1;
                }
                (versions.clone(), wrong)
            }
        }
    }
}

/// `part-scale_delta_events-PPP-FIRST-cluster-uuid.parquet` → (partition, first).
fn delta_file_offset(name: &str) -> Option<(i32, i64)> {
    let rest = name.strip_prefix("part-scale_delta_events-")?;
    let mut parts = rest.split('-');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// `part-scale_events-PPP-FIRST-LAST-cluster.parquet` → (partition, first, last).
fn offset_range(name: &str) -> Option<(u32, i64, i64)> {
    let rest = name.strip_prefix("part-scale_events-")?;
    let mut parts = rest.split('-');
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    ))
}

fn exactly_once_through_chaos(store: Store, format: Format) {
    let Some(bootstrap) = kafka_broker() else {
        return;
    };
    let _group = GROUP.lock().unwrap_or_else(|e| e.into_inner());
    let run = unique("scale");
    let api = store.start(format, &bootstrap, "api", None);
    let names = ["w1", "w2", "w3"];
    let mut workers: Vec<Option<Pipec>> = names
        .iter()
        .map(|n| Some(store.start(format, &bootstrap, "sinks", Some(n))))
        .collect();

    // The load: unique ids, acknowledged ones remembered.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, addr, run) = (stop.clone(), api.addr, run.clone());
        std::thread::spawn(move || {
            let mut acknowledged = BTreeSet::new();
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                seq += 1;
                let id = format!("{run}-{seq}");
                let path = format!("/event?id={id}");
                if common::http::try_request(addr, "GET", &path).is_some_and(|r| r.status == 200) {
                    acknowledged.insert(id);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            acknowledged
        })
    };
    // The watcher: no checkpoint (or txn version) may ever move back.
    let went_back = Arc::new(Mutex::new(Vec::new()));
    let stale = Arc::new(Mutex::new(Vec::new()));
    let watcher = {
        let (stop, mut offsets, went_back, stale) = (
            stop.clone(),
            store.offsets(format),
            went_back.clone(),
            stale.clone(),
        );
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let mut highest: BTreeMap<i32, i64> = BTreeMap::new();
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (now, wrong) = runtime.block_on(offsets.read());
                stale.lock().unwrap().extend(wrong);
                for (partition, offset) in now {
                    let high = highest.entry(partition).or_insert(offset);
                    if offset < *high {
                        went_back.lock().unwrap().push((partition, *high, offset));
                    }
                    *high = (*high).max(offset);
                }
                reads += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            (reads, offsets)
        })
    };

    let mut rng = std::process::id() as u64;
    let mut next = || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        rng >> 33
    };
    std::thread::sleep(Duration::from_secs(3));
    // Ten kills, each worker restarted at once under its name.
    for _ in 0..10 {
        let victim = (next() % 3) as usize;
        let worker = workers[victim].take().unwrap();
        signal(worker.pid(), "KILL");
        drop(worker);
        workers[victim] = Some(store.start(format, &bootstrap, "sinks", Some(names[victim])));
        std::thread::sleep(Duration::from_millis(1000 + next() % 2000));
    }
    // A zombie: paused past the 10 s session, then woken.
    let paused = workers[0].as_ref().unwrap().pid();
    signal(paused, "STOP");
    std::thread::sleep(Duration::from_secs(14));
    signal(paused, "CONT");
    std::thread::sleep(Duration::from_secs(3));
    // A rolling restart.
    for (i, name) in names.iter().enumerate() {
        let worker = workers[i].take().unwrap();
        assert!(worker.stop().success(), "{name} stops cleanly");
        workers[i] = Some(store.start(format, &bootstrap, "sinks", Some(name)));
        std::thread::sleep(Duration::from_secs(2));
    }
    // Hand-over, measured: a worker killed and restarted at once; then how
    // long until events sent after its restart are all in the tables.
    let worker = workers[1].take().unwrap();
    signal(worker.pid(), "KILL");
    drop(worker);
    let restarted = Instant::now();
    workers[1] = Some(store.start(format, &bootstrap, "sinks", Some(names[1])));
    let probes: Vec<String> = (0..60).map(|i| format!("{run}-probe-{i}")).collect();
    for probe in &probes {
        let response = api.get(&format!("/event?id={probe}"), &[]);
        assert_eq!(response.status, 200);
    }
    let handed_over = loop {
        let (_, ids) = store.read(format);
        let ids: BTreeSet<String> = ids.into_iter().collect();
        if probes.iter().all(|p| ids.contains(p)) {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(60),
            "the restarted worker's partitions were not written within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("hand-over after kill -9 and restart: every partition written again {handed_over:?} after the restart (trigger 1 s)");

    stop.store(true, Ordering::Relaxed);
    let acknowledged = load.join().unwrap();
    let (reads, offsets) = watcher.join().unwrap();
    eprintln!("the checkpoints were read {reads} times while the workers ran");
    assert!(reads > 100, "the watcher watched");
    for (i, worker) in workers.into_iter().enumerate() {
        assert!(
            worker.unwrap().stop().success(),
            "{} stops cleanly",
            names[i]
        );
    }
    drop(api);
    // What the workers held when they stopped stays in Kafka: one backfill
    // reads it (it claims every partition, as any worker would).
    let mut args = vec![
        format.pipeline().to_string(),
        "--role".into(),
        "sinks".into(),
        "--once".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--brokers".into(),
        bootstrap.clone(),
    ];
    args.extend(store.args());
    let mut backfill = std::process::Command::new(env!("CARGO_BIN_EXE_pipec"));
    backfill
        .arg("run")
        .args(&args)
        .current_dir(ROOT)
        .env("RUST_LOG", "warn");
    for (key, value) in store.env() {
        backfill.env(key, value);
    }
    let output = backfill.output().expect("pipec runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    assert!(
        acknowledged.len() >= 1000,
        "only {} events were acknowledged",
        acknowledged.len()
    );
    let (objects, ids) = store.read(format);
    let hidden: Vec<&String> = objects
        .iter()
        .filter(|o| {
            let name = o.rsplit('/').next().unwrap();
            name.starts_with('.') && !name.ends_with(".json.lock")
        })
        .collect();
    assert!(hidden.is_empty(), "hidden files remain: {hidden:?}");
    let mut ranges: BTreeMap<u32, Vec<(i64, i64)>> = BTreeMap::new();
    for object in &objects {
        if let Some((partition, first, last)) = offset_range(object.rsplit('/').next().unwrap()) {
            ranges.entry(partition).or_default().push((first, last));
        }
    }
    for (partition, ranges) in &mut ranges {
        ranges.sort();
        for pair in ranges.windows(2) {
            assert!(
                pair[0].1 < pair[1].0,
                "partition {partition}: files {:?} and {:?} overlap",
                pair[0],
                pair[1]
            );
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &ids {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    let ours: BTreeSet<&str> = counts
        .keys()
        .copied()
        .filter(|id| id.starts_with(&run) && !id.contains("-probe-"))
        .collect();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !ours.contains(id.as_str()))
        .take(5)
        .collect();
    let extra = ours
        .iter()
        .filter(|id| !acknowledged.contains(**id))
        .count();
    eprintln!(
        "{} acknowledged, {} rows of this run, {} written twice, {} missing, {} not acknowledged (refused or cut off, yet in Kafka)",
        acknowledged.len(),
        ours.len(),
        twice.len(),
        missing.len(),
        extra
    );
    assert!(twice.is_empty(), "written more than once: {twice:?}");
    assert!(missing.is_empty(), "acknowledged but missing: {missing:?}");
    let went_back = went_back.lock().unwrap();
    assert!(
        went_back.is_empty(),
        "checkpoints moved back: {went_back:?}"
    );
    let stale = stale.lock().unwrap();
    assert!(stale.is_empty(), "stale commits landed: {stale:?}");
    if let Offsets::DeltaLog {
        next_version,
        optimized,
        ..
    } = offsets
    {
        eprintln!("the Delta log: {next_version} commits watched, {optimized} of them compactions");
        assert!(
            optimized >= 1,
            "automatic compaction ran beside the workers"
        );
    }
}

#[test]
fn three_workers_on_a_shared_data_directory_write_each_event_once() {
    exactly_once_through_chaos(Store::Local(scratch("scale-local")), Format::Plain);
}

#[test]
fn three_workers_commit_each_event_once_to_a_delta_table_on_a_shared_directory() {
    exactly_once_through_chaos(Store::Local(scratch("scale-delta-local")), Format::Delta);
}

#[test]
fn three_workers_on_s3_write_each_event_once() {
    let Ok(bucket) = std::env::var("PIPEC_TEST_S3_URL") else {
        assert!(
            std::env::var_os("PIPEC_REQUIRE_KAFKA").is_none(),
            "tests/run.sh sets PIPEC_TEST_S3_URL"
        );
        return;
    };
    exactly_once_through_chaos(
        Store::S3(format!("{bucket}/{}", unique("scale"))),
        Format::Plain,
    );
}

#[test]
fn three_workers_commit_each_event_once_to_a_delta_table_on_s3() {
    let Ok(bucket) = std::env::var("PIPEC_TEST_S3_URL") else {
        assert!(
            std::env::var_os("PIPEC_REQUIRE_KAFKA").is_none(),
            "tests/run.sh sets PIPEC_TEST_S3_URL"
        );
        return;
    };
    exactly_once_through_chaos(
        Store::S3(format!("{bucket}/{}", unique("scale-delta"))),
        Format::Delta,
    );
}
