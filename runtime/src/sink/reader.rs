//! The Kafka reader of one topic: one consumer for every sink of the
//! topic, its rebalances (claims on assignment, forgetting on revocation),
//! seeks after a rewind, triggers, `--once` and shutdown. What it reads it
//! hands to the Kafka-free core (`super::core`).

use super::core::{Message as Received, TopicSinks};
use super::trigger::{Due, TriggerPolicy};
use super::{now_micros, SinkCommand, SinkError, SinkSummary};
use crate::backlog::Backlog;
use crate::bus::BusSettings;
use crate::health::Step as HealthStep;
use crate::metrics::Metrics;
use futures::{FutureExt, StreamExt};
use pipec_compiler::plan::Plan;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::ClientContext;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Partitions revoked by a rebalance, for the reader to forget: another
/// process now owns them and resumes from their checkpoints.
struct SinkContext {
    revoked: Arc<Mutex<Vec<i32>>>,
    assigned: Arc<Mutex<Vec<i32>>>,
    /// Set by either callback, so the reader looks at the lists only then.
    rebalanced: Arc<AtomicBool>,
}

impl ClientContext for SinkContext {}

impl ConsumerContext for SinkContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let partitions = partitions_of(list);
            tracing::info!(?partitions, "partitions revoked");
            let mut revoked = self.revoked.lock().expect("revoked lock");
            revoked.extend(partitions);
            self.rebalanced.store(true, Ordering::Release);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let partitions = partitions_of(list);
            tracing::info!(?partitions, "partitions assigned");
            let mut assigned = self.assigned.lock().expect("assigned lock");
            assigned.extend(partitions);
            self.rebalanced.store(true, Ordering::Release);
        }
    }
}

fn partitions_of(list: &rdkafka::TopicPartitionList) -> Vec<i32> {
    list.elements().iter().map(|e| e.partition()).collect()
}

/// The reader of one topic for all of its sinks, built from the plan
/// before anything runs.
pub struct TopicReader {
    topic: String,
    /// The consumer group of the topic's sinks, shared by every worker.
    group: String,
    /// Whether other processes may be in `group`: not on the embedded
    /// broker, which lives in this process (and does not list groups).
    shared_groups: bool,
    /// The consumers' `session.timeout.ms`: how long a stopped member can
    /// stay listed in the group.
    session_timeout: Duration,
    sinks: TopicSinks,
    /// Shared with [`TopicReader::accept_ready`]'s stream, which borrows it
    /// while the reader takes what it yields.
    consumer: Arc<StreamConsumer<SinkContext>>,
    revoked: Arc<Mutex<Vec<i32>>>,
    assigned: Arc<Mutex<Vec<i32>>>,
    rebalanced: Arc<AtomicBool>,
    /// Partitions whose consumer position is where the sinks need it: set
    /// by a seek at the first message after the partition is opened.
    positioned: BTreeSet<i32>,
    /// Consecutive storage failures, for the pause before reading again.
    failures: u32,
    metrics: Arc<Metrics>,
    /// What the process asks, for the waits between retries.
    commands: Option<watch::Receiver<SinkCommand>>,
}

impl TopicReader {
    /// A reader for every topic some sink reads, in the plan's order.
    pub fn build_all(
        plan: &Plan,
        bus: &BusSettings,
        data_dir: &Path,
        metrics: Arc<Metrics>,
        backlog: Option<Arc<Backlog>>,
    ) -> Result<Vec<TopicReader>, SinkError> {
        let owner = worker_id();
        let mut readers = Vec::new();
        for topic in &plan.topics {
            let sinks = TopicSinks::build(
                plan,
                &topic.name,
                data_dir,
                metrics.clone(),
                backlog.clone(),
                owner.clone(),
            )?;
            if sinks.is_empty() {
                continue;
            }
            readers.push(TopicReader::build(plan, sinks, bus, metrics.clone())?);
        }
        Ok(readers)
    }

