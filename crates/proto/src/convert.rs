//! Conversions between the protobuf transport types and the canonical `coinjecture-primitives`
//! types. Protobuf → primitives is fallible and names the offending field with its path
//! (`header.parent_hash: expected 32 bytes, found 31`), so a service can answer
//! `INVALID_ARGUMENT` with a message a client developer can act on.

use coinjecture_primitives as p;
use coinjecture_primitives::{Height, Round, UnixMillis};

use crate::v1;

/// A protobuf value that does not make a valid primitive value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConversionError {
    /// Path of the field, e.g. `transactions[3].signature`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConversionError {
    /// An error at `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }

    /// The same error under a parent path (`header` + `.parent_hash`).
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() { parent.to_string() } else { format!("{parent}.{}", self.field) };
        self
    }
}

impl From<ConversionError> for tonic::Status {
    fn from(e: ConversionError) -> Self {
        tonic::Status::invalid_argument(e.to_string())
    }
}

fn fixed<const N: usize>(bytes: &[u8], field: &str) -> Result<[u8; N], ConversionError> {
    <[u8; N]>::try_from(bytes)
        .map_err(|_| ConversionError::new(field, format!("expected {N} bytes, found {}", bytes.len())))
}

/// A 32-byte hash field.
pub fn hash32(bytes: &[u8], field: &str) -> Result<p::Hash32, ConversionError> {
    fixed(bytes, field).map(p::Hash32)
}

/// A 32-byte public key field.
pub fn public_key(bytes: &[u8], field: &str) -> Result<p::PublicKey, ConversionError> {
    fixed(bytes, field).map(p::PublicKey)
}

/// A 64-byte signature field.
pub fn signature(bytes: &[u8], field: &str) -> Result<p::Signature, ConversionError> {
    fixed(bytes, field).map(p::Signature)
}

fn codec_version(v: u32) -> Result<u8, ConversionError> {
    if v == u32::from(p::CODEC_VERSION) {
        Ok(p::CODEC_VERSION)
    } else {
        Err(ConversionError::new("codec_version", format!("must be {}, found {v}", p::CODEC_VERSION)))
    }
}

fn required<'a, T>(v: &'a Option<T>, field: &str) -> Result<&'a T, ConversionError> {
    v.as_ref().ok_or_else(|| ConversionError::new(field, "is required"))
}

impl TryFrom<&v1::BlockHeader> for p::BlockHeader {
    type Error = ConversionError;
    fn try_from(h: &v1::BlockHeader) -> Result<Self, Self::Error> {
        if h.extra_data.len() > p::limits::MAX_EXTRA_DATA {
            return Err(ConversionError::new(
                "extra_data",
                format!("{} bytes exceed the maximum {}", h.extra_data.len(), p::limits::MAX_EXTRA_DATA),
            ));
        }
        Ok(Self {
            codec_version: codec_version(h.codec_version)?,
            block_index: Height(h.block_index),
            timestamp: h.timestamp,
            parent_hash: hash32(&h.parent_hash, "parent_hash")?,
            merkle_root: hash32(&h.merkle_root, "merkle_root")?,
            miner_address: public_key(&h.miner_address, "miner_address")?,
            commitment: hash32(&h.commitment, "commitment")?,
            difficulty_target: h.difficulty_target,
            nonce: h.nonce,
            extra_data: h.extra_data.clone(),
        })
    }
}

impl From<&p::BlockHeader> for v1::BlockHeader {
    fn from(h: &p::BlockHeader) -> Self {
        Self {
            codec_version: h.codec_version.into(),
            block_index: h.block_index.get(),
            timestamp: h.timestamp,
            parent_hash: h.parent_hash.0.to_vec(),
            merkle_root: h.merkle_root.0.to_vec(),
            miner_address: h.miner_address.0.to_vec(),
            commitment: h.commitment.0.to_vec(),
            difficulty_target: h.difficulty_target,
            nonce: h.nonce,
            extra_data: h.extra_data.clone(),
        }
    }
}

/// Protobuf tx type → primitive.
pub fn tx_type(t: i32) -> Result<p::TxType, ConversionError> {
    match v1::TxType::try_from(t) {
        Ok(v1::TxType::Transfer) => Ok(p::TxType::Transfer),
        Ok(v1::TxType::ProblemSubmission) => Ok(p::TxType::ProblemSubmission),
        Ok(v1::TxType::BountyPayment) => Ok(p::TxType::BountyPayment),
        Ok(v1::TxType::Unspecified) => Err(ConversionError::new("tx_type", "is unspecified")),
        Err(_) => Err(ConversionError::new("tx_type", format!("unknown value {t}"))),
    }
}

