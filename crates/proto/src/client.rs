//! What every COINjecture gRPC client shares: the caller's trace context travels with each call.
//!
//! Build clients over [`traced`] channels (`LedgerClient::new(traced(channel))`): the
//! [`TraceContext`] interceptor writes the current span's W3C `traceparent`/`tracestate` into
//! the request metadata, and [`crate::server`]'s layer makes the server's span its child, so
//! one submitted transaction is one trace across api → consensus → ledger / p2p-gateway.

use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A channel whose calls carry the caller's trace context.
pub type TracedChannel = InterceptedService<Channel, TraceContext>;

/// Wraps `channel` so every call carries the current span's trace context.
pub fn traced(channel: Channel) -> TracedChannel {
    InterceptedService::new(channel, TraceContext)
}

/// Interceptor injecting the current span's W3C trace context (nothing when no trace is being
/// recorded, e.g. without `otel.endpoint`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContext;

impl tonic::service::Interceptor for TraceContext {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let metadata = request.metadata_mut();
        coinjecture_telemetry::inject_current_context(|key, value| {
            if let Ok(value) = MetadataValue::try_from(value) {
                metadata.insert(key, value);
            }
        });
        Ok(request)
    }
}

/// Largest gRPC message between the services: the chain's 16 MiB plus framing.
pub const MESSAGE_LIMIT: usize = coinjecture_primitives::limits::MAX_MESSAGE_BYTES + 64 * 1024;

/// How long a connection attempt to another service may take before the call fails
/// (`UNAVAILABLE`), instead of the operating system's TCP connect timeout.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The one way a service connects to another: `endpoint` (plain or with TLS configured by the
/// caller) gets `TCP_NODELAY` and [`CONNECT_TIMEOUT`], connects lazily (a service may start
/// before the services it calls; calls fail with `UNAVAILABLE` until they are up), and every
/// call carries the caller's trace context. Generated clients built over it should take
/// [`MESSAGE_LIMIT`] both ways (the `Remote*` ports in [`crate::ports`] do).
pub fn connect(endpoint: tonic::transport::Endpoint) -> TracedChannel {
    traced(endpoint.tcp_nodelay(true).connect_timeout(CONNECT_TIMEOUT).connect_lazy())
}
