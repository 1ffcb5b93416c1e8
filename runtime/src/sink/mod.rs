//! Sinks: per sink a Kafka consumer that decodes events into Arrow, keeps
//! those its filter matches, and on each trigger writes Parquet files and
//! then its checkpoint. One `select!` over receive, trigger tick and
//! shutdown, as Arroyo's Kafka source does.

pub mod checkpoint;
pub mod decode;
pub mod filter;
pub mod naming;
mod partition;
mod shape;
pub mod trigger;
pub mod writer;

use crate::backlog::Backlog;
use crate::bus::BusSettings;
use crate::metrics::Metrics;
use crate::storage::{Storage, StorageError};
use checkpoint::{Checkpoint, CheckpointError, CheckpointStore};
use decode::{file_schema, full_schema};
use filter::CompiledFilter;
use futures::FutureExt;
use partition::{Claim, WriteError};
pub use partition::{PartitionBuffer, WriteTarget};
use pipec_compiler::plan::{Plan, Schema, Sink};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::ClientContext;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use trigger::{Buffered, Due, TriggerPolicy};

/// What the process asks of its sinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkCommand {
    Run,
    /// Write what is buffered and stop (the broker keeps the rest).
    Stop,
    /// Read up to the end of the topic first, then write and stop: the
    /// embedded broker forgets everything when the process ends.
    Drain,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("sink `{sink}`: {source}")]
    Kafka { sink: String, source: KafkaError },
    #[error("sink `{sink}`: {source}")]
    Storage { sink: String, source: StorageError },
    #[error("sink `{sink}`: {source}")]
    Checkpoint {
        sink: String,
        source: CheckpointError,
    },
    #[error("sink `{sink}`: {message}")]
    Internal { sink: String, message: String },
}

/// Partitions revoked by a rebalance, for the sink loop to forget: another
/// process now owns them and resumes from their checkpoints.
struct SinkContext {
    revoked: Arc<Mutex<Vec<i32>>>,
    assigned: Arc<Mutex<Vec<i32>>>,
}

impl ClientContext for SinkContext {}

impl ConsumerContext for SinkContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let partitions = partitions_of(list);
            tracing::info!(?partitions, "partitions revoked");
            let mut revoked = self.revoked.lock().expect("revoked lock");
            revoked.extend(partitions);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let partitions = partitions_of(list);
            tracing::info!(?partitions, "partitions assigned");
            let mut assigned = self.assigned.lock().expect("assigned lock");
            assigned.extend(partitions);
        }
    }
}

fn partitions_of(list: &rdkafka::TopicPartitionList) -> Vec<i32> {
    list.elements().iter().map(|e| e.partition()).collect()
}

/// Everything a sink needs, built from the plan before anything runs.
pub struct SinkWorker {
    name: String,
    topic: String,
    sink: Sink,
    schema: Schema,
    consumer: StreamConsumer<SinkContext>,
    revoked: Arc<Mutex<Vec<i32>>>,
    assigned: Arc<Mutex<Vec<i32>>>,
    /// Partitions another worker claimed from this one: their messages are
    /// left alone until Kafka assigns them here again, or this worker would
    /// claim them back from their owner.
    fenced: std::collections::BTreeSet<i32>,
    /// Claims made whose recovery has not finished (a storage failure):
    /// retried without claiming again, which would fence the claim itself.
    claims: BTreeMap<i32, (Checkpoint, crate::storage::ObjectVersion)>,
    data: Storage,
    dead_letters: Storage,
    checkpoints: CheckpointStore,
    filter: Option<CompiledFilter>,
    file_schema: arrow::datatypes::SchemaRef,
    policy: TriggerPolicy,
    metrics: Arc<Metrics>,
    backlog: Option<Arc<Backlog>>,
    partitions: BTreeMap<i32, PartitionBuffer>,
    /// Scratch for `due`: what each partition buffers.
    buffered: Vec<Buffered>,
    cluster: String,
    /// Who this worker is, in the checkpoints it claims.
    owner: String,
    /// What the process asks, for the waits between retries.
    commands: Option<watch::Receiver<SinkCommand>>,
    /// This sink's counters, looked up once rather than per message.
    events_read: prometheus::IntCounter,
    dead_lettered: prometheus::IntCounter,
}

