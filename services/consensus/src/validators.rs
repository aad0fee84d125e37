//! Validator sets, quorum rules, the round-robin proposer, the set schedule (gradual cutover)
//! and commit-certificate verification.

use std::collections::HashSet;

use coinjecture_crypto_core::signatures;
use coinjecture_primitives::{BlockHeight, ChainId, CommitCertificate, Hash32, PublicKey, Round};

/// How many validators make a quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuorumMode {
    /// Majority, ⌊n/2⌋ + 1. Tolerates ⌊(n−1)/2⌋ *crashed* validators (3 survive 1 down) and no
    /// Byzantine ones: two majorities always share a validator, which must be honest.
    Crash,
    /// ⌊2n/3⌋ + 1. Tolerates f Byzantine validators when n ≥ 3f + 1.
    Byzantine,
}

impl QuorumMode {
    /// The quorum size for `n` validators.
    pub fn quorum(self, n: usize) -> usize {
        match self {
            Self::Crash => n / 2 + 1,
            Self::Byzantine => 2 * n / 3 + 1,
        }
    }
}

/// Errors in validator configuration or certificates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorError {
    #[error("a validator set needs at least one validator")]
    Empty,
    #[error("validator {0} appears twice in one set")]
    Duplicate(PublicKey),
    #[error("the validator schedule must start at height 1 and increase; found {0}")]
    Schedule(String),
    #[error("certificate is for height {found}, expected {expected}")]
    CertificateHeight { expected: BlockHeight, found: BlockHeight },
    #[error("certificate is for block {found}, expected {expected}")]
    CertificateBlock { expected: Hash32, found: Hash32 },
    #[error("certificate signer {0} is not a validator at this height")]
    UnknownSigner(PublicKey),
    #[error("certificate signature of {0} is invalid")]
    BadSignature(PublicKey),
    #[error("certificate has {found} distinct valid signers, quorum is {quorum}")]
    NoQuorum { found: usize, quorum: usize },
}

/// An ordered validator set with its quorum rule. Order matters: the proposer of (height, round)
/// is `validators[(height + round) mod n]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<PublicKey>,
    mode: QuorumMode,
}

impl ValidatorSet {
    /// A set in the given order.
    pub fn new(validators: Vec<PublicKey>, mode: QuorumMode) -> Result<Self, ValidatorError> {
        if validators.is_empty() {
            return Err(ValidatorError::Empty);
        }
        let mut seen = HashSet::new();
        for v in &validators {
            if !seen.insert(*v) {
                return Err(ValidatorError::Duplicate(*v));
            }
        }
        Ok(Self { validators, mode })
    }

    /// Number of validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Always false (a set is never empty).
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// The validators in order.
    pub fn validators(&self) -> &[PublicKey] {
        &self.validators
    }

    /// The quorum rule.
    pub fn mode(&self) -> QuorumMode {
        self.mode
    }

    /// Votes needed for a quorum.
    pub fn quorum(&self) -> usize {
        self.mode.quorum(self.len())
    }

    /// Distinct validators whose messages for a higher round make us skip to it: enough that at
    /// least one of them is correct (n − quorum + 1, i.e. f + 1).
    pub fn skip_threshold(&self) -> usize {
        self.len() - self.quorum() + 1
    }

    /// True if `key` is in the set.
    pub fn contains(&self, key: &PublicKey) -> bool {
        self.validators.contains(key)
    }

    /// The round-robin proposer of (height, round).
    pub fn proposer(&self, height: BlockHeight, round: Round) -> PublicKey {
        let n = self.validators.len() as u128;
        let index = (u128::from(height) + u128::from(round)) % n;
        self.validators[index as usize]
    }

    /// Checks a commit certificate for `block_hash` at `height`: every signer is a validator,
    /// every signature is a valid precommit for the block on `chain`, and the distinct signers
    /// reach the quorum.
    pub fn verify_certificate(
        &self,
        chain: &ChainId,
        height: BlockHeight,
        block_hash: &Hash32,
        certificate: &CommitCertificate,
    ) -> Result<(), ValidatorError> {
        if certificate.height != height {
            return Err(ValidatorError::CertificateHeight { expected: height, found: certificate.height });
        }
        if certificate.block_hash != *block_hash {
            return Err(ValidatorError::CertificateBlock { expected: *block_hash, found: certificate.block_hash });
        }
        let message = certificate.signing_bytes(chain);
        let mut signers = HashSet::new();
        let mut items = Vec::with_capacity(certificate.signatures.len());
        for (validator, signature) in &certificate.signatures {
            if !self.contains(validator) {
                return Err(ValidatorError::UnknownSigner(*validator));
            }
            signers.insert(*validator);
            items.push(signatures::VerifyItem { public_key: validator, message: &message, signature });
        }
        let verdicts = signatures::verify_batch(&items);
        if let Some(i) = verdicts.iter().position(|ok| !ok) {
            return Err(ValidatorError::BadSignature(certificate.signatures[i].0));
        }
        if signers.len() < self.quorum() {
            return Err(ValidatorError::NoQuorum { found: signers.len(), quorum: self.quorum() });
        }
        Ok(())
    }
}

