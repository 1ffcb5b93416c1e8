//! Build, then serve: a plan becomes a running API and sink workers.

use crate::api::{self, ApiLimits, ApiState};
use crate::backlog::{Backlog, BacklogLimit};
use crate::bus::{BusError, BusSettings};
use crate::metrics::Metrics;
use crate::sink::{SinkCommand, SinkError, SinkSummary, TopicReader};
use pipec_compiler::plan::Trigger;
use pipec_compiler::Plan;
use rdkafka::producer::Producer;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Which parts of the pipeline this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Api,
    Sinks,
    All,
}

impl Role {
    fn api(self) -> bool {
        matches!(self, Role::Api | Role::All)
    }
    fn sinks(self) -> bool {
        matches!(self, Role::Sinks | Role::All)
    }
}

#[derive(Debug, Clone)]
pub struct RunSettings {
    pub listen: SocketAddr,
    pub bus: BusSettings,
    /// The broker is the in-process mock cluster: bound the backlog, and
    /// drain the topics into files before exiting.
    pub embedded: bool,
    pub limits: ApiLimits,
    /// How often the one-line status is logged; zero for never.
    pub status_interval: Duration,
    pub role: Role,
    /// Where relative sink, checkpoint and dead-letter paths resolve.
    pub data_dir: PathBuf,
    /// Every sink reads what its topic holds, writes once, and stops.
    pub once: bool,
    /// Serve `POST /sql` with these limits.
    pub sql: Option<crate::sql::QueryLimits>,
    /// What the process does when a sink stops.
    pub on_sink_failure: SinkFailurePolicy,
    /// How long a sink's step may keep failing before `/health` says so.
    pub retry_bound: Duration,
    /// The Hive metastore the sinks role registers tables and partitions
    /// in (`thrift://HOST:PORT`).
    pub metastore: Option<String>,
}

/// What the process does when one of its sinks stops for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkFailurePolicy {
    /// Refuse new events (503), answer what is in flight, let the other
    /// sinks write what they hold, and exit non-zero: a supervisor restarts
    /// the process, and the cause is the last ERROR in its log.
    Exit,
    /// Keep serving with the sink stopped; `/health` answers 503 and
    /// `pipec_sink_up` is 0 until someone restarts it.
    Degrade,
}

