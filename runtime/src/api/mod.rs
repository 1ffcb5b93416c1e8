//! The HTTP API: one route per endpoint of the plan, answering only after
//! the broker acknowledged every event of the request.

mod error;
pub mod serve;
pub mod sql;
pub mod status;

pub use error::ApiError;

use crate::backlog::Backlog;
use crate::event::{build_events, Event, RequestParts};
use crate::memory_bus::MemoryBus;
use crate::metrics::Metrics;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodFilter, MethodRouter};
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pipec_compiler::plan::{self, Plan};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the API's events go.
#[derive(Clone)]
pub enum Producer {
    Kafka(FutureProducer),
    /// `pipec test`: appended in memory, acknowledged at once.
    Memory(Arc<MemoryBus>),
}

/// What every request handler shares.
pub struct ApiState {
    pub plan: Arc<Plan>,
    pub producer: Producer,
    pub metrics: Arc<Metrics>,
    /// Set in embedded mode, where the broker's memory bounds the backlog.
    pub backlog: Option<Arc<Backlog>>,
    pub limits: ApiLimits,
    /// False for `--role sinks`: only `/metrics` and `/health` are served.
    pub serve_endpoints: bool,
    /// `POST /sql`, when enabled.
    pub sql: Option<sql::SqlService>,
    /// Set when a sink failed and the process is on its way out: why.
    pub stopping: std::sync::OnceLock<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct ApiLimits {
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    pub delivery_timeout: Duration,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            delivery_timeout: Duration::from_secs(10),
        }
    }
}

/// The router for every endpoint of the plan, plus `/metrics` and `/health`.
pub fn router(state: Arc<ApiState>) -> Router {
    let mut by_path: BTreeMap<&str, Vec<(usize, &plan::Endpoint)>> = BTreeMap::new();
    let endpoints = state.plan.endpoints.iter().enumerate();
    for (index, endpoint) in endpoints.filter(|_| state.serve_endpoints) {
        by_path
            .entry(&endpoint.path)
            .or_default()
            .push((index, endpoint));
    }
    let mut router = Router::new();
    for (path, endpoints) in by_path {
        let allowed: Vec<&str> = endpoints.iter().map(|(_, e)| e.method.as_str()).collect();
        let allowed = allowed.join(", ");
        let mut methods = MethodRouter::new();
        for (index, endpoint) in endpoints {
            let handler = move |State(state): State<Arc<ApiState>>,
                                headers: HeaderMap,
                                RawQuery(query): RawQuery,
                                body: Body| async move {
                handle(state, index, headers, query, body).await
            };
            methods = methods.on(method_filter(endpoint.method), handler);
        }
        let path_owned = path.to_string();
        methods = methods.fallback(move |method: Method| async move {
            ApiError::MethodNotAllowed {
                method: method.to_string(),
                path: path_owned,
                allowed,
            }
        });
        router = router.route(path, methods);
    }
    let page = Arc::new(status::StatusPage::new(&state.plan));
    let figures_page = page.clone();
    router
        .route(status::PREFIX, get(status::redirect))
        .route(
            &format!("{}/", status::PREFIX),
            get(
                move |State(state): State<Arc<ApiState>>,
                      headers: HeaderMap,
                      RawQuery(query): RawQuery| {
                    status::page(state, page.clone(), headers, query)
                },
            ),
        )
        .route(
            &format!("{}/status.json", status::PREFIX),
            get(
                move |State(state): State<Arc<ApiState>>,
                      headers: HeaderMap,
                      RawQuery(query): RawQuery| {
                    status::figures(state, figures_page.clone(), headers, query)
                },
            ),
        )
        .route("/metrics", get(metrics))
        .route("/sql", axum::routing::post(sql::handle))
        .route("/health", get(health))
        .route("/health/ready", get(health))
        .route(
            "/health/live",
            get(|| async { axum::Json(serde_json::json!({ "status": "alive" })) }),
        )
        .fallback(|method: Method, request: Request| async move {
            ApiError::NotFound {
                method: method.to_string(),
                path: request.uri().path().to_string(),
            }
        })
        .layer(middleware::from_fn_with_state(state.clone(), limit_headers))
        .with_state(state)
}

fn method_filter(method: plan::Method) -> MethodFilter {
    match method {
        plan::Method::Get => MethodFilter::GET,
        plan::Method::Post => MethodFilter::POST,
        plan::Method::Put => MethodFilter::PUT,
        plan::Method::Patch => MethodFilter::PATCH,
        plan::Method::Delete => MethodFilter::DELETE,
    }
}

async fn limit_headers(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let limit = state.limits.max_header_bytes;
    if size > limit {
        state.metrics.bad_requests.inc();
        return ApiError::HeadersTooLarge { limit }.into_response();
    }
    next.run(request).await
}

