//! Typed errors of the gateway and their gRPC status codes.

use tonic::Status;

/// A configuration value that cannot be used, with its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ConfigError {
    /// The configuration key, e.g. `p2p.bootstrap_peers[0]`.
    pub key: String,
    /// Why it is invalid.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { key: key.into(), reason: reason.into() }
    }
}

/// Why a payload failed the gateway's stateless check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Empty payload.
    #[error("is empty")]
    Empty,
    /// Larger than the message limit.
    #[error("{len} bytes exceed the maximum {max}")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a protobuf `ConsensusMessage`.
    #[error("does not decode as a ConsensusMessage: {0}")]
    Undecodable(#[source] prost::DecodeError),
    /// A `ConsensusMessage` with no variant set.
    #[error("ConsensusMessage has no variant set")]
    NoVariant,
    /// The variant does not belong on the topic.
    #[error("ConsensusMessage.{found} does not belong on topic {topic}")]
    WrongVariant {
        /// The variant found.
        found: &'static str,
        /// The topic it arrived on or was published to.
        topic: &'static str,
    },
}

/// Errors of the gateway's operations. Each maps onto the gRPC code the proto names.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    /// Configuration rejected at start.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// An argument is invalid; `field` names it as the proto does.
    #[error("{field}: {reason}")]
    InvalidArgument {
        /// The request field.
        field: String,
        /// Why.
        reason: String,
    },
    /// Another validating subscriber holds one of the topics.
    #[error("topic {0} already has a validating subscriber")]
    TopicAlreadyValidated(&'static str),
    /// A dial or request to a peer failed.
    #[error("{0}")]
    Unavailable(String),
    /// A dial did not complete in time.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// No peer could serve the requested blocks.
    #[error("{0}")]
    NotFound(String),
    /// Every peer's send queue is full.
    #[error("gossip queues to all {0} peers are full")]
    QueuesFull(usize),
    /// Listening or building the swarm failed: `what` says where, `source` (when the library
    /// gave an error value) why; the message is both.
    #[error("transport: {what}{}", source.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    Transport {
        /// The step that failed (`noise`, `publish`, ...) or the whole story.
        what: String,
        /// The library's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The gateway task has stopped.
    #[error("the p2p gateway has stopped")]
    Stopped,
}

impl P2pError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::InvalidArgument { field: field.into(), reason: reason.to_string() }
    }

    /// [`Self::Transport`] in our own words (the library's error is no error value, or none).
    pub(crate) fn transport(what: impl Into<String>) -> Self {
        Self::Transport { what: what.into(), source: None }
    }

    /// [`Self::Transport`] at step `what`, caused by `source`.
    pub(crate) fn transport_failed(
        what: impl Into<String>,
    ) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> Self {
        let what = what.into();
        move |source| Self::Transport { what, source: Some(source) }
    }
}

impl From<P2pError> for Status {
    fn from(e: P2pError) -> Self {
        let message = e.to_string();
        match e {
            P2pError::InvalidArgument { .. } | P2pError::Config(_) => Status::invalid_argument(message),
            P2pError::TopicAlreadyValidated(_) => Status::failed_precondition(message),
            P2pError::Unavailable(_) | P2pError::Stopped => Status::unavailable(message),
            P2pError::DeadlineExceeded(_) => Status::deadline_exceeded(message),
            P2pError::NotFound(_) => Status::not_found(message),
            P2pError::QueuesFull(_) => Status::resource_exhausted(message),
            P2pError::Transport { .. } => Status::internal(message),
        }
    }
}
