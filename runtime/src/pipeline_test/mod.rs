//! `pipec test`: a pipeline file's `test` blocks, run through the real code
//! with an in-memory bus in place of Kafka.
//!
//! Each test gets a fresh bus and a fresh data directory. Its requests go
//! through the API's router (routing, auth, limits, event building); its
//! raw messages are appended to the bus as another producer's would be.
//! Then every topic's messages go through the same Kafka-free sink core a
//! Kafka reader feeds (`sink::core`: decoding, dead letters, the filters,
//! metadata columns), which writes Parquet files and checkpoints the same
//! two-phase way; the tables are read back through the catalog `pipec
//! query` uses, and compared with the expectations.
//!
//! Storage locations are redirected into the test's directory, so a test
//! of a pipeline that writes to `s3://` needs no bucket.

pub mod cells;
pub mod compare;

use crate::api::{self, ApiLimits, ApiState, Producer};
use crate::catalog;
use crate::memory_bus::MemoryBus;
use crate::metrics::Metrics;
use crate::sink::core::{Message, TopicSinks};
use axum::body::Body;
use cells::Rows;
use compare::RowDiff;
use http_body_util::BodyExt;
use pipec_compiler::plan::{Location, Plan};
use pipec_compiler::test_plan::{
    ExpectTarget, ExpectedResponse, Given, PipelineTest, TableExpectation, TestRequest, TextMatch,
};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// How one test went.
#[derive(Debug)]
pub struct TestReport {
    pub name: String,
    /// Byte offset of the test's name in the file.
    pub at: usize,
    pub failures: Vec<Failure>,
    pub elapsed: Duration,
}

impl TestReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// One expectation that did not hold, or why the test could not run.
#[derive(Debug)]
pub struct Failure {
    /// Byte offset of the expectation in the file.
    pub at: usize,
    pub message: String,
    pub diff: Option<RowDiff>,
}

/// Runs one test in `scratch` (a directory of its own, created here).
pub async fn run_test(plan: &Plan, test: &PipelineTest, scratch: &Path) -> TestReport {
    let started = Instant::now();
    let mut failures = Vec::new();
    if let Err(message) = run_into(plan, test, scratch, &mut failures).await {
        failures.push(Failure {
            at: test.span.start,
            message: format!("the test could not run: {message}"),
            diff: None,
        });
    }
    TestReport {
        name: test.name.clone(),
        at: test.span.start,
        failures,
        elapsed: started.elapsed(),
    }
}

async fn run_into(
    plan: &Plan,
    test: &PipelineTest,
    scratch: &Path,
    failures: &mut Vec<Failure>,
) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(scratch);
    std::fs::create_dir_all(scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let plan = local(plan);
    let bus = Arc::new(MemoryBus::new(&plan));
    let state = Arc::new(ApiState {
        plan: Arc::new(plan.clone()),
        producer: Producer::Memory(bus.clone()),
        metrics: Arc::new(Metrics::new()),
        backlog: None,
        limits: ApiLimits::default(),
        serve_endpoints: true,
        sql: None,
        stopping: std::sync::OnceLock::new(),
    });
    let router = api::router(state);
    for given in &test.given {
        match given {
            Given::Request(request) => {
                let (status, body) = send(&router, request).await?;
                if let Some(expected) = &request.expect {
                    failures.extend(check_response(request, expected, status, &body));
                } else if !(200..300).contains(&status) {
                    failures.push(Failure {
                        at: request.span.start,
                        message: format!(
                            "{} {} was answered {status}, not 2xx: {}",
                            request.method.as_str(),
                            request.path,
                            String::from_utf8_lossy(&body)
                        ),
                        diff: None,
                    });
                }
            }
            Given::Message(message) => {
                bus.send(
                    &message.topic.name,
                    message.key.as_deref().map(str::as_bytes),
                    message.payload.as_bytes(),
                );
            }
        }
    }
    for topic in &plan.topics {
        write_sinks(&plan, &topic.name, &bus, scratch).await?;
    }
    let (ctx, _) = catalog::session(&plan, scratch)
        .await
        .map_err(|e| format!("cannot open the tables: {e}"))?;
    for expectation in &test.expect {
        let rows = read_table(&ctx, &plan, expectation).await?;
        if let Some(diff) = compare::compare(expectation, &rows) {
            failures.push(Failure {
                at: expectation.span.start,
                message: diff.summary.clone(),
                diff: Some(diff),
            });
        }
    }
    Ok(())
}

