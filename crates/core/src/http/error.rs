//! Core errors as HTTP answers: the one place that maps a `code()` to a status.
//! Server-side failures are logged in full and answered with a generic message.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::Error;

/// An error on its way to becoming a JSON `{code, message}` answer.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub fn status(e: &Error) -> StatusCode {
    match e {
        Error::Invalid(_) => StatusCode::BAD_REQUEST,
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::Conflict(_) | Error::TurnInProgress => StatusCode::CONFLICT,
        Error::LinkRevoked | Error::LinkExpired | Error::BadCredentials | Error::InvalidSession => {
            StatusCode::UNAUTHORIZED
        }
        Error::OriginNotAllowed | Error::ConversationBlocked => StatusCode::FORBIDDEN,
        Error::LinkPaused => StatusCode::SERVICE_UNAVAILABLE,
        Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::TooManyStreams | Error::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        Error::KeyringUnavailable { .. }
        | Error::SecretStore(_)
        | Error::Store(_)
        | Error::Migration(_)
        | Error::Io { .. }
        | Error::Unreachable(_)
        | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The message a visitor may see: the error's own for client errors, a generic one otherwise.
pub fn public_message(e: &Error) -> String {
    if status(e).is_server_error()
        && !matches!(
            e,
            Error::TooManyStreams | Error::ShuttingDown | Error::LinkPaused
        )
    {
        tracing::error!(code = e.code(), error = %e, "request failed");
        "Something went wrong on the chat server. Please try again in a moment.".to_owned()
    } else {
        e.to_string()
    }
}

/// `Retry-After` for answers that ask the client to come back.
pub fn retry_after(e: &Error) -> Option<HeaderValue> {
    match e {
        Error::RateLimited { retry_after } => {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            HeaderValue::from_str(&secs.max(1).to_string()).ok()
        }
        Error::TooManyStreams | Error::ShuttingDown => Some(HeaderValue::from_static("5")),
        Error::LinkPaused => Some(HeaderValue::from_static("300")),
        _ => None,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let body = Json(json!({"code": e.code(), "message": public_message(&e)}));
        let mut res = (status(&e), body).into_response();
        if let Some(v) = retry_after(&e) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if matches!(e, Error::InvalidSession) {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"chatlink\", error=\"invalid_token\""),
            );
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn statuses_and_retry_after() {
        assert_eq!(status(&Error::LinkRevoked), StatusCode::UNAUTHORIZED);
        assert_eq!(
            status(&Error::NotFound { what: "link" }),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(&Error::PayloadTooLarge { limit: 1 }),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let limited = Error::RateLimited {
            retry_after: Duration::from_millis(1500),
        };
        assert_eq!(retry_after(&limited), Some(HeaderValue::from_static("2")));
        let internal = Error::Internal("disk at /secret/path".into());
        assert!(!public_message(&internal).contains("/secret/path"));
    }
}
