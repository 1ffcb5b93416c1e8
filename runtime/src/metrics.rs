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
    pub sink_events_read: IntCounterVec,
    pub sink_rows_written: IntCounterVec,
    pub sink_files_written: IntCounterVec,
    pub dead_letters: IntCounterVec,
    pub sink_lag: prometheus::IntGaugeVec,
    /// Unix seconds of each sink's last committed checkpoint.
    pub sink_last_commit: prometheus::IntGaugeVec,
    pub sink_fenced: IntCounterVec,
    pub sink_write_retries: IntCounterVec,
    pub delta_commits: IntCounterVec,
    pub delta_conflicts: IntCounterVec,
    pub delta_compactions: IntCounterVec,
    pub delta_files_rewritten: IntCounterVec,
    pub delta_table_version: prometheus::IntGaugeVec,
    pub metastore_up: IntGauge,
    pub metastore_errors: IntCounter,
    pub metastore_unregistered: prometheus::IntGaugeVec,
    pub metastore_partitions_registered: IntCounterVec,
    /// The registrar's line in `/health` (`pipec run --metastore`).
    pub metastore: crate::metastore::MetastoreStatus,
    /// Each sink's state for `/health`, kept with the figures because every
    /// part that counts also reports (and it owns `pipec_sink_up`).
    pub health: crate::health::Health,
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
        let sink_counter = |name: &str, help: &str| {
            IntCounterVec::new(Opts::new(name, help), &["sink"]).expect("valid metric")
        };
        let sink_events_read =
            sink_counter("sink_events_read_total", "Messages a sink read from Kafka");
        let sink_rows_written =
            sink_counter("sink_rows_written_total", "Rows a sink wrote to Parquet");
        let sink_files_written =
            sink_counter("sink_files_written_total", "Parquet files a sink wrote");
        let dead_letters = sink_counter(
            "dead_letters_total",
            "Messages a sink sent to the dead-letter table",
        );
        let sink_fenced = sink_counter(
            "sink_fenced_total",
            "Writes refused because another worker had claimed the partition",
        );
        let sink_write_retries = sink_counter(
            "sink_write_retries_total",
            "Writes a sink tried again after a transient storage error",
        );
        let delta_commits = sink_counter(
            "delta_commits_total",
            "Delta commits a sink made (each a trigger's files and offsets)",
        );
        let delta_conflicts = sink_counter(
            "delta_commit_conflicts_total",
            "Delta commits lost to another writer and tried again on its snapshot",
        );
        let delta_compactions = sink_counter(
            "delta_compactions_total",
            "OPTIMIZE commits that rewrote a Delta sink's small files",
        );
        let delta_files_rewritten = sink_counter(
            "delta_files_rewritten_total",
            "Small files compaction replaced in a Delta sink's table",
        );
        let delta_table_version = prometheus::IntGaugeVec::new(
            Opts::new(
                "delta_table_version",
                "The Delta table version of a sink's last commit or compaction",
            ),
            &["sink"],
        )
        .expect("valid metric");
        let sink_lag = prometheus::IntGaugeVec::new(
            Opts::new(
                "sink_lag",
                "Messages in Kafka a sink has not written yet, per partition, at its last write",
            ),
            &["sink", "partition"],
        )
        .expect("valid metric");
        let sink_last_commit = prometheus::IntGaugeVec::new(
            Opts::new(
                "sink_last_commit_timestamp_seconds",
                "When a sink last committed a checkpoint (files and offsets), in Unix seconds",
            ),
            &["sink"],
        )
        .expect("valid metric");
        let sink_up = prometheus::IntGaugeVec::new(
            Opts::new(
                "sink_up",
                "1 while a sink runs, 0 once it has stopped or kept failing past the retry bound",
            ),
            &["sink"],
        )
        .expect("valid metric");
        let metastore_up = IntGauge::new(
            "metastore_up",
            "1 while the Hive metastore answers the registrar (pipec run --metastore), else 0",
        )
        .expect("valid metric");
        let metastore_errors = IntCounter::new(
            "metastore_errors_total",
            "Registration rounds that failed because the metastore did not answer",
        )
        .expect("valid metric");
        let metastore_unregistered = prometheus::IntGaugeVec::new(
            Opts::new(
                "metastore_unregistered_partitions",
                "Partition directories committed but not yet registered in the metastore, per table",
            ),
            &["table"],
        )
        .expect("valid metric");
        let metastore_partitions_registered = IntCounterVec::new(
            Opts::new(
                "metastore_partitions_registered_total",
                "Partitions registered in the metastore, per table",
            ),
            &["table"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(sink_up.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metastore_up.clone()),
            Box::new(metastore_errors.clone()),
            Box::new(metastore_unregistered.clone()),
            Box::new(metastore_partitions_registered.clone()),
            Box::new(sink_last_commit.clone()),
            Box::new(sink_events_read.clone()),
            Box::new(sink_rows_written.clone()),
            Box::new(sink_files_written.clone()),
            Box::new(dead_letters.clone()),
            Box::new(sink_lag.clone()),
            Box::new(sink_fenced.clone()),
            Box::new(sink_write_retries.clone()),
            Box::new(delta_commits.clone()),
            Box::new(delta_conflicts.clone()),
            Box::new(delta_compactions.clone()),
            Box::new(delta_files_rewritten.clone()),
            Box::new(delta_table_version.clone()),
            Box::new(requests.clone()),
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
            sink_events_read,
            sink_rows_written,
            sink_files_written,
            sink_fenced,
            sink_write_retries,
            dead_letters,
            sink_lag,
            sink_last_commit,
            delta_commits,
            delta_conflicts,
            delta_compactions,
            delta_files_rewritten,
            delta_table_version,
            metastore_up,
            metastore_errors,
            metastore_unregistered,
            metastore_partitions_registered,
            metastore: crate::metastore::MetastoreStatus::default(),
            health: crate::health::Health::new(sink_up),
        }
    }

    pub fn render(&self) -> String {
        // A retry turns a sink unhealthy with time, not at an event.
        self.health.report();
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

    pub fn rows_written(&self) -> u64 {
        self.sink_rows_written.collect_total()
    }

    pub fn dead_lettered(&self) -> u64 {
        self.dead_letters.collect_total()
    }

    /// An endpoint's requests (label `GET /path`): all, and those answered
    /// 4xx or 5xx.
    pub fn requests_of(&self, endpoint: &str) -> (u64, u64) {
        let (mut all, mut errors) = (0, 0);
        for series in series_of(&self.requests) {
            if series.label("endpoint") != Some(endpoint) {
                continue;
            }
            let count = series.metric.get_counter().get_value() as u64;
            all += count;
            if series.label("status").is_some_and(|s| s >= "400") {
                errors += count;
            }
        }
        (all, errors)
    }

    /// A sink's lag summed over the partitions it knows it for; `None`
    /// before its first write.
    pub fn lag_of(&self, sink: &str) -> Option<i64> {
        let lags: Vec<i64> = series_of(&self.sink_lag)
            .iter()
            .filter(|s| s.label("sink") == Some(sink))
            .map(|s| s.metric.get_gauge().get_value() as i64)
            .filter(|lag| *lag >= 0)
            .collect();
        (!lags.is_empty()).then(|| lags.iter().sum())
    }

    /// Unix seconds of the sink's last commit; `None` before the first.
    pub fn last_commit_of(&self, sink: &str) -> Option<i64> {
        series_of(&self.sink_last_commit)
            .iter()
            .find(|s| s.label("sink") == Some(sink))
            .map(|s| s.metric.get_gauge().get_value() as i64)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// One labelled series of a metric family.
struct Series {
    metric: prometheus::proto::Metric,
}

impl Series {
    fn label(&self, name: &str) -> Option<&str> {
        self.metric
            .get_label()
            .iter()
            .find(|pair| pair.name() == name)
            .map(|pair| pair.value())
    }
}

fn series_of(collector: &dyn prometheus::core::Collector) -> Vec<Series> {
    collector
        .collect()
        .into_iter()
        .flat_map(|family| family.get_metric().to_vec())
        .map(|metric| Series { metric })
        .collect()
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