fn tx_type_to_pb(t: p::TxType) -> v1::TxType {
    match t {
        p::TxType::Transfer => v1::TxType::Transfer,
        p::TxType::ProblemSubmission => v1::TxType::ProblemSubmission,
        p::TxType::BountyPayment => v1::TxType::BountyPayment,
    }
}

impl TryFrom<&v1::Transaction> for p::Transaction {
    type Error = ConversionError;
    fn try_from(t: &v1::Transaction) -> Result<Self, Self::Error> {
        if t.data.len() > p::limits::MAX_TX_DATA {
            return Err(ConversionError::new(
                "data",
                format!("{} bytes exceed the maximum {}", t.data.len(), p::limits::MAX_TX_DATA),
            ));
        }
        Ok(Self {
            codec_version: codec_version(t.codec_version)?,
            tx_type: tx_type(t.tx_type)?,
            from: public_key(&t.from, "from")?,
            to: public_key(&t.to, "to")?,
            amount: t.amount,
            nonce: t.nonce,
            gas_limit: t.gas_limit,
            gas_price: t.gas_price,
            signature: signature(&t.signature, "signature")?,
            data: t.data.clone(),
            timestamp: t.timestamp,
        })
    }
}

impl From<&p::Transaction> for v1::Transaction {
    fn from(t: &p::Transaction) -> Self {
        Self {
            codec_version: t.codec_version.into(),
            tx_type: tx_type_to_pb(t.tx_type).into(),
            from: t.from.0.to_vec(),
            to: t.to.0.to_vec(),
            amount: t.amount,
            nonce: t.nonce,
            gas_limit: t.gas_limit,
            gas_price: t.gas_price,
            signature: t.signature.0.to_vec(),
            data: t.data.clone(),
            timestamp: t.timestamp,
        }
    }
}

/// Converts a list of transactions, naming the index of a bad one (`transactions[4].from`).
pub fn transactions(txs: &[v1::Transaction], field: &str) -> Result<Vec<p::Transaction>, ConversionError> {
    if txs.len() > p::limits::MAX_BLOCK_TRANSACTIONS {
        return Err(ConversionError::new(
            field,
            format!("{} transactions exceed the maximum {}", txs.len(), p::limits::MAX_BLOCK_TRANSACTIONS),
        ));
    }
    txs.iter()
        .enumerate()
        .map(|(i, t)| p::Transaction::try_from(t).map_err(|e| e.within(&format!("{field}[{i}]"))))
        .collect()
}

impl TryFrom<&v1::Block> for p::Block {
    type Error = ConversionError;
    /// The header and transactions; the certificate and work are converted separately.
    fn try_from(b: &v1::Block) -> Result<Self, Self::Error> {
        let header = p::BlockHeader::try_from(required(&b.header, "header")?).map_err(|e| e.within("header"))?;
        Ok(Self { header, transactions: transactions(&b.transactions, "transactions")? })
    }
}

impl From<&p::Block> for v1::Block {
    fn from(b: &p::Block) -> Self {
        Self {
            header: Some((&b.header).into()),
            transactions: b.transactions.iter().map(Into::into).collect(),
            commit_certificate: None,
            work: None,
        }
    }
}

/// Protobuf tier → primitive.
pub fn tier(t: i32) -> Result<p::Tier, ConversionError> {
    match v1::SubsetSumTier::try_from(t) {
        Ok(v1::SubsetSumTier::Unspecified) => Err(ConversionError::new("tier", "is unspecified")),
        Ok(known) => p::Tier::from_number(known as u8).ok_or_else(|| ConversionError::new("tier", "unknown")),
        Err(_) => Err(ConversionError::new("tier", format!("unknown value {t}"))),
    }
}

impl TryFrom<&v1::SubsetSumProblem> for p::SubsetSumProblem {
    type Error = ConversionError;
    fn try_from(pb: &v1::SubsetSumProblem) -> Result<Self, Self::Error> {
        Ok(Self { tier: tier(pb.tier)?, elements: pb.elements.clone(), target: pb.target, timestamp: pb.timestamp })
    }
}

impl From<&p::SubsetSumProblem> for v1::SubsetSumProblem {
    fn from(pr: &p::SubsetSumProblem) -> Self {
        Self {
            tier: i32::from(pr.tier.number()),
            elements: pr.elements.clone(),
            target: pr.target,
            timestamp: pr.timestamp,
        }
    }
}