/// How long `/health` and the API answer 503 before a failing process stops
/// serving, so load balancers and probes see it go rather than a refused
/// connection.
const FAILURE_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Sink(#[from] Box<SinkError>),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot open the SQL catalog: {0}")]
    Catalog(String),
    #[error(transparent)]
    Metastore(#[from] crate::metastore::MetastoreError),
}

/// Everything built from the plan, nothing started.
pub struct Pipeline {
    settings: RunSettings,
    state: Arc<ApiState>,
    sinks: Vec<TopicReader>,
    registrar: Option<crate::metastore::Registrar>,
}

/// A pipeline whose port is bound: `serve` starts everything.
pub struct BoundPipeline {
    pipeline: Pipeline,
    listener: TcpListener,
}

impl Pipeline {
    pub fn build(mut plan: Plan, settings: RunSettings) -> Result<Self, RunError> {
        if settings.once {
            for sink in &mut plan.sinks {
                sink.trigger = Trigger::Once;
            }
        }
        let producer = settings.bus.producer()?;
        let backlog = settings.embedded.then(|| {
            let mut readers: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for topic in &plan.topics {
                readers.entry(topic.name.clone()).or_default();
            }
            for sink in &plan.sinks {
                readers
                    .entry(sink.topic.name.clone())
                    .or_default()
                    .push(sink.name.clone());
            }
            Arc::new(Backlog::new(BacklogLimit::EMBEDDED, readers))
        });
        let metrics = Arc::new(Metrics::new());
        metrics.health.set_retry_bound(settings.retry_bound);
        let sinks = if settings.role.sinks() {
            TopicReader::build_all(
                &plan,
                &settings.bus,
                &settings.data_dir,
                metrics.clone(),
                backlog.clone(),
            )
            .map_err(Box::new)?
        } else {
            Vec::new()
        };
        let state = Arc::new(ApiState {
            plan: Arc::new(plan),
            producer: api::Producer::Kafka(producer),
            metrics,
            backlog,
            limits: settings.limits,
            serve_endpoints: settings.role.api(),
            sql: None,
            stopping: std::sync::OnceLock::new(),
        });
        Ok(Pipeline {
            settings,
            state,
            sinks,
            registrar: None,
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.state.plan
    }

    /// Whether the process ends by itself: every sink is `once` and there
    /// is no API to keep serving.
    pub fn finishes_by_itself(&self) -> bool {
        let api = self.settings.role.api() && !self.state.plan.endpoints.is_empty();
        !api && !self.sinks.is_empty() && self.sinks.iter().all(TopicReader::is_once)
    }

    /// Creates missing topics (on a real cluster), opens the SQL catalog if
    /// asked, and binds the port.
    pub async fn bind(mut self) -> Result<BoundPipeline, RunError> {
        if let Some(limits) = self.settings.sql {
            // Opened once here so a catalog that cannot open stops the
            // start; each query opens its own (see `SqlService`).
            crate::catalog::session(&self.state.plan, &self.settings.data_dir)
                .await
                .map_err(|e| RunError::Catalog(e.to_string()))?;
            let limits = crate::sql::QueryLimits {
                read_only: true,
                ..limits
            };
            let data_dir = self.settings.data_dir.clone();
            let state =
                Arc::get_mut(&mut self.state).expect("the state is not shared before serving");
            state.sql = Some(crate::api::sql::SqlService { data_dir, limits });
        }
        if !self.settings.embedded {
            self.settings.bus.create_topics(&self.state.plan).await?;
        }
        if let (Some(uri), true) = (&self.settings.metastore, self.settings.role.sinks()) {
            // Before any sink writes: a table the metastore holds otherwise
            // stops the start here, with nothing changed in it.
            let catalog = Arc::new(crate::metastore::ThriftCatalog::new(uri)?);
            let mut registrar = crate::metastore::Registrar::new(
                &self.state.plan,
                &self.settings.data_dir,
                uri,
                catalog,
                self.state.metrics.clone(),
            )?;
            registrar.prepare(crate::metastore::START_TIMEOUT).await?;
            self.registrar = Some(registrar);
        }
        let addr = self.settings.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RunError::Bind { addr, source })?;
        Ok(BoundPipeline {
            pipeline: self,
            listener,
        })
    }
}

impl BoundPipeline {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.pipeline.settings.listen)
    }

    /// Runs until `shutdown` completes (or, for a process of `once` sinks,
    /// until they are done). Then: no new requests, in-flight ones finish,
    /// queued events are acknowledged, sinks write what they hold (draining
    /// the embedded broker first), and their totals are returned.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Vec<SinkSummary>, RunError> {
        let finishes_by_itself = self.pipeline.finishes_by_itself();
        let Pipeline {
            settings,
            state,
            sinks,
            registrar,
        } = self.pipeline;
        let (stop_registrar, registrar_stop) = watch::channel(false);
        let registrar = registrar.map(|r| tokio::spawn(r.run(registrar_stop)));
        let (commands, command_rx) = watch::channel(SinkCommand::Run);
        let mut workers = JoinSet::new();
        for sink in sinks {
            workers.spawn(run_sink(sink, command_rx.clone(), state.metrics.clone()));
        }
        let status = spawn_status_line(state.clone(), settings.status_interval);
        let router = api::router(state.clone());

        // The server stops on the signal, when self-finishing sinks are
        // done, or when a sink fails and the policy says exit.
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(api::serve::serve(self.listener, router, async move {
            let _ = stop_rx.await;
        }));

        let mut summaries = Vec::new();
        let mut failure: Option<RunError> = None;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(joined) = workers.join_next(), if !workers.is_empty() => {
                    collect(joined, &mut summaries, &mut failure);
                    if let Some(error) = &failure {
                        if settings.on_sink_failure == SinkFailurePolicy::Exit {
                            let reason = error.to_string();
                            tracing::error!(%reason, "a sink stopped: refusing new events, then exiting so a supervisor can restart the process (`--on-sink-failure degrade` keeps it serving)");
                            let _ = state.stopping.set(reason);
                            tokio::select! {
                                _ = tokio::time::sleep(FAILURE_GRACE) => {}
                                _ = &mut shutdown => {}
                            }
                            break;
                        }
                    }
                    if finishes_by_itself && workers.is_empty() {
                        break;
                    }
                }
            }
        }
        let _ = stop_tx.send(());
        let served = server
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));

        // Everything the API acknowledged reaches the broker before sinks stop.
        let timeout = settings.limits.delivery_timeout;
        if let api::Producer::Kafka(producer) = state.producer.clone() {
            let flushed = tokio::task::spawn_blocking(move || producer.flush(timeout)).await;
            if let Ok(Err(error)) = flushed {
                tracing::warn!(%error, "some events were still queued at shutdown");
            }
        }
        let _ = commands.send(if settings.embedded {
            SinkCommand::Drain
        } else {
            SinkCommand::Stop
        });
        while let Some(joined) = workers.join_next().await {
            collect(joined, &mut summaries, &mut failure);
        }
        // After the sinks' last commits: their partitions too.
        let _ = stop_registrar.send(true);
        if let Some(registrar) = registrar {
            let _ = tokio::time::timeout(Duration::from_secs(10), registrar).await;
        }
        status.abort();
        log_status(&state);
        served.map_err(RunError::Serve)?;
        match failure {
            Some(error) => Err(error),
            None => Ok(summaries),
        }
    }
}

