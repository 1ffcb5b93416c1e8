//! The sinks of one topic, without Kafka: messages in, files and
//! checkpoints out. The topic is read once for all of its sinks: each
//! message is classified and decoded once ([`ChunkBuilder`]), and every
//! sink takes the decoded chunk through its own filter into its own files.
//! Each sink keeps its own checkpoint per partition: the reader resumes
//! from the lowest, and a sink skips what it has already written.
//!
//! The Kafka loop (`super::TopicReader`) feeds it and acts on what it asks:
//! where to seek after a partition is opened or rewound.

use super::checkpoint::{self, Checkpoint, CheckpointStore};
use super::chunk::{batch_builder, Chunk, ChunkBuilder};
use super::decode::{dead_letter_batch, file_schema, full_schema, BatchBuilder};
use super::delta::{DeltaError, DeltaSinkTable};
use super::filter::CompiledFilter;
use super::naming::{first_offset_of, FileKey};
use super::partition::{Claim, PartitionBuffer, Sealed, WriteTarget, Written};
use super::trigger::{Buffered, Due, TriggerPolicy};
use super::write_error::WriteError;
use super::writer::encode_parquet;
use super::{SinkError, SinkSummary};
use crate::backlog::Backlog;
use crate::compact::Maintained;
use crate::health::Step;
use crate::metrics::Metrics;
use crate::storage::{ObjectVersion, Storage};
use arrow::datatypes::SchemaRef;
use futures::FutureExt;
use pipec_compiler::plan::{Compression, Plan, Schema, Sink, DEAD_LETTER_PARTITION};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A message as the sinks need it, whatever it was read from.
#[derive(Debug, Clone)]
pub struct Message {
    pub partition: i32,
    pub offset: i64,
    pub timestamp_micros: i64,
    pub payload: Option<Vec<u8>>,
}

/// One sink of the topic.
struct SinkState {
    sink: Sink,
    data: Storage,
    dead_letters: Storage,
    /// A plain sink's checkpoints (a Delta sink's table is its own).
    checkpoints: Option<CheckpointStore>,
    /// A Delta sink's table, opened at its first claim (when the Kafka
    /// cluster its offsets are of is known).
    delta: Option<DeltaSinkTable>,
    compaction: Compaction,
    filter: Option<CompiledFilter>,
    full_schema: SchemaRef,
    file_schema: SchemaRef,
    policy: TriggerPolicy,
    partitions: BTreeMap<i32, PartitionBuffer>,
    /// Partitions another worker claimed from this sink: left alone until
    /// they are assigned here again, or this worker would claim them back.
    fenced: BTreeSet<i32>,
    /// Claims made whose recovery has not finished (a storage failure):
    /// retried without claiming again, which would fence the claim itself.
    claims: BTreeMap<i32, (Checkpoint, ObjectVersion)>,
    last_write: Instant,
    summary: SinkSummary,
    events_read: prometheus::IntCounter,
    dead_lettered: prometheus::IntCounter,
}

/// A Delta sink's automatic compaction: run beside the sink (never on its
/// read path) by the worker that writes Kafka partition 0, so one worker at
/// a time compacts the table.
struct Compaction {
    running: Option<tokio::task::JoinHandle<Result<Maintained, DeltaError>>>,
    last: Instant,
}

/// Runs of one partition decoded at once, on blocking threads. One left
/// the decoder idle while the reader handed the last run to the sinks, and
/// the reader idle while it waited for the decoder: a 5M-event backfill
/// used about one of the two cores.
const DECODES_IN_FLIGHT: usize = 3;

/// A partition's messages not yet handed to the sinks: those being
/// gathered and the runs being decoded meanwhile (oldest first, handed
/// over in that order), each with the sinks that take it (at a resume,
/// sinks that wrote further skip what they have).
#[derive(Default)]
struct Pending {
    chunk: ChunkBuilder,
    audience: Vec<usize>,
    decoding: VecDeque<Decoding>,
    /// arrow-json's decoders, between runs.
    builders: Vec<BatchBuilder>,
}

/// A run of messages being decoded on a blocking thread.
struct Decoding {
    task: tokio::task::JoinHandle<(BatchBuilder, Result<Chunk, arrow::error::ArrowError>)>,
    audience: Vec<usize>,
    messages: u64,
    next_offset: i64,
}

/// What a write did to one partition of one sink.
#[derive(Debug)]
pub struct PartitionWritten {
    pub sink: usize,
    pub partition: i32,
    pub written: Written,
}