impl From<&v1::SubsetSumSolution> for p::SubsetSumSolution {
    fn from(s: &v1::SubsetSumSolution) -> Self {
        Self { indices: s.indices.clone(), timestamp: s.timestamp }
    }
}

impl From<&p::SubsetSumSolution> for v1::SubsetSumSolution {
    fn from(s: &p::SubsetSumSolution) -> Self {
        Self { indices: s.indices.clone(), timestamp: s.timestamp }
    }
}

fn vote_type(t: i32) -> Result<p::VoteType, ConversionError> {
    match v1::VoteType::try_from(t) {
        Ok(v1::VoteType::Prevote) => Ok(p::VoteType::Prevote),
        Ok(v1::VoteType::Precommit) => Ok(p::VoteType::Precommit),
        _ => Err(ConversionError::new("vote_type", format!("must be PREVOTE or PRECOMMIT, found {t}"))),
    }
}

impl TryFrom<&v1::Vote> for p::Vote {
    type Error = ConversionError;
    fn try_from(v: &v1::Vote) -> Result<Self, Self::Error> {
        Ok(Self {
            chain_id: p::ChainId::new(v.chain_id.as_str())
                .map_err(|e| ConversionError::new("chain_id", e.to_string()))?,
            height: Height(v.height),
            round: Round(v.round),
            vote_type: vote_type(v.vote_type)?,
            block_hash: if v.block_hash.is_empty() { None } else { Some(hash32(&v.block_hash, "block_hash")?) },
            validator: public_key(&v.validator, "validator")?,
            signature: signature(&v.signature, "signature")?,
        })
    }
}

impl From<&p::Vote> for v1::Vote {
    fn from(v: &p::Vote) -> Self {
        Self {
            chain_id: v.chain_id.to_string(),
            height: v.height.get(),
            round: v.round.get(),
            vote_type: match v.vote_type {
                p::VoteType::Prevote => v1::VoteType::Prevote.into(),
                p::VoteType::Precommit => v1::VoteType::Precommit.into(),
            },
            block_hash: v.block_hash.map(|h| h.0.to_vec()).unwrap_or_default(),
            validator: v.validator.0.to_vec(),
            signature: v.signature.0.to_vec(),
        }
    }
}

impl TryFrom<&v1::CommitCertificate> for p::CommitCertificate {
    type Error = ConversionError;
    fn try_from(c: &v1::CommitCertificate) -> Result<Self, Self::Error> {
        if c.signatures.len() > p::limits::MAX_VALIDATORS {
            return Err(ConversionError::new(
                "signatures",
                format!("more than {} signatures", p::limits::MAX_VALIDATORS),
            ));
        }
        let signatures = c
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let field = format!("signatures[{i}]");
                Ok((
                    public_key(&s.validator, "validator").map_err(|e| e.within(&field))?,
                    signature(&s.signature, "signature").map_err(|e| e.within(&field))?,
                ))
            })
            .collect::<Result<_, ConversionError>>()?;
        Ok(Self {
            height: Height(c.height),
            round: Round(c.round),
            block_hash: hash32(&c.block_hash, "block_hash")?,
            signatures,
        })
    }
}

impl From<&p::CommitCertificate> for v1::CommitCertificate {
    fn from(c: &p::CommitCertificate) -> Self {
        Self {
            height: c.height.get(),
            round: c.round.get(),
            block_hash: c.block_hash.0.to_vec(),
            signatures: c
                .signatures
                .iter()
                .map(|(v, s)| v1::CommitSignature { validator: v.0.to_vec(), signature: s.0.to_vec() })
                .collect(),
        }
    }
}

impl TryFrom<&v1::Proposal> for p::Proposal {
    type Error = ConversionError;
    fn try_from(pr: &v1::Proposal) -> Result<Self, Self::Error> {
        let block = p::Block::try_from(required(&pr.block, "block")?).map_err(|e| e.within("block"))?;
        let pol_round = match pr.pol_round {
            -1 => None,
            r if r >= 0 => Some(Round(r as u32)),
            r => return Err(ConversionError::new("pol_round", format!("must be -1 or a round, found {r}"))),
        };
        Ok(Self {
            chain_id: p::ChainId::new(pr.chain_id.as_str())
                .map_err(|e| ConversionError::new("chain_id", e.to_string()))?,
            height: Height(pr.height),
            round: Round(pr.round),
            pol_round,
            timestamp_ms: UnixMillis(pr.timestamp_ms),
            block,
            proposer: public_key(&pr.proposer, "proposer")?,
            signature: signature(&pr.signature, "signature")?,
        })
    }
}

