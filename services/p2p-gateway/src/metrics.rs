//! Prometheus metrics of the gateway, all labelled with the network id.
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `coinjecture_p2p_peers` | gauge | network |
//! | `coinjecture_p2p_messages_received_total` | counter | network, topic |
//! | `coinjecture_p2p_messages_published_total` | counter | network, topic |
//! | `coinjecture_p2p_received_bytes_total` | counter | network, topic |
//! | `coinjecture_p2p_published_bytes_total` | counter | network, topic |
//! | `coinjecture_p2p_validation_results_total` | counter | network, topic, result (`accept`, `reject`, `ignore`, `timeout`, `stateless_reject`) |
//! | `coinjecture_p2p_disconnects_for_score_total` | counter | network |
//! | `coinjecture_block_propagation_seconds` | histogram | network, topic (`proposal`, `block`) |
//!
//! Byte counters are payload bytes of gossip messages this node received or published (not
//! transport bytes, which include forwarding and framing).

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// Labels by topic kind (`tx`, `proposal`, `vote`, `block`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TopicLabel {
    /// The topic kind.
    pub(crate) topic: &'static str,
}

/// Labels of validation outcomes.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ValidationLabel {
    /// The topic kind.
    pub(crate) topic: &'static str,
    /// `accept`, `reject`, `ignore`, `timeout` or `stateless_reject`.
    pub(crate) result: &'static str,
}

fn propagation_histogram() -> Histogram {
    // 1 ms to ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The gateway's metrics; cheap to clone (shared atomics).
#[derive(Debug, Clone)]
pub struct P2pMetrics {
    pub(crate) peers: Gauge,
    pub(crate) messages_received: Family<TopicLabel, Counter>,
    pub(crate) messages_published: Family<TopicLabel, Counter>,
    pub(crate) bytes_received: Family<TopicLabel, Counter>,
    pub(crate) bytes_published: Family<TopicLabel, Counter>,
    pub(crate) validation_results: Family<ValidationLabel, Counter>,
    pub(crate) disconnects_for_score: Counter,
    pub(crate) block_propagation: Family<TopicLabel, Histogram, fn() -> Histogram>,
    registry: Arc<Mutex<Registry>>,
}

impl P2pMetrics {
    /// Registers the metrics in `registry` (a fresh one when `None`), labelled with the network.
    pub fn new(network_id: &str, registry: Option<Arc<Mutex<Registry>>>) -> Self {
        let registry = registry.unwrap_or_default();
        let metrics = Self {
            peers: Gauge::default(),
            messages_received: Family::default(),
            messages_published: Family::default(),
            bytes_received: Family::default(),
            bytes_published: Family::default(),
            validation_results: Family::default(),
            disconnects_for_score: Counter::default(),
            block_propagation: Family::new_with_constructor(propagation_histogram),
            registry: registry.clone(),
        };
        let mut guard = match registry.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let r = guard.sub_registry_with_label(("network".into(), network_id.to_owned().into()));
        r.register("coinjecture_p2p_peers", "Connected peers", metrics.peers.clone());
        r.register(
            "coinjecture_p2p_messages_received",
            "Gossip messages received from peers, by topic",
            metrics.messages_received.clone(),
        );
        r.register(
            "coinjecture_p2p_messages_published",
            "Gossip messages published by this node, by topic",
            metrics.messages_published.clone(),
        );
        r.register_with_unit(
            "coinjecture_p2p_received",
            "Payload bytes of gossip messages received, by topic",
            Unit::Bytes,
            metrics.bytes_received.clone(),
        );
        r.register_with_unit(
            "coinjecture_p2p_published",
            "Payload bytes of gossip messages published, by topic",
            Unit::Bytes,
            metrics.bytes_published.clone(),
        );
        r.register(
            "coinjecture_p2p_validation_results",
            "Validation outcomes of received gossip messages",
            metrics.validation_results.clone(),
        );
        r.register(
            "coinjecture_p2p_disconnects_for_score",
            "Peers disconnected and banned because their gossipsub score fell below the threshold",
            metrics.disconnects_for_score.clone(),
        );
        r.register_with_unit(
            "coinjecture_block_propagation",
            "Time from the proposer's timestamp (proposal or finalized block header) to receipt",
            Unit::Seconds,
            metrics.block_propagation.clone(),
        );
        drop(guard);
        metrics
    }

    /// The registry these metrics live in.
    pub fn registry(&self) -> Arc<Mutex<Registry>> {
        self.registry.clone()
    }

    /// The registry in Prometheus text format (everything in it, not only the gateway's).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let guard = match self.registry.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &guard);
        out
    }

    pub(crate) fn validation(&self, topic: &'static str, result: &'static str) {
        self.validation_results.get_or_create(&ValidationLabel { topic, result }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_and_labels() {
        let m = P2pMetrics::new("net-a", None);
        m.peers.set(3);
        m.messages_received.get_or_create(&TopicLabel { topic: "vote" }).inc();
        m.block_propagation.get_or_create(&TopicLabel { topic: "proposal" }).observe(0.02);
        m.validation("vote", "accept");
        m.bytes_received.get_or_create(&TopicLabel { topic: "vote" }).inc_by(10);
        let text = m.encode();
        assert!(text.contains("coinjecture_p2p_peers{network=\"net-a\"} 3"), "{text}");
        assert!(text.contains("coinjecture_p2p_messages_received_total{network=\"net-a\",topic=\"vote\"} 1"), "{text}");
        assert!(
            text.contains("coinjecture_block_propagation_seconds_count{network=\"net-a\",topic=\"proposal\"} 1"),
            "{text}"
        );
        assert!(text.contains("result=\"accept\""), "{text}");
        assert!(text.contains("coinjecture_p2p_received_bytes_total"), "{text}");
    }
}