    fn build(
        plan: &Plan,
        sinks: TopicSinks,
        bus: &BusSettings,
        metrics: Arc<Metrics>,
    ) -> Result<TopicReader, SinkError> {
        let topic = sinks.topic().to_string();
        let revoked = Arc::new(Mutex::new(Vec::new()));
        let assigned = Arc::new(Mutex::new(Vec::new()));
        let rebalanced = Arc::new(AtomicBool::new(false));
        // One group per topic: every sinks process runs all of the plan's
        // sinks, so a partition assigned here is written by each of them.
        let group = format!("pipec.{}.topic.{topic}", plan.name);
        let config = bus.consumer_config(&group);
        let session_timeout = config
            .get("session.timeout.ms")
            .and_then(|ms| ms.parse().ok())
            .map_or(Duration::from_secs(45), Duration::from_millis);
        let consumer: StreamConsumer<SinkContext> = config
            .create_with_context(SinkContext {
                revoked: revoked.clone(),
                assigned: assigned.clone(),
                rebalanced: rebalanced.clone(),
            })
            .map_err(|source| SinkError::Kafka {
                sink: sinks.name(0).to_string(),
                source,
            })?;
        Ok(TopicReader {
            topic,
            group,
            shared_groups: !bus.embedded,
            session_timeout,
            sinks,
            consumer: Arc::new(consumer),
            revoked,
            assigned,
            rebalanced,
            positioned: BTreeSet::new(),
            failures: 0,
            metrics,
            commands: None,
        })
    }

    /// The sinks this reader feeds.
    pub fn sink_names(&self) -> Vec<String> {
        (0..self.sinks.len())
            .map(|i| self.sinks.name(i).to_string())
            .collect()
    }

    /// Whether every sink reads what the topic holds at start and stops.
    pub fn is_once(&self) -> bool {
        (0..self.sinks.len()).all(|i| self.sinks.policy(i) == TriggerPolicy::Once)
    }

    fn kafka(&self, source: KafkaError) -> SinkError {
        SinkError::Kafka {
            sink: self.sink_names().join(", "),
            source,
        }
    }