impl From<&p::Proposal> for v1::Proposal {
    fn from(pr: &p::Proposal) -> Self {
        Self {
            chain_id: pr.chain_id.to_string(),
            height: pr.height.get(),
            round: pr.round.get(),
            pol_round: pr.pol_round.map_or(-1, |r| i32::try_from(r.get()).unwrap_or(i32::MAX)),
            block: Some((&pr.block).into()),
            proposer: pr.proposer.0.to_vec(),
            timestamp_ms: pr.timestamp_ms.get(),
            signature: pr.signature.0.to_vec(),
        }
    }
}

/// A finalized block with its certificate, as carried in `Block.commit_certificate`.
pub fn finalized_block(b: &v1::Block) -> Result<(p::Block, p::CommitCertificate), ConversionError> {
    let block = p::Block::try_from(b)?;
    let cert = required(&b.commit_certificate, "commit_certificate")?;
    let cert = p::CommitCertificate::try_from(cert).map_err(|e| e.within("commit_certificate"))?;
    Ok((block, cert))
}

/// The protobuf form of a finalized block with its certificate.
pub fn finalized_block_to_pb(block: &p::Block, certificate: &p::CommitCertificate) -> v1::Block {
    let mut pb = v1::Block::from(block);
    pb.commit_certificate = Some(certificate.into());
    pb
}

impl From<&p::Evidence> for v1::Evidence {
    fn from(e: &p::Evidence) -> Self {
        let kind = match e {
            p::Evidence::DuplicateVote { vote_a, vote_b } => v1::evidence::Kind::DuplicateVote(v1::DuplicateVote {
                vote_a: Some(vote_a.into()),
                vote_b: Some(vote_b.into()),
            }),
            p::Evidence::DuplicateProposal { proposal_a, proposal_b } => {
                v1::evidence::Kind::DuplicateProposal(v1::DuplicateProposal {
                    proposal_a: Some(proposal_a.into()),
                    proposal_b: Some(proposal_b.into()),
                })
            }
        };
        Self { kind: Some(kind) }
    }
}

impl TryFrom<&v1::Evidence> for p::Evidence {
    type Error = ConversionError;
    fn try_from(e: &v1::Evidence) -> Result<Self, Self::Error> {
        match required(&e.kind, "kind")? {
            v1::evidence::Kind::DuplicateVote(d) => Ok(p::Evidence::DuplicateVote {
                vote_a: p::Vote::try_from(required(&d.vote_a, "vote_a")?).map_err(|e| e.within("vote_a"))?,
                vote_b: p::Vote::try_from(required(&d.vote_b, "vote_b")?).map_err(|e| e.within("vote_b"))?,
            }),
            v1::evidence::Kind::DuplicateProposal(d) => Ok(p::Evidence::DuplicateProposal {
                proposal_a: p::Proposal::try_from(required(&d.proposal_a, "proposal_a")?)
                    .map_err(|e| e.within("proposal_a"))?,
                proposal_b: p::Proposal::try_from(required(&d.proposal_b, "proposal_b")?)
                    .map_err(|e| e.within("proposal_b"))?,
            }),
        }
    }
}

impl From<p::RejectReason> for v1::TxRejectReason {
    fn from(r: p::RejectReason) -> Self {
        use p::RejectReason as R;
        match r {
            R::Malformed => Self::Malformed,
            R::BadSignature => Self::BadSignature,
            R::NonceTooLow => Self::NonceTooLow,
            R::NonceTooHigh => Self::NonceTooHigh,
            R::InsufficientBalance => Self::InsufficientBalance,
            R::FeeTooLow => Self::FeeTooLow,
            R::GasLimitTooLow => Self::GasLimitTooLow,
            R::Overflow => Self::Overflow,
            R::Duplicate => Self::Duplicate,
            R::MempoolFull => Self::MempoolFull,
            R::WrongChain => Self::WrongChain,
        }
    }
}

