//! Build, then serve: a plan becomes a running API.

use crate::api::{self, ApiLimits, ApiState};
use crate::backlog::{Backlog, BacklogLimit};
use crate::bus::{BusError, BusSettings};
use crate::metrics::Metrics;
use pipec_compiler::Plan;
use rdkafka::producer::Producer;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct RunSettings {
    pub listen: SocketAddr,
    pub bus: BusSettings,
    /// The broker is the in-process mock cluster: bound the backlog.
    pub embedded: bool,
    pub limits: ApiLimits,
    /// How often the one-line status is logged; zero for never.
    pub status_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Everything built from the plan, nothing started.
pub struct Pipeline {
    settings: RunSettings,
    state: Arc<ApiState>,
}

/// A pipeline whose port is bound: `serve` starts answering.
pub struct BoundPipeline {
    pipeline: Pipeline,
    listener: TcpListener,
}

impl Pipeline {
    pub fn build(plan: Plan, settings: RunSettings) -> Result<Self, RunError> {
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
        let state = Arc::new(ApiState {
            plan: Arc::new(plan),
            producer,
            metrics: Arc::new(Metrics::new()),
            backlog,
            limits: settings.limits,
        });
        Ok(Pipeline { settings, state })
    }

    pub fn plan(&self) -> &Plan {
        &self.state.plan
    }

    /// Creates missing topics (on a real cluster) and binds the API's port.
    pub async fn bind(self) -> Result<BoundPipeline, RunError> {
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

    /// Answers requests until `shutdown` completes, then finishes in-flight
    /// requests and waits for the broker to acknowledge what is queued.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        let state = self.pipeline.state.clone();
        let status = spawn_status_line(state.clone(), self.pipeline.settings.status_interval);
        let router = api::router(state.clone());
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        status.abort();
        let timeout = self.pipeline.settings.limits.delivery_timeout;
        let producer = state.producer.clone();
        let flushed = tokio::task::spawn_blocking(move || producer.flush(timeout)).await;
        if let Ok(Err(error)) = flushed {
            tracing::warn!(%error, "some events were still queued at shutdown");
        }
        log_status(&state);
        served.map_err(RunError::Serve)
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
        bad_requests = metrics.bad_requests.get(),
        backlog_bytes = backlog.unwrap_or(0),
        queued = state.producer.in_flight_count(),
        "status"
    );
}