    /// Reads, filters and writes until told to stop (or, for `trigger
    /// once`, until the topic's end as of the start).
    pub async fn run(
        mut self,
        mut commands: watch::Receiver<SinkCommand>,
    ) -> Result<Vec<SinkSummary>, SinkError> {
        self.commands = Some(commands.clone());
        let Some(cluster) = self.cluster_id().await else {
            // Offsets recorded under a made-up cluster would be read as
            // another cluster's on the next start, and the topic read again.
            tracing::warn!(topic = %self.topic, "stopped before the Kafka cluster's id was known; nothing was read or written");
            return Ok(self.sinks.summaries());
        };
        self.sinks.set_cluster(cluster);
        let mut end: Option<BTreeMap<i32, i64>> = None;
        if self.is_once() {
            // A backfill reads every partition itself, from its checkpoints:
            // never beside workers of the group, whose claims it would take.
            self.refuse_beside_live_workers().await?;
            let ends = self.end_offsets().await?;
            let mut assignment = rdkafka::TopicPartitionList::new();
            for &partition in ends.keys() {
                self.open_partition(partition).await?;
                let position = self.sinks.lowest_position(partition).unwrap_or(0);
                self.positioned.insert(partition);
                assignment
                    .add_partition_offset(&self.topic, partition, rdkafka::Offset::Offset(position))
                    .map_err(|e| self.kafka(e))?;
            }
            self.consumer
                .assign(&assignment)
                .map_err(|e| self.kafka(e))?;
            end = Some(ends);
        } else {
            self.consumer
                .subscribe(&[&self.topic])
                .map_err(|e| self.kafka(e))?;
        }
        tracing::info!(topic = %self.topic, sinks = ?self.sink_names(), "sinks started");
        let mut ticker = tokio::time::interval(self.sinks.tick());
        let mut stopping = false;
        'run: loop {
            loop {
                if let Some(end) = &end {
                    if self.reached(end).await? {
                        break;
                    }
                }
                let step = tokio::select! {
                    received = self.consumer.recv() => match received {
                        Ok(message) => Step::Message(received_of(&message)),
                        Err(error) => Step::KafkaError(error),
                    },
                    _ = ticker.tick() => Step::Tick,
                    changed = commands.changed(), if !stopping => {
                        Step::Command(if changed.is_ok() { *commands.borrow() } else { SinkCommand::Stop })
                    }
                };
                self.rebalanced().await?;
                match step {
                    Step::Message(received) => {
                        self.accept(received).await?;
                        self.accept_ready(end.as_ref()).await?;
                    }
                    Step::KafkaError(error) => {
                        tracing::warn!(topic = %self.topic, %error, "Kafka error; retrying")
                    }
                    Step::Tick | Step::Command(SinkCommand::Run) => {}
                    Step::Command(SinkCommand::Stop) => break,
                    Step::Command(SinkCommand::Drain) => {
                        stopping = true;
                        end = Some(self.end_offsets().await?);
                    }
                }
                for index in 0..self.sinks.len() {
                    match self.sinks.due(index).await? {
                        Due::Nothing => {}
                        Due::All => self.write(index, None).await?,
                        Due::Partitions(full) => self.write(index, Some(&full)).await?,
                    }
                }
                self.seek_rewound().await?;
                self.sinks.maintain();
            }
            for index in 0..self.sinks.len() {
                self.write(index, None).await?;
            }
            // A backfill or a drain must not end with a rewound partition:
            // read it again (a stop leaves it to Kafka).
            if end.is_some() && self.sinks.has_rewound() && !self.stop_requested() {
                self.seek_rewound().await?;
                continue 'run;
            }
            break;
        }
        self.sinks.stop_maintenance().await;
        let summaries = self.sinks.summaries();
        for summary in &summaries {
            if let Some(backlog) = self.backlog() {
                backlog.retire(&summary.sink);
            }
            tracing::info!(
                sink = %summary.sink,
                events_read = summary.events_read,
                rows_written = summary.rows_written,
                dead_letters = summary.dead_letters,
                files = summary.files,
                "sink stopped"
            );
        }
        Ok(summaries)
    }

    fn backlog(&self) -> Option<&Arc<Backlog>> {
        self.sinks.backlog()
    }

    /// Takes the messages librdkafka has already fetched, up to a trigger
    /// or the end of a backfill, without a trip through the `select!` of
    /// `run` for each: its timers and wakers were a tenth of a backfill's
    /// CPU in bench/run.
    async fn accept_ready(&mut self, end: Option<&BTreeMap<i32, i64>>) -> Result<(), SinkError> {
        /// Bounds the time away from the stop command and the clock.
        const READY_BATCH: u64 = 512;
        // One stream for the whole run: each `recv` makes one, registering
        // a waker slot under a lock and removing it, per message.
        let consumer = self.consumer.clone();
        let mut messages = consumer.stream();
        let mut taken = 0;
        while taken < READY_BATCH {
            if self.sinks.has_rewound() {
                // The reader seeks back first (`seek_rewound`).
                return Ok(());
            }
            // A row count is checked at every message, so files have
            // exactly that many rows; time and a backfill's size every 64.
            if self.sinks.counts_rows() || taken % 64 == 0 {
                for index in 0..self.sinks.len() {
                    if self.sinks.due(index).await? != Due::Nothing {
                        return Ok(());
                    }
                }
            }
            // A backfill may read a few messages past its end: they are
            // written like the others.
            if let Some(end) = end.filter(|_| taken % 64 == 0) {
                if self.reached(end).await? {
                    break;
                }
            }
            let received = match messages.next().now_or_never().flatten() {
                None => break,
                Some(Ok(message)) => received_of(&message),
                Some(Err(error)) => {
                    tracing::warn!(topic = %self.topic, %error, "Kafka error; retrying");
                    break;
                }
            };
            // As after every `select!`: a rebalance may have run in `recv`.
            self.rebalanced().await?;
            self.accept(received).await?;
            taken += 1;
        }
        Ok(())
    }

    /// The cluster's id, waited for: a wrong one would make every checkpoint
    /// look like another cluster's and the partitions be read again.
    /// `None` when told to stop before the broker said.
    async fn cluster_id(&mut self) -> Option<String> {
        let mut attempt = 0;
        let id = loop {
            let consumer = &self.consumer;
            let id = tokio::task::block_in_place(|| {
                consumer.client().fetch_cluster_id(Duration::from_secs(10))
            });
            match id {
                Some(id) => break id,
                None if self.stop_requested() => return None,
                None => {
                    attempt += 1;
                    tracing::warn!(topic = %self.topic, attempt, "the Kafka cluster's id is not known yet; asking again");
                    tokio::time::sleep(retry_delay(attempt).min(Duration::from_secs(5))).await;
                }
            }
        };
        // A short, file-name-safe digest of the cluster id.
        let digest = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Some(format!("{:08x}", digest as u32))
    }

    /// Fails if the topic's consumer group has members: live workers, which
    /// a backfill's claims would fence out of their partitions, and which a
    /// manual assignment never hands them back (no rebalance comes).
    ///
    /// A member is waited out for one session timeout first: a worker that
    /// was just stopped, or whose broker restarted under it, stays listed
    /// until its session ends, and it is not live.
    async fn refuse_beside_live_workers(&mut self) -> Result<(), SinkError> {
        if !self.shared_groups {
            return Ok(());
        }
        let patience = self.session_timeout + Duration::from_secs(5);
        let deadline = tokio::time::Instant::now() + patience;
        let mut told = false;
        loop {
            let members = self.group_members().await?;
            if members == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline || self.stop_requested() {
                return Err(SinkError::LiveWorkers {
                    sink: self.sink_names().join(", "),
                    topic: self.topic.clone(),
                    group: self.group.clone(),
                    members,
                });
            }
            if !told {
                told = true;
                tracing::info!(
                    topic = %self.topic,
                    group = %self.group,
                    members,
                    "the topic's consumer group has members; waiting up to {patience:?} for a stopped worker's session to end before refusing the backfill"
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// How many members the topic's consumer group has, by the broker.
    async fn group_members(&mut self) -> Result<usize, SinkError> {
        let consumer = &self.consumer;
        let group = self.group.clone();
        let members = tokio::task::block_in_place(|| {
            consumer.fetch_group_list(Some(&group), Duration::from_secs(10))
        })
        .map_err(|e| self.kafka(e))?
        .groups()
        .iter()
        .filter(|g| g.name() == group)
        .map(|g| g.members().len())
        .sum::<usize>();
        Ok(members)
    }

    /// The high watermark of every partition of the topic, now.
    async fn end_offsets(&mut self) -> Result<BTreeMap<i32, i64>, SinkError> {
        let consumer = &self.consumer;
        let topic = self.topic.clone();
        tokio::task::block_in_place(|| {
            let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
            let mut ends = BTreeMap::new();
            for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
                let (_, high) =
                    consumer.fetch_watermarks(&topic, partition.id(), Duration::from_secs(10))?;
                ends.insert(partition.id(), high);
            }
            Ok(ends)
        })
        .map_err(|e| self.kafka(e))
    }

    /// Whether every partition has been read up to `end` by every sink.
    async fn reached(&mut self, end: &BTreeMap<i32, i64>) -> Result<bool, SinkError> {
        for (&partition, &high) in end {
            if high == 0 || self.sinks.all_fenced(partition) {
                continue;
            }
            if self.sinks.needs_open(partition) {
                self.open_partition(partition).await?;
            }
            if self
                .sinks
                .lowest_position(partition)
                .is_some_and(|position| position < high)
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Acts on the rebalances librdkafka reported during the last `recv`.
    /// Assigned partitions are claimed and sought at once, not at their
    /// first message: a sink whose checkpoint is behind the group's offset
    /// (a sink added to a quiet topic) must read back even if nothing new
    /// arrives.
    async fn rebalanced(&mut self) -> Result<(), SinkError> {
        if !self.rebalanced.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let assigned = self.forget_revoked();
        for partition in assigned {
            self.open_partition(partition).await?;
            let Some(position) = self.sinks.lowest_position(partition) else {
                continue;
            };
            // Asynchronous (no wait for the fetcher), so not trusted: the
            // first message still checks its offset against the position.
            let sought = self.consumer.seek(
                &self.topic,
                partition,
                rdkafka::Offset::Offset(position),
                Duration::ZERO,
            );
            if let Err(error) = sought {
                tracing::debug!(topic = %self.topic, partition, %error, "seek after assignment deferred to the first message");
            }
        }
        Ok(())
    }

    /// Forgets revoked partitions; returns the newly assigned ones.
    fn forget_revoked(&mut self) -> Vec<i32> {
        let assigned: Vec<i32> = std::mem::take(&mut *self.assigned.lock().expect("assigned lock"));
        self.sinks.assigned(&assigned);
        let revoked: Vec<i32> = std::mem::take(&mut *self.revoked.lock().expect("revoked lock"));
        for partition in &revoked {
            self.positioned.remove(partition);
        }
        self.sinks.revoked(&revoked);
        assigned
    }

    /// Claims the partition for every sink, retrying while the store fails.
    async fn open_partition(&mut self, partition: i32) -> Result<(), SinkError> {
        let mut attempt = 0;
        loop {
            match self.sinks.open(partition).await {
                Ok(()) => {
                    for sink in self.sink_names() {
                        self.metrics.health.recovered(&sink, HealthStep::Claim);
                    }
                    return Ok(());
                }
                Err(error) if error.is_transient() && !self.stop_requested() => {
                    attempt += 1;
                    for sink in self.sink_names() {
                        self.metrics
                            .health
                            .retrying(&sink, HealthStep::Claim, &error);
                    }
                    let wait = retry_delay(attempt);
                    tracing::warn!(topic = %self.topic, partition, attempt, retry_in_ms = wait.as_millis() as u64, %error, "storage failed while taking a partition; trying again after a pause");
                    tokio::time::sleep(wait).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn stop_requested(&self) -> bool {
        self.commands
            .as_ref()
            .is_some_and(|c| *c.borrow() == SinkCommand::Stop)
    }

    async fn accept(&mut self, received: Received) -> Result<(), SinkError> {
        let partition = received.partition;
        if self.sinks.all_fenced(partition) {
            // Another worker's now; the message stays in Kafka for it.
            return Ok(());
        }
        if self.sinks.needs_open(partition) {
            self.open_partition(partition).await?;
            self.positioned.remove(&partition);
        }
        if !self.positioned.contains(&partition) {
            // The checkpoints, not Kafka's committed offset, say where to
            // resume: a new data directory re-reads the topic from its start.
            self.positioned.insert(partition);
            let position = self.sinks.lowest_position(partition).unwrap_or(0);
            if received.offset != position {
                match self.seek(partition, position) {
                    Ok(()) if received.offset > position => {
                        self.sinks.sought(partition);
                        return Ok(());
                    }
                    Ok(()) => {}
                    // Reading on would skip events the checkpoints say are unwritten.
                    Err(source) if received.offset > position => {
                        self.positioned.remove(&partition);
                        return Err(self.kafka(source));
                    }
                    Err(error) => {
                        tracing::warn!(topic = %self.topic, partition, %error, "cannot seek to the checkpoint; skipping what is written")
                    }
                }
            }
            self.sinks.sought(partition);
        }
        self.sinks.accept(received).await
    }

    fn seek(&self, partition: i32, offset: i64) -> Result<(), KafkaError> {
        let (consumer, topic) = (&self.consumer, self.topic.as_str());
        tokio::task::block_in_place(|| {
            consumer.seek(
                topic,
                partition,
                rdkafka::Offset::Offset(offset),
                Duration::from_secs(10),
            )
        })
    }

    /// After a storage failure: a pause, then the rewound partitions are
    /// read again from their checkpoints.
    async fn seek_rewound(&mut self) -> Result<(), SinkError> {
        let rewound = self.sinks.take_rewound();
        if rewound.is_empty() {
            return Ok(());
        }
        self.failures += 1;
        let wait = retry_delay(self.failures);
        tracing::warn!(topic = %self.topic, partitions = ?rewound, retry_in_ms = wait.as_millis() as u64, "pausing after a storage failure");
        let mut commands = self.commands.clone().expect("set by run");
        // Only a command given during the pause cuts it short.
        commands.borrow_and_update();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = commands.changed() => {}
        }
        for partition in rewound {
            let Some(position) = self.sinks.lowest_position(partition) else {
                continue;
            };
            match self.seek(partition, position) {
                Ok(()) => self.sinks.sought(partition),
                Err(error) => {
                    // The next message of the partition seeks again.
                    tracing::warn!(topic = %self.topic, partition, %error, "cannot seek back yet");
                    self.positioned.remove(&partition);
                }
            }
        }
        Ok(())
    }

    /// Writes one sink's partitions, then tells Kafka (for monitoring) and
    /// the lag metric how far the sinks are.
    async fn write(&mut self, index: usize, only: Option<&[i32]>) -> Result<(), SinkError> {
        let written = self.sinks.write(index, only).await?;
        if written.is_empty() {
            return Ok(());
        }
        if !self.sinks.has_rewound() {
            self.failures = 0;
        }
        let mut offsets = rdkafka::TopicPartitionList::new();
        for done in &written {
            if let Some(offset) = self.sinks.committed_position(done.partition) {
                let _ = offsets.add_partition_offset(
                    &self.topic,
                    done.partition,
                    rdkafka::Offset::Offset(offset),
                );
            }
            let lag = self
                .high_watermark(done.partition)
                .map_or(-1, |high| (high - done.written.next_offset).max(0));
            self.metrics
                .sink_lag
                .with_label_values(&[self.sinks.name(done.sink), &done.partition.to_string()])
                .set(lag);
        }
        // Kafka's copy of the offsets is for monitoring; the checkpoints rule.
        if let Err(error) = self
            .consumer
            .commit(&offsets, rdkafka::consumer::CommitMode::Async)
        {
            tracing::debug!(topic = %self.topic, %error, "offset commit to Kafka failed");
        }
        Ok(())
    }

    /// The partition's end as of the consumer's last fetch, from
    /// librdkafka's cache: no request to the broker in the write path.
    fn high_watermark(&self, partition: i32) -> Option<i64> {
        let topic = std::ffi::CString::new(self.topic.as_str()).ok()?;
        let (mut low, mut high) = (-1i64, -1i64);
        // SAFETY: the client pointer lives as long as `self.consumer`; the
        // call only reads librdkafka's cached offsets into the two locals.
        let error = unsafe {
            rdkafka::bindings::rd_kafka_get_watermark_offsets(
                self.consumer.client().native_ptr(),
                topic.as_ptr(),
                partition,
                &mut low,
                &mut high,
            )
        };
        (error == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
            .then_some(high)
    }
}

/// What woke the reader.
enum Step {
    Message(Received),
    KafkaError(KafkaError),
    Tick,
    Command(SinkCommand),
}

/// What the sinks keep of a message, owned (the borrowed message pins
/// librdkafka's buffer).
fn received_of(message: &rdkafka::message::BorrowedMessage<'_>) -> Received {
    Received {
        partition: message.partition(),
        offset: message.offset(),
        timestamp_micros: message
            .timestamp()
            .to_millis()
            .map_or_else(now_micros, |ms| ms * 1000),
        payload: message.payload().map(<[u8]>::to_vec),
    }
}

/// Capped exponential backoff with jitter: 200 ms, 400 ms, ... up to 30 s,
/// each between half and all of that, so workers that failed together do
/// not retry together.
fn retry_delay(attempt: u32) -> Duration {
    let ceiling = Duration::from_millis(200)
        .saturating_mul(1 << attempt.saturating_sub(1).min(10))
        .min(Duration::from_secs(30));
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos()) as f64
        / 1e9;
    ceiling.mul_f64(0.5 + jitter / 2.0)
}

/// This process, as checkpoints name their owner: host, process and start.
fn worker_id() -> String {
    format!(
        "{}/pid-{}/{}",
        crate::hostname(),
        std::process::id(),
        now_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::retry_delay;
    use std::time::Duration;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_a_cap() {
        for (attempt, ceiling) in [
            (1, 200),
            (2, 400),
            (3, 800),
            (8, 25_600),
            (9, 30_000),
            (40, 30_000),
        ] {
            let wait = retry_delay(attempt);
            let ceiling = Duration::from_millis(ceiling);
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "attempt {attempt}: {wait:?} not within [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
    }
}
