//! Helpers for the end-to-end tests: the real `pipec` binary as a process,
//! a raw HTTP/1.1 client (so tests control every byte, the `Host` header
//! included) and `kcat` as the independent Kafka client.
#![allow(dead_code)]

pub mod http;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A running `pipec run`, stopped with SIGKILL if the test forgets.
pub struct Pipec {
    child: Child,
    pub addr: SocketAddr,
    /// The Kafka bootstrap servers from the banner.
    pub bootstrap: String,
    pub banner: Vec<String>,
}

impl Pipec {
    /// `pipec run ARGS...` from the repository root; waits for the banner.
    pub fn start(args: &[&str]) -> Pipec {
        Pipec::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Pipec {
        Pipec::spawn(args, env, Stdio::inherit())
    }

    /// The same, with the log (stderr) written to `log`, for tests that
    /// read what pipec said while it runs.
    pub fn start_logged(args: &[&str], env: &[(&str, &str)], log: &Path) -> Pipec {
        let file = std::fs::File::create(log).expect("the log file is created");
        Pipec::spawn(args, env, Stdio::from(file))
    }

    fn spawn(args: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Pipec {
        let mut command = pipec_run(args);
        command.stdout(Stdio::piped()).stderr(stderr);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("pipec starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut banner = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match lines_rx.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!("pipec printed no `listening` line ({status:?}); banner so far: {banner:#?}");
                }
            };
            banner.push(line.clone());
            if let Some(addr) = line.split("listening on http://").nth(1) {
                let addr = addr
                    .split_whitespace()
                    .next()
                    .and_then(|a| a.parse().ok())
                    .expect("an address");
                let bootstrap = banner
                    .iter()
                    .find_map(|l| {
                        l.split("embedded broker at ")
                            .nth(1)
                            .or_else(|| l.split("kafka    brokers ").nth(1))
                            .map(|rest| {
                                rest.split_whitespace()
                                    .next()
                                    .unwrap_or_default()
                                    .to_string()
                            })
                    })
                    .expect("the banner names the brokers");
                return Pipec {
                    child,
                    addr,
                    bootstrap,
                    banner,
                };
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> http::Response {
        http::request(self.addr, "GET", path, headers, b"")
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> http::Response {
        http::request(self.addr, "POST", path, headers, body)
    }

    /// The exit status, if the process ends by itself within `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> ExitStatus {
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "pipec did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Pipec {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Every message of `topic`, read from the beginning with `kcat`, as JSON.
pub fn kcat_read(bootstrap: &str, topic: &str) -> Vec<serde_json::Value> {
    let output = Command::new("kcat")
        .args([
            "-C",
            "-b",
            bootstrap,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
        ])
        .output()
        .expect("kcat is installed (tests/services/tools.sh installs it)");
    assert!(
        output.status.success(),
        "kcat failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8 messages")
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A unique string, to find this test's events among others on a shared broker.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

pub fn path(relative: &str) -> String {
    Path::new(ROOT).join(relative).display().to_string()
}

/// The Python of the venv `tests/run.sh` makes (pyarrow, DuckDB), if any.
pub fn python() -> Option<String> {
    std::env::var("PIPEC_TEST_PYTHON").ok()
}

/// Runs the Spark script `tests/engines/SCRIPT` with ARGS and a report
/// path, in WORK, with the test venv's `python`; the JSON report it wrote.
pub fn spark_report(
    python: &str,
    script: &str,
    args: &[&std::ffi::OsStr],
    work: &Path,
) -> serde_json::Value {
    let out = work.join("spark.json");
    let spark = Command::new(python)
        .arg(path(&format!("tests/engines/{script}")))
        .args(args)
        .arg(&out)
        .current_dir(work)
        .output()
        .expect("python runs");
    assert!(
        spark.status.success(),
        "Spark failed:\n{}",
        String::from_utf8_lossy(&spark.stderr)
    );
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

/// Rows of a DuckDB query, run by the independent reader.
pub fn duckdb(sql: &str) -> Vec<Vec<serde_json::Value>> {
    let python = python().expect("PIPEC_TEST_PYTHON names the test venv's python");
    let script = "import duckdb, json, sys\n\
                  rows = duckdb.sql(sys.argv[1]).fetchall()\n\
                  print(json.dumps([list(r) for r in rows], default=str))";
    let output = Command::new(python)
        .args(["-c", script, sql])
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "DuckDB failed on {sql}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON rows")
}

/// A fresh directory under the test target dir.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file below `dir`, relative, sorted.
pub fn files_below(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `pipec ARGS...` from the repository root, with no colour, to be run.
pub fn pipec_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipec"));
    command.args(args).current_dir(ROOT).env("NO_COLOR", "1");
    command
}

/// `pipec ARGS...` run to the end (see [`pipec_command`]).
pub fn pipec(args: &[&str]) -> std::process::Output {
    pipec_command(args).output().expect("pipec runs")
}

/// A command's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `pipec run ARGS...` from the repository root, quiet, with no broker
/// from the environment.
fn pipec_run(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipec"));
    command
        .arg("run")
        .args(args)
        .current_dir(ROOT)
        .env("RUST_LOG", "warn")
        .env_remove("PIPEC_BROKERS")
        .stdin(Stdio::null());
    command
}

/// `pipec run ARGS...` to the end, for `--once` runs.
pub fn run_to_end(args: &[&str]) -> std::process::Output {
    pipec_run(args).output().expect("pipec runs")
}

/// The real broker `tests/run.sh` started, or `None` (and a note) without one.
pub fn kafka_broker() -> Option<String> {
    match std::env::var("PIPEC_TEST_KAFKA") {
        Ok(bootstrap) => Some(bootstrap),
        Err(_) if std::env::var_os("PIPEC_REQUIRE_KAFKA").is_some() => {
            panic!("PIPEC_REQUIRE_KAFKA is set but PIPEC_TEST_KAFKA names no broker")
        }
        Err(_) => {
            eprintln!("no PIPEC_TEST_KAFKA: skipping; `bash tests/run.sh` starts a broker");
            None
        }
    }
}

/// The bucket URL of the test S3 server (`s3://bucket`), or `None` (and a
/// note) without one. The `AWS_*` settings come from the environment.
pub fn s3_bucket() -> Option<String> {
    match std::env::var("PIPEC_TEST_S3_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("PIPEC_REQUIRE_KAFKA").is_some() => {
            panic!("tests/run.sh sets PIPEC_TEST_S3_URL")
        }
        Err(_) => {
            eprintln!("no PIPEC_TEST_S3_URL: skipping; `bash tests/run.sh` starts an S3 server");
            None
        }
    }
}

/// Seed-shaped Parquet files in a fresh data directory: `pipec run` of the
/// seed pipeline on the embedded broker, GETs per host and endpoint
/// (`counts` for `/`, `/purchase_a_sword`, `/join_a_guild`), then SIGTERM,
/// which drains the topic into the tables.
pub fn seed_files(name: &str, hosts: &[(&str, [usize; 3])]) -> std::path::PathBuf {
    seed_files_of("pipelines/game_events.pipe", name, hosts)
}

/// The same through another seed-shaped pipeline (its Delta twin, say).
pub fn seed_files_of(
    pipeline: &str,
    name: &str,
    hosts: &[(&str, [usize; 3])],
) -> std::path::PathBuf {
    let data = scratch(name);
    let data_env = data.display().to_string();
    let pipec = Pipec::start_with_env(
        &[pipeline, "--listen", "127.0.0.1:0"],
        &[("PIPEC_DATA_DIR", &data_env)],
    );
    for (host, counts) in hosts {
        for (path, count) in ["/", "/purchase_a_sword", "/join_a_guild"]
            .iter()
            .zip(counts)
        {
            for _ in 0..*count {
                let response = pipec.get(path, &[("Host", host), ("Accept", "*/*")]);
                assert_eq!(response.status, 200);
            }
        }
    }
    assert!(pipec.stop().success());
    data
}

/// The seed's four queries, from `examples/seed_queries.sql`, without `;`.
pub fn seed_queries() -> Vec<String> {
    std::fs::read_to_string(path("examples/seed_queries.sql"))
        .unwrap()
        .split(';')
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_string)
        .collect()
}

/// `pipec run PIPELINE --role sinks --once` on `bootstrap`, to its end.
pub fn once(pipeline: &str, bootstrap: &str, data_dir: &str) -> std::process::Output {
    run_to_end(&[
        pipeline,
        "--role",
        "sinks",
        "--once",
        "--listen",
        "127.0.0.1:0",
        "--brokers",
        bootstrap,
        "--data-dir",
        data_dir,
    ])
}

/// `pipec run PIPELINE --role sinks --once` on `bootstrap` into `data_dir`:
/// reads what the topics hold, writes it, and must exit 0; its summary.
pub fn drain_once(pipeline: &str, bootstrap: &str, data_dir: &str) -> String {
    let output = once(pipeline, bootstrap, data_dir);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The `request_id`s in the Parquet files of `table` that start with
/// `prefix`, by DuckDB, asserting none is written twice.
pub fn written_once(
    data_dir: &Path,
    table: &str,
    prefix: &str,
) -> std::collections::BTreeSet<String> {
    let rows = duckdb(&format!(
        "select request_id, count(*) from read_parquet('{}/{table}/**/*.parquet') group by all",
        data_dir.display()
    ));
    let mut written = std::collections::BTreeSet::new();
    for row in &rows {
        let id = row[0].as_str().unwrap().to_string();
        assert_eq!(row[1], 1, "{table}: {id} is written {} times", row[1]);
        // The topic may hold other runs' events; this run's are ours.
        if id.starts_with(prefix) {
            written.insert(id);
        }
    }
    written
}

/// The rows `pipec query PIPELINE --data-dir DIR --format json SQL` answers,
/// as arrays of values in column order.
pub fn pipec_query_rows(pipeline: &str, data_dir: &str, sql: &str) -> Vec<serde_json::Value> {
    pipec_query_rows_with_env(pipeline, data_dir, sql, &[])
}

/// The same, with environment values (an S3 root, say).
pub fn pipec_query_rows_with_env(
    pipeline: &str,
    data_dir: &str,
    sql: &str,
    env: &[(&str, &str)],
) -> Vec<serde_json::Value> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipec"));
    command
        .args([
            "query",
            pipeline,
            "--data-dir",
            data_dir,
            "--format",
            "json",
            sql,
        ])
        .current_dir(ROOT);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("pipec runs");
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&output.stdout).expect("JSON rows");
    rows.into_iter()
        .map(|row| serde_json::Value::Array(row.into_iter().map(|(_, v)| v).collect()))
        .collect()
}

/// Runs `trino.sh ARGS` (`sql STATEMENT`, `sql-file FILE`) of the test
/// Trino; its CSV rows (every value quoted, no header).
pub fn trino_sql(script: &str, args: &[&str]) -> Vec<Vec<String>> {
    trino_sql_in(script, "hive", args)
}

/// The same with another session catalog (`hms`: the metastore's tables).
pub fn trino_sql_in(script: &str, catalog: &str, args: &[&str]) -> Vec<Vec<String>> {
    let output = Command::new("bash")
        .arg(script)
        .args(args)
        .env("PIPEC_TRINO_CATALOG", catalog)
        .current_dir(ROOT)
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "Trino refused {args:?}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            line.split("\",\"")
                .map(|v| v.trim_matches('"').to_string())
                .collect()
        })
        .collect()
}

/// Rows as a set of string tuples, so engines' row orders and number
/// types compare equal.
pub fn normalized(rows: &[serde_json::Value]) -> std::collections::BTreeSet<Vec<String>> {
    rows.iter()
        .map(|row| {
            row.as_array()
                .expect("a row is an array")
                .iter()
                .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                .collect()
        })
        .collect()
}
