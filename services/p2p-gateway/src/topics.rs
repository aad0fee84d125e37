//! Topic names per network, protocol names, and the stateless payload check.

use coinjecture_proto::v1::{self as pb, consensus_message::Kind};
use libp2p::gossipsub::{IdentTopic, TopicHash};
use prost::Message as _;

use crate::error::PayloadError;

/// The four gossip topics, in the order of the proto enum.
pub const ALL_TOPICS: [pb::Topic; 4] =
    [pb::Topic::Transactions, pb::Topic::Proposals, pb::Topic::Votes, pb::Topic::Blocks];

/// The short kind used in a topic name: `tx`, `proposal`, `vote`, `block`.
pub fn topic_kind(topic: pb::Topic) -> Option<&'static str> {
    match topic {
        pb::Topic::Transactions => Some("tx"),
        pb::Topic::Proposals => Some("proposal"),
        pb::Topic::Votes => Some("vote"),
        pb::Topic::Blocks => Some("block"),
        pb::Topic::Unspecified => None,
    }
}

/// The `ConsensusMessage` variants that belong on a topic.
fn expected_variants(topic: pb::Topic) -> &'static [&'static str] {
    match topic {
        pb::Topic::Transactions => &["transactions"],
        pb::Topic::Proposals => &["proposal", "compact_proposal", "transaction_request"],
        pb::Topic::Votes => &["vote"],
        pb::Topic::Blocks => &["finalized_block"],
        pb::Topic::Unspecified => &[],
    }
}

fn variant_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Proposal(_) => "proposal",
        Kind::Vote(_) => "vote",
        Kind::FinalizedBlock(_) => "finalized_block",
        Kind::Transactions(_) => "transactions",
        Kind::CompactProposal(_) => "compact_proposal",
        Kind::TransactionRequest(_) => "transaction_request",
    }
}

/// The gossipsub topic names of one network: `/coinjecture/<network_id>/<kind>/1`.
#[derive(Debug, Clone)]
pub struct TopicNames {
    entries: Vec<(pb::Topic, IdentTopic)>,
}

impl TopicNames {
    /// The names for `network_id` (assumed valid, see [`crate::config::validate_network_id`]).
    pub fn new(network_id: &str) -> Self {
        let entries = ALL_TOPICS
            .iter()
            .filter_map(|&t| {
                topic_kind(t).map(|kind| (t, IdentTopic::new(format!("/coinjecture/{network_id}/{kind}/1"))))
            })
            .collect();
        Self { entries }
    }

    /// The gossipsub topic of `topic`; `None` for `TOPIC_UNSPECIFIED`.
    pub fn topic(&self, topic: pb::Topic) -> Option<&IdentTopic> {
        self.entries.iter().find(|(t, _)| *t == topic).map(|(_, i)| i)
    }

    /// The name of `topic`; `None` for `TOPIC_UNSPECIFIED`.
    pub fn name(&self, topic: pb::Topic) -> Option<String> {
        self.topic(topic).map(ToString::to_string)
    }

    /// Which of our topics a gossipsub hash is; `None` for a foreign topic.
    pub fn lookup(&self, hash: &TopicHash) -> Option<pb::Topic> {
        self.entries.iter().find(|(_, i)| &i.hash() == hash).map(|(t, _)| *t)
    }

    /// All (topic, name) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (pb::Topic, &IdentTopic)> {
        self.entries.iter().map(|(t, i)| (*t, i))
    }
}

/// The block-sync request-response protocol of a network: `/coinjecture/<network_id>/sync/1`.
pub fn sync_protocol(network_id: &str) -> String {
    format!("/coinjecture/{network_id}/sync/1")
}

/// The identify protocol version of a network: `/coinjecture/<network_id>/1`. Peers announcing
/// another one belong to another network and are disconnected.
pub fn identify_protocol(network_id: &str) -> String {
    format!("/coinjecture/{network_id}/1")
}

