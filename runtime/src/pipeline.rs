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
}

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
}

/// Everything built from the plan, nothing started.
pub struct Pipeline {
    settings: RunSettings,
    state: Arc<ApiState>,
    sinks: Vec<TopicReader>,
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
        });
        Ok(Pipeline {
            settings,
            state,
            sinks,
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
            let (ctx, _) = crate::catalog::session(&self.state.plan, &self.settings.data_dir)
                .await
                .map_err(|e| RunError::Catalog(e.to_string()))?;
            let limits = crate::sql::QueryLimits {
                read_only: true,
                ..limits
            };
            let state =
                Arc::get_mut(&mut self.state).expect("the state is not shared before serving");
            state.sql = Some(crate::api::sql::SqlService { ctx, limits });
        }
        if !self.settings.embedded {
            self.settings.bus.create_topics(&self.state.plan).await?;
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
        } = self.pipeline;
        let (commands, command_rx) = watch::channel(SinkCommand::Run);
        let mut workers = JoinSet::new();
        for sink in sinks {
            workers.spawn(sink.run(command_rx.clone()));
        }
        let status = spawn_status_line(state.clone(), settings.status_interval);
        let router = api::router(state.clone());

        // The server stops on the signal, or when self-finishing sinks are done.
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let stop_serving = async move {
            tokio::select! {
                _ = shutdown => {}
                _ = done_rx => {}
            }
        };
        let server = tokio::spawn(api::serve::serve(self.listener, router, stop_serving));

        let mut summaries = Vec::new();
        let mut failure: Option<RunError> = None;
        if finishes_by_itself {
            while let Some(joined) = workers.join_next().await {
                collect(joined, &mut summaries, &mut failure);
            }
            let _ = done_tx.send(());
        }
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
        status.abort();
        log_status(&state);
        served.map_err(RunError::Serve)?;
        match failure {
            Some(error) => Err(error),
            None => Ok(summaries),
        }
    }
}

fn collect(
    joined: Result<Result<Vec<SinkSummary>, SinkError>, tokio::task::JoinError>,
    summaries: &mut Vec<SinkSummary>,
    failure: &mut Option<RunError>,
) {
    match joined {
        Ok(Ok(done)) => summaries.extend(done),
        Ok(Err(error)) => {
            tracing::error!(%error, "sink failed");
            failure.get_or_insert(RunError::Sink(Box::new(error)));
        }
        Err(error) => {
            tracing::error!(%error, "this is a bug in pipec: a sink task panicked");
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
