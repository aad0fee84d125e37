//! **TEST ONLY.** A Byzantine validator for the fault-tolerance suite (`tests/tests/it/faults.rs`):
//! every vote this node publishes is preceded by a second, conflicting vote for the same
//! (height, round, type), signed with the validator key *outside* the engine, so the persisted
//! double-sign protection (`sign_state`) never sees it.
//!
//! It is switched on only by the hidden command-line flag `coinjectured node
//! --test-only-equivocate`, and only in debug builds (a release binary refuses the flag). No
//! configuration key or environment variable turns it on, so no config file can enable it by
//! accident. Honest nodes must record the pairs as equivocation evidence (`ListEvidence`) and stay
//! safe as long as fewer than a third of the validators do this (`quorum: byzantine`).

use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::{Block, CommitCertificate, Height, Vote, sha256};
use coinjecture_proto::ports::gateway::{GatewayError, GatewayPort, GossipMessage};

use std::sync::atomic::{AtomicBool, Ordering};

/// The flag's name, for messages.
pub(crate) const FLAG: &str = "--test-only-equivocate";

/// Set once at start-up from the command line (the flag is global to the CLI, so the node's
/// start-up code reads it here rather than through every subcommand's arguments).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns the mode on for `coinjectured node`; refused in release builds.
pub(crate) fn enable() -> eyre::Result<()> {
    if !cfg!(debug_assertions) {
        eyre::bail!("{FLAG}: this test-only Byzantine mode exists only in debug builds");
    }
    ENABLED.store(true, Ordering::SeqCst);
    Ok(())
}

/// Whether this process equivocates.
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::SeqCst)
}

/// Wraps the node's network as consensus sees it (publish, block sync): publishes a conflicting
/// twin before each of its votes.
pub(crate) struct Equivocating<N> {
    inner: N,
    key: Keypair,
}

impl<N> Equivocating<N> {
    pub(crate) fn new(inner: N, key: Keypair) -> Self {
        Self { inner, key }
    }

    /// The conflicting vote: nil where the original names a block, a made-up block where it is
    /// nil; same validator, height, round and type, validly signed.
    fn twin(&self, vote: &Vote) -> Vote {
        let mut twin = vote.clone();
        twin.block_hash = match vote.block_hash {
            Some(_) => None,
            None => {
                let mut seed = b"coinjecture/test-only/equivocation".to_vec();
                seed.extend_from_slice(&vote.height.to_be_bytes());
                seed.extend_from_slice(&vote.round.to_be_bytes());
                Some(sha256(&seed))
            }
        };
        twin.signature = self.key.sign(&twin.signing_bytes());
        twin
    }
}

#[tonic::async_trait]
impl<N: GatewayPort> GatewayPort for Equivocating<N> {
    async fn publish(&self, message: &GossipMessage) -> Result<(), GatewayError> {
        if let GossipMessage::Vote(vote) = message
            && vote.validator == self.key.public_key()
        {
            let twin = GossipMessage::Vote(self.twin(vote));
            if let Err(e) = self.inner.publish(&twin).await {
                tracing::debug!(error = %e, "publishing the equivocating twin failed");
            }
        }
        self.inner.publish(message).await
    }

    async fn request_blocks(&self, from: Height, count: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
        self.inner.request_blocks(from, count).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coinjecture_primitives::consensus::{Evidence, VoteType};
    use coinjecture_primitives::{ChainId, Hash32, Round, Signature};

    struct Nowhere;

    #[tonic::async_trait]
    impl GatewayPort for Nowhere {
        async fn publish(&self, _: &GossipMessage) -> Result<(), GatewayError> {
            Ok(())
        }
        async fn request_blocks(&self, _: Height, _: u32) -> Result<Vec<(Block, CommitCertificate)>, GatewayError> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn the_twin_conflicts_verifies_and_makes_evidence() {
        let key = Keypair::from_seed(&[9; 32]);
        let e = Equivocating::new(Nowhere, Keypair::from_seed(&[9; 32]));
        for block_hash in [Some(Hash32([1; 32])), None] {
            let mut vote = Vote {
                chain_id: ChainId::new("coinjecture-devnet").unwrap(),
                height: Height(7),
                round: Round(2),
                vote_type: VoteType::Prevote,
                block_hash,
                validator: key.public_key(),
                signature: Signature::ZERO,
            };
            vote.signature = key.sign(&vote.signing_bytes());
            let twin = e.twin(&vote);
            assert_ne!(twin.block_hash, vote.block_hash);
            assert!(coinjecture_crypto_core::signatures::verify(
                &twin.validator,
                &twin.signing_bytes(),
                &twin.signature
            ));
            assert!(Evidence::duplicate_vote(vote, twin).is_some());
        }
    }
}
