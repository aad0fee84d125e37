//! A peer reached through a TCP proxy (a sentry, a load balancer, the fault suite's cuttable
//! links) stays reached only through it: when the proxy goes away, nothing dials the address
//! the peer announced over identify.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use coinjecture_p2p_gateway::{MemoryBlockSource, Multiaddr};
use futures::StreamExt as _;
use libp2p::multiaddr::Protocol;
use tokio::task::JoinHandle;

use crate::support::*;
use crate::sync::chain;

/// Forwards connections on a loopback port to `target` until [`Proxy::cut`].
struct Proxy {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let pipes = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                pipes.lock().unwrap().push(pipe);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { port, tasks }
    }

    /// Stops listening and closes every connection through the proxy.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

fn tcp_port(addr: &Multiaddr) -> u16 {
    addr.iter().find_map(|p| if let Protocol::Tcp(port) = p { Some(port) } else { None }).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_behind_a_proxy_is_not_dialled_at_its_announced_address_once_the_proxy_is_gone() {
    init_tracing();
    let blocks = Arc::new(MemoryBlockSource::new());
    for b in chain(5) {
        blocks.insert(b);
    }
    let server = TestNode::start_with(config(NET, 1, vec![]), blocks).await;
    let server_id = server.handle.local_peer_id();
    let proxy = Proxy::start(tcp_port(&server.addr)).await;
    let via_proxy: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}/p2p/{server_id}", proxy.port).parse().unwrap();
    let client = TestNode::start(config(NET, 2, vec![via_proxy])).await;

    // Connected through the proxy, and identify has told the client the server's own address.
    let direct = server.handle.network_info().await.unwrap().listen_addrs[0].clone();
    wait_until(Duration::from_secs(10), "the server's announced address", || async {
        let peers = client.handle.peers().await.unwrap_or_default();
        peers.iter().any(|p| p.peer_id == server_id && p.addresses.contains(&direct))
    })
    .await;
    assert_eq!(client.handle.request_blocks(1, 5, Some(server_id)).await.unwrap().count().await, 5);

    proxy.cut();
    wait_until(Duration::from_secs(10), "the client to lose the server", || async { peer_count(&client).await == 0 })
        .await;
    // A sync request to the server by peer id alone: it must fail rather than go around the
    // proxy to the announced address.
    let result = client.handle.request_blocks(1, 5, Some(server_id)).await;
    assert!(result.is_err(), "the request reached the server around the proxy");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(peer_count(&client).await, 0, "the client connected to the server's announced address");
    assert_eq!(peer_count(&server).await, 0);
}
