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
