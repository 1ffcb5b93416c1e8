//! Seed-shaped events for the topic → Parquet benchmark, one JSON object per
//! line, exactly as pipec's API writes them for the seed's load: the seed's
//! `ab` loop (per round, per host, a random number of requests to each of
//! `/`, `/purchase_a_sword` and `/join_a_guild`) with every header merged in.
//!
//! Usage: seed_events COUNT > events.jsonl
//!
//! Deterministic: the same COUNT always gives the same bytes.

use std::io::{BufWriter, Write};

/// The seed's shell loop: host, and the bound of `$RANDOM % n + base`.
const HOSTS: [(&str, u64, u64); 2] = [("user1.comcast.com", 25, 6), ("user2.att.com", 50, 1)];
const EVENT_TYPES: [&str; 3] = ["default", "purchase_sword", "join_guild"];

fn main() -> std::io::Result<()> {
    let count: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: seed_events COUNT > events.jsonl");
            std::process::exit(2);
        }
    };
    let lines: Vec<Vec<u8>> = HOSTS
        .iter()
        .flat_map(|(host, _, _)| EVENT_TYPES.iter().map(move |t| line(host, t)))
        .collect();
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut written = 0;
    'rounds: loop {
        for (h, (_, modulo, base)) in HOSTS.iter().enumerate() {
            for t in 0..EVENT_TYPES.len() {
                let requests = random.next() % modulo + base;
                for _ in 0..requests {
                    if written == count {
                        break 'rounds;
                    }
                    out.write_all(&lines[h * EVENT_TYPES.len() + t])?;
                    written += 1;
                }
            }
        }
    }
    out.flush()
}

/// The event pipec's API sends for `ab -H "Host: HOST"` on an endpoint:
/// the headers `ab` sends, then the endpoint's `event_type`.
fn line(host: &str, event_type: &str) -> Vec<u8> {
    let mut event = serde_json::Map::new();
    event.insert("Accept".into(), "*/*".into());
    event.insert("Host".into(), host.into());
    event.insert("User-Agent".into(), "ApacheBench/2.3".into());
    event.insert("event_type".into(), event_type.into());
    let mut line = serde_json::to_vec(&event).expect("a map of strings serializes");
    line.push(b'\n');
    line
}

/// A tiny fixed-seed generator: the benchmark needs repeatable input, not
/// statistical quality.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
