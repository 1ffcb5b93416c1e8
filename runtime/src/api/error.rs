//! Every answer that is not the endpoint's own: a status and a JSON reason.

use crate::event::RequestError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    BadRequest(#[from] RequestError),
    #[error("the query string is not valid: {0}")]
    BadQuery(String),
    #[error("the body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("{method} {path} takes no body, but the request has {length} bytes of one")]
    UnexpectedBody {
        method: &'static str,
        path: String,
        length: usize,
    },
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("the request headers are larger than {limit} bytes")]
    HeadersTooLarge { limit: usize },
    #[error("this endpoint needs `Authorization: Bearer <token>`")]
    MissingToken,
    #[error("the bearer token is not valid")]
    WrongToken,
    #[error("no endpoint {method} {path}")]
    NotFound { method: String, path: String },
    #[error("{path} does not answer {method}; it answers {allowed}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: String,
    },
    #[error("the sinks are {backlog_bytes} bytes behind on topic `{topic}`, near what the embedded broker keeps; retry shortly")]
    Backpressure { topic: String, backlog_bytes: u64 },
    #[error("this process is stopping and takes no new events: {reason}")]
    Stopping { reason: String },
    #[error("the broker did not acknowledge {failed} of {total} events: {reason}")]
    NotDelivered {
        failed: usize,
        total: usize,
        reason: String,
    },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_)
            | ApiError::BadQuery(_)
            | ApiError::BodyUnreadable(_)
            | ApiError::UnexpectedBody { .. } => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::MissingToken | ApiError::WrongToken => StatusCode::UNAUTHORIZED,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Backpressure { .. }
            | ApiError::NotDelivered { .. }
            | ApiError::Stopping { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(error) => error.code(),
            ApiError::BadQuery(_) => "bad_query",
            ApiError::BodyTooLarge { .. } => "body_too_large",
            ApiError::BodyUnreadable(_) => "body_unreadable",
            ApiError::UnexpectedBody { .. } => "unexpected_body",
            ApiError::HeadersTooLarge { .. } => "headers_too_large",
            ApiError::MissingToken => "missing_token",
            ApiError::WrongToken => "wrong_token",
            ApiError::NotFound { .. } => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Backpressure { .. } => "backpressure",
            ApiError::NotDelivered { .. } => "not_delivered",
            ApiError::Stopping { .. } => "stopping",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code(), "message": self.to_string() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::MissingToken | ApiError::WrongToken => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::MethodNotAllowed { allowed, .. } => {
                if let Ok(value) = HeaderValue::from_str(allowed) {
                    headers.insert(header::ALLOW, value);
                }
            }
            ApiError::Backpressure { .. } | ApiError::NotDelivered { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}