/// One topic's sinks, run until they stop. A failure is reported at once
/// (the log, `/health`, `pipec_sink_up`), not when the process ends.
async fn run_sink(
    reader: TopicReader,
    commands: watch::Receiver<SinkCommand>,
    metrics: Arc<Metrics>,
) -> Result<Vec<SinkSummary>, SinkError> {
    use futures::FutureExt;
    let names = reader.sink_names();
    let outcome = std::panic::AssertUnwindSafe(reader.run(commands))
        .catch_unwind()
        .await;
    let error = match outcome {
        Ok(Ok(summaries)) => return Ok(summaries),
        Ok(Err(error)) => error,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            SinkError::Internal {
                sink: names.join(", "),
                message: format!("this is a bug in pipec: the sink task panicked: {message}"),
            }
        }
    };
    tracing::error!(sinks = ?names, %error, "sink stopped");
    for name in &names {
        metrics.health.failed(name, &error);
    }
    Err(error)
}

fn collect(
    joined: Result<Result<Vec<SinkSummary>, SinkError>, tokio::task::JoinError>,
    summaries: &mut Vec<SinkSummary>,
    failure: &mut Option<RunError>,
) {
    match joined {
        Ok(Ok(done)) => summaries.extend(done),
        // `run_sink` has logged it and marked the sinks failed.
        Ok(Err(error)) => {
            failure.get_or_insert(RunError::Sink(Box::new(error)));
        }
        Err(error) => {
            tracing::error!(%error, "a sink task was cancelled");
        }
    }
}

fn spawn_status_line(state: Arc<ApiState>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if every.is_zero() {
            return;
        }
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            log_status(&state);
        }
    })
}

fn log_status(state: &ApiState) {
    let metrics = &state.metrics;
    let backlog = state.backlog.as_ref().map(|backlog| {
        state
            .plan
            .topics
            .iter()
            .map(|t| backlog.size(&t.name).bytes)
            .max()
            .unwrap_or(0)
    });
    tracing::info!(
        events_in = metrics.events_in(),
        rows_written = metrics.rows_written(),
        dead_lettered = metrics.dead_lettered(),
        bad_requests = metrics.bad_requests.get(),
        backlog_bytes = backlog.unwrap_or(0),
        "status"
    );
}