/// Which validator set votes at which height: the genesis set from height 1, then each change
/// from its activation height on (the seed's gradual cutover, without a halt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSchedule {
    /// (activation height, set), strictly increasing heights, the first at 1.
    entries: Vec<(BlockHeight, ValidatorSet)>,
}

impl ValidatorSchedule {
    /// A schedule with a single set from height 1.
    pub fn fixed(set: ValidatorSet) -> Self {
        Self { entries: vec![(1, set)] }
    }

    /// A schedule from (activation height, set) pairs.
    pub fn new(entries: Vec<(BlockHeight, ValidatorSet)>) -> Result<Self, ValidatorError> {
        match entries.first() {
            Some((1, _)) => {}
            Some((h, _)) => return Err(ValidatorError::Schedule(format!("first activation height {h}, must be 1"))),
            None => return Err(ValidatorError::Empty),
        }
        if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(ValidatorError::Schedule("activation heights must strictly increase".into()));
        }
        Ok(Self { entries })
    }

    /// The set that votes on block `height`.
    pub fn at(&self, height: BlockHeight) -> &ValidatorSet {
        let i = self.entries.partition_point(|(h, _)| *h <= height).saturating_sub(1);
        &self.entries[i].1
    }

    /// Every (activation height, set).
    pub fn entries(&self) -> &[(BlockHeight, ValidatorSet)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u8) -> Vec<PublicKey> {
        (0..n).map(|i| PublicKey([i; 32])).collect()
    }

    #[test]
    fn quorum_sizes_follow_the_documented_rules() {
        let crash: Vec<usize> = (1..=7).map(|n| QuorumMode::Crash.quorum(n)).collect();
        assert_eq!(crash, vec![1, 2, 2, 3, 3, 4, 4]);
        let byz: Vec<usize> = (1..=7).map(|n| QuorumMode::Byzantine.quorum(n)).collect();
        assert_eq!(byz, vec![1, 2, 3, 3, 4, 5, 5]);
        let set = ValidatorSet::new(keys(4), QuorumMode::Byzantine).unwrap();
        assert_eq!(set.skip_threshold(), 2);
    }

    #[test]
    fn proposer_rotates_over_height_and_round() {
        let set = ValidatorSet::new(keys(3), QuorumMode::Crash).unwrap();
        assert_eq!(set.proposer(1, 0), PublicKey([1; 32]));
        assert_eq!(set.proposer(1, 1), PublicKey([2; 32]));
        assert_eq!(set.proposer(2, 0), PublicKey([2; 32]));
        assert_eq!(
            set.proposer(u64::MAX, u32::MAX),
            set.validators()[((u128::from(u64::MAX) + u128::from(u32::MAX)) % 3) as usize]
        );
    }

    #[test]
    fn duplicates_and_bad_schedules_are_refused() {
        assert!(ValidatorSet::new(vec![PublicKey([1; 32]); 2], QuorumMode::Crash).is_err());
        assert!(ValidatorSet::new(vec![], QuorumMode::Crash).is_err());
        let a = ValidatorSet::new(keys(3), QuorumMode::Crash).unwrap();
        assert!(ValidatorSchedule::new(vec![(2, a.clone())]).is_err());
        assert!(ValidatorSchedule::new(vec![(1, a.clone()), (1, a.clone())]).is_err());
        let b = ValidatorSet::new(keys(4), QuorumMode::Crash).unwrap();
        let s = ValidatorSchedule::new(vec![(1, a.clone()), (10, b.clone())]).unwrap();
        assert_eq!(s.at(1), &a);
        assert_eq!(s.at(9), &a);
        assert_eq!(s.at(10), &b);
        assert_eq!(s.at(1000), &b);
    }
}
