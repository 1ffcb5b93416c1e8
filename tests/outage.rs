//! A 20-second broker outage under steady load, on a broker of the test's
//! own: while it is down no request is acknowledged; after it the API
//! recovers by itself, and every acknowledged event is in the tables once.

mod common;

use common::{drain_once, kafka_broker, scratch, unique, written_once, Pipec};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const PORT: u16 = 29192;

fn kafka(command: &str, state: &str) {
    let status = Command::new("bash")
        .arg(common::path("tests/services/kafka.sh"))
        .arg(command)
        .env("PIPEC_KAFKA_PORT", PORT.to_string())
        .env("PIPEC_KAFKA_STATE", state)
        .status()
        .expect("kafka.sh runs");
    assert!(status.success(), "kafka.sh {command}");
}

/// This test's own broker, stopped (data wiped) when the test ends.
struct BrokerGuard(String);

impl Drop for BrokerGuard {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(common::path("tests/services/kafka.sh"))
            .arg("reset")
            .env("PIPEC_KAFKA_PORT", PORT.to_string())
            .env("PIPEC_KAFKA_STATE", &self.0)
            .status();
    }
}

struct Sent {
    id: String,
    status: Option<u16>,
    sent: Instant,
    answered: Instant,
}

/// `--delivery-timeout` of the run under load.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(3);
/// Clients sending at once.
const LOADERS: usize = 8;

#[test]
fn a_broker_outage_of_20_seconds_loses_no_acknowledged_event() {
    if kafka_broker().is_none() || common::python().is_none() {
        return;
    }
    let outage = Duration::from_secs(
        std::env::var("PIPEC_OUTAGE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20),
    );
    let state = format!("/tmp/pipec-kafka-outage20-{}", std::process::id());
    kafka("reset", &state);
    kafka("start", &state);
    // Stopped however the test ends: a broker left on its port would fail
    // the next run's start.
    let _broker = BrokerGuard(state.clone());
    let bootstrap = format!("127.0.0.1:{PORT}");
    let data = scratch("outage");
    let data_arg = data.display().to_string();
    let pipec = Pipec::start(&[
        "tests/pipelines/crash.pipe",
        "--listen",
        "127.0.0.1:0",
        "--brokers",
        &bootstrap,
        "--data-dir",
        &data_arg,
        "--delivery-timeout",
        &DELIVERY_TIMEOUT.as_secs().to_string(),
    ]);
    let run = unique("outage");
    let stop = AtomicBool::new(false);
    let addr = pipec.addr;
    let (sent, down_at, up_at) = std::thread::scope(|scope| {
        // Load from several clients at once, so requests are open together
        // when the broker goes.
        let loaders: Vec<_> = (0..LOADERS)
            .map(|loader| {
                scope.spawn({
                    let (run, stop) = (&run, &stop);
                    move || {
                        let mut sent = Vec::new();
                        let mut seq = 0;
                        while !stop.load(Ordering::Relaxed) {
                            seq += 1;
                            let id = format!("{run}-{loader}-{seq}");
                            let started = Instant::now();
                            let response = common::http::try_request(
                                addr,
                                "GET",
                                &format!("/event?id={id}&kind=a"),
                            );
                            sent.push(Sent {
                                id,
                                status: response.map(|r| r.status),
                                sent: started,
                                answered: Instant::now(),
                            });
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        sent
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(3));
        kafka("stop", &state);
        let down_at = Instant::now();
        std::thread::sleep(outage);
        let up_at = Instant::now();
        kafka("start", &state);
        std::thread::sleep(Duration::from_secs(8));
        stop.store(true, Ordering::Relaxed);
        let sent: Vec<Sent> = loaders
            .into_iter()
            .flat_map(|loader| loader.join().unwrap())
            .collect();
        (sent, down_at, up_at)
    });

    // Every request is answered within the delivery timeout plus 1 s: 503
    // when the broker did not acknowledge in time, never an open socket.
    let unanswered = sent.iter().filter(|s| s.status.is_none()).count();
    assert_eq!(unanswered, 0, "requests without an answer");
    let longest = sent
        .iter()
        .map(|s| s.answered.duration_since(s.sent))
        .max()
        .unwrap_or_default();
    assert!(
        longest <= DELIVERY_TIMEOUT + Duration::from_secs(1),
        "a request was open for {longest:?}, over the delivery timeout ({DELIVERY_TIMEOUT:?}) plus 1 s"
    );

    let during: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.sent >= down_at && s.answered < up_at)
        .collect();
    let acknowledged_during: Vec<_> = during
        .iter()
        .filter(|s| s.status == Some(200))
        .map(|s| &s.id)
        .collect();
    assert!(
        during.len() >= 5,
        "the load went on during the outage: {}",
        during.len()
    );
    assert!(
        acknowledged_during.is_empty(),
        "acknowledged while the broker was down: {acknowledged_during:?}"
    );
    let recovered = sent
        .iter()
        .find(|s| s.sent >= up_at && s.status == Some(200))
        .map(|s| s.answered.duration_since(up_at))
        .expect("the API recovered after the broker came back");
    assert!(
        recovered < Duration::from_secs(30),
        "recovery took {recovered:?}"
    );
    assert!(pipec.stop().success());

    drain_once("tests/pipelines/crash.pipe", &bootstrap, &data_arg);
    let written = written_once(&data, "all_events", &format!("{run}-"));
    let acknowledged: BTreeSet<String> = sent
        .iter()
        .filter(|s| s.status == Some(200))
        .map(|s| s.id.clone())
        .collect();
    let missing: Vec<_> = acknowledged.difference(&written).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not written: {missing:?}"
    );
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for s in &sent {
        *statuses
            .entry(s.status.map_or("no answer".into(), |c| c.to_string()))
            .or_default() += 1;
    }
    eprintln!(
        "outage: {outage:?} down, {} requests from {LOADERS} clients ({statuses:?}), the longest open {longest:?}, {} during the outage all refused, recovered {recovered:?} after restart, {} acknowledged, {} written, 0 lost, 0 duplicated",
        sent.len(),
        during.len(),
        acknowledged.len(),
        written.len()
    );
    kafka("reset", &state);
}
