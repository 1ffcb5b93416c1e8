//! The status page under `/_pipec/`: the pipeline's graph, drawn by the
//! compiler, with live figures from the same counters as `/metrics`. The
//! page and its script are embedded; the script asks `status.json` for new
//! figures every two seconds and writes them into the picture.
//!
//! Behind the endpoints' bearer tokens when they declare any (as `/sql` is):
//! a browser cannot send a header on navigation, so the page also takes the
//! token as `?token=` and its script sends it on as a header.

use super::ApiState;
use crate::metrics::Metrics;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use pipec_compiler::graph::{graph, to_svg, Graph, NodeKind, SvgStyle};
use pipec_compiler::plan::Plan;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Everything under this prefix is pipec's; the checker refuses endpoints
/// there.
pub const PREFIX: &str = "/_pipec";

const TEMPLATE: &str = include_str!("status.html");

/// Built once per run: the page never changes, only its figures do.
pub struct StatusPage {
    graph: Graph,
    html: String,
}

impl StatusPage {
    pub fn new(plan: &Plan) -> Self {
        let graph = graph(plan);
        let html = TEMPLATE.replace("{{graph}}", &to_svg(&graph, SvgStyle::Live));
        StatusPage { graph, html }
    }
}

/// `/_pipec` → `/_pipec/`, keeping the query (the token), so the page's
/// relative `status.json` resolves under the prefix.
pub async fn redirect(RawQuery(query): RawQuery) -> Redirect {
    match query {
        Some(query) => Redirect::permanent(&format!("{PREFIX}/?{query}")),
        None => Redirect::permanent(&format!("{PREFIX}/")),
    }
}

pub async fn page(
    state: Arc<ApiState>,
    page: Arc<StatusPage>,
    headers: HeaderMap,
    query: Option<String>,
) -> Response {
    if let Err(refusal) = super::authorize_any(&state.plan, &headers, query.as_deref()) {
        return refusal.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        page.html.clone(),
    )
        .into_response()
}

pub async fn figures(
    state: Arc<ApiState>,
    page: Arc<StatusPage>,
    headers: HeaderMap,
    query: Option<String>,
) -> Response {
    if let Err(refusal) = super::authorize_any(&state.plan, &headers, query.as_deref()) {
        return refusal.into_response();
    }
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(snapshot(
            &page.graph,
            &state.plan,
            &state.metrics,
            state.stopping.get().map(String::as_str),
        )),
    )
        .into_response()
}

/// The figures of every node of the picture, keyed by the node's id, and
/// the state `/health` answers: the page shows a stopped sink as loudly.
fn snapshot(graph: &Graph, plan: &Plan, metrics: &Metrics, stopping: Option<&str>) -> Value {
    let sinks = metrics.health.report();
    let health_of = |sink: &str| sinks.iter().find(|s| s.sink == sink);
    let mut nodes = Map::new();
    for node in &graph.nodes {
        let figures = match node.kind {
            NodeKind::Endpoint => {
                let endpoint = &plan.endpoints[node.index];
                let label = format!("{} {}", endpoint.method.as_str(), endpoint.path);
                let (requests, errors) = metrics.requests_of(&label);
                json!({ "requests": requests, "errors": errors })
            }
            NodeKind::Topic => {
                let topic = &plan.topics[node.index].name;
                json!({
                    "events": metrics.events_produced.with_label_values(&[topic.as_str()]).get(),
                    "failures": metrics.delivery_failures.with_label_values(&[topic.as_str()]).get(),
                })
            }
            NodeKind::Sink | NodeKind::Table => {
                let sink = plan.sinks[node.index].name.as_str();
                let health = health_of(sink);
                json!({
                    "state": health.map_or(crate::health::State::Up, |h| h.state),
                    "reason": health.and_then(|h| h.reason.clone()),
                    "read": metrics.sink_events_read.with_label_values(&[sink]).get(),
                    "rows": metrics.sink_rows_written.with_label_values(&[sink]).get(),
                    "files": metrics.sink_files_written.with_label_values(&[sink]).get(),
                    "dead_letters": metrics.dead_letters.with_label_values(&[sink]).get(),
                    "lag": metrics.lag_of(sink),
                    "last_commit": metrics.last_commit_of(sink),
                })
            }
            NodeKind::DeadLetters => json!({ "messages": metrics.dead_lettered() }),
        };
        let mut figures = figures;
        figures["kind"] = json!(format!("{:?}", node.kind).to_lowercase());
        nodes.insert(node.id.clone(), figures);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let unhealthy: Vec<_> = sinks
        .iter()
        .filter(|s| s.state != crate::health::State::Up)
        .collect();
    let status = super::health_status(stopping.is_some(), &sinks);
    json!({
        "time": now,
        "health": { "status": status, "reason": stopping, "unhealthy": unhealthy },
        "events_in": metrics.events_in(),
        "rows_written": metrics.rows_written(),
        "nodes": nodes,
    })
}
