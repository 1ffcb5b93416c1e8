//! The Kafka side: the embedded broker, producer settings, topic creation.

use pipec_compiler::plan::Plan;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// librdkafka's mock cluster: a Kafka-protocol broker inside this process,
/// reachable on a loopback port, holding everything in memory.
pub struct EmbeddedBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot start the embedded broker: {0}")]
    Embedded(KafkaError),
    #[error("cannot create topic `{topic}`: {source}")]
    CreateTopic { topic: String, source: KafkaError },
    #[error("invalid Kafka setting: {0}")]
    Config(KafkaError),
}

impl EmbeddedBroker {
    pub fn start() -> Result<Self, BusError> {
        let cluster = MockCluster::new(1).map_err(BusError::Embedded)?;
        Ok(EmbeddedBroker { cluster })
    }

    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// The mock cluster has no CreateTopics API: topics are made here.
    pub fn create_topics(&self, plan: &Plan) -> Result<(), BusError> {
        for topic in &plan.topics {
            self.cluster
                .create_topic(&topic.name, topic.partitions as i32, 1)
                .map_err(|source| BusError::CreateTopic {
                    topic: topic.name.clone(),
                    source,
                })?;
        }
        Ok(())
    }
}

/// Where the brokers are and how to talk to them.
#[derive(Debug, Clone)]
pub struct BusSettings {
    pub bootstrap_servers: String,
    /// librdkafka settings passed through (SASL, TLS, client.id, ...).
    pub options: BTreeMap<String, String>,
    /// How long an event may wait for the broker before the client gets 503.
    pub delivery_timeout: Duration,
    /// This worker's stable name in its consumer groups (Kafka's static
    /// membership, `group.instance.id`): restarted under the same name, it
    /// gets its partitions back at once instead of after a rebalance.
    pub worker_id: Option<String>,
    /// The in-process mock cluster (`pipec run` without brokers): no other
    /// process shares its consumer groups.
    pub embedded: bool,
}

impl BusSettings {
    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        for (key, value) in &self.options {
            config.set(key, value);
        }
        config
    }

    /// A producer that reports success only for events every in-sync
    /// replica has, without duplicates on retry.
    pub fn producer(&self) -> Result<FutureProducer, BusError> {
        let mut config = self.client_config();
        config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "2")
            .set(
                "message.timeout.ms",
                self.delivery_timeout.as_millis().to_string(),
            );
        // Settings the user passed win over ours, except the guarantees.
        for (key, value) in &self.options {
            if !matches!(key.as_str(), "acks" | "enable.idempotence") {
                config.set(key, value);
            }
        }
        config.create().map_err(BusError::Config)
    }

    /// A consumer that never commits on its own: a sink's checkpoint
    /// decides where it resumes.
    pub fn consumer_config(&self, group_id: &str) -> ClientConfig {
        let mut config = self.client_config();
        config
            .set("group.id", group_id)
            .set("auto.offset.reset", "earliest")
            // librdkafka stops fetching for a full second (its default) once
            // 100,000 messages are queued locally; a sink drains that many
            // in well under a second, then sat idle: half of a backfill's
            // time in bench/run. 10 ms keeps the queue fed.
            .set("fetch.queue.backoff.ms", "10")
            // Hand-over in seconds: a rebalance moves only the partitions
            // that must move (the others keep being written), and a worker
            // that died is noticed after 10 s rather than Kafka's 45.
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000");
        if let Some(worker) = &self.worker_id {
            config.set("group.instance.id", worker);
        }
        // Settings the user passed win over ours, except the guarantees.
        for (key, value) in &self.options {
            config.set(key, value);
        }
        config
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        config
    }

    /// Creates the plan's missing topics with their declared partitions, at
    /// the cluster's default replication.
    pub async fn create_topics(&self, plan: &Plan) -> Result<(), BusError> {
        let admin: AdminClient<DefaultClientContext> =
            self.client_config().create().map_err(BusError::Config)?;
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for topic in &plan.topics {
            let new = NewTopic::new(
                &topic.name,
                topic.partitions as i32,
                TopicReplication::Fixed(-1),
            );
            let results = admin
                .create_topics([&new], &options)
                .await
                .map_err(|source| BusError::CreateTopic {
                    topic: topic.name.clone(),
                    source,
                })?;
            for result in results {
                match result {
                    Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((name, code)) => {
                        return Err(BusError::CreateTopic {
                            topic: name,
                            source: KafkaError::AdminOp(code),
                        })
                    }
                }
            }
        }
        wait_until_visible(Arc::new(admin), plan).await;
        Ok(())
    }
}

/// Waits (up to 10 s) until the broker's metadata shows every topic of the
/// plan. The controller confirms a creation before the brokers' metadata
/// has caught up, and until it has, clients (a sink, kcat) are told the
/// topic does not exist: the banner's `topics` line must already be true.
async fn wait_until_visible(admin: Arc<AdminClient<DefaultClientContext>>, plan: &Plan) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for topic in &plan.topics {
        loop {
            let (admin, name) = (admin.clone(), topic.name.clone());
            let partitions = tokio::task::spawn_blocking(move || {
                let metadata = admin
                    .inner()
                    .fetch_metadata(Some(&name), Duration::from_secs(2))
                    .ok()?;
                let topic = metadata.topics().first()?;
                topic.error().is_none().then(|| topic.partitions().len())
            })
            .await
            .ok()
            .flatten()
            .unwrap_or(0);
            if partitions > 0 {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(topic = %topic.name, "the topic was created but the broker does not show it yet");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
