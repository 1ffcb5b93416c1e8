//! `pipec run` against a real Apache Kafka broker, which `tests/run.sh`
//! starts (tests/services/kafka.sh) and names in `PIPEC_TEST_KAFKA`; read
//! back with kcat.

mod common;

use common::{kcat_read, unique, Pipec};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

fn broker() -> Option<String> {
    common::kafka_broker()
}

/// A small deterministic generator for the seed's random request counts.
struct Counts(u64);

impl Counts {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        low + (self.0 >> 33) % (high - low + 1)
    }
}

#[test]
fn the_seed_load_lands_in_the_topic_exactly() {
    let Some(bootstrap) = broker() else { return };
    let pipec = Pipec::start(&[
        "pipelines/game_events.pipe",
        "--listen",
        "127.0.0.1:0",
        "--brokers",
        &bootstrap,
    ]);
    let run = unique("seed");
    let mut counts = Counts(std::process::id() as u64);
    let mut sent: BTreeMap<(String, String), u64> = BTreeMap::new();
    // Two rounds of the seed's `ab` loop.
    for _ in 0..2 {
        for (host, low, high) in [("user1.comcast.com", 6, 30), ("user2.att.com", 1, 50)] {
            for (path, event_type) in [
                ("/", "default"),
                ("/purchase_a_sword", "purchase_sword"),
                ("/join_a_guild", "join_guild"),
            ] {
                for _ in 0..counts.between(low, high) {
                    let response = pipec.get(
                        path,
                        &[
                            ("Host", host),
                            ("User-Agent", "ApacheBench/2.3"),
                            ("Accept", "*/*"),
                            ("X-Test-Run", &run),
                        ],
                    );
                    assert_eq!(response.status, 200, "{}", response.text());
                    *sent
                        .entry((event_type.to_string(), host.to_string()))
                        .or_default() += 1;
                }
            }
        }
    }
    let total: u64 = sent.values().sum();
    assert!(total >= 100, "a few hundred requests, got {total}");

    let events: Vec<_> = kcat_read(&bootstrap, "events")
        .into_iter()
        .filter(|e| e["X-Test-Run"] == run.as_str())
        .collect();
    let mut received: BTreeMap<(String, String), u64> = BTreeMap::new();
    for event in &events {
        // The seed's `log_to_kafka`: the event type plus the request headers.
        assert_eq!(event["User-Agent"], "ApacheBench/2.3", "{event}");
        assert_eq!(event["Accept"], "*/*", "{event}");
        let key = (
            event["event_type"].as_str().unwrap().to_string(),
            event["Host"].as_str().unwrap().to_string(),
        );
        *received.entry(key).or_default() += 1;
    }
    assert_eq!(received, sent, "per event type and host");
    assert_eq!(events.len() as u64, total);
    assert!(pipec.stop().success());
}

/// A second broker of our own, so stopping it disturbs no other test.
struct OwnBroker {
    port: u16,
    state: String,
}

impl OwnBroker {
    fn start(port: u16) -> OwnBroker {
        let broker = OwnBroker {
            port,
            state: format!("/tmp/pipec-kafka-outage-{}", std::process::id()),
        };
        broker.script("reset");
        broker.script("start");
        broker
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn script(&self, command: &str) {
        let status = Command::new("bash")
            .arg(common::path("tests/services/kafka.sh"))
            .arg(command)
            .env("PIPEC_KAFKA_PORT", self.port.to_string())
            .env("PIPEC_KAFKA_STATE", &self.state)
            .status()
            .expect("kafka.sh runs");
        assert!(status.success(), "kafka.sh {command} failed");
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.script("reset");
    }
}

#[test]
fn with_the_broker_down_no_event_is_acknowledged() {
    if broker().is_none() {
        return;
    }
    let own = OwnBroker::start(29092);
    let pipec = Pipec::start(&[
        "pipelines/game_events.pipe",
        "--listen",
        "127.0.0.1:0",
        "--brokers",
        &own.bootstrap(),
        "--delivery-timeout",
        "3",
    ]);
    let run = unique("outage");
    let send = |seq: usize| {
        pipec.get(
            "/purchase_a_sword",
            &[("X-Test-Run", run.as_str()), ("X-Seq", &seq.to_string())],
        )
    };
    let mut acknowledged = Vec::new();
    let first = send(0);
    assert_eq!(first.status, 200, "{}", first.text());
    acknowledged.push(0);

    own.script("stop");
    let during: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=6)
            .map(|seq| scope.spawn(move || (seq, send(seq))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (seq, response) in &during {
        assert_eq!(
            response.status,
            503,
            "event {seq} during the outage: {}",
            response.text()
        );
        assert_eq!(response.json()["error"], "not_delivered");
    }

    own.script("start");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seq = 100;
    loop {
        let response = send(seq);
        if response.status == 200 {
            acknowledged.push(seq);
            break;
        }
        assert_eq!(response.status, 503, "{}", response.text());
        assert!(
            Instant::now() < deadline,
            "the API did not recover after the broker came back"
        );
        seq += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    let present: Vec<usize> = kcat_read(&own.bootstrap(), "events")
        .iter()
        .filter(|e| e["X-Test-Run"] == run.as_str())
        .map(|e| e["X-Seq"].as_str().unwrap().parse().unwrap())
        .collect();
    for seq in &acknowledged {
        assert!(
            present.contains(seq),
            "acknowledged event {seq} is missing: {present:?}"
        );
    }
    assert!(pipec.stop().success());
}

#[test]
fn missing_topics_are_created_with_their_declared_partitions() {
    let Some(bootstrap) = broker() else { return };
    let pipec = Pipec::start_with_env(
        &[
            "examples/storefront.pipe",
            "--listen",
            "127.0.0.1:0",
            "--brokers",
            &bootstrap,
        ],
        &[("SHOP_API_TOKEN", "t")],
    );
    let output = Command::new("kcat")
        .args(["-L", "-b", &bootstrap, "-t", "purchases", "-J"])
        .output()
        .expect("kcat runs");
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("JSON metadata");
    let partitions = metadata["topics"][0]["partitions"]
        .as_array()
        .expect("the topic exists");
    assert_eq!(partitions.len(), 6, "{metadata}");
    assert!(pipec.stop().success());
}
