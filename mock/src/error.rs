//! Error answers, shaped as the spec's `ErrorResponse`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use etoro_client::types::ErrorResponse;

/// An error answer: a status and the `errorCode`/`errorMessage` pair eToro sends with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `BadRequest`, the code of every validation failure the spec does not name more precisely.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Serialising the client's own type keeps the mock and the client agreeing on field names.
        let body = ErrorResponse {
            error_code: Some(self.code.to_owned()),
            error_message: Some(self.message),
        };
        let json = serde_json::to_vec(&body).expect("ErrorResponse always serialises");
        let mut response = (self.status, json).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}
