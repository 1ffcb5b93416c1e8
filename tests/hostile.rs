//! Hostile HTTP input: 10,000 generated bad requests against `pipec run`.
//! Each gets a 4xx with a JSON reason, or is cut off by a limit (malformed
//! HTTP, header blocks past 64 KiB, clients too slow to send headers); the
//! process never crashes, its memory stays bounded, and nothing reaches Kafka.

mod common;

use common::http::{try_send_raw, Response};
use common::{kcat_read, Pipec};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const TOKEN: &str = "hostile-token";
const VALID: &str = r#"{"order_id":"o1","customer_id":"c1","sku":"s","quantity":1,"unit_price":2.5,"placed_at":"2020-08-02T22:49:11Z"}"#;

/// What one generated request must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A 4xx whose body is `{"error": ..., "message": ...}`.
    JsonError,
    /// A 4xx of the HTTP layer, or the connection closed.
    CutOff,
}

/// A small deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

fn post(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    raw
}

fn authorized(body: &[u8]) -> Vec<u8> {
    let auth = format!("Bearer {TOKEN}");
    post(
        "/v1/purchases",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body,
    )
}

/// The `i`-th hostile request and what it must get.
fn generate(rng: &mut Rng, i: usize) -> (&'static str, Vec<u8>, Expect) {
    match i % 12 {
        0 => {
            let cut = rng.below(VALID.len() as u64 - 1) + 1;
            (
                "truncated JSON",
                authorized(&VALID.as_bytes()[..cut]),
                Expect::JsonError,
            )
        }
        1 => {
            // Deleting a quote, comma or brace always breaks this object.
            let mut body = VALID.as_bytes().to_vec();
            let structural: Vec<usize> = (0..body.len())
                .filter(|&i| b"\",{}".contains(&body[i]))
                .collect();
            body.remove(structural[rng.below(structural.len() as u64)]);
            ("mutated JSON", authorized(&body), Expect::JsonError)
        }
        2 => {
            let wrong = [
                "\"quantity\":\"many\"",
                "\"quantity\":1.5",
                "\"quantity\":null",
                "\"quantity\":[1]",
                "\"quantity\":true",
            ];
            let body = VALID.replace("\"quantity\":1", wrong[rng.below(wrong.len() as u64)]);
            ("wrong type", authorized(body.as_bytes()), Expect::JsonError)
        }
        3 => {
            let fields = [
                "\"order_id\":\"o1\",",
                "\"sku\":\"s\",",
                "\"customer_id\":\"c1\",",
            ];
            let body = VALID.replace(fields[rng.below(3)], "");
            (
                "missing field",
                authorized(body.as_bytes()),
                Expect::JsonError,
            )
        }
        4 => {
            let mut body = VALID.as_bytes().to_vec();
            let at = rng.below(body.len() as u64);
            body.insert(at, 0xff);
            body.insert(at, 0xc3);
            ("invalid UTF-8 body", authorized(&body), Expect::JsonError)
        }
        5 => {
            let bytes: Vec<u8> = (0..rng.below(200) + 1).map(|_| rng.next() as u8).collect();
            ("random bytes body", authorized(&bytes), Expect::JsonError)
        }
        6 => (
            "no token",
            post("/v1/purchases", &[], VALID.as_bytes()),
            Expect::JsonError,
        ),
        7 => {
            let paths = [
                "/v2/purchases",
                "/%00",
                "/v1/purchases/../../etc/passwd",
                "/metrics/x",
            ];
            let raw = format!(
                "GET {} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n",
                paths[rng.below(4)]
            );
            ("unknown path", raw.into_bytes(), Expect::JsonError)
        }
        8 => {
            let raw = "DELETE /v1/purchases HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n";
            ("wrong method", raw.as_bytes().to_vec(), Expect::JsonError)
        }
        9 => {
            let padding = "x".repeat(17 * 1024 + rng.below(30 * 1024));
            let raw = format!("GET /v1/purchase HTTP/1.1\r\nHost: shop\r\nX-Padding: {padding}\r\nConnection: close\r\n\r\n");
            ("oversized headers", raw.into_bytes(), Expect::JsonError)
        }
        10 => {
            let mut raw = b"GET /v1/purchase?order=o&customer=c&sku=s&qty=1&price=1 HTTP/1.1\r\nHost: shop\r\nUser-Agent: ".to_vec();
            raw.extend_from_slice(&[0xff, 0xfe, b'\x01']);
            raw.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
            ("invalid header bytes", raw, Expect::CutOff)
        }
        _ => {
            let garbage = [
                "GARBAGE\r\n\r\n",
                "GET\r\n\r\n",
                "GET / HTTP/9.9\r\n\r\n",
                "\x16\x03\x01\x02\x00\x01\x00\r\n\r\n",
            ];
            (
                "malformed HTTP",
                garbage[rng.below(4)].as_bytes().to_vec(),
                Expect::CutOff,
            )
        }
    }
}

