//! The `P2pGateway` gRPC service over a [`P2pHandle`]: protobuf in, handle calls, protobuf out,
//! with the chain's message size limit and `INVALID_ARGUMENT` answers that name the field; and
//! [`run`], which starts the gateway the same way in one process and split.
//!
//! The gRPC server wraps the [`P2pHandle`] itself rather than the gateway's port
//! (`GatewayPort`): its `Dial`, `GetNetworkInfo`, raw-topic `Publish` and `Subscribe` RPCs have no
//! method on the port.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use coinjecture_primitives::limits::MAX_MESSAGE_BYTES;
use coinjecture_proto::ports::ledger::LedgerPort;
use coinjecture_proto::v1::p2p_gateway_server::{P2pGateway, P2pGatewayServer};
use coinjecture_proto::v1::{self as pb};
use futures::{Stream, StreamExt};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use crate::config::{ENVELOPE_MARGIN_BYTES, P2pConfig};
use crate::error::P2pError;
use crate::handle::{P2pHandle, Validation};
use crate::node::P2pNode;

/// A running gateway (see [`run`]).
#[derive(Debug)]
pub struct Running {
    /// The gateway: its port (`GatewayPort`) and the handle the gRPC server wraps.
    pub handle: P2pHandle,
    /// The swarm's task; it ends after [`P2pHandle::shutdown`].
    pub task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The `P2pGateway` gRPC server over this gateway.
    pub fn server(&self) -> P2pGatewayServer<P2pGatewayService> {
        P2pGatewayService::new(self.handle.clone()).into_server()
    }

    /// Stops the swarm and waits for its task.
    pub async fn stop(self) {
        self.handle.shutdown().await;
        let _ = self.task.await;
    }
}

/// Starts the gateway, the same in one process and split; only the ledger behind its port
/// differs (the [`Ledger`](LedgerPort) itself, or the remote one). `config` is built by the binary
/// from its config (`p2p.*`, the node key's seed); the swarm's metrics go into `registry`.
pub async fn run(
    config: P2pConfig,
    ledger: Arc<dyn LedgerPort>,
    registry: Option<Arc<Mutex<prometheus_client::registry::Registry>>>,
) -> Result<Running, P2pError> {
    let (handle, task) = P2pNode::start(config, ledger, registry).await?;
    Ok(Running { handle, task })
}

/// The gRPC service; cheap to clone.
#[derive(Debug, Clone)]
pub struct P2pGatewayService {
    handle: P2pHandle,
}

impl P2pGatewayService {
    /// The service over a running gateway.
    pub fn new(handle: P2pHandle) -> Self {
        Self { handle }
    }

    /// The handle it serves.
    pub fn handle(&self) -> &P2pHandle {
        &self.handle
    }

    /// The tonic server for this service, with the chain's message size limit.
    pub fn into_server(self) -> P2pGatewayServer<Self> {
        P2pGatewayServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES + ENVELOPE_MARGIN_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES + ENVELOPE_MARGIN_BYTES)
    }
}

fn invalid(field: &str, reason: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {reason}"))
}

/// A proto enum value as a topic; unknown numbers are invalid like TOPIC_UNSPECIFIED.
fn topic(value: i32, field: &str) -> Result<pb::Topic, Status> {
    match pb::Topic::try_from(value) {
        Ok(pb::Topic::Unspecified) => Err(invalid(field, "is TOPIC_UNSPECIFIED")),
        Ok(t) => Ok(t),
        Err(_) => Err(invalid(field, format!("unknown topic {value}"))),
    }
}

