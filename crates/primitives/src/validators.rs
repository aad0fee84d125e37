//! Who may sign a commit certificate: validator sets, their quorum rule, the schedule of set
//! changes by height, and the checks of a certificate against them that need no cryptography.
//!
//! Every writer of a finalized block checks its certificate (consensus before it commits, the
//! ledger before it writes), so the rule lives here, shared, pure: [`ValidatorSet::check_certificate`]
//! checks heights, hashes, membership and quorum and returns the signatures still to verify as
//! one batch ([`CertificateSignatures`]); the caller verifies them with whatever crypto it has
//! (in process, or a remote crypto-core) and hands the verdicts to
//! [`CertificateSignatures::conclude`].

use std::collections::HashSet;

use crate::{ChainId, CommitCertificate, Hash32, Height, PublicKey, Round, Signature};

/// How many validators make a quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuorumMode {
    /// Majority, ⌊n/2⌋ + 1. Tolerates ⌊(n−1)/2⌋ *crashed* validators (3 survive 1 down) and no
    /// Byzantine ones: two majorities always share a validator, which must be honest.
    Crash,
    /// ⌊2n/3⌋ + 1: tolerates f Byzantine validators when n ≥ 3f + 1.
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

/// Errors in validator configuration or certificates; each names the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorError {
    #[error("a validator set needs at least one validator")]
    Empty,
    #[error("validator {0} appears twice in one set")]
    Duplicate(PublicKey),
    #[error("the validator schedule must start at height 1 and increase; found {0}")]
    Schedule(String),
    #[error("certificate is for height {found}, expected {expected}")]
    CertificateHeight { expected: Height, found: Height },
    #[error("certificate is for block {found}, expected {expected}")]
    CertificateBlock { expected: Hash32, found: Hash32 },
    #[error("certificate signer {0} is not a validator at this height")]
    UnknownSigner(PublicKey),
    #[error("certificate signature of {0} is invalid")]
    BadSignature(PublicKey),
    #[error("certificate has {found} distinct signers, quorum is {quorum}")]
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
    /// A set in the given order; refuses an empty set and duplicates.
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
    pub fn proposer(&self, height: Height, round: Round) -> PublicKey {
        let n = self.validators.len() as u128;
        let index = (u128::from(height) + u128::from(round)) % n;
        self.validators[index as usize]
    }

    /// Everything about `certificate` for `block_hash` at `height` that needs no cryptography:
    /// its height and block hash, every signer a member of this set, the distinct signers a
    /// quorum. Returns the signatures to verify, all of them, as one batch.
    pub fn check_certificate(
        &self,
        chain: &ChainId,
        height: Height,
        block_hash: &Hash32,
        certificate: &CommitCertificate,
    ) -> Result<CertificateSignatures, ValidatorError> {
        if certificate.height != height {
            return Err(ValidatorError::CertificateHeight { expected: height, found: certificate.height });
        }
        if certificate.block_hash != *block_hash {
            return Err(ValidatorError::CertificateBlock { expected: *block_hash, found: certificate.block_hash });
        }
        let mut signers = HashSet::with_capacity(certificate.signatures.len());
        for (validator, _) in &certificate.signatures {
            if !self.contains(validator) {
                return Err(ValidatorError::UnknownSigner(*validator));
            }
            signers.insert(*validator);
        }
        if signers.len() < self.quorum() {
            return Err(ValidatorError::NoQuorum { found: signers.len(), quorum: self.quorum() });
        }
        Ok(CertificateSignatures {
            message: certificate.signing_bytes(chain),
            signatures: certificate.signatures.clone(),
        })
    }
}

/// The signatures of a certificate that passed [`ValidatorSet::check_certificate`]: each signer
/// signed [`Self::message`] (its precommit for the block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSignatures {
    /// The precommit signing bytes, the same for every signer.
    pub message: Vec<u8>,
    /// (validator, signature), in certificate order.
    pub signatures: Vec<(PublicKey, Signature)>,
}

impl CertificateSignatures {
    /// The certificate's verdict from the signature verdicts (one per signature, in order): the
    /// first invalid signature is named; a missing verdict counts as invalid.
    pub fn conclude(&self, valid: &[bool]) -> Result<(), ValidatorError> {
        match self.signatures.iter().enumerate().find(|(i, _)| !valid.get(*i).copied().unwrap_or(false)) {
            Some((_, (validator, _))) => Err(ValidatorError::BadSignature(*validator)),
            None => Ok(()),
        }
    }
}

/// Which validator set votes at which height: the genesis set from height 1, then each change
/// from its activation height on (the seed's gradual cutover, without a halt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSchedule {
    /// (activation height, set), strictly increasing heights, the first at 1.
    entries: Vec<(Height, ValidatorSet)>,
}

impl ValidatorSchedule {
    /// A schedule with a single set from height 1.
    pub fn fixed(set: ValidatorSet) -> Self {
        Self { entries: vec![(Height(1), set)] }
    }