async fn metrics(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    if let Producer::Kafka(producer) = &state.producer {
        state
            .metrics
            .producer_queue_depth
            .set(i64::from(producer.in_flight_count()));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// The process's state as `/health` and the status page say it.
pub(crate) fn health_status(stopping: bool, sinks: &[crate::health::SinkHealth]) -> &'static str {
    if stopping {
        "stopping"
    } else if sinks.iter().any(|s| s.state != crate::health::State::Up) {
        "unhealthy"
    } else {
        "ok"
    }
}

/// Readiness: 200 while every sink is up, else 503 naming each sink's state
/// and reason. (`/health/live` answers while the process serves at all.)
async fn health(State(state): State<Arc<ApiState>>) -> Response {
    let sinks = state.metrics.health.report();
    let stopping = state.stopping.get();
    let status = health_status(stopping.is_some(), &sinks);
    let mut body = serde_json::json!({ "status": status, "sinks": sinks });
    // The metastore never makes the process unhealthy: the sinks go on.
    if let Some(metastore) = state.metrics.metastore.report() {
        body["metastore"] = serde_json::json!(metastore);
    }
    if let Some(reason) = stopping {
        body["reason"] = serde_json::json!(reason);
    }
    let code = if status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

async fn handle(
    state: Arc<ApiState>,
    index: usize,
    headers: HeaderMap,
    query: Option<String>,
    body: Body,
) -> Response {
    let endpoint = &state.plan.endpoints[index];
    let label = format!("{} {}", endpoint.method.as_str(), endpoint.path);
    state.metrics.requests_in_flight.inc();
    let response = match accept(&state, endpoint, headers, query, body).await {
        Ok(()) => (
            StatusCode::from_u16(endpoint.response.status).unwrap_or(StatusCode::OK),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            endpoint.response.body.clone(),
        )
            .into_response(),
        Err(error) => {
            if error.status().is_client_error() {
                state.metrics.bad_requests.inc();
            }
            tracing::debug!(endpoint = %label, error = %error, "request refused");
            error.into_response()
        }
    };
    state.metrics.requests_in_flight.dec();
    state
        .metrics
        .requests
        .with_label_values(&[label.as_str(), response.status().as_str()])
        .inc();
    response
}

/// Everything between the request and the broker's acknowledgement.
async fn accept(
    state: &ApiState,
    endpoint: &plan::Endpoint,
    headers: HeaderMap,
    query: Option<String>,
    body: Body,
) -> Result<(), ApiError> {
    if let Some(token) = &endpoint.auth {
        authorize(&headers, token.expose())?;
    }
    if let Some(reason) = state.stopping.get() {
        return Err(ApiError::Stopping {
            reason: reason.clone(),
        });
    }
    let limit = state.limits.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    // Read on every method, chunked or not: the limit holds for all, and a
    // body where none is taken is refused rather than dropped unseen.
    let body = read_body(body, limit).await?;
    let body = if endpoint.json_body {
        Some(body)
    } else if !body.is_empty() {
        return Err(ApiError::UnexpectedBody {
            method: endpoint.method.as_str(),
            path: endpoint.path.clone(),
            length: body.len(),
        });
    } else {
        None
    };
    let query: Vec<(String, String)> = match query.as_deref() {
        Some(text) => {
            serde_urlencoded::from_str(text).map_err(|e| ApiError::BadQuery(e.to_string()))?
        }
        None => Vec::new(),
    };
    let mut header_list: Vec<(&str, String)> = Vec::with_capacity(headers.len());
    let mut non_utf8_headers = Vec::new();
    for (name, value) in &headers {
        match std::str::from_utf8(value.as_bytes()) {
            Ok(text) => header_list.push((name.as_str(), text.to_string())),
            Err(_) => non_utf8_headers.push(name.as_str()),
        }
    }
    let received_at_micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    let request = RequestParts {
        headers: header_list,
        non_utf8_headers,
        query,
        body: body.as_deref(),
        received_at_micros,
    };
    let plan = &state.plan;
    let topic = plan.topic(&endpoint.topic);
    let schema = plan.topic_schema(topic);
    let key_field = topic.key.as_ref().map(|k| schema.field(k));
    let mut new_id = || uuid::Uuid::new_v4().to_string();
    let events = build_events(endpoint, schema, key_field, &request, &mut new_id)?;

    if let Some(backlog) = &state.backlog {
        let incoming: u64 = events.iter().map(|e| e.payload.len() as u64).sum();
        if !backlog.admits(&topic.name, incoming) {
            state
                .metrics
                .backpressure_rejections
                .with_label_values(&[topic.name.as_str()])
                .inc();
            return Err(ApiError::Backpressure {
                topic: topic.name.clone(),
                backlog_bytes: backlog.size(&topic.name).bytes,
            });
        }
    }
    produce(state, &topic.name, events).await
}

pub(crate) fn authorize(headers: &HeaderMap, token: &str) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or(ApiError::MissingToken)?;
    if !same_token(presented.trim(), token) {
        return Err(ApiError::WrongToken);
    }
    Ok(())
}

/// For what any endpoint's token opens (the status page, `/sql`): the
/// bearer header or, when `query` is given, `?token=`; with no token
/// declared, it is open.
pub(crate) fn authorize_any(
    plan: &pipec_compiler::Plan,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), ApiError> {
    let tokens: Vec<&str> = plan
        .endpoints
        .iter()
        .filter_map(|e| e.auth.as_ref())
        .map(|t| t.expose())
        .collect();
    if tokens.is_empty() {
        return Ok(());
    }
    let from_query = query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "token"))
        .map(|(_, token)| token);
    if let Some(presented) = from_query {
        return match tokens.iter().any(|t| same_token(&presented, t)) {
            true => Ok(()),
            false => Err(ApiError::WrongToken),
        };
    }
    let mut refusal = ApiError::MissingToken;
    for token in tokens {
        match authorize(headers, token) {
            Ok(()) => return Ok(()),
            Err(error) => refusal = error,
        }
    }
    Err(refusal)
}