/// The sinks of one topic.
pub struct TopicSinks {
    /// The pipeline's name, which a Delta table's offsets are recorded under.
    pipeline: String,
    topic: String,
    schema: Schema,
    /// Short id of the Kafka cluster the offsets are of.
    cluster: String,
    /// Who this worker is, in the checkpoints it claims.
    owner: String,
    sinks: Vec<SinkState>,
    pending: BTreeMap<i32, Pending>,
    /// Partitions rewound after a storage failure, for the reader to seek.
    rewound: BTreeSet<i32>,
    metrics: Arc<Metrics>,
    backlog: Option<Arc<Backlog>>,
}

impl TopicSinks {
    /// The sinks of `topic` in the plan, writing below `data_dir`.
    pub fn build(
        plan: &Plan,
        topic: &str,
        data_dir: &Path,
        metrics: Arc<Metrics>,
        backlog: Option<Arc<Backlog>>,
        owner: String,
    ) -> Result<TopicSinks, SinkError> {
        let declared = plan
            .topics
            .iter()
            .find(|t| t.name == topic)
            .expect("a topic of the plan");
        let schema = plan.topic_schema(declared).clone();
        let mut sinks = Vec::new();
        for sink in plan.sinks.iter().filter(|s| s.topic.name == topic) {
            let name = sink.name.clone();
            let storage_error = |source| SinkError::Storage {
                sink: name.clone(),
                source,
            };
            let data = Storage::open(&sink.path, data_dir).map_err(storage_error)?;
            let checkpoints = match &sink.checkpoint {
                Some(location) => Some(CheckpointStore::new(
                    Storage::open(location, data_dir).map_err(storage_error)?,
                )),
                None => None,
            };
            let dead_letters = Storage::open(&plan.dead_letters.path, data_dir)
                .map_err(storage_error)?
                .subdirectory(&format!("{DEAD_LETTER_PARTITION}={name}"));
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
            metrics.health.register(&name);
            sinks.push(SinkState {
                events_read: metrics.sink_events_read.with_label_values(&[name.as_str()]),
                dead_lettered: metrics.dead_letters.with_label_values(&[name.as_str()]),
                summary: SinkSummary {
                    sink: name.clone(),
                    ..SinkSummary::default()
                },
                file_schema: file_schema(sink),
                full_schema: full,
                policy: TriggerPolicy::from_plan(&sink.trigger),
                sink: sink.clone(),
                data,
                dead_letters,
                checkpoints,
                delta: None,
                compaction: Compaction {
                    running: None,
                    last: Instant::now(),
                },
                filter,
                partitions: BTreeMap::new(),
                fenced: BTreeSet::new(),
                claims: BTreeMap::new(),
                last_write: Instant::now(),
            });
        }
        Ok(TopicSinks {
            pipeline: plan.name.clone(),
            topic: topic.to_string(),
            schema,
            cluster: String::new(),
            owner,
            sinks,
            pending: BTreeMap::new(),
            rewound: BTreeSet::new(),
            metrics,
            backlog,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The Kafka cluster the offsets are of (it names files and checkpoints).
    pub fn set_cluster(&mut self, cluster: String) {
        self.cluster = cluster;
    }

    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    pub fn name(&self, sink: usize) -> &str {
        &self.sinks[sink].sink.name
    }

    pub fn policy(&self, sink: usize) -> TriggerPolicy {
        self.sinks[sink].policy
    }

    pub fn summaries(&self) -> Vec<SinkSummary> {
        self.sinks.iter().map(|s| s.summary.clone()).collect()
    }

    /// Whether some sink still has to claim the partition before reading it.
    pub fn needs_open(&self, partition: i32) -> bool {
        self.sinks
            .iter()
            .any(|s| !s.fenced.contains(&partition) && !s.partitions.contains_key(&partition))
    }

    /// Whether no sink of this worker writes the partition (another worker
    /// claimed it from all of them): its messages stay in Kafka for it.
    pub fn all_fenced(&self, partition: i32) -> bool {
        self.sinks.iter().all(|s| s.fenced.contains(&partition))
    }

    /// Claims the partition for every sink that has not, each from its own
    /// checkpoint (see `checkpoint`'s fencing protocol): then the hidden
    /// files a crash left are made visible if the checkpoint names them,
    /// deleted if not. A transient error may be retried: claims made stay.
    pub async fn open(&mut self, partition: i32) -> Result<(), SinkError> {
        for index in 0..self.sinks.len() {
            let sink = &self.sinks[index];
            if sink.fenced.contains(&partition) || sink.partitions.contains_key(&partition) {
                continue;
            }
            let buffer = self.claim(index, partition).await?;
            let sink = &mut self.sinks[index];
            sink.claims.remove(&partition);
            sink.partitions.insert(partition, buffer);
        }
        Ok(())
    }

    async fn claim(&mut self, index: usize, partition: i32) -> Result<PartitionBuffer, SinkError> {
        if self.sinks[index].sink.format.delta().is_some() {
            return self.claim_delta(index, partition).await;
        }
        let fresh = Checkpoint {
            cluster: self.cluster.clone(),
            topic: self.topic.clone(),
            partition,
            next_offset: 0,
            files: Vec::new(),
            generation: 0,
            owner: String::new(),
        };
        let sink = &mut self.sinks[index];
        let name = sink.sink.name.clone();
        let checkpoints = sink
            .checkpoints
            .as_ref()
            .expect("a plain sink has checkpoints");
        let (claimed, version) = match sink.claims.get(&partition) {
            Some(held) => held.clone(),
            None => {
                let claim = checkpoints
                    .claim(fresh, &self.owner)
                    .await
                    .map_err(|source| SinkError::Checkpoint {
                        sink: name.clone(),
                        source,
                    })?;
                sink.claims.insert(partition, claim.clone());
                claim
            }
        };
        tracing::debug!(sink = %name, partition, generation = claimed.generation, "partition claimed");
        let next_offset = checkpoint::resume(
            &claimed,
            &self.cluster,
            &sink.data,
            &sink.dead_letters,
            &name,
        )
        .await
        .map_err(|source| SinkError::Storage {
            sink: name.clone(),
            source,
        })?;
        Ok(
            PartitionBuffer::new(partition, next_offset).with_claim(Claim {
                generation: claimed.generation,
                version,
            }),
        )
    }

    /// A Delta sink's claim: the partition goes on from the table's `txn`
    /// version for it. Dead letters a crash left of writes the table never
    /// committed (they are written just before the commit) are deleted: the
    /// messages are read again.
    async fn claim_delta(
        &mut self,
        index: usize,
        partition: i32,
    ) -> Result<PartitionBuffer, SinkError> {
        let (pipeline, topic, cluster) = (&self.pipeline, &self.topic, &self.cluster);
        let sink = &mut self.sinks[index];
        let name = sink.sink.name.clone();
        let delta_error = |source| SinkError::Delta {
            sink: name.clone(),
            source: Box::new(source),
        };
        let table = match &mut sink.delta {
            Some(table) => {
                table.refresh().await.map_err(delta_error)?;
                table
            }
            None => {
                let mut table = DeltaSinkTable::open(&sink.data, pipeline, &sink.sink)
                    .await
                    .map_err(delta_error)?;
                table.set_offsets_of(pipeline, &name, topic, cluster);
                sink.delta.insert(table)
            }
        };
        let next_offset = table.next_offset(partition).await.map_err(delta_error)?;
        let version = table.version();
        for path in sink
            .dead_letters
            .list("")
            .await
            .map_err(|e| delta_error(e.into()))?
        {
            let file = path.rsplit('/').next().unwrap_or(&path);
            if first_offset_of(file, topic, partition).is_some_and(|first| first >= next_offset) {
                tracing::info!(sink = %name, file = %path, "removing dead letters of a write the Delta table never committed");
                sink.dead_letters
                    .delete(&path)
                    .await
                    .map_err(|e| delta_error(e.into()))?;
            }
        }
        tracing::debug!(sink = %name, partition, next_offset, version, "partition claimed from the Delta table");
        Ok(PartitionBuffer::new(partition, next_offset))
    }

    /// Where reading the partition must go on from: the lowest position of
    /// the sinks that write it (`None` if none does).
    pub fn lowest_position(&self, partition: i32) -> Option<i64> {
        (0..self.sinks.len())
            .filter_map(|index| self.position(index, partition))
            .min()
    }

    /// The next offset a sink takes of a partition, counting what is
    /// pending for it.
    fn position(&self, index: usize, partition: i32) -> Option<i64> {
        let buffer = self.sinks[index].partitions.get(&partition)?;
        let Some(pending) = self.pending.get(&partition) else {
            return Some(buffer.position());
        };
        if pending.chunk.messages() > 0 && pending.audience.contains(&index) {
            return Some(pending.chunk.next_offset());
        }
        match pending
            .decoding
            .iter()
            .rev()
            .find(|d| d.audience.contains(&index))
        {
            Some(decoding) => Some(decoding.next_offset),
            None => Some(buffer.position()),
        }
    }

    /// The offset below which every sink has committed the partition: what
    /// the consumer group's offset says, for monitoring.
    pub fn committed_position(&self, partition: i32) -> Option<i64> {
        self.sinks
            .iter()
            .filter_map(|s| s.partitions.get(&partition))
            .map(PartitionBuffer::committed_position)
            .min()
    }

    /// Takes one message of an opened partition.
    pub async fn accept(&mut self, message: Message) -> Result<(), SinkError> {
        let Message {
            partition,
            offset,
            timestamp_micros,
            payload,
        } = message;
        // Nearly always every sink takes what the one before went to; only
        // at a resume, a rewind or a fence is the audience worked out.
        let unchanged = self.pending.get(&partition).is_some_and(|p| {
            p.chunk.messages() > 0
                && p.audience.len() == self.sinks.len()
                && p.chunk.next_offset() <= offset
        });
        if !unchanged {
            let mut audience = self.audience(partition, offset);
            let changed = self.pending.get(&partition).is_some_and(|pending| {
                pending.chunk.messages() > 0 && pending.audience != audience
            });
            if changed {
                self.flush(partition).await?;
                // The flush may have rewound a sink: it takes nothing more now.
                audience = self.audience(partition, offset);
            }
            if audience.is_empty() {
                // Written by every sink already (a replay after a rewind, a
                // crash or a rebalance), or for none until the reader seeks.
                return Ok(());
            }
            self.pending.entry(partition).or_default().audience = audience;
        }
        let pending = self.pending.get_mut(&partition).expect("entered above");
        pending.chunk.push(offset, timestamp_micros, payload);
        if pending.chunk.is_full() {
            self.dispatch(partition).await?;
        }
        Ok(())
    }

    /// The sinks that take the message at `offset`: those that have not
    /// written it, unless rewound and waiting for the reader to seek back.
    fn audience(&self, partition: i32, offset: i64) -> Vec<usize> {
        (0..self.sinks.len())
            .filter(|&index| {
                self.sinks[index]
                    .partitions
                    .get(&partition)
                    .is_some_and(|b| !b.is_awaiting_seek())
                    && self.position(index, partition).is_some_and(|p| p <= offset)
            })
            .collect()
    }

    /// The reader has sought the partition back to its lowest position:
    /// rewound sinks take messages again.
    pub fn sought(&mut self, partition: i32) {
        for sink in &mut self.sinks {
            if let Some(buffer) = sink.partitions.get_mut(&partition) {
                buffer.sought();
            }
        }
    }

    /// Starts decoding the gathered run on a blocking thread. Runs decoded
    /// already are handed over first, and the oldest is waited for when
    /// [`DECODES_IN_FLIGHT`] are: runs reach the sinks in order, and memory
    /// stays bounded.
    async fn dispatch(&mut self, partition: i32) -> Result<(), SinkError> {
        while self.pending.get(&partition).is_some_and(|pending| {
            pending.decoding.len() >= DECODES_IN_FLIGHT
                || pending
                    .decoding
                    .front()
                    .is_some_and(|d| d.task.is_finished())
        }) {
            self.land(partition).await?;
        }
        let (topic, schema) = (self.topic.clone(), self.schema.clone());
        let Some(pending) = self.pending.get_mut(&partition) else {
            return Ok(());
        };
        let Some(raw) = pending.chunk.take() else {
            return Ok(());
        };
        let mut builder = match pending.builders.pop() {
            Some(builder) => builder,
            None => batch_builder(&schema).map_err(|e| SinkError::Internal {
                sink: topic.clone(),
                message: e.to_string(),
            })?,
        };
        let (messages, next_offset) = (raw.messages(), raw.next_offset());
        let task = tokio::task::spawn_blocking(move || {
            let chunk = raw.decode(&topic, partition, &schema, &mut builder);
            (builder, chunk)
        });
        pending.decoding.push_back(Decoding {
            task,
            audience: std::mem::take(&mut pending.audience),
            messages,
            next_offset,
        });
        Ok(())
    }

    /// Waits for the oldest run being decoded, and hands it to its sinks.
    async fn land(&mut self, partition: i32) -> Result<(), SinkError> {
        let Some(decoding) = self
            .pending
            .get_mut(&partition)
            .and_then(|p| p.decoding.pop_front())
        else {
            return Ok(());
        };
        let (builder, chunk) = decoding.task.await.map_err(|e| SinkError::Internal {
            sink: self.topic.clone(),
            message: format!("a decoding thread failed: {e}"),
        })?;
        if let Some(pending) = self.pending.get_mut(&partition) {
            pending.builders.push(builder);
        }
        let chunk = chunk.map_err(|e| SinkError::Internal {
            sink: self.topic.clone(),
            message: format!("cannot decode accepted events: {e}"),
        })?;
        self.deliver(partition, &chunk, &decoding.audience).await
    }

    /// Everything pending of a partition decoded and handed to its sinks.
    async fn flush(&mut self, partition: i32) -> Result<(), SinkError> {
        self.dispatch(partition).await?;
        while self
            .pending
            .get(&partition)
            .is_some_and(|p| !p.decoding.is_empty())
        {
            self.land(partition).await?;
        }
        Ok(())
    }

    async fn deliver(
        &mut self,
        partition: i32,
        chunk: &Chunk,
        audience: &[usize],
    ) -> Result<(), SinkError> {
        for &index in audience {
            // A sink rewound or fenced meanwhile has left the audience.
            let still = self.sinks[index]
                .partitions
                .get(&partition)
                .is_some_and(|b| !b.is_awaiting_seek());
            if !still {
                continue;
            }
            let sink = &mut self.sinks[index];
            sink.events_read.inc_by(chunk.messages);
            sink.summary.events_read += chunk.messages;
            sink.dead_lettered.inc_by(chunk.dead.len() as u64);
            self.take(index, partition, chunk).await?;
        }
        Ok(())
    }

    async fn take(&mut self, index: usize, partition: i32, chunk: &Chunk) -> Result<(), SinkError> {
        let (topic, cluster, owner) = (&self.topic, &self.cluster, &self.owner);
        let Some((buffer, target)) =
            buffer_and_target(&mut self.sinks[index], partition, topic, cluster, owner)
        else {
            return Ok(());
        };
        match buffer.take(chunk, &target).await {
            Ok(()) => Ok(()),
            Err(WriteError::Storage(error)) if error.is_transient() => {
                self.rewind(index, partition, &error);
                Ok(())
            }
            Err(error) => Err(self.failed(index, error)),
        }
    }

    /// After a storage failure: the sink's partition is read again from its
    /// checkpoint; nothing is lost, the events are in Kafka.
    fn rewind(&mut self, index: usize, partition: i32, error: &dyn std::fmt::Display) {
        let sink = &mut self.sinks[index];
        let Some(buffer) = sink.partitions.get_mut(&partition) else {
            return;
        };
        let from = buffer.rewind();
        self.metrics
            .sink_write_retries
            .with_label_values(&[sink.sink.name.as_str()])
            .inc();
        tracing::warn!(sink = %sink.sink.name, partition, from, %error, "storage failed while writing; reading the partition again from its checkpoint");
        self.metrics
            .health
            .retrying(&sink.sink.name, Step::Write, error);
        // What is pending for it is from after the checkpoint too.
        self.leave(index, partition);
        self.rewound.insert(partition);
    }

    /// Partitions rewound since the last call: the reader seeks each back
    /// to its [`TopicSinks::lowest_position`].
    pub fn take_rewound(&mut self) -> BTreeSet<i32> {
        std::mem::take(&mut self.rewound)
    }

    /// Whether some partition was rewound and not yet sought.
    pub fn has_rewound(&self) -> bool {
        !self.rewound.is_empty()
    }

    pub fn backlog(&self) -> Option<&Arc<Backlog>> {
        self.backlog.as_ref()
    }

    fn failed(&self, index: usize, error: WriteError) -> SinkError {
        let sink = self.sinks[index].sink.name.clone();
        match error {
            WriteError::Storage(source) => SinkError::Storage { sink, source },
            WriteError::Failed(message) => SinkError::Internal { sink, message },
            WriteError::Fenced { partition } => SinkError::Internal {
                sink,
                message: format!("partition {partition} fenced while reading"),
            },
        }
    }

    /// What the sink's trigger says now. Under a row count, a partition
    /// whose rows might have reached it is decoded first, so that rows the
    /// filter drops never count.
    pub async fn due(&mut self, index: usize) -> Result<Due, SinkError> {
        if let Some(limit) = self.sinks[index].policy.rows_per_file() {
            let full: Vec<i32> = self.sinks[index]
                .partitions
                .iter()
                .filter(|(p, buffer)| {
                    let pending = self.pending_messages(index, **p);
                    pending > 0 && buffer.rows() + pending >= limit
                })
                .map(|(p, _)| *p)
                .collect();
            for partition in full {
                self.flush(partition).await?;
            }
        }
        let sink = &self.sinks[index];
        let buffered: Vec<Buffered> = sink
            .partitions
            .iter()
            .map(|(&partition, buffer)| Buffered {
                partition,
                // A commit whose renames failed counts as something to write.
                messages: buffer.messages()
                    + self.pending_messages(index, partition)
                    + u64::from(buffer.is_finishing()),
                // Pending rows are known once decoded: at most one per message.
                rows: buffer.rows() + self.pending_messages(index, partition),
            })
            .collect();
        Ok(sink.policy.due(&buffered, sink.last_write.elapsed()))
    }

    /// Messages pending for the sink: gathered or being decoded.
    fn pending_messages(&self, index: usize, partition: i32) -> u64 {
        let Some(pending) = self.pending.get(&partition) else {
            return 0;
        };
        let gathered = if pending.audience.contains(&index) {
            pending.chunk.messages()
        } else {
            0
        };
        let decoding: u64 = pending
            .decoding
            .iter()
            .filter(|d| d.audience.contains(&index))
            .map(|d| d.messages)
            .sum();
        gathered + decoding
    }

    /// Writes the sink's partitions (`only` these, or all that read
    /// something): files completed, checkpoint, files made visible. A
    /// partition another worker claimed is fenced; one whose store failed
    /// is rewound (see [`TopicSinks::take_rewound`]).
    pub async fn write(
        &mut self,
        index: usize,
        only: Option<&[i32]>,
    ) -> Result<Vec<PartitionWritten>, SinkError> {
        let partitions: Vec<i32> = self.sinks[index]
            .partitions
            .keys()
            .copied()
            .filter(|p| only.is_none_or(|only| only.contains(p)))
            .collect();
        if self.sinks[index].sink.format.delta().is_some() {
            let done = self.write_delta(index, partitions).await?;
            if only.is_none() {
                self.sinks[index].last_write = Instant::now();
            }
            return Ok(done);
        }
        let mut done = Vec::new();
        for partition in partitions {
            if self.pending_messages(index, partition) > 0 {
                self.flush(partition).await?;
            }
            let (topic, cluster, owner) = (&self.topic, &self.cluster, &self.owner);
            let Some((buffer, target)) =
                buffer_and_target(&mut self.sinks[index], partition, topic, cluster, owner)
            else {
                continue;
            };
            if buffer.messages() == 0 && !buffer.is_finishing() {
                continue;
            }
            match buffer.write(target).await {
                Ok(written) => {
                    self.count(index, partition, &written);
                    done.push(PartitionWritten {
                        sink: index,
                        partition,
                        written,
                    });
                }
                Err(WriteError::Fenced { partition }) => self.fence(index, partition),
                Err(WriteError::Storage(error)) if error.is_transient() => {
                    self.rewind(index, partition, &error)
                }
                Err(error) => return Err(self.failed(index, error)),
            }
        }
        if only.is_none() {
            self.sinks[index].last_write = Instant::now();
        }
        Ok(done)
    }

    /// A Delta sink's write: every partition's files completed, their dead
    /// letters written, then one Delta commit of all of them with their
    /// offsets (see `delta`). A partition the table has moved past is
    /// fenced; a failed commit rewinds every partition in it.
    async fn write_delta(
        &mut self,
        index: usize,
        partitions: Vec<i32>,
    ) -> Result<Vec<PartitionWritten>, SinkError> {
        let mut sealed: Vec<Sealed> = Vec::new();
        for partition in partitions {
            if self.pending_messages(index, partition) > 0 {
                self.flush(partition).await?;
            }
            let Some(buffer) = self.sinks[index].partitions.get_mut(&partition) else {
                continue;
            };
            if buffer.messages() == 0 {
                continue;
            }
            match buffer.seal().await {
                Ok(Some(part)) => sealed.push(part),
                Ok(None) => {}
                Err(WriteError::Storage(error)) if error.is_transient() => {
                    self.rewind(index, partition, &error)
                }
                Err(error) => return Err(self.failed(index, error)),
            }
        }
        if sealed.is_empty() {
            return Ok(Vec::new());
        }
        // On a local disk, the files are on disk before a commit names them.
        let data = self.sinks[index].data.clone();
        let mut unsynced = None;
        for file in sealed.iter().flat_map(|s| &s.part.files) {
            if let Err(error) = data.sync(&file.path).await {
                unsynced = Some(error);
                break;
            }
        }
        if let Some(error) = unsynced {
            if !error.is_transient() {
                return Err(self.failed(index, WriteError::Storage(error)));
            }
            for part in &sealed {
                self.rewind(index, part.part.partition, &error);
            }
            return Ok(Vec::new());
        }
        let sink = &self.sinks[index];
        let dead_letters = sink.dead_letters.clone();
        let written = write_dead_letters(&dead_letters, &self.topic, &self.cluster, &sealed).await;
        let dead_letter_files = match written {
            Ok(files) => files,
            Err(error) => {
                for part in &sealed {
                    self.rewind(index, part.part.partition, &error);
                }
                return Ok(Vec::new());
            }
        };
        let parts: Vec<_> = sealed.iter().map(|s| s.part.clone()).collect();
        let sink = &mut self.sinks[index];
        let name = sink.sink.name.clone();
        let table = sink
            .delta
            .as_mut()
            .expect("a claimed Delta sink has its table");
        let committed = match table.commit(&parts).await {
            Ok(committed) => committed,
            Err(error) => {
                remove_dead_letters(&dead_letters, &dead_letter_files).await;
                if !error.is_transient() {
                    return Err(SinkError::Delta {
                        sink: name,
                        source: Box::new(error),
                    });
                }
                for part in &sealed {
                    self.rewind(index, part.part.partition, &error);
                }
                return Ok(Vec::new());
            }
        };
        let metrics = &self.metrics;
        metrics
            .delta_conflicts
            .with_label_values(&[name.as_str()])
            .inc_by(u64::from(committed.conflicts));
        if let Some(version) = committed.version {
            metrics
                .delta_commits
                .with_label_values(&[name.as_str()])
                .inc();
            metrics
                .delta_table_version
                .with_label_values(&[name.as_str()])
                .set(version);
        }
        let mut done = Vec::new();
        for part in sealed {
            let partition = part.part.partition;
            if committed.fenced.contains(&partition) {
                let own: Vec<(i32, String)> = dead_letter_files
                    .iter()
                    .filter(|(p, _)| *p == partition)
                    .cloned()
                    .collect();
                remove_dead_letters(&dead_letters, &own).await;
                self.fence(index, partition);
                continue;
            }
            if let Some(buffer) = self.sinks[index].partitions.get_mut(&partition) {
                buffer.committed(part.part.next_offset);
            }
            self.count(index, partition, &part.written);
            done.push(PartitionWritten {
                sink: index,
                partition,
                written: part.written,
            });
        }
        Ok(done)
    }

    fn count(&mut self, index: usize, partition: i32, written: &Written) {
        let sink = &mut self.sinks[index];
        let name = sink.sink.name.as_str();
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
            .set(super::now_micros() / 1_000_000);
        self.metrics.health.recovered(name, Step::Write);
        sink.summary.rows_written += written.rows;
        sink.summary.dead_letters += written.dead_letters;
        sink.summary.files += written.files;
        if let Some(backlog) = &self.backlog {
            backlog.written(name, &self.topic, partition, written.next_offset);
        }
        tracing::info!(
            sink = name,
            partition,
            read = written.messages,
            written = written.rows,
            dead_letters = written.dead_letters,
            files = written.files,
            "trigger"
        );
    }

    /// A rebalance this worker has not heard of, or a pause past the
    /// session timeout: the partition is another's.
    fn fence(&mut self, index: usize, partition: i32) {
        let sink = &mut self.sinks[index];
        sink.partitions.remove(&partition);
        sink.fenced.insert(partition);
        self.metrics
            .sink_fenced
            .with_label_values(&[sink.sink.name.as_str()])
            .inc();
        tracing::warn!(
            sink = %sink.sink.name, partition,
            "another worker claimed this partition: nothing of this write is visible, and its events stay in Kafka for that worker"
        );
        self.leave(index, partition);
    }

    /// The sink takes nothing of what is pending of the partition.
    fn leave(&mut self, index: usize, partition: i32) {
        if let Some(pending) = self.pending.get_mut(&partition) {
            pending.audience.retain(|&i| i != index);
            for decoding in &mut pending.decoding {
                decoding.audience.retain(|&i| i != index);
            }
        }
    }

    /// Partitions Kafka gave this worker (again): fencing is over for them.
    pub fn assigned(&mut self, partitions: &[i32]) {
        for sink in &mut self.sinks {
            for partition in partitions {
                sink.fenced.remove(partition);
            }
        }
    }

    /// Partitions Kafka took away: their unwritten events stay in Kafka for
    /// their new owner, which resumes from the checkpoints.
    pub fn revoked(&mut self, partitions: &[i32]) {
        for &partition in partitions {
            self.pending.remove(&partition);
            for sink in &mut self.sinks {
                sink.claims.remove(&partition);
                if sink.partitions.remove(&partition).is_some() {
                    tracing::info!(sink = %sink.sink.name, partition, "partition revoked; its unwritten events stay in Kafka for its new owner");
                }
            }
        }
    }

    /// Starts each Delta sink's compaction when it is due, and reports
    /// those that ended. Cheap when nothing is due: called at every step.
    pub fn maintain(&mut self) {
        for sink in &mut self.sinks {
            let Some(every) = sink.sink.format.delta().and_then(|d| d.compact_every_ms) else {
                continue;
            };
            let name = sink.sink.name.as_str();
            if sink
                .compaction
                .running
                .as_ref()
                .is_some_and(|t| t.is_finished())
            {
                let ended = sink
                    .compaction
                    .running
                    .take()
                    .and_then(|t| t.now_or_never());
                match ended {
                    Some(Ok(Ok(done))) => {
                        self.metrics
                            .delta_files_rewritten
                            .with_label_values(&[name])
                            .inc_by(done.files_removed);
                        if done.files_removed > 0 {
                            self.metrics
                                .delta_compactions
                                .with_label_values(&[name])
                                .inc();
                        }
                        if let Some(version) = done.version {
                            self.metrics
                                .delta_table_version
                                .with_label_values(&[name])
                                .set(version);
                        }
                        tracing::info!(
                            sink = name,
                            files_removed = done.files_removed,
                            files_added = done.files_added,
                            files_vacuumed = done.files_vacuumed,
                            version = ?done.version,
                            "compacted"
                        );
                    }
                    Some(Ok(Err(error))) => {
                        tracing::warn!(sink = name, %error, "compaction failed; the table is as it was, and compaction is tried again at its next interval")
                    }
                    Some(Err(error)) => {
                        tracing::warn!(sink = name, %error, "compaction stopped; it is tried again at its next interval")
                    }
                    None => {}
                }
            }
            let due = sink.compaction.last.elapsed() >= Duration::from_millis(every as u64);
            if sink.compaction.running.is_none() && due && sink.partitions.contains_key(&0) {
                sink.compaction.last = Instant::now();
                let (storage, pipeline, declared) =
                    (sink.data.clone(), self.pipeline.clone(), sink.sink.clone());
                sink.compaction.running = Some(tokio::spawn(async move {
                    crate::compact::compact(&storage, &pipeline, &declared).await
                }));
            }
        }
    }

    /// Stops compactions still running: their files, never committed, are
    /// removed by the next VACUUM. (Left running, they would outlive the
    /// runtime their I/O runs on.)
    pub async fn stop_maintenance(&mut self) {
        for sink in &mut self.sinks {
            if let Some(task) = sink.compaction.running.take() {
                task.abort();
                if task.await.is_err() {
                    tracing::info!(sink = %sink.sink.name, "compaction stopped with the sink; it starts again at the next run");
                }
            }
        }
    }

    /// Whether some sink's trigger counts rows.
    pub fn counts_rows(&self) -> bool {
        self.sinks
            .iter()
            .any(|s| s.policy.rows_per_file().is_some())
    }

    /// The finest trigger interval of the sinks, for the reader's clock.
    pub fn tick(&self) -> Duration {
        self.sinks
            .iter()
            .filter_map(|s| s.policy.tick())
            .min()
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1))
    }
}

/// The dead letters of a Delta sink's write, each partition's in one plain
/// file of the dead-letter table named by the write's offsets: written
/// before the commit, so none is lost to a crash after it.
async fn write_dead_letters(
    dead_letters: &Storage,
    topic: &str,
    cluster: &str,
    sealed: &[Sealed],
) -> Result<Vec<(i32, String)>, DeltaError> {
    let mut files = Vec::new();
    for part in sealed.iter().filter(|s| !s.dead.is_empty()) {
        let key = FileKey {
            topic,
            partition: part.part.partition,
            first_offset: part.part.from,
            last_offset: part.part.next_offset - 1,
            cluster,
        };
        let name = key.file_name();
        let encoded = dead_letter_batch(&part.dead)
            .map_err(|e| e.to_string())
            .and_then(|batch| {
                encode_parquet(&batch, Compression::Snappy).map_err(|e| e.to_string())
            })
            .map_err(|reason| DeltaError::Refused {
                location: dead_letters.display().to_string(),
                reason: format!("this is a bug in pipec: dead letters do not encode: {reason}"),
            })?;
        let put = match dead_letters.put(&name, encoded).await {
            Ok(()) => dead_letters.sync(&name).await,
            Err(error) => Err(error),
        };
        if let Err(error) = put {
            remove_dead_letters(dead_letters, &files).await;
            return Err(error.into());
        }
        files.push((part.part.partition, name));
    }
    Ok(files)
}

/// Deletes dead letters of a write that did not commit; one left behind is
/// removed by the partition's next claim.
async fn remove_dead_letters(dead_letters: &Storage, files: &[(i32, String)]) {
    for (_, file) in files {
        if let Err(error) = dead_letters.delete(file).await {
            tracing::warn!(%file, %error, "cannot delete the dead letters of a write that did not commit; the partition's next claim removes them");
        }
    }
}

/// A sink's buffer of a partition, and where and how it writes.
fn buffer_and_target<'a>(
    sink: &'a mut SinkState,
    partition: i32,
    topic: &'a str,
    cluster: &'a str,
    owner: &'a str,
) -> Option<(&'a mut PartitionBuffer, WriteTarget<'a>)> {
    let SinkState {
        sink,
        data,
        dead_letters,
        checkpoints,
        filter,
        full_schema,
        file_schema,
        partitions,
        ..
    } = sink;
    let buffer = partitions.get_mut(&partition)?;
    let target = WriteTarget {
        sink,
        topic,
        cluster,
        filter: filter.as_ref(),
        full_schema,
        file_schema,
        data,
        dead_letters,
        checkpoints: checkpoints.as_ref(),
        owner,
        delta: sink.format.delta().is_some(),
    };
    Some((buffer, target))
}

#[cfg(test)]
mod delta_tests;
#[cfg(test)]
mod tests;
