//! Validator sets, quorum rules, the round-robin proposer and the set schedule (gradual cutover)
//! are [`coinjecture_primitives::validators`]', the same types the ledger verifies certificates
//! with, re-exported here. This module adds what needs cryptography: [`verify_certificate`].

use coinjecture_crypto_core::signatures;
use coinjecture_primitives::{ChainId, CommitCertificate, Hash32, Height};

pub use coinjecture_primitives::validators::{
    CertificateSignatures, QuorumMode, ValidatorError, ValidatorSchedule, ValidatorSet,
};

/// Checks a commit certificate for `block_hash` at `height` against `set`: it names that height
/// and block, every signer is a validator of the set, the distinct signers reach the quorum
/// ([`ValidatorSet::check_certificate`]), and every signature is a valid precommit for the block
/// on `chain` (verified in process as one batch, then [`CertificateSignatures::conclude`]).
pub fn verify_certificate(
    set: &ValidatorSet,
    chain: &ChainId,
    height: Height,
    block_hash: &Hash32,
    certificate: &CommitCertificate,
) -> Result<(), ValidatorError> {
    let pending = set.check_certificate(chain, height, block_hash, certificate)?;
    let items: Vec<signatures::VerifyItem<'_>> = pending
        .signatures
        .iter()
        .map(|(public_key, signature)| signatures::VerifyItem { public_key, message: &pending.message, signature })
        .collect();
    pending.conclude(&signatures::verify_batch(&items))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is the failure report")]
    use coinjecture_primitives::Round;

    use coinjecture_crypto_core::signatures::Keypair;

    use super::*;

    fn key(i: u8) -> Keypair {
        Keypair::from_seed(&[i; 32])
    }

    /// A certificate for `hash` at height 5 signed by `signers` (precommits on `chain`).
    fn certificate(chain: &ChainId, hash: Hash32, signers: &[Keypair]) -> CommitCertificate {
        let mut certificate =
            CommitCertificate { height: Height(5), round: Round(0), block_hash: hash, signatures: vec![] };
        let message = certificate.signing_bytes(chain);
        certificate.signatures = signers.iter().map(|k| (k.public_key(), k.sign(&message))).collect();
        certificate
    }

    #[test]
    fn a_certificate_needs_a_quorum_of_valid_precommits_of_members() {
        let chain = ChainId::new("coinjecture-validators").unwrap();
        let keys: Vec<Keypair> = (1..=4).map(key).collect();
        let set = ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Byzantine).unwrap();
        let hash = Hash32([9; 32]);
        let three = certificate(&chain, hash, &keys[..3]);
        assert_eq!(verify_certificate(&set, &chain, Height(5), &hash, &three), Ok(()));
        assert_eq!(
            verify_certificate(&set, &chain, Height(6), &hash, &three),
            Err(ValidatorError::CertificateHeight { expected: Height(6), found: Height(5) })
        );
        assert_eq!(
            verify_certificate(&set, &chain, Height(5), &hash, &certificate(&chain, hash, &keys[..2])),
            Err(ValidatorError::NoQuorum { found: 2, quorum: 3 })
        );
        let stranger = certificate(&chain, hash, &[key(1), key(2), key(77)]);
        assert_eq!(
            verify_certificate(&set, &chain, Height(5), &hash, &stranger),
            Err(ValidatorError::UnknownSigner(key(77).public_key()))
        );
        // A precommit for another chain does not count.
        let other = ChainId::new("coinjecture-elsewhere").unwrap();
        let mut forged = three.clone();
        forged.signatures[1] = certificate(&other, hash, &keys[1..2]).signatures[0];
        assert_eq!(
            verify_certificate(&set, &chain, Height(5), &hash, &forged),
            Err(ValidatorError::BadSignature(keys[1].public_key()))
        );
    }
}