/// Compares in constant time, so timing tells nothing about the token.
pub(crate) fn same_token(presented: &str, token: &str) -> bool {
    let (a, b) = (presented.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::BodyTooLarge { limit })
        }
        Err(error) => Err(ApiError::BodyUnreadable(error.to_string())),
    }
}

/// Sends every event and waits for the broker's acknowledgement of each.
async fn produce(state: &ApiState, topic: &str, events: Vec<Event>) -> Result<(), ApiError> {
    let producer = match &state.producer {
        Producer::Kafka(producer) => producer,
        Producer::Memory(bus) => {
            for event in &events {
                bus.send(
                    topic,
                    event.key.as_deref().map(str::as_bytes),
                    &event.payload,
                );
                state
                    .metrics
                    .events_produced
                    .with_label_values(&[topic])
                    .inc();
            }
            return Ok(());
        }
    };
    let total = events.len();
    let started = Instant::now();
    let timeout = state.limits.delivery_timeout;
    let deliveries = within(
        timeout,
        events.iter().map(|event| {
            let mut record = FutureRecord::to(topic).payload(&event.payload);
            if let Some(key) = &event.key {
                record = record.key(key);
            }
            async move {
                producer
                    .send(record, timeout)
                    .await
                    .map_err(|(error, _)| error.to_string())
            }
        }),
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut failure = None;
    let mut failed = 0;
    for (event, delivery) in events.iter().zip(deliveries) {
        match delivery {
            Ok(delivery) => {
                state
                    .metrics
                    .events_produced
                    .with_label_values(&[topic])
                    .inc();
                state
                    .metrics
                    .delivery_seconds
                    .with_label_values(&[topic])
                    .observe(elapsed);
                if let Some(backlog) = &state.backlog {
                    backlog.produced(
                        topic,
                        delivery.partition,
                        delivery.offset,
                        event.payload.len() as u64,
                    );
                }
            }
            Err(reason) => {
                failed += 1;
                state
                    .metrics
                    .delivery_failures
                    .with_label_values(&[topic])
                    .inc();
                failure.get_or_insert(reason);
            }
        }
    }
    match failure {
        None => Ok(()),
        Some(reason) => {
            tracing::warn!(topic, failed, total, %reason, "events not acknowledged");
            Err(ApiError::NotDelivered {
                failed,
                total,
                reason,
            })
        }
    }
}

/// Every delivery's outcome within `timeout` from now: one still open then
/// fails, so a request is answered within the delivery timeout whatever
/// librdkafka's own timer does (it scans for expired messages about once a
/// second, and a full local queue waits for room first).
async fn within<T>(
    timeout: Duration,
    deliveries: impl Iterator<Item = impl std::future::Future<Output = Result<T, String>>>,
) -> Vec<Result<T, String>> {
    let deadline = tokio::time::Instant::now() + timeout;
    futures::future::join_all(deliveries.map(|delivery| async move {
        tokio::time::timeout_at(deadline, delivery)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "not acknowledged within the delivery timeout ({}s)",
                    timeout.as_secs_f64()
                ))
            })
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::within;
    use std::time::Duration;

    #[tokio::test]
    async fn a_delivery_still_open_at_the_deadline_fails_and_the_others_keep_their_outcome() {
        let timeout = Duration::from_millis(300);
        type Delivery = std::pin::Pin<Box<dyn std::future::Future<Output = Result<i32, String>>>>;
        let deliveries: Vec<Delivery> = vec![
            Box::pin(async { Ok(1) }),
            // librdkafka that never answers
            Box::pin(std::future::pending()),
            Box::pin(async { Err("broker down".to_string()) }),
        ];
        let started = tokio::time::Instant::now();
        let outcomes = within(timeout, deliveries.into_iter()).await;
        let waited = started.elapsed();
        assert!(waited >= timeout && waited < timeout * 10, "{waited:?}");
        assert_eq!(outcomes[0], Ok(1));
        assert_eq!(
            outcomes[1],
            Err("not acknowledged within the delivery timeout (0.3s)".to_string())
        );
        assert_eq!(outcomes[2], Err("broker down".to_string()));
    }
}