    /// A schedule from (activation height, set) pairs.
    pub fn new(entries: Vec<(Height, ValidatorSet)>) -> Result<Self, ValidatorError> {
        match entries.first() {
            Some((Height(1), _)) => {}
            Some((h, _)) => return Err(ValidatorError::Schedule(format!("first activation height {h}, must be 1"))),
            None => return Err(ValidatorError::Empty),
        }
        if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(ValidatorError::Schedule("activation heights must strictly increase".into()));
        }
        Ok(Self { entries })
    }

    /// The set that votes on block `height`.
    pub fn at(&self, height: Height) -> &ValidatorSet {
        let i = self.entries.partition_point(|(h, _)| *h <= height).saturating_sub(1);
        &self.entries[i].1
    }

    /// Every (activation height, set).
    pub fn entries(&self) -> &[(Height, ValidatorSet)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    fn keys(n: u8) -> Vec<PublicKey> {
        (1..=n).map(|i| PublicKey([i; 32])).collect()
    }

    fn certificate(height: Height, signers: &[PublicKey]) -> CommitCertificate {
        CommitCertificate {
            height,
            round: Round(0),
            block_hash: Hash32([9; 32]),
            signatures: signers.iter().map(|k| (*k, Signature([0; 64]))).collect(),
        }
    }

    #[test]
    fn a_certificate_needs_the_right_block_members_and_a_quorum_before_any_signature_is_checked() {
        let chain = ChainId::new("coinjecture-validators").unwrap();
        let set = ValidatorSet::new(keys(4), QuorumMode::Byzantine).unwrap();
        let hash = Hash32([9; 32]);
        let three = &keys(4)[..3];
        assert!(set.check_certificate(&chain, Height(5), &hash, &certificate(Height(5), three)).is_ok());
        assert_eq!(
            set.check_certificate(&chain, Height(6), &hash, &certificate(Height(5), three)),
            Err(ValidatorError::CertificateHeight { expected: Height(6), found: Height(5) })
        );
        assert!(matches!(
            set.check_certificate(&chain, Height(5), &Hash32([8; 32]), &certificate(Height(5), three)),
            Err(ValidatorError::CertificateBlock { .. })
        ));
        assert_eq!(
            set.check_certificate(&chain, Height(5), &hash, &certificate(Height(5), &[])),
            Err(ValidatorError::NoQuorum { found: 0, quorum: 3 })
        );
        // The same signer twice counts once.
        let twice = [keys(4)[0], keys(4)[0], keys(4)[1]];
        assert_eq!(
            set.check_certificate(&chain, Height(5), &hash, &certificate(Height(5), &twice)),
            Err(ValidatorError::NoQuorum { found: 2, quorum: 3 })
        );
        let stranger = [keys(4)[0], keys(4)[1], PublicKey([77; 32])];
        assert_eq!(
            set.check_certificate(&chain, Height(5), &hash, &certificate(Height(5), &stranger)),
            Err(ValidatorError::UnknownSigner(PublicKey([77; 32])))
        );
        let pending = set.check_certificate(&chain, Height(5), &hash, &certificate(Height(5), three)).unwrap();
        assert_eq!(pending.conclude(&[true, true, true]), Ok(()));
        assert_eq!(pending.conclude(&[true, false, true]), Err(ValidatorError::BadSignature(keys(4)[1])));
        assert_eq!(pending.conclude(&[true, true]), Err(ValidatorError::BadSignature(keys(4)[2])));
    }

    #[test]
    fn quorum_sizes_follow_the_documented_rules() {
        let crash: Vec<usize> = (1..=7).map(|n| QuorumMode::Crash.quorum(n)).collect();
        assert_eq!(crash, vec![1, 2, 2, 3, 3, 4, 4]);
        let byz: Vec<usize> = (1..=7).map(|n| QuorumMode::Byzantine.quorum(n)).collect();
        assert_eq!(byz, vec![1, 2, 3, 3, 4, 5, 5]);
        let set = ValidatorSet::new(keys(4), QuorumMode::Byzantine).unwrap();
        assert_eq!(set.skip_threshold(), 2);
        let set = ValidatorSet::new(keys(3), QuorumMode::Crash).unwrap();
        assert_eq!(set.skip_threshold(), 2);
    }

    #[test]
    fn proposer_rotates_over_height_and_round() {
        // keys(3) is [1; 32], [2; 32], [3; 32]: (height + round) mod 3 indexes it.
        let set = ValidatorSet::new(keys(3), QuorumMode::Crash).unwrap();
        assert_eq!(set.proposer(Height(1), Round(0)), PublicKey([2; 32]));
        assert_eq!(set.proposer(Height(1), Round(1)), PublicKey([3; 32]));
        assert_eq!(set.proposer(Height(2), Round(0)), PublicKey([3; 32]));
        assert_eq!(set.proposer(Height(3), Round(0)), PublicKey([1; 32]));
        assert_eq!(
            set.proposer(Height(u64::MAX), Round(u32::MAX)),
            set.validators()[((u128::from(u64::MAX) + u128::from(u32::MAX)) % 3) as usize]
        );
    }

    #[test]
    fn empty_sets_and_duplicates_are_refused() {
        assert_eq!(ValidatorSet::new(vec![], QuorumMode::Crash), Err(ValidatorError::Empty));
        assert_eq!(
            ValidatorSet::new(vec![PublicKey([1; 32]); 2], QuorumMode::Crash),
            Err(ValidatorError::Duplicate(PublicKey([1; 32])))
        );
        assert_eq!(ValidatorSchedule::new(vec![]), Err(ValidatorError::Empty));
    }

    #[test]
    fn the_schedule_names_the_set_of_each_height() {
        let a = ValidatorSet::new(keys(3), QuorumMode::Crash).unwrap();
        let b = ValidatorSet::new(keys(4), QuorumMode::Crash).unwrap();
        assert!(ValidatorSchedule::new(vec![(Height(2), a.clone())]).is_err());
        assert!(ValidatorSchedule::new(vec![(Height(1), a.clone()), (Height(1), b.clone())]).is_err());
        let s = ValidatorSchedule::new(vec![(Height(1), a.clone()), (Height(10), b.clone())]).unwrap();
        assert_eq!((s.at(Height(0)), s.at(Height(9)), s.at(Height(10)), s.at(Height(u64::MAX))), (&a, &a, &b, &b));
        assert_eq!(QuorumMode::Crash.quorum(3), 2);
        assert_eq!(QuorumMode::Byzantine.quorum(4), 3);
    }
}
