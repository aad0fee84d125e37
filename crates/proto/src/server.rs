//! What every COINjecture gRPC server shares: one builder with the same transport settings, the
//! per-request [`RpcLayer`] (a trace span continuing the caller's trace, and the RPC latency
//! histogram), and reflection over this contract (plus gRPC health), so no service drifts from
//! the others.

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use tonic::codegen::http;
use tonic::transport::Server;
use tower::layer::util::{Identity, Stack};
use tracing::Instrument as _;

/// Encoded message limit of every service: the chain's 16 MiB payload limit plus protobuf
/// framing.
pub const MAX_GRPC_MESSAGE_BYTES: usize = coinjecture_primitives::limits::MAX_MESSAGE_BYTES + 64 * 1024;

/// The name under which [`register_metrics`] registers the RPC latency histogram (a
/// histogram: `_bucket`, `_sum` and `_count` series).
pub const RPC_DURATION_METRIC: &str = "coinjecture_rpc_duration_seconds";

/// The server type [`builder`] returns.
pub type Builder = Server<Stack<RpcLayer, Identity>>;

/// A server builder with the settings all our services use: `TCP_NODELAY` (without it Nagle's
/// algorithm holds small responses for the peer's delayed ACK, ~25 ms per call on loopback) and
/// the [`RpcLayer`].
pub fn builder() -> Builder {
    Server::builder().tcp_nodelay(true).layer(RpcLayer)
}

/// Labels of `coinjecture_rpc_duration_seconds`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    /// Full gRPC service name, e.g. `coinjecture.v1.Ledger`.
    service: String,
    /// Method, e.g. `CheckTransactions`.
    method: String,
    /// gRPC status, e.g. `OK`, `INVALID_ARGUMENT`.
    code: &'static str,
}

/// This process's RPC latencies (every server built with [`builder`] or wrapped in
/// [`RpcLayer`] records into it).
static RPC_DURATION: LazyLock<Family<RpcLabels, Histogram>> = LazyLock::new(|| {
    Family::new_with_constructor(|| {
        Histogram::new([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
    })
});

/// Registers `coinjecture_rpc_duration_seconds{service,method,code}` (this process's gRPC
/// server latencies) in `registry`, for a `/metrics` endpoint. Register it in one registry per
/// process.
pub fn register_metrics(registry: &mut prometheus_client::registry::Registry) {
    registry.register(
        RPC_DURATION_METRIC,
        "gRPC server request duration (until the response starts: a unary call's whole handling, a stream's opening), by service, method and status",
        RPC_DURATION.clone(),
    );
}

/// Per-request middleware of every gRPC server: an `info` span named after the call
/// (`coinjecture.v1.Ledger/CheckTransactions`, kind server, `rpc.*` attributes) that continues
/// the caller's W3C trace context from the request headers, and an observation in
/// `coinjecture_rpc_duration_seconds`. The status is the one the handler answered with (the
/// `grpc-status` of a trailers-only response, else `OK`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcLayer;

impl<S> tower::Layer<S> for RpcLayer {
    type Service = RpcService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RpcService { inner }
    }
}

/// The service [`RpcLayer`] wraps around a server's routes.
#[derive(Debug, Clone)]
pub struct RpcService<S> {
    inner: S,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for RpcService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
        let (service, method) = (service.to_string(), method.to_string());
        let span = tracing::info_span!(
            "grpc",
            otel.name = %path.trim_start_matches('/'),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        let headers = request.headers();
        coinjecture_telemetry::set_remote_parent(&span, |name| headers.get(name).and_then(|v| v.to_str().ok()));
        // The inner service was made ready by poll_ready; keep it and leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let started = std::time::Instant::now();
        let call = inner.call(request);
        let unserved = unserved_message(&service, &method);
        Box::pin(async move {
            let mut result = call.instrument(span.clone()).await;
            // A service or method this server does not have: tonic answers UNIMPLEMENTED with no
            // message; say what was asked for.
            if let Ok(response) = &mut result
                && response.headers().get("grpc-status").is_some_and(|v| v.as_bytes() == b"12")
                && !response.headers().contains_key("grpc-message")
            {
                let _ = tonic::Status::unimplemented(unserved).add_header(response.headers_mut());
            }
            let code = match &result {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .map_or(tonic::Code::Ok, |v| tonic::Code::from_bytes(v.as_bytes())),
                Err(_) => tonic::Code::Internal,
            };
            span.record("rpc.grpc.status_code", code as i32);
            if code != tonic::Code::Ok {
                span.record("otel.status_code", "ERROR");
            }
            RPC_DURATION
                .get_or_create(&RpcLabels { service, method, code: code_name(code) })
                .observe(started.elapsed().as_secs_f64());
            result
        })
    }
}

/// The message of an UNIMPLEMENTED answer for `service`/`method`, which this server does not serve.
pub fn unserved_message(service: &str, method: &str) -> String {
    format!(
        "{service}/{method}: not served on this port (service {service}, or its method {method}, is not here; gRPC reflection lists the services this port serves)"
    )
}

/// The canonical gRPC status name (`OK`, `INVALID_ARGUMENT`, …).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The name under which gRPC reflection (v1) lists itself.
pub const REFLECTION_SERVICE: &str = "grpc.reflection.v1.ServerReflection";
/// The gRPC health service's name.
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// gRPC reflection (v1) over `proto/coinjecture/v1` and `grpc.health.v1`, listing `services`
/// (the ones the port serves, e.g. `coinjecture.v1.Ledger`) plus health and reflection itself;
/// every message type stays resolvable. `None`, with a warning, if the descriptors cannot be
/// loaded (the service then runs without reflection).
pub fn reflection(
    services: &[&str],
) -> Option<tonic_reflection::server::v1::ServerReflectionServer<impl tonic_reflection::server::v1::ServerReflection>> {
    let built = reflection_builder(services).build_v1();
    match built {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(error = %e, "gRPC reflection unavailable");
            None
        }
    }
}

/// The reflection builder [`reflection`] uses (for a server that also wants `v1alpha`).
pub fn reflection_builder(services: &[&str]) -> tonic_reflection::server::Builder<'static> {
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    for name in services.iter().copied().chain([HEALTH_SERVICE, REFLECTION_SERVICE]) {
        builder = builder.with_service_name(name);
    }
    builder
}
