//! Integration tests of the CryptoCore gRPC service on a real TCP socket, and of the crypto
//! port in process and remote.
#![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]

mod bad_input;
mod golden_over_grpc;
mod port;

use coinjecture_proto::v1::crypto_core_client::CryptoCoreClient;
use tonic::transport::Channel;

/// A running service on 127.0.0.1 with a connected client; the server stops when dropped.
#[derive(Debug)]
pub struct Running {
    pub client: CryptoCoreClient<Channel>,
    pub channel: Channel,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn start() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(coinjecture_crypto_core::service::serve(listener, async {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let client = CryptoCoreClient::new(channel.clone())
        .max_decoding_message_size(32 * 1024 * 1024)
        .max_encoding_message_size(32 * 1024 * 1024);
    Running { client, channel, _stop: stop }
}