/// The domain reason of a wire reason; `None` for `TX_REJECT_REASON_UNSPECIFIED` (not a refusal).
pub fn reject_reason(r: v1::TxRejectReason) -> Option<p::RejectReason> {
    use p::RejectReason as R;
    use v1::TxRejectReason as W;
    Some(match r {
        W::Unspecified => return None,
        W::Malformed => R::Malformed,
        W::BadSignature => R::BadSignature,
        W::NonceTooLow => R::NonceTooLow,
        W::NonceTooHigh => R::NonceTooHigh,
        W::InsufficientBalance => R::InsufficientBalance,
        W::FeeTooLow => R::FeeTooLow,
        W::GasLimitTooLow => R::GasLimitTooLow,
        W::Overflow => R::Overflow,
        W::Duplicate => R::Duplicate,
        W::MempoolFull => R::MempoolFull,
        W::WrongChain => R::WrongChain,
    })
}

/// A verdict as the wire's `TransactionResult` (`tx_hash` filled in by the caller when known).
pub fn transaction_result(verdict: &p::TxVerdict, tx_hash: Vec<u8>) -> v1::TransactionResult {
    match verdict {
        Ok(()) => v1::TransactionResult { accepted: true, tx_hash, ..Default::default() },
        Err(r) => v1::TransactionResult {
            accepted: false,
            tx_hash,
            reason: v1::TxRejectReason::from(r.reason).into(),
            message: r.message.clone(),
        },
    }
}

/// The verdict a wire `TransactionResult` carries. A refusal without a known reason (an unknown
/// enum value from a newer peer, or `UNSPECIFIED`) reads as `Malformed`, keeping its message.
pub fn verdict(result: &v1::TransactionResult) -> p::TxVerdict {
    if result.accepted {
        return Ok(());
    }
    let reason =
        v1::TxRejectReason::try_from(result.reason).ok().and_then(reject_reason).unwrap_or(p::RejectReason::Malformed);
    Err(p::Rejection::new(reason, result.message.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_errors_name_the_field_path() {
        let pb = v1::Block {
            header: Some(v1::BlockHeader { codec_version: 1, parent_hash: vec![0; 31], ..Default::default() }),
            ..Default::default()
        };
        let err = p::Block::try_from(&pb).unwrap_err();
        assert_eq!(err.to_string(), "header.parent_hash: expected 32 bytes, found 31");
        let missing = p::Block::try_from(&v1::Block::default()).unwrap_err();
        assert_eq!(missing.to_string(), "header: is required");
    }

    #[test]
    fn transaction_round_trip_and_indexed_errors() {
        let tx = p::Transaction {
            codec_version: 1,
            tx_type: p::TxType::BountyPayment,
            from: p::PublicKey([1; 32]),
            to: p::PublicKey([2; 32]),
            amount: 3,
            nonce: 4,
            gas_limit: 50_000,
            gas_price: 6,
            signature: p::Signature([7; 64]),
            data: vec![8, 9],
            timestamp: -10,
        };
        let pb = v1::Transaction::from(&tx);
        assert_eq!(p::Transaction::try_from(&pb).unwrap(), tx);
        let mut bad = vec![pb.clone(), pb];
        bad[1].tx_type = 0;
        assert_eq!(
            transactions(&bad, "transactions").unwrap_err().to_string(),
            "transactions[1].tx_type: is unspecified"
        );
        bad[1].tx_type = 1;
        bad[1].codec_version = 2;
        assert_eq!(transactions(&bad, "transactions").unwrap_err().field, "transactions[1].codec_version");
    }

    #[test]
    fn proposal_round_trips_and_pol_round_is_checked() {
        let block = p::Block {
            header: p::BlockHeader { codec_version: 1, block_index: Height(4), ..Default::default() },
            transactions: vec![],
        };
        let proposal = p::Proposal {
            chain_id: p::ChainId::new("coinjecture-go-testnet").unwrap(),
            height: Height(4),
            round: Round(2),
            pol_round: Some(Round(1)),
            timestamp_ms: UnixMillis(9),
            block,
            proposer: p::PublicKey([1; 32]),
            signature: p::Signature([2; 64]),
        };
        let pb = v1::Proposal::from(&proposal);
        assert_eq!(p::Proposal::try_from(&pb).unwrap(), proposal);
        let none = v1::Proposal { pol_round: -1, ..pb.clone() };
        assert_eq!(p::Proposal::try_from(&none).unwrap().pol_round, None);
        let bad = v1::Proposal { pol_round: -2, ..pb };
        assert_eq!(p::Proposal::try_from(&bad).unwrap_err().field, "pol_round");
    }

    #[test]
    fn tiers_map_by_number() {
        for t in p::Tier::ALL {
            assert_eq!(tier(i32::from(t.number())).unwrap(), t);
        }
        assert!(tier(0).is_err());
        assert!(tier(99).is_err());
    }
}