/// The plan with every location inside the test's directory: relative
/// paths stay, absolute paths and URLs become relative ones.
fn local(plan: &Plan) -> Plan {
    let relative = |location: &Location| match location {
        Location::Relative(path) => Location::Relative(path.clone()),
        Location::Absolute(path) => {
            Location::Relative(format!("absolute/{}", path.trim_start_matches('/')))
        }
        Location::Url(url) => Location::Relative(format!("remote/{}", url.replace("://", "/"))),
    };
    let mut plan = plan.clone();
    for sink in &mut plan.sinks {
        sink.path = relative(&sink.path);
        sink.checkpoint = sink.checkpoint.as_ref().map(relative);
    }
    plan.dead_letters.path = relative(&plan.dead_letters.path);
    for table in &mut plan.tables {
        table.location = None;
    }
    plan
}

async fn send(router: &axum::Router, request: &TestRequest) -> Result<(u16, Vec<u8>), String> {
    let mut uri = request.path.clone();
    if !request.query.is_empty() {
        let query = serde_urlencoded::to_string(&request.query).map_err(|e| e.to_string())?;
        uri = format!("{uri}?{query}");
    }
    let mut builder = axum::http::Request::builder()
        .method(request.method.as_str())
        .uri(&uri);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let body = request.body.clone().unwrap_or_default();
    let http_request = builder
        .body(Body::from(body))
        .map_err(|e| format!("{} {uri}: {e}", request.method.as_str()))?;
    let response = router
        .clone()
        .oneshot(http_request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes()
        .to_vec();
    Ok((status, body))
}

fn check_response(
    request: &TestRequest,
    expected: &ExpectedResponse,
    status: u16,
    body: &[u8],
) -> Option<Failure> {
    let text = String::from_utf8_lossy(body);
    let what = format!("{} {}", request.method.as_str(), request.path);
    if status != expected.status {
        return Some(Failure {
            at: expected.span.start,
            message: format!(
                "{what} was answered {status}, expected {}; the body: {text:?}",
                expected.status
            ),
            diff: None,
        });
    }
    let (holds, wanted) = match &expected.body {
        None => return None,
        Some(TextMatch::Equals(want)) => (text == want.as_str(), format!("{want:?}")),
        Some(TextMatch::Contains(want)) => {
            (text.contains(want.as_str()), format!("contains {want:?}"))
        }
        Some(TextMatch::Matches(pattern)) => (
            regex::Regex::new(pattern).is_ok_and(|re| re.is_match(&text)),
            format!("matches {pattern:?}"),
        ),
    };
    (!holds).then(|| Failure {
        at: expected.span.start,
        message: format!("{what} answered {status} with the body {text:?}; expected {wanted}"),
        diff: None,
    })
}

/// Everything the topic holds, read and written once by each of its sinks,
/// as sinks with `trigger once` would.
async fn write_sinks(plan: &Plan, topic: &str, bus: &MemoryBus, dir: &Path) -> Result<(), String> {
    let metrics = Arc::new(Metrics::new());
    let mut sinks = TopicSinks::build(plan, topic, dir, metrics, None, "pipec-test".into())
        .map_err(|e| e.to_string())?;
    if sinks.is_empty() {
        return Ok(());
    }
    sinks.set_cluster("memory".into());
    for (partition, messages) in bus.partitions(topic).into_iter().enumerate() {
        let partition = partition as i32;
        sinks.open(partition).await.map_err(|e| e.to_string())?;
        for (offset, message) in messages.into_iter().enumerate() {
            sinks
                .accept(Message {
                    partition,
                    offset: offset as i64,
                    timestamp_micros: message.timestamp_micros,
                    payload: Some(message.payload),
                })
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    for index in 0..sinks.len() {
        sinks.write(index, None).await.map_err(|e| e.to_string())?;
        if sinks.has_rewound() {
            return Err(format!(
                "sink `{}`: the test's directory could not be written",
                sinks.name(index)
            ));
        }
    }
    Ok(())
}

async fn read_table(
    ctx: &datafusion::prelude::SessionContext,
    plan: &Plan,
    expectation: &TableExpectation,
) -> Result<Rows, String> {
    let (database, table) = match &expectation.target {
        ExpectTarget::Table(table) => {
            let table = &plan.tables[table.index()];
            (table.database.clone(), table.name.clone())
        }
        ExpectTarget::Sink(sink) => ("default".to_string(), sink.name.clone()),
        ExpectTarget::DeadLetters => (
            plan.dead_letters.database.clone(),
            plan.dead_letters.table.clone(),
        ),
    };
    let sql = format!(
        "SELECT * FROM \"{}\".\"{}\"",
        database.to_lowercase(),
        table.to_lowercase()
    );
    let batches = ctx
        .sql(&sql)
        .await
        .map_err(|e| format!("cannot read `{database}.{table}`: {e}"))?
        .collect()
        .await
        .map_err(|e| format!("cannot read `{database}.{table}`: {e}"))?;
    Rows::from_batches(&batches).map_err(|e| e.to_string())
}