fn peer_summary(p: crate::handle::PeerSummary) -> pb::PeerInfo {
    coinjecture_proto::ports::gateway::peer_to_pb(&crate::port::peer_info(p))
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl P2pGateway for P2pGatewayService {
    async fn publish(&self, request: Request<pb::PublishRequest>) -> Result<Response<pb::PublishResponse>, Status> {
        let req = request.into_inner();
        let topic = topic(req.topic, "topic")?;
        let outcome = self.handle.publish(topic, req.payload).await?;
        Ok(Response::new(pb::PublishResponse {
            message_id: outcome.message_id.to_vec(),
            recipients: outcome.recipients,
            duplicate: outcome.duplicate,
        }))
    }

    type SubscribeStream = BoxStream<pb::InboundMessage>;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let req = request.into_inner();
        if req.topics.is_empty() {
            return Err(invalid("topics", "at least one topic is required"));
        }
        let topics = req
            .topics
            .iter()
            .enumerate()
            .map(|(i, &t)| topic(t, &format!("topics[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let subscription = self.handle.subscribe(&topics, req.validate).await?;
        // Dropping the stream (the client cancelled) drops the subscription.
        let stream = subscription.into_stream().map(|m| Ok(pb::InboundMessage::from(m)));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn report_validation(
        &self,
        request: Request<pb::ReportValidationRequest>,
    ) -> Result<Response<pb::ReportValidationResponse>, Status> {
        let req = request.into_inner();
        let max = coinjecture_primitives::limits::MAX_BATCH_ITEMS;
        if req.reports.len() > max {
            return Err(invalid("reports", format!("{} items exceed the maximum {max}", req.reports.len())));
        }
        let mut reports = Vec::with_capacity(req.reports.len());
        let mut malformed_ids = 0u32;
        for (i, r) in req.reports.iter().enumerate() {
            let validation = match pb::ValidationResult::try_from(r.result) {
                Ok(pb::ValidationResult::Accept) => Validation::Accept,
                Ok(pb::ValidationResult::Reject) => Validation::Reject,
                Ok(pb::ValidationResult::Ignore) => Validation::Ignore,
                Ok(pb::ValidationResult::Unspecified) => {
                    return Err(invalid(&format!("reports[{i}].result"), "is VALIDATION_RESULT_UNSPECIFIED"));
                }
                Err(_) => return Err(invalid(&format!("reports[{i}].result"), format!("unknown value {}", r.result))),
            };
            // An id of the wrong length matches no message: counted as unknown, like the proto says.
            match <[u8; 32]>::try_from(r.message_id.as_slice()) {
                Ok(id) => reports.push((id, validation)),
                Err(_) => malformed_ids += 1,
            }
        }
        let outcome = self.handle.report_validation(reports).await?;
        Ok(Response::new(pb::ReportValidationResponse {
            applied: outcome.applied,
            unknown: outcome.unknown + malformed_ids,
        }))
    }

    async fn list_peers(
        &self,
        _request: Request<pb::ListPeersRequest>,
    ) -> Result<Response<pb::ListPeersResponse>, Status> {
        let peers = self.handle.peers().await?;
        Ok(Response::new(pb::ListPeersResponse { peers: peers.into_iter().map(peer_summary).collect() }))
    }

    async fn dial(&self, request: Request<pb::DialRequest>) -> Result<Response<pb::DialResponse>, Status> {
        let req = request.into_inner();
        let addr: libp2p::Multiaddr =
            req.multiaddr.parse().map_err(|e| invalid("multiaddr", format!("{:?}: {e}", req.multiaddr)))?;
        let peer = self.handle.dial(addr).await?;
        Ok(Response::new(pb::DialResponse { peer_id: peer.to_base58() }))
    }

    type RequestBlocksStream = BoxStream<pb::RequestBlocksResponse>;

    async fn request_blocks(
        &self,
        request: Request<pb::RequestBlocksRequest>,
    ) -> Result<Response<Self::RequestBlocksStream>, Status> {
        let req = request.into_inner();
        let peer = if req.peer_id.is_empty() {
            None
        } else {
            Some(
                req.peer_id
                    .parse::<libp2p::PeerId>()
                    .map_err(|e| invalid("peer_id", format!("{:?}: {e}", req.peer_id)))?,
            )
        };
        let (from, count) = (coinjecture_primitives::Height(req.from_height), req.count);
        // Catch-up's read-ahead, as in one process (`GatewayPort for P2pHandle`): a request to
        // any peer takes the range fetched in the background after the previous answer, and an
        // answer served in full starts fetching the next range while the caller applies this
        // one (a consensus in another process reads ahead this way too).
        let prefetched = match peer {
            None => self.handle.take_prefetch(from, count).await,
            Some(_) => None,
        };
        let blocks = match prefetched {
            Some(stream) => stream,
            None => self.handle.request_blocks(req.from_height, count, peer).await?,
        };
        let handle = self.handle.clone();
        let mut served = 0u32;
        let stream = blocks.map(move |b| {
            served += 1;
            if peer.is_none() && served == count {
                handle.start_prefetch(from.saturating_add(u64::from(count)), count);
            }
            Ok(pb::RequestBlocksResponse { block: Some(b.block), peer_id: b.peer_id.to_base58() })
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_network_info(
        &self,
        _request: Request<pb::GetNetworkInfoRequest>,
    ) -> Result<Response<pb::GetNetworkInfoResponse>, Status> {
        let info = self.handle.network_info().await?;
        Ok(Response::new(pb::GetNetworkInfoResponse {
            local_peer_id: info.local_peer_id.to_base58(),
            listen_addresses: info.listen_addrs.iter().map(ToString::to_string).collect(),
            network_id: info.network_id,
            connected_peers: info.connected_peers,
            topics: info.topics.into_iter().map(|(t, name)| pb::TopicName { topic: t.into(), name }).collect(),
        }))
    }
}

/// Serves `P2pGateway` (plus gRPC health and reflection) on `listener` until `shutdown`.
pub async fn serve(
    handle: P2pHandle,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<P2pGatewayServer<P2pGatewayService>>().await;
    let reflection = coinjecture_proto::server::reflection(&[coinjecture_proto::v1::p2p_gateway_server::SERVICE_NAME]);
    let local: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(addr = ?local, peer_id = %handle.local_peer_id(), "p2p-gateway serving gRPC (P2pGateway, health, reflection)");
    coinjecture_proto::server::builder()
        .add_service(health_service)
        .add_optional_service(reflection)
        .add_service(P2pGatewayService::new(handle).into_server())
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}