fn check(what: &str, expect: Expect, response: Option<Response>) {
    match (expect, response) {
        (Expect::JsonError, Some(response)) => {
            assert!(
                (400..500).contains(&response.status),
                "{what}: {} {}",
                response.status,
                response.text()
            );
            let body: serde_json::Value =
                serde_json::from_slice(&response.body).unwrap_or_else(|_| {
                    panic!(
                        "{what}: {} without a JSON reason: {:?}",
                        response.status,
                        response.text()
                    )
                });
            assert!(
                body["error"].as_str().is_some() && body["message"].as_str().is_some(),
                "{what}: {body}"
            );
        }
        (Expect::JsonError, None) => panic!("{what}: no answer"),
        (Expect::CutOff, Some(response)) => {
            assert!(
                (400..500).contains(&response.status),
                "{what}: {} {}",
                response.status,
                response.text()
            )
        }
        (Expect::CutOff, None) => {}
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn ten_thousand_bad_requests_get_4xx_or_are_cut_off() {
    let data = common::scratch("hostile");
    let data_env = data.display().to_string();
    let pipec = Pipec::start_with_env(
        &["examples/storefront.pipe", "--listen", "127.0.0.1:0"],
        &[("SHOP_API_TOKEN", TOKEN), ("PIPEC_DATA_DIR", &data_env)],
    );
    let addr = pipec.addr;
    let rss_before = rss_kib(pipec.pid());
    let started = Instant::now();
    const TOTAL: usize = 10_000;
    const THREADS: usize = 4;
    let counts: Vec<std::collections::BTreeMap<&'static str, usize>> =
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    scope.spawn(move || {
                        let mut rng = Rng(0x5eed + t as u64);
                        let mut counts = std::collections::BTreeMap::new();
                        for i in (t..TOTAL).step_by(THREADS) {
                            let (what, raw, expect) = generate(&mut rng, i);
                            check(what, expect, try_send_raw(addr, &raw));
                            *counts.entry(what).or_insert(0) += 1;
                        }
                        counts
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
    let elapsed = started.elapsed();

    // Oversized bodies, past the 1 MiB limit, a few times.
    for _ in 0..20 {
        let body = format!("[{}]", vec![VALID; 12_000].join(","));
        check(
            "oversized body",
            Expect::JsonError,
            try_send_raw(addr, &authorized(body.as_bytes())),
        );
    }
    // Slow clients: headers that never finish are cut off by the header timeout.
    let slow_started = Instant::now();
    let slow: Vec<_> = (0..8)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream
                .write_all(b"GET /v1/purchase HTTP/1.1\r\nHost: shop\r\nX-Slow: ")
                .unwrap();
            stream
        })
        .collect();
    for mut stream in slow {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    }
    let slow_cut = slow_started.elapsed();
    assert!(
        slow_cut < Duration::from_secs(20),
        "slow clients held on for {slow_cut:?}"
    );

    let rss_after = rss_kib(pipec.pid());
    // Still serving, and nothing bad became an event.
    assert_eq!(pipec.get("/health", &[]).status, 200);
    let ok = pipec.post(
        "/v1/purchases",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        VALID.as_bytes(),
    );
    assert_eq!(ok.status, 202, "{}", ok.text());
    assert_eq!(
        kcat_read(&pipec.bootstrap, "purchases").len(),
        1,
        "only the one valid event"
    );
    assert!(
        rss_after < rss_before + 200 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );

    let mut total = std::collections::BTreeMap::new();
    for map in counts {
        for (what, n) in map {
            *total.entry(what).or_insert(0) += n;
        }
    }
    eprintln!(
        "hostile HTTP: {TOTAL} requests in {elapsed:?} ({:?}), 20 oversized bodies, 8 slow clients cut off after {slow_cut:?}, RSS {rss_before} -> {rss_after} KiB",
        total
    );
    assert!(pipec.stop().success());
}
