//! Cuttable links between validators: one TCP proxy per ordered pair (i → j) that forwards to
//! validator j's p2p port, and every validator's `p2p.bootstrap_peers` pointing at its proxies
//! instead of the real ports. Cutting a link closes the connections through it and turns new
//! ones away (accepted, then closed at once), so the peers see the connection drop and every
//! redial fail until the link is restored.
//!
//! Nothing else lets the nodes find each other: there is no discovery protocol (no Kademlia, no
//! mDNS, no gossipsub peer exchange), bootstrap redials use only the configured addresses, and
//! the gateway keeps no identify address cache, so a dial by peer id alone (a block-sync request
//! to a peer that just went away) has no address to go to. The partition test checks the cut
//! from the outside anyway: a cut-off validator's peer count drops to zero and stays there.
//!
//! The proxies run on their own small runtime, so a test that blocks its own runtime for a
//! moment (e.g. starting processes) does not stall the traffic between the nodes.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;

use crate::Network;

/// The proxies of one network.
pub struct Proxies {
    runtime: Option<tokio::runtime::Runtime>,
    /// (from, to) → (listening port, cut switch).
    links: HashMap<(usize, usize), (u16, watch::Sender<bool>)>,
}

impl std::fmt::Debug for Proxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut links: Vec<_> = self.links.iter().map(|(k, (port, cut))| (*k, *port, *cut.borrow())).collect();
        links.sort_unstable();
        f.debug_struct("Proxies").field("links (from, to), port, cut", &links).finish()
    }
}

impl Proxies {
    /// Starts a proxy for every ordered pair of `net`'s validators and rewrites each validator's
    /// `p2p.bootstrap_peers` to dial the others through them. Call before starting the
    /// validators ([`Network::lay_out`]).
    pub fn install(net: &Network) -> Self {
        let n = net.validators;
        let configs: Vec<String> = (0..n).map(|i| std::fs::read_to_string(net.config_path(i)).unwrap()).collect();
        let listen_port: Vec<u16> = configs.iter().map(|c| listen_port(c)).collect();
        // Peer ids by p2p port, from the bootstrap lists `devnet --init-only` wrote.
        let mut peer_at: HashMap<u16, String> = HashMap::new();
        for c in &configs {
            for (port, peer) in bootstrap_entries(c) {
                peer_at.insert(port, peer);
            }
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("e2e-proxy")
            .enable_all()
            .build()
            .unwrap();
        let mut links = HashMap::new();
        for from in 0..n {
            for to in (0..n).filter(|&to| to != from) {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                listener.set_nonblocking(true).unwrap();
                let port = listener.local_addr().unwrap().port();
                let (cut, cut_rx) = watch::channel(false);
                let target = listen_port[to];
                let _guard = runtime.enter();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                runtime.spawn(serve(listener, target, cut_rx));
                links.insert((from, to), (port, cut));
            }
        }
        for i in 0..n {
            let peers: Vec<String> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    let peer = peer_at.get(&listen_port[j]).unwrap_or_else(|| panic!("no peer id for validator {j}"));
                    format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer}", links[&(i, j)].0)
                })
                .collect();
            net.edit_config(i, |text| with_bootstrap_peers(&text, &peers));
        }
        Self { runtime: Some(runtime), links }
    }

    /// Cuts (or restores) both directions between validators `a` and `b`.
    pub fn set_cut(&self, a: usize, b: usize, cut: bool) {
        for key in [(a, b), (b, a)] {
            self.links[&key].1.send_replace(cut);
        }
    }

    /// Cuts every link between different groups, e.g. `&[&[0], &[1, 2]]`; links inside a group
    /// are restored.
    pub fn partition(&self, groups: &[&[usize]]) {
        let group_of = |i: usize| groups.iter().position(|g| g.contains(&i));
        for &(a, b) in self.links.keys() {
            self.links[&(a, b)].1.send_replace(group_of(a) != group_of(b));
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        for (_, cut) in self.links.values() {
            cut.send_replace(false);
        }
    }
}

impl Drop for Proxies {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Forwards each accepted connection to `target` until the link is cut.
async fn serve(listener: tokio::net::TcpListener, target: u16, cut: watch::Receiver<bool>) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if *cut.borrow() {
            drop(inbound); // turned away: the dialler's handshake fails
            continue;
        }
        let mut cut = cut.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else { return };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                // Cut (or the proxies went away): both sockets close here.
                _ = cut.wait_for(|cut| *cut) => {}
            }
        });
    }
}

/// The TCP port of the config's first `p2p.listen_addrs` entry.
fn listen_port(config: &str) -> u16 {
    config
        .lines()
        .skip_while(|l| l.trim() != "listen_addrs:")
        .nth(1)
        .and_then(|l| l.rsplit("/tcp/").next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no p2p listen port in config:\n{config}"))
}

/// (port, peer id) of every `/ip4/…/tcp/PORT/p2p/PEER` bootstrap entry.
fn bootstrap_entries(config: &str) -> Vec<(u16, String)> {
    config
        .lines()
        .filter_map(|l| {
            let addr = l.trim().strip_prefix("- ")?;
            let (front, peer) = addr.split_once("/p2p/")?;
            Some((front.rsplit("/tcp/").next()?.parse().ok()?, peer.to_string()))
        })
        .collect()
}

/// The config with its `bootstrap_peers` list replaced by `peers`.
fn with_bootstrap_peers(config: &str, peers: &[String]) -> String {
    let mut out = String::new();
    let mut in_list = false;
    for line in config.lines() {
        if in_list && line.starts_with("    - ") {
            continue;
        }
        in_list = false;
        if line.trim_start().starts_with("bootstrap_peers:") {
            out.push_str("  bootstrap_peers:\n");
            for p in peers {
                out.push_str(&format!("    - {p}\n"));
            }
            in_list = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