/// The gateway's cheap stateless check of a payload: within the size limit, decodes as a
/// protobuf `ConsensusMessage`, and carries the variant that belongs on `topic`. Returns the
/// decoded message so callers can read timestamps without decoding twice.
pub fn check_payload(topic: pb::Topic, payload: &[u8], max_bytes: usize) -> Result<pb::ConsensusMessage, PayloadError> {
    if payload.is_empty() {
        return Err(PayloadError::Empty);
    }
    if payload.len() > max_bytes {
        return Err(PayloadError::TooLarge { len: payload.len(), max: max_bytes });
    }
    let message = pb::ConsensusMessage::decode(payload).map_err(PayloadError::Undecodable)?;
    let kind = message.kind.as_ref().ok_or(PayloadError::NoVariant)?;
    let found = variant_name(kind);
    if !expected_variants(topic).contains(&found) {
        return Err(PayloadError::WrongVariant { found, topic: topic.as_str_name() });
    }
    Ok(message)
}

/// The proposer's timestamp a message carries, Unix milliseconds: `Proposal.timestamp_ms`, or a
/// finalized block's header time (seconds plus the millisecond remainder in `extra_data`).
pub fn origin_timestamp_ms(message: &pb::ConsensusMessage) -> Option<i64> {
    match message.kind.as_ref()? {
        Kind::Proposal(p) => Some(p.timestamp_ms),
        Kind::CompactProposal(c) => c.proposal.as_ref().map(|p| p.timestamp_ms),
        Kind::FinalizedBlock(b) => {
            let header = b.header.as_ref()?;
            let millis = coinjecture_primitives::PoaExtra::decode(&header.extra_data)
                .map(|e| i64::from(e.timestamp_millis))
                .unwrap_or(0);
            Some(header.timestamp.saturating_mul(1000).saturating_add(millis))
        }
        Kind::Vote(_) | Kind::Transactions(_) | Kind::TransactionRequest(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(kind: Kind) -> Vec<u8> {
        pb::ConsensusMessage { kind: Some(kind) }.encode_to_vec()
    }

    #[test]
    fn topic_names_are_namespaced_by_network() {
        let a = TopicNames::new("net-a");
        let b = TopicNames::new("net-b");
        assert_eq!(a.name(pb::Topic::Votes).unwrap(), "/coinjecture/net-a/vote/1");
        assert_eq!(a.name(pb::Topic::Transactions).unwrap(), "/coinjecture/net-a/tx/1");
        assert_eq!(a.name(pb::Topic::Unspecified), None);
        let hash = a.topic(pb::Topic::Blocks).unwrap().hash();
        assert_eq!(a.lookup(&hash), Some(pb::Topic::Blocks));
        assert_eq!(b.lookup(&hash), None);
    }

    #[test]
    fn stateless_check_accepts_matching_variant_only() {
        let vote = encode(Kind::Vote(pb::Vote::default()));
        assert!(check_payload(pb::Topic::Votes, &vote, 1 << 20).is_ok());
        assert_eq!(
            check_payload(pb::Topic::Proposals, &vote, 1 << 20).unwrap_err(),
            PayloadError::WrongVariant { found: "vote", topic: "TOPIC_PROPOSALS" }
        );
        assert_eq!(check_payload(pb::Topic::Votes, &[], 10).unwrap_err(), PayloadError::Empty);
        assert!(matches!(check_payload(pb::Topic::Votes, &vote, 1), Err(PayloadError::TooLarge { .. })));
        assert!(matches!(check_payload(pb::Topic::Votes, &[0xff; 8], 100), Err(PayloadError::Undecodable(_))));
        // An empty ConsensusMessage encodes to zero bytes; one unknown field decodes with no variant.
        assert_eq!(check_payload(pb::Topic::Votes, &[0x78, 0x01], 100).unwrap_err(), PayloadError::NoVariant);
    }

    #[test]
    fn origin_timestamp_of_proposals_and_blocks() {
        let p = pb::ConsensusMessage {
            kind: Some(Kind::Proposal(pb::Proposal { timestamp_ms: 1234, ..Default::default() })),
        };
        assert_eq!(origin_timestamp_ms(&p), Some(1234));
        let b = pb::ConsensusMessage {
            kind: Some(Kind::FinalizedBlock(pb::Block {
                header: Some(pb::BlockHeader { timestamp: 7, ..Default::default() }),
                ..Default::default()
            })),
        };
        assert_eq!(origin_timestamp_ms(&b), Some(7000));
        let v = pb::ConsensusMessage { kind: Some(Kind::Vote(pb::Vote::default())) };
        assert_eq!(origin_timestamp_ms(&v), None);
    }
}
