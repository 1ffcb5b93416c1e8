//! `POST /sql`: read-only SQL over the pipeline's tables, with a row and a
//! time limit, behind the endpoints' bearer tokens.

use super::{ApiError, ApiState};
use crate::sql::{self, QueryError, QueryLimits};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// A session is made for each query, not kept: a kept one caches its
/// listings of the plain tables and its snapshot of each Delta table, and
/// would keep answering from them after the next trigger's commit.
pub struct SqlService {
    pub data_dir: std::path::PathBuf,
    pub limits: QueryLimits,
}

#[derive(serde::Deserialize)]
pub struct SqlParams {
    format: Option<String>,
}

pub async fn handle(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<SqlParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(service) = &state.sql else {
        return ApiError::NotFound {
            method: "POST".into(),
            path: "/sql".into(),
        }
        .into_response();
    };
    // Any endpoint's token opens /sql; with none declared, it is open.
    if let Err(refusal) = super::authorize_any(&state.plan, &headers, None) {
        return refusal.into_response();
    }
    let text = match sql_text(&headers, &body) {
        Ok(text) => text,
        Err(message) => return refusal(StatusCode::BAD_REQUEST, "bad_request", &message),
    };
    let ctx = match crate::catalog::session(&state.plan, &service.data_dir).await {
        Ok((ctx, _)) => ctx,
        Err(error) => {
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "catalog_unavailable",
                &format!("cannot open the pipeline's tables: {error}"),
            )
        }
    };
    let results = match sql::run(&ctx, &text, service.limits).await {
        Ok(results) => results,
        Err(error) => {
            let (status, code) = match &error {
                QueryError::NotReadOnly(_) => (StatusCode::BAD_REQUEST, "read_only"),
                QueryError::Invalid { .. } | QueryError::Empty => {
                    (StatusCode::BAD_REQUEST, "invalid_sql")
                }
                QueryError::Timeout(_) => (StatusCode::BAD_REQUEST, "timeout"),
                QueryError::Execution(_) => (StatusCode::BAD_REQUEST, "query_failed"),
            };
            let mut body = json!({ "error": code, "message": error.to_string() });
            if let QueryError::Invalid { position, help, .. } = &error {
                if let Some((line, column)) = position {
                    body["line"] = json!(line);
                    body["column"] = json!(column);
                }
                if let Some(help) = help {
                    body["help"] = json!(help);
                }
            }
            return (status, axum::Json(body)).into_response();
        }
    };
    let Some(last) = results.last() else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_sql",
            "no SQL statement given",
        );
    };
    match params.format.as_deref().unwrap_or("json") {
        "csv" => match sql::to_csv(last) {
            Ok(csv) => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response(),
            Err(error) => refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &error.to_string(),
            ),
        },
        "json" => match sql::to_json_rows(last) {
            Ok(rows) => {
                let columns: Vec<_> = last
                    .schema
                    .fields()
                    .iter()
                    .map(|f| json!({ "name": f.name(), "type": f.data_type().to_string() }))
                    .collect();
                axum::Json(json!({
                    "columns": columns,
                    "rows": rows,
                    "row_count": last.row_count(),
                    "truncated": last.truncated,
                }))
                .into_response()
            }
            Err(error) => refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &error.to_string(),
            ),
        },
        other => refusal(
            StatusCode::BAD_REQUEST,
            "bad_format",
            &format!("format `{other}`: use json or csv"),
        ),
    }
}

/// The SQL: the body as text, or `{"sql": "..."}` when sent as JSON.
fn sql_text(headers: &HeaderMap, body: &[u8]) -> Result<String, String> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
        return value["sql"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "expected {\"sql\": \"...\"}".to_string());
    }
    String::from_utf8(body.to_vec()).map_err(|_| "the SQL is not valid UTF-8".to_string())
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": code, "message": message })),
    )
        .into_response()
}