/// Totals of one sink's run, for the summary of `trigger once`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkSummary {
    pub sink: String,
    pub events_read: u64,
    pub rows_written: u64,
    pub dead_letters: u64,
    pub files: u64,
}

impl SinkError {
    /// Whether the same step may succeed later (see [`StorageError::is_transient`]).
    pub fn is_transient(&self) -> bool {
        match self {
            SinkError::Storage { source, .. } => source.is_transient(),
            SinkError::Checkpoint {
                source: CheckpointError::Storage(source),
                ..
            } => source.is_transient(),
            // Claims that kept crossing other writers': try again later.
            SinkError::Checkpoint {
                source: CheckpointError::Fenced { .. },
                ..
            } => true,
            _ => false,
        }
    }
}

impl SinkWorker {
    pub fn build(
        plan: &Plan,
        index: usize,
        bus: &BusSettings,
        data_dir: &Path,
        metrics: Arc<Metrics>,
        backlog: Option<Arc<Backlog>>,
    ) -> Result<SinkWorker, SinkError> {
        let sink = plan.sinks[index].clone();
        let name = sink.name.clone();
        let topic = plan.topic(&sink.topic).name.clone();
        let schema = plan.topic_schema(plan.topic(&sink.topic)).clone();
        let storage_error = |source| SinkError::Storage {
            sink: name.clone(),
            source,
        };
        let data = Storage::open(&sink.path, data_dir).map_err(storage_error)?;
        let checkpoints =
            CheckpointStore::new(Storage::open(&sink.checkpoint, data_dir).map_err(storage_error)?);
        let dead_root = Storage::open(&plan.dead_letters.path, data_dir).map_err(storage_error)?;
        let dead_letters = dead_root.subdirectory(&format!(
            "{}={name}",
            pipec_compiler::plan::DEAD_LETTER_PARTITION
        ));
        let full = full_schema(&schema, &sink.metadata);
        let filter = match &sink.filter {
            Some(expr) => {
                Some(
                    CompiledFilter::new(expr, &full).map_err(|e| SinkError::Internal {
                        sink: name.clone(),
                        message: format!(
                            "this is a bug in pipec: the filter does not lower to DataFusion: {e}"
                        ),
                    })?,
                )
            }
            None => None,
        };
        let file_schema = file_schema(&sink);
        let revoked = Arc::new(Mutex::new(Vec::new()));
        let assigned = Arc::new(Mutex::new(Vec::new()));
        let consumer: StreamConsumer<SinkContext> = bus
            .consumer_config(&format!("pipec.{}.{}", plan.name, name))
            .create_with_context(SinkContext {
                revoked: revoked.clone(),
                assigned: assigned.clone(),
            })
            .map_err(|source| SinkError::Kafka {
                sink: name.clone(),
                source,
            })?;
        let events_read = metrics.sink_events_read.with_label_values(&[name.as_str()]);
        let dead_lettered = metrics.dead_letters.with_label_values(&[name.as_str()]);
        Ok(SinkWorker {
            events_read,
            dead_lettered,
            policy: TriggerPolicy::from_plan(&sink.trigger),
            name,
            topic,
            sink,
            schema,
            consumer,
            revoked,
            assigned,
            fenced: Default::default(),
            claims: BTreeMap::new(),
            data,
            dead_letters,
            checkpoints,
            filter,
            file_schema,
            metrics,
            backlog,
            partitions: BTreeMap::new(),
            buffered: Vec::new(),
            cluster: String::new(),
            owner: worker_id(),
            commands: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_once(&self) -> bool {
        self.policy == TriggerPolicy::Once
    }

    fn kafka(&self, source: KafkaError) -> SinkError {
        SinkError::Kafka {
            sink: self.name.clone(),
            source,
        }
    }

    /// Reads, filters and writes until told to stop (or, for `trigger
    /// once`, until the topic's end as of the start).
    pub async fn run(
        mut self,
        mut commands: watch::Receiver<SinkCommand>,
    ) -> Result<SinkSummary, SinkError> {
        self.commands = Some(commands.clone());
        self.cluster = self.cluster_id().await;
        let mut end: Option<BTreeMap<i32, i64>> = None;
        if self.is_once() {
            // A backfill reads every partition itself, from its checkpoint,
            // whatever other members of the consumer group do.
            let ends = self.end_offsets().await?;
            let mut assignment = rdkafka::TopicPartitionList::new();
            for &partition in ends.keys() {
                let position = self.open_partition(partition).await?.position();
                self.partitions
                    .get_mut(&partition)
                    .expect("opened")
                    .mark_positioned();
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
        tracing::info!(sink = %self.name, topic = %self.topic, path = %self.data.display(), "sink started");
        let mut summary = SinkSummary {
            sink: self.name.clone(),
            ..SinkSummary::default()
        };
        let tick = self
            .policy
            .tick()
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        let mut ticker = tokio::time::interval(tick);
        let mut last_write = Instant::now();
        let mut stopping = false;
        loop {
            if let Some(end) = &end {
                if self.reached(end).await? {
                    break;
                }
            }
            let step = tokio::select! {
                received = self.consumer.recv() => match received {
                    Ok(message) => Step::Message(Received::of(&message)),
                    Err(error) => Step::KafkaError(error),
                },
                _ = ticker.tick() => Step::Tick,
                changed = commands.changed(), if !stopping => {
                    Step::Command(if changed.is_ok() { *commands.borrow() } else { SinkCommand::Stop })
                }
            };
            self.forget_revoked();
            match step {
                Step::Message(received) => {
                    self.accept(received).await?;
                    summary.events_read += 1;
                    summary.events_read += self.accept_ready(end.as_ref(), last_write).await?;
                }
                Step::KafkaError(error) => {
                    tracing::warn!(sink = %self.name, %error, "Kafka error; retrying")
                }
                Step::Tick | Step::Command(SinkCommand::Run) => {}
                Step::Command(SinkCommand::Stop) => break,
                Step::Command(SinkCommand::Drain) => {
                    stopping = true;
                    end = Some(self.end_offsets().await?);
                }
            }
            match self.due(last_write.elapsed())? {
                Due::Nothing => {}
                Due::All => {
                    self.write(None, &mut summary, &commands).await?;
                    last_write = Instant::now();
                }
                Due::Partitions(full) => self.write(Some(&full), &mut summary, &commands).await?,
            }
        }
        self.write(None, &mut summary, &commands).await?;
        if let Some(backlog) = &self.backlog {
            backlog.retire(&self.name);
        }
        tracing::info!(
            sink = %self.name,
            events_read = summary.events_read,
            rows_written = summary.rows_written,
            dead_letters = summary.dead_letters,
            files = summary.files,
            "sink stopped"
        );
        Ok(summary)
    }

    /// Takes the messages librdkafka has already fetched, up to a trigger
    /// or the end of a backfill, without a trip through the `select!` of
    /// `run` for each: its timers and wakers were a tenth of a backfill's
    /// CPU in bench/run. Returns how many were taken.
    async fn accept_ready(
        &mut self,
        end: Option<&BTreeMap<i32, i64>>,
        last_write: Instant,
    ) -> Result<u64, SinkError> {
        /// Bounds the time away from the stop command and the clock.
        const READY_BATCH: u64 = 512;
        // Read once: a batch lasts far less than any interval trigger.
        let since_last_write = last_write.elapsed();
        let mut taken = 0;
        while taken < READY_BATCH {
            if self.due(since_last_write)? != Due::Nothing {
                break;
            }
            if let Some(end) = end {
                if self.reached(end).await? {
                    break;
                }
            }
            let received = match self.consumer.recv().now_or_never() {
                None => break,
                Some(Ok(message)) => Received::of(&message),
                Some(Err(error)) => {
                    tracing::warn!(sink = %self.name, %error, "Kafka error; retrying");
                    break;
                }
            };
            // As after every `select!`: a rebalance may have run in `recv`.
            self.forget_revoked();
            self.accept(received).await?;
            taken += 1;
        }
        Ok(taken)
    }

    /// The cluster's id, waited for: a wrong one would make every checkpoint
    /// look like another cluster's and the partitions be read again.
    async fn cluster_id(&mut self) -> String {
        let mut attempt = 0;
        let id = loop {
            let consumer = &self.consumer;
            let id = tokio::task::block_in_place(|| {
                consumer.client().fetch_cluster_id(Duration::from_secs(10))
            });
            match id {
                Some(id) => break id,
                None if self.stop_requested() => break "unknown".to_string(),
                None => {
                    attempt += 1;
                    tracing::warn!(sink = %self.name, attempt, "the Kafka cluster's id is not known yet; asking again");
                    tokio::time::sleep(retry_delay(attempt).min(Duration::from_secs(5))).await;
                }
            }
        };
        // A short, file-name-safe digest of the cluster id.
        let digest = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        format!("{:08x}", digest as u32)
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

    /// Whether every partition has been read up to `end`.
    async fn reached(&mut self, end: &BTreeMap<i32, i64>) -> Result<bool, SinkError> {
        for (&partition, &high) in end {
            if high == 0 {
                continue;
            }
            if self.fenced.contains(&partition) {
                continue;
            }
            let position = match self.partitions.get(&partition) {
                Some(buffer) => buffer.position(),
                None => self.open_partition(partition).await?.position(),
            };
            if position < high {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn forget_revoked(&mut self) {
        let assigned: Vec<i32> = std::mem::take(&mut *self.assigned.lock().expect("assigned lock"));
        for partition in assigned {
            self.fenced.remove(&partition);
        }
        let revoked: Vec<i32> = std::mem::take(&mut *self.revoked.lock().expect("revoked lock"));
        for partition in revoked {
            self.claims.remove(&partition);
            if self.partitions.remove(&partition).is_some() {
                tracing::info!(sink = %self.name, partition, "partition revoked; its unwritten events stay in Kafka for its new owner");
            }
        }
    }

    /// What the trigger says of the buffers now. Under a row count, a
    /// partition whose rows might have reached it is filtered first, so
    /// that rows the filter drops never count.
    fn due(&mut self, since_last_write: Duration) -> Result<Due, SinkError> {
        if let Some(limit) = self.policy.rows_per_file() {
            for buffer in self.partitions.values_mut() {
                if buffer.rows() >= limit && buffer.pending_rows() > 0 {
                    buffer
                        .decode(self.filter.as_ref())
                        .map_err(|message| SinkError::Internal {
                            sink: self.name.clone(),
                            message,
                        })?;
                }
            }
        }
        // Asked before every message: the list's memory is kept, not
        // allocated per call.
        let mut buffers = std::mem::take(&mut self.buffered);
        buffers.clear();
        buffers.extend(self.partitions.iter().map(|(&partition, b)| Buffered {
            partition,
            messages: b.messages(),
            rows: b.rows(),
        }));
        let due = self.policy.due(&buffers, since_last_write);
        self.buffered = buffers;
        Ok(due)
    }

    /// The partition's buffer, starting from its checkpoint, which this
    /// worker first claims (see `checkpoint`'s fencing protocol): then the
    /// hidden files a crash left are made visible if the checkpoint names
    /// them, deleted if not.
    async fn open_partition(&mut self, partition: i32) -> Result<&mut PartitionBuffer, SinkError> {
        let mut attempt = 0;
        loop {
            match self.claim_partition(partition).await {
                Ok(()) => break,
                Err(error) if error.is_transient() && !self.stop_requested() => {
                    attempt += 1;
                    let wait = self.retry_pause(partition, attempt, &error, "taking a partition");
                    tokio::time::sleep(wait).await;
                }
                Err(error) => return Err(error),
            }
        }
        Ok(self.partitions.get_mut(&partition).expect("claimed above"))
    }

    /// Counts and logs one retry after a transient storage error, and says
    /// how long to wait first; nothing is lost meanwhile: the events are
    /// buffered and still in Kafka.
    fn retry_pause(
        &self,
        partition: i32,
        attempt: u32,
        error: &dyn std::fmt::Display,
        doing: &str,
    ) -> Duration {
        let wait = retry_delay(attempt);
        self.metrics
            .sink_write_retries
            .with_label_values(&[self.name.as_str()])
            .inc();
        tracing::warn!(sink = %self.name, partition, attempt, retry_in_ms = wait.as_millis() as u64, %error, "storage failed while {doing}; trying again after a pause");
        wait
    }

    fn stop_requested(&self) -> bool {
        self.commands
            .as_ref()
            .is_some_and(|c| *c.borrow() == SinkCommand::Stop)
    }

    async fn claim_partition(&mut self, partition: i32) -> Result<(), SinkError> {
        if !self.partitions.contains_key(&partition) {
            let fresh = Checkpoint {
                cluster: self.cluster.clone(),
                topic: self.topic.clone(),
                partition,
                next_offset: 0,
                files: Vec::new(),
                generation: 0,
                owner: String::new(),
            };
            let (claimed, version) = match self.claims.get(&partition) {
                Some(held) => held.clone(),
                None => {
                    let claim =
                        self.checkpoints
                            .claim(fresh, &self.owner)
                            .await
                            .map_err(|source| SinkError::Checkpoint {
                                sink: self.name.clone(),
                                source,
                            })?;
                    self.claims.insert(partition, claim.clone());
                    claim
                }
            };
            tracing::debug!(sink = %self.name, partition, generation = claimed.generation, "partition claimed");
            let storage_error = |source| SinkError::Storage {
                sink: self.name.clone(),
                source,
            };
            let next_offset = if claimed.cluster == self.cluster {
                partition::recover(&claimed, &self.data, &self.dead_letters, &self.topic)
                    .await
                    .map_err(storage_error)?;
                claimed.next_offset
            } else {
                tracing::warn!(
                    sink = %self.name, partition, checkpoint_cluster = %claimed.cluster, cluster = %self.cluster,
                    "the checkpoint is of another Kafka cluster; reading this partition from its start"
                );
                partition::remove_orphans(
                    &self.data,
                    &self.dead_letters,
                    &self.topic,
                    partition,
                    claimed.generation,
                )
                .await
                .map_err(storage_error)?;
                0
            };
            let claim = Claim {
                generation: claimed.generation,
                version,
            };
            let buffer =
                PartitionBuffer::new(partition, next_offset, &self.schema, &self.sink.metadata)
                    .map_err(|e| SinkError::Internal {
                        sink: self.name.clone(),
                        message: e.to_string(),
                    })?
                    .with_claim(claim);
            self.claims.remove(&partition);
            self.partitions.insert(partition, buffer);
        }
        Ok(())
    }

    async fn accept(&mut self, received: Received) -> Result<(), SinkError> {
        let Received {
            partition,
            offset,
            timestamp_micros,
            payload,
        } = received;
        if self.fenced.contains(&partition) {
            // Another worker's now; the message stays in Kafka for it.
            return Ok(());
        }
        self.open_partition(partition).await?;
        // Fields borrowed one by one: this runs for every message, so no clones.
        let buffer = self.partitions.get_mut(&partition).expect("opened above");
        let position = buffer.position();
        if buffer.is_fresh() && offset != position {
            // The checkpoint, not Kafka's committed offset, says where to
            // resume: a new data directory re-reads the topic from its start.
            buffer.mark_positioned();
            let (consumer, topic) = (&self.consumer, self.topic.as_str());
            let sought = tokio::task::block_in_place(|| {
                consumer.seek(
                    topic,
                    partition,
                    rdkafka::Offset::Offset(position),
                    Duration::from_secs(10),
                )
            });
            match sought {
                Ok(()) if offset > position => return Ok(()),
                Ok(()) => {}
                // Reading on would skip events the checkpoint says are unwritten.
                Err(source) if offset > position => {
                    return Err(SinkError::Kafka {
                        sink: self.name.clone(),
                        source,
                    })
                }
                Err(error) => {
                    tracing::warn!(sink = %self.name, partition, %error, "cannot seek to the checkpoint; skipping what is written")
                }
            }
        }
        buffer.mark_positioned();
        if offset < buffer.position() {
            // Already in a file: a replay after a crash or a rebalance.
            return Ok(());
        }
        let dead = buffer.accept(&self.topic, &self.schema, offset, timestamp_micros, payload);
        self.events_read.inc();
        if dead {
            self.dead_lettered.inc();
        }
        if buffer.pending_rows() >= partition::DECODE_BATCH {
            buffer
                .decode(self.filter.as_ref())
                .map_err(|message| SinkError::Internal {
                    sink: self.name.clone(),
                    message,
                })?;
        }
        Ok(())
    }

    /// Writes the buffers of `only` these partitions, or of all: files
    /// first, hidden; then the checkpoint; then the files made visible;
    /// then offsets to Kafka.
    async fn write(
        &mut self,
        only: Option<&[i32]>,
        summary: &mut SinkSummary,
        commands: &watch::Receiver<SinkCommand>,
    ) -> Result<(), SinkError> {
        let partitions: Vec<i32> = self
            .partitions
            .iter()
            .filter(|(p, b)| b.messages() > 0 && only.is_none_or(|only| only.contains(p)))
            .map(|(p, _)| *p)
            .collect();
        for partition in partitions {
            let mut attempt = 0u32;
            let written = loop {
                let buffer = self.partitions.get_mut(&partition).expect("listed");
                let result = buffer
                    .write(partition::WriteTarget {
                        sink: &self.sink,
                        topic: &self.topic,
                        cluster: &self.cluster,
                        filter: self.filter.as_ref(),
                        file_schema: &self.file_schema,
                        data: &self.data,
                        dead_letters: &self.dead_letters,
                        checkpoints: &self.checkpoints,
                        owner: &self.owner,
                    })
                    .await;
                match result {
                    Err(WriteError::Storage(error)) if error.is_transient() => {
                        if *commands.borrow() == SinkCommand::Stop || self.stop_requested() {
                            tracing::warn!(sink = %self.name, partition, %error, "stopping during a storage failure: the unwritten events stay in Kafka");
                            return Ok(());
                        }
                        attempt += 1;
                        let wait = self.retry_pause(partition, attempt, &error, "writing");
                        tokio::time::sleep(wait).await;
                    }
                    other => break other,
                }
            };
            let written = match written {
                Ok(written) => written,
                Err(WriteError::Fenced { partition }) => {
                    // A rebalance this worker has not heard of, or a pause
                    // past the session timeout: the partition is another's.
                    self.partitions.remove(&partition);
                    self.fenced.insert(partition);
                    self.metrics
                        .sink_fenced
                        .with_label_values(&[self.name.as_str()])
                        .inc();
                    tracing::warn!(
                        sink = %self.name, partition,
                        "another worker claimed this partition: nothing of this write is visible, and its events stay in Kafka for that worker"
                    );
                    continue;
                }
                Err(WriteError::Storage(source)) => {
                    return Err(SinkError::Storage {
                        sink: self.name.clone(),
                        source,
                    })
                }
                Err(WriteError::Failed(message)) => {
                    return Err(SinkError::Internal {
                        sink: self.name.clone(),
                        message,
                    })
                }
            };
            let name = self.name.as_str();
            self.metrics
                .sink_rows_written
                .with_label_values(&[name])
                .inc_by(written.rows);
            self.metrics
                .sink_files_written
                .with_label_values(&[name])
                .inc_by(written.files);
            self.metrics
                .sink_last_commit
                .with_label_values(&[name])
                .set(now_micros() / 1_000_000);
            summary.rows_written += written.rows;
            summary.dead_letters += written.dead_letters;
            summary.files += written.files;
            let mut offsets = rdkafka::TopicPartitionList::new();
            let _ = offsets.add_partition_offset(
                &self.topic,
                partition,
                rdkafka::Offset::Offset(written.next_offset),
            );
            // Kafka's copy of the offsets is for monitoring; the checkpoint rules.
            if let Err(error) = self
                .consumer
                .commit(&offsets, rdkafka::consumer::CommitMode::Async)
            {
                tracing::debug!(sink = name, %error, "offset commit to Kafka failed");
            }
            if let Some(backlog) = &self.backlog {
                backlog.written(name, &self.topic, partition, written.next_offset);
            }
            let consumer = &self.consumer;
            let topic = self.topic.as_str();
            let lag = tokio::task::block_in_place(|| {
                consumer.fetch_watermarks(topic, partition, Duration::from_secs(2))
            })
            .map(|(_, high)| (high - written.next_offset).max(0))
            .unwrap_or(-1);
            self.metrics
                .sink_lag
                .with_label_values(&[name, &partition.to_string()])
                .set(lag);
            tracing::info!(
                sink = name,
                partition,
                read = written.messages,
                written = written.rows,
                dead_letters = written.dead_letters,
                files = written.files,
                lag,
                "trigger"
            );
        }
        Ok(())
    }
}

/// What woke the sink loop.
enum Step {
    Message(Received),
    KafkaError(KafkaError),
    Tick,
    Command(SinkCommand),
}

/// What a sink keeps of a message, owned (the borrowed message pins
/// librdkafka's buffer).
struct Received {
    partition: i32,
    offset: i64,
    timestamp_micros: i64,
    payload: Option<Vec<u8>>,
}

impl Received {
    fn of(message: &rdkafka::message::BorrowedMessage<'_>) -> Received {
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
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".to_string());
    format!("{host}/pid-{}/{}", std::process::id(), now_micros())
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
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
