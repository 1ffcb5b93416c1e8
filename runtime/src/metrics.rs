//! Prometheus metrics, served at `/metrics` in the text format.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub events_produced: IntCounterVec,
    pub delivery_seconds: HistogramVec,
    pub delivery_failures: IntCounterVec,
    pub backpressure_rejections: IntCounterVec,
    pub producer_queue_depth: IntGauge,
    pub requests_in_flight: IntGauge,
    pub bad_requests: IntCounter,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("pipec".into()), None).expect("a valid prefix");
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by endpoint and status",
            ),
            &["endpoint", "status"],
        )
        .expect("valid metric");
        let events_produced = IntCounterVec::new(
            Opts::new("events_produced_total", "Events acknowledged by the broker"),
            &["topic"],
        )
        .expect("valid metric");
        let delivery_seconds = HistogramVec::new(
            HistogramOpts::new(
                "delivery_seconds",
                "Time from producing an event to the broker's acknowledgement",
            )
            .buckets(vec![
                0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["topic"],
        )
        .expect("valid metric");
        let delivery_failures = IntCounterVec::new(
            Opts::new(
                "delivery_failures_total",
                "Events the broker did not acknowledge",
            ),
            &["topic"],
        )
        .expect("valid metric");
        let backpressure_rejections = IntCounterVec::new(
            Opts::new(
                "backpressure_rejections_total",
                "Requests refused because sinks trail the embedded broker's bound",
            ),
            &["topic"],
        )
        .expect("valid metric");
        let producer_queue_depth = IntGauge::new(
            "producer_queue_depth",
            "Messages waiting in the producer for the broker",
        )
        .expect("valid metric");
        let requests_in_flight =
            IntGauge::new("http_requests_in_flight", "Requests being answered")
                .expect("valid metric");
        let bad_requests = IntCounter::new("http_bad_requests_total", "Requests answered 4xx")
            .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(events_produced.clone()),
            Box::new(delivery_seconds.clone()),
            Box::new(delivery_failures.clone()),
            Box::new(backpressure_rejections.clone()),
            Box::new(producer_queue_depth.clone()),
            Box::new(requests_in_flight.clone()),
            Box::new(bad_requests.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Metrics {
            registry,
            requests,
            events_produced,
            delivery_seconds,
            delivery_failures,
            backpressure_rejections,
            producer_queue_depth,
            requests_in_flight,
            bad_requests,
        }
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("metrics encode");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }

    /// Events acknowledged so far, over all topics.
    pub fn events_in(&self) -> u64 {
        self.events_produced.collect_total()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

trait CollectTotal {
    fn collect_total(&self) -> u64;
}

impl CollectTotal for IntCounterVec {
    fn collect_total(&self) -> u64 {
        use prometheus::core::Collector;
        self.collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .map(|m| m.get_counter().get_value() as u64)
            .sum()
    }
}
