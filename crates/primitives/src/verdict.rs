//! Why a transaction is refused: the domain form of the wire's `TxRejectReason`
//! (`proto/coinjecture/v1/types.proto`), used by every service port.

use std::fmt;

/// Why a transaction was refused (the wire enum without its "unspecified" zero value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// A field is malformed (the message names it).
    Malformed,
    /// The signature does not verify against `from`.
    BadSignature,
    /// The nonce was already used.
    NonceTooLow,
    /// The nonce leaves a gap after the sender's next nonce.
    NonceTooHigh,
    /// amount + fee exceeds the sender's balance.
    InsufficientBalance,
    /// The fee is below the minimum.
    FeeTooLow,
    /// gas_limit is below the minimum for the transaction type.
    GasLimitTooLow,
    /// A sum or product overflows u64.
    Overflow,
    /// Already in the mempool or on chain.
    Duplicate,
    /// The mempool is full (globally or for this sender); retry later.
    MempoolFull,
    /// Bound to another chain.
    WrongChain,
}

impl RejectReason {
    /// The wire enum's name without its `TX_REJECT_REASON_` prefix, as the REST gateway shows it
    /// (`"BAD_SIGNATURE"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "MALFORMED",
            Self::BadSignature => "BAD_SIGNATURE",
            Self::NonceTooLow => "NONCE_TOO_LOW",
            Self::NonceTooHigh => "NONCE_TOO_HIGH",
            Self::InsufficientBalance => "INSUFFICIENT_BALANCE",
            Self::FeeTooLow => "FEE_TOO_LOW",
            Self::GasLimitTooLow => "GAS_LIMIT_TOO_LOW",
            Self::Overflow => "OVERFLOW",
            Self::Duplicate => "DUPLICATE",
            Self::MempoolFull => "MEMPOOL_FULL",
            Self::WrongChain => "WRONG_CHAIN",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused transaction: the reason and a message naming the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct Rejection {
    /// Why.
    pub reason: RejectReason,
    /// What exactly (names the field or the numbers).
    pub message: String,
}

impl Rejection {
    /// A rejection for `reason`.
    pub fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }
}

/// One transaction's verdict: accepted, or refused with a reason.
pub type TxVerdict = Result<(), Rejection>;
