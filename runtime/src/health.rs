//! What `/health` answers: each sink's state, set by the sink where it
//! learns it, so a sink that stops or keeps failing is seen at once.
//!
//! A sink is `up`; `retrying` once one of its steps (taking a partition,
//! writing) has failed without a success for longer than the
//! bound (the events wait in Kafka meanwhile); or `failed` once it has
//! stopped, which only a restart undoes. `pipec_sink_up{sink}` says the same
//! as 1 or 0.

use prometheus::IntGaugeVec;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a step may keep failing before its sink counts as unhealthy.
pub const DEFAULT_RETRY_BOUND: Duration = Duration::from_secs(60);

/// The part of a sink's work that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Claiming a partition: its checkpoint, claim file or table's offsets.
    Claim,
    /// Writing and committing a trigger's files. (A failed compaction is
    /// not a sink's health: appends go on, and it is tried again.)
    Write,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Up,
    Retrying,
    Failed,
}

/// One sink's line in `/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkHealth {
    pub sink: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Unix seconds of the first failure of the step, or of the stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Failures of the step since its last success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u64>,
}

struct Trouble {
    first: Instant,
    first_unix: i64,
    reason: String,
    attempts: u64,
}

#[derive(Default)]
struct Sink {
    failed: Option<(i64, String)>,
    retrying: BTreeMap<Step, Trouble>,
}

pub struct Health {
    bound: Mutex<Duration>,
    sinks: Mutex<BTreeMap<String, Sink>>,
    up: IntGaugeVec,
}

impl Health {
    pub(crate) fn new(up: IntGaugeVec) -> Self {
        Health {
            bound: Mutex::new(DEFAULT_RETRY_BOUND),
            sinks: Mutex::new(BTreeMap::new()),
            up,
        }
    }

    /// How long a step may fail before its sink is reported `retrying`.
    pub fn set_retry_bound(&self, bound: Duration) {
        *self.bound.lock().expect("health lock") = bound;
    }

    /// A sink of this process, up until it says otherwise.
    pub fn register(&self, sink: &str) {
        self.sinks
            .lock()
            .expect("health lock")
            .entry(sink.to_string())
            .or_default();
        self.up.with_label_values(&[sink]).set(1);
    }

    /// A step failed and will be tried again.
    pub fn retrying(&self, sink: &str, step: Step, reason: &dyn std::fmt::Display) {
        let mut sinks = self.sinks.lock().expect("health lock");
        let trouble = sinks
            .entry(sink.to_string())
            .or_default()
            .retrying
            .entry(step)
            .or_insert_with(|| Trouble {
                first: Instant::now(),
                first_unix: unix_now(),
                reason: String::new(),
                attempts: 0,
            });
        trouble.reason = reason.to_string();
        trouble.attempts += 1;
    }

    /// A step succeeded: its earlier failures no longer count.
    pub fn recovered(&self, sink: &str, step: Step) {
        let mut sinks = self.sinks.lock().expect("health lock");
        if let Some(state) = sinks.get_mut(sink) {
            state.retrying.remove(&step);
        }
    }

    /// The sink stopped for good.
    pub fn failed(&self, sink: &str, reason: &dyn std::fmt::Display) {
        let mut sinks = self.sinks.lock().expect("health lock");
        let state = sinks.entry(sink.to_string()).or_default();
        state
            .failed
            .get_or_insert_with(|| (unix_now(), reason.to_string()));
        self.up.with_label_values(&[sink]).set(0);
    }

    /// Every sink's state now, in name order; also brings
    /// `pipec_sink_up` up to date (a retry turns unhealthy with time).
    pub fn report(&self) -> Vec<SinkHealth> {
        let bound = *self.bound.lock().expect("health lock");
        let sinks = self.sinks.lock().expect("health lock");
        let report: Vec<SinkHealth> = sinks
            .iter()
            .map(|(name, state)| sink_health(name, state, bound))
            .collect();
        for line in &report {
            let up = i64::from(line.state == State::Up);
            self.up.with_label_values(&[line.sink.as_str()]).set(up);
        }
        report
    }
}

fn sink_health(name: &str, state: &Sink, bound: Duration) -> SinkHealth {
    if let Some((since, reason)) = &state.failed {
        return SinkHealth {
            sink: name.to_string(),
            state: State::Failed,
            step: None,
            reason: Some(reason.clone()),
            since: Some(*since),
            attempts: None,
        };
    }
    // The longest-failing step speaks for the sink.
    let worst = state
        .retrying
        .iter()
        .filter(|(_, trouble)| trouble.first.elapsed() >= bound)
        .min_by_key(|(_, trouble)| trouble.first);
    match worst {
        Some((step, trouble)) => SinkHealth {
            sink: name.to_string(),
            state: State::Retrying,
            step: Some(*step),
            reason: Some(trouble.reason.clone()),
            since: Some(trouble.first_unix),
            attempts: Some(trouble.attempts),
        },
        None => SinkHealth {
            sink: name.to_string(),
            state: State::Up,
            step: None,
            reason: None,
            since: None,
            attempts: None,
        },
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Opts;

    fn health() -> Health {
        let up = IntGaugeVec::new(Opts::new("sink_up", "test"), &["sink"]).unwrap();
        Health::new(up)
    }

    fn up_gauge(health: &Health, sink: &str) -> i64 {
        health.up.with_label_values(&[sink]).get()
    }

    #[test]
    fn a_failed_sink_is_reported_with_its_reason_and_stays_failed() {
        let health = health();
        health.register("clicks");
        health.register("purchases");
        health.failed("clicks", &"checkpoint damaged");
        health.recovered("clicks", Step::Write);
        let report = health.report();
        assert_eq!(report[0].sink, "clicks");
        assert_eq!(report[0].state, State::Failed);
        assert_eq!(report[0].reason.as_deref(), Some("checkpoint damaged"));
        assert_eq!(report[1].state, State::Up);
        assert_eq!(up_gauge(&health, "clicks"), 0);
        assert_eq!(up_gauge(&health, "purchases"), 1);
    }

    #[test]
    fn a_retry_counts_only_past_the_bound_and_a_success_clears_it() {
        let health = health();
        health.register("clicks");
        health.retrying("clicks", Step::Write, &"503 SlowDown");
        assert_eq!(health.report()[0].state, State::Up, "within the bound");
        health.set_retry_bound(Duration::ZERO);
        health.retrying("clicks", Step::Write, &"connection refused");
        let line = &health.report()[0];
        assert_eq!(line.state, State::Retrying);
        assert_eq!(line.step, Some(Step::Write));
        assert_eq!(line.reason.as_deref(), Some("connection refused"));
        assert_eq!(line.attempts, Some(2));
        assert_eq!(up_gauge(&health, "clicks"), 0);
        health.recovered("clicks", Step::Claim);
        assert_eq!(health.report()[0].state, State::Retrying, "another step");
        health.recovered("clicks", Step::Write);
        assert_eq!(health.report()[0].state, State::Up);
        assert_eq!(up_gauge(&health, "clicks"), 1);
    }
}
