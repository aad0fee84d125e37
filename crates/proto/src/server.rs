//! What every COINjecture gRPC server shares: one builder with the same transport settings, and
//! reflection over this contract (plus gRPC health), so no service drifts from the others.

use tonic::transport::Server;

/// Encoded message limit of every service: the chain's 16 MiB payload limit plus protobuf
/// framing.
pub const MAX_GRPC_MESSAGE_BYTES: usize = coinjecture_primitives::limits::MAX_MESSAGE_BYTES + 64 * 1024;

/// A server builder with the settings all our services use: `TCP_NODELAY` (without it Nagle's
/// algorithm holds small responses for the peer's delayed ACK, ~25 ms per call on loopback) and
/// a debug span per call naming its path.
pub fn builder() -> Server {
    Server::builder().tcp_nodelay(true).trace_fn(|req| tracing::debug_span!("grpc", path = %req.uri().path()))
}

/// gRPC reflection (v1) over `proto/coinjecture/v1` and `grpc.health.v1`; `None`, with a
/// warning, if the descriptors cannot be loaded (the service then runs without reflection).
pub fn reflection()
-> Option<tonic_reflection::server::v1::ServerReflectionServer<impl tonic_reflection::server::v1::ServerReflection>> {
    let built = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1();
    match built {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(error = %e, "gRPC reflection unavailable");
            None
        }
    }
}
