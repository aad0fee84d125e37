//! Errors: [`ApiError`] for starting and running the server, [`RestError`] for REST answers
//! (`{"code": "...", "message": "..."}` with an HTTP status), and the mapping from gRPC statuses
//! (ours and our upstreams') to both.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tonic::{Code, Status};

/// Why the API could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An upstream endpoint (from the config) is not a valid URI.
    #[error("{service} endpoint {endpoint:?}: {source}")]
    Endpoint {
        service: &'static str,
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// A CORS origin from the config is not a valid header value.
    #[error("api.cors_origins: {origin:?} is not a valid origin")]
    CorsOrigin { origin: String },
    /// The HTTP server failed.
    #[error("serving the API: {0}")]
    Serve(#[from] std::io::Error),
}

/// Longest error message a REST answer carries, in characters.
pub(crate) const MAX_MESSAGE_CHARS: usize = 1_000;

/// The answer to a failed REST request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub status: StatusCode,
    /// Stable machine-readable code (`invalid_argument`, `not_found`, ...).
    pub code: &'static str,
    /// What went wrong, naming the field or parameter.
    pub message: String,
    /// Seconds after which a retry may succeed (429 rate limit, 503 backpressure).
    pub retry_after: Option<u64>,
    /// 410 `pruned`: the lowest height whose block this node still serves (the body's
    /// `oldest_height`).
    pub oldest_height: Option<u64>,
}

impl RestError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None, oldest_height: None }
    }

    /// 400 `invalid_argument`; the message should start with the field or parameter name.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_argument", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// The JSON body. The message is cut at [`MAX_MESSAGE_CHARS`] (it may quote client input
    /// or an upstream's answer).
    pub fn body(&self) -> serde_json::Value {
        let message = if self.message.chars().count() > MAX_MESSAGE_CHARS {
            format!("{}…", self.message.chars().take(MAX_MESSAGE_CHARS).collect::<String>())
        } else {
            self.message.clone()
        };
        let mut body = serde_json::json!({ "code": self.code, "message": message });
        if let (Some(oldest), Some(fields)) = (self.oldest_height, body.as_object_mut()) {
            fields.insert("oldest_height".into(), oldest.into());
        }
        body
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// gRPC status → REST error: the status code picks the HTTP status, the message is kept.
impl From<Status> for RestError {
    fn from(status: Status) -> Self {
        // Backpressure (the mempool above its high-water mark): 503 with `Retry-After`, not the
        // 429 of a rate limit: the node as a whole is busy, whoever asks.
        if let Some(seconds) = coinjecture_proto::ports::consensus::overloaded_retry_after(&status) {
            let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", status.message().to_string());
            e.retry_after = Some(seconds);
            return e;
        }
        // A pruned height (ledger.keep_blocks): 410 Gone, naming the oldest height served.
        if let Some(oldest) = coinjecture_proto::ports::ledger::pruned_oldest(&status) {
            let mut gone = Self::new(StatusCode::GONE, "pruned", status.message().to_string());
            gone.oldest_height = Some(oldest.into());
            return gone;
        }
        let (http, code) = match status.code() {
            Code::InvalidArgument | Code::OutOfRange => (StatusCode::BAD_REQUEST, "invalid_argument"),
            Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "resource_exhausted"),
            // FAILED_PRECONDITION means "not now" on this API (e.g. syncing: no submissions).
            Code::FailedPrecondition => (StatusCode::SERVICE_UNAVAILABLE, "failed_precondition"),
            Code::Unavailable | Code::Cancelled | Code::Unknown => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "unimplemented"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Self::new(http, code, status.message().to_string())
    }
}

/// Wraps an upstream's failure so that callers see which service failed. Rule answers
/// (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, OUT_OF_RANGE) pass
/// through unchanged; transport failures and the like become `UNAVAILABLE` ("ledger
/// unavailable: ...") and internal errors stay `INTERNAL`, prefixed with the service.
pub(crate) fn upstream(service: &'static str) -> impl Fn(Status) -> Status {
    move |status| match status.code() {
        Code::InvalidArgument
        | Code::NotFound
        | Code::FailedPrecondition
        | Code::ResourceExhausted
        | Code::OutOfRange => status,
        Code::Internal | Code::DataLoss | Code::Unimplemented => {
            Status::internal(format!("{service}: {}", status.message()))
        }
        _ => Status::unavailable(format!("{service} unavailable: {}", status.message())),
    }
}

/// [`upstream`] for an error of the consensus port (its remote form keeps the gRPC status).
pub(crate) fn consensus_upstream(e: coinjecture_proto::ports::consensus::ConsensusError) -> Status {
    upstream("consensus")(Status::from(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_http() {
        let cases = [
            (Status::invalid_argument("hash: bad"), StatusCode::BAD_REQUEST, "invalid_argument"),
            (Status::not_found("no block"), StatusCode::NOT_FOUND, "not_found"),
            (Status::unavailable("down"), StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            (Status::failed_precondition("syncing"), StatusCode::SERVICE_UNAVAILABLE, "failed_precondition"),
            (Status::internal("oops"), StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        ];
        for (status, http, code) in cases {
            let message = status.message().to_string();
            let e = RestError::from(status);
            assert_eq!((e.status, e.code, e.message), (http, code, message));
        }
        let busy = coinjecture_proto::ports::consensus::ConsensusError::Overloaded {
            message: "the mempool is above its high-water mark".into(),
            retry_after_secs: 2,
        };
        let e = RestError::from(consensus_upstream(busy));
        assert_eq!((e.status, e.code, e.retry_after), (StatusCode::SERVICE_UNAVAILABLE, "overloaded", Some(2)));
        let response = e.into_response();
        assert_eq!(response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("2"));
        let limited = RestError::from(Status::resource_exhausted("rate limited"));
        assert_eq!(
            (limited.status, limited.retry_after),
            (StatusCode::TOO_MANY_REQUESTS, None),
            "a rate limit stays 429"
        );
    }

    #[test]
    fn upstream_transport_failures_become_unavailable_and_rule_answers_pass() {
        let wrap = upstream("ledger");
        let e = wrap(Status::unknown("transport error"));
        assert_eq!(e.code(), Code::Unavailable);
        assert_eq!(e.message(), "ledger unavailable: transport error");
        assert_eq!(wrap(Status::not_found("x")).code(), Code::NotFound);
        assert_eq!(wrap(Status::internal("db")).message(), "ledger: db");
    }
}
