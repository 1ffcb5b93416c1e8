//! The limit of reading a topic through rdkafka, as a backfill does: every
//! partition assigned from its first offset, each message's payload
//! touched (its length summed) and nothing else: no decode, no Parquet, no
//! checkpoint. pipec's `--once` cannot be faster than this; bench/run
//! prints pipec's time as a ratio of it, beside the arrow-json → Parquet
//! limit, so the two bounds of topic → Parquet are measured apart.
//!
//! Two readers, one after the other, each in a fresh consumer group:
//! `BaseConsumer::poll` on a thread of its own (the cheapest path rdkafka
//! offers) and `StreamConsumer::recv` on tokio (the path pipec takes).
//! Both use pipec's fetch setting (`fetch.queue.backoff.ms=10`).
//!
//! Usage: kafka_read_limit BROKERS TOPIC
//! Prints one line: `events=N bytes=B poll_seconds=S poll_cpu_seconds=C
//! stream_seconds=T stream_cpu_seconds=D`: each reader's wall time and the
//! user + system CPU the process used meanwhile (librdkafka's threads too).

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

type Failure = Box<dyn std::error::Error>;

const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let [_, brokers, topic] = args.as_slice() else {
        eprintln!("usage: kafka_read_limit BROKERS TOPIC");
        std::process::exit(2);
    };
    let poll_consumer: BaseConsumer = config(brokers, "poll").create()?;
    let (assignment, events) = from_the_start(&poll_consumer, topic)?;
    let (poll_bytes, poll_seconds, poll_cpu_seconds) =
        read_by_polling(&poll_consumer, &assignment, events)?;
    drop(poll_consumer);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (stream_bytes, stream_seconds, stream_cpu_seconds) = runtime.block_on(async {
        let consumer: StreamConsumer = config(brokers, "stream").create()?;
        read_as_a_stream(&consumer, &assignment, events).await
    })?;
    if poll_bytes != stream_bytes {
        return Err(format!("the readers disagree: {poll_bytes} and {stream_bytes} bytes").into());
    }
    println!(
        "events={events} bytes={poll_bytes} poll_seconds={poll_seconds:.3} \
         poll_cpu_seconds={poll_cpu_seconds:.2} stream_seconds={stream_seconds:.3} \
         stream_cpu_seconds={stream_cpu_seconds:.2}"
    );
    Ok(())
}

fn config(brokers: &str, reader: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set(
            "group.id",
            format!("kafka-read-limit-{reader}-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("fetch.queue.backoff.ms", "10");
    config
}

/// Every partition of the topic from offset 0, and how many messages they
/// hold (the topic is fresh: its low watermarks are 0).
fn from_the_start(
    consumer: &BaseConsumer,
    topic: &str,
) -> Result<(TopicPartitionList, u64), Failure> {
    let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT)?;
    let partitions = metadata
        .topics()
        .first()
        .map(|t| t.partitions().len())
        .unwrap_or(0);
    let mut assignment = TopicPartitionList::new();
    let mut events = 0u64;
    for partition in 0..partitions as i32 {
        let (low, high) = consumer.fetch_watermarks(topic, partition, TIMEOUT)?;
        events += (high - low) as u64;
        assignment.add_partition_offset(topic, partition, Offset::Offset(low))?;
    }
    if events == 0 {
        return Err(format!("topic {topic} is empty").into());
    }
    Ok((assignment, events))
}

/// Messages and payload bytes read so far, of how many the topic holds.
struct Tally {
    events: u64,
    read: u64,
    bytes: u64,
}

impl Tally {
    fn new(events: u64) -> Self {
        Tally {
            events,
            read: 0,
            bytes: 0,
        }
    }

    fn done(&self) -> bool {
        self.read >= self.events
    }

    fn add(&mut self, payload: Option<&[u8]>) {
        self.bytes += payload.map_or(0, |p| p.len() as u64);
        self.read += 1;
    }

    fn timed_out(&self) -> Failure {
        format!("no message in {TIMEOUT:?} after {}", self.read).into()
    }
}

fn read_by_polling(
    consumer: &BaseConsumer,
    assignment: &TopicPartitionList,
    events: u64,
) -> Result<(u64, f64, f64), Failure> {
    let started = Instant::now();
    let cpu_before = pipec_bench::process_cpu_seconds()?;
    consumer.assign(assignment)?;
    let mut tally = Tally::new(events);
    while !tally.done() {
        let message = consumer.poll(TIMEOUT).ok_or_else(|| tally.timed_out())??;
        tally.add(message.payload());
    }
    Ok((
        tally.bytes,
        started.elapsed().as_secs_f64(),
        pipec_bench::process_cpu_seconds()? - cpu_before,
    ))
}

async fn read_as_a_stream(
    consumer: &StreamConsumer,
    assignment: &TopicPartitionList,
    events: u64,
) -> Result<(u64, f64, f64), Failure> {
    let started = Instant::now();
    let cpu_before = pipec_bench::process_cpu_seconds()?;
    consumer.assign(assignment)?;
    let mut tally = Tally::new(events);
    while !tally.done() {
        let message = tokio::time::timeout(TIMEOUT, consumer.recv())
            .await
            .map_err(|_| tally.timed_out())??;
        tally.add(message.payload());
    }
    Ok((
        tally.bytes,
        started.elapsed().as_secs_f64(),
        pipec_bench::process_cpu_seconds()? - cpu_before,
    ))
}
