//! Error answers, shaped as the spec's `ErrorResponse`: `{"errorCode": ..., "errorMessage": ...}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::wire::json_response;

/// An error answer: a status and the `errorCode`/`errorMessage` pair eToro sends with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

/// The spec's `ErrorResponse`, written here from the spec rather than borrowed from the client.
#[derive(Serialize)]
struct ErrorResponse<'a> {
    #[serde(rename = "errorCode")]
    error_code: &'a str,
    #[serde(rename = "errorMessage")]
    error_message: &'a str,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `ValidationFailed`, the spec's code for a request it refuses without a more precise one.
    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationFailed", message)
    }

    /// 404 `NotFound`, with one of the spec's two messages (or the route's, for an unknown route).
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    /// 429 `TooManyRequests`, eToro's rate-limit answer (the caller adds `Retry-After`).
    pub(crate) fn too_many_requests() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Too many requests")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &ErrorResponse {
                error_code: self.code,
                error_message: &self.message,
            },
        )
    }
}
