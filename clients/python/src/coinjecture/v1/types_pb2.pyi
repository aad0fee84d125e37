from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TxType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TX_TYPE_UNSPECIFIED: _ClassVar[TxType]
    TX_TYPE_TRANSFER: _ClassVar[TxType]
    TX_TYPE_PROBLEM_SUBMISSION: _ClassVar[TxType]
    TX_TYPE_BOUNTY_PAYMENT: _ClassVar[TxType]

class TxRejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TX_REJECT_REASON_UNSPECIFIED: _ClassVar[TxRejectReason]
    TX_REJECT_REASON_MALFORMED: _ClassVar[TxRejectReason]
    TX_REJECT_REASON_BAD_SIGNATURE: _ClassVar[TxRejectReason]
    TX_REJECT_REASON_NONCE_TOO_LOW: _ClassVar[TxRejectReason]
    TX_REJECT_REASON_NONCE_TOO_HIGH: _ClassVar[TxRejectReason]
    TX_REJECT_REASON_INSUFFICIENT_BALANCE: _ClassVar[TxRejectReason]
    TX_REJECT_REASON_FEE_TOO_LOW: _ClassVar[TxRejectReason]
    TX_REJECT_REASON_GAS_LIMIT_TOO_LOW: _ClassVar[TxRejectReason]
    TX_REJECT_REASON_OVERFLOW: _ClassVar[TxRejectReason]
    TX_REJECT_REASON_DUPLICATE: _ClassVar[TxRejectReason]
    TX_REJECT_REASON_MEMPOOL_FULL: _ClassVar[TxRejectReason]
    TX_REJECT_REASON_WRONG_CHAIN: _ClassVar[TxRejectReason]

class SubsetSumTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBSET_SUM_TIER_UNSPECIFIED: _ClassVar[SubsetSumTier]
    SUBSET_SUM_TIER_MOBILE: _ClassVar[SubsetSumTier]
    SUBSET_SUM_TIER_DESKTOP: _ClassVar[SubsetSumTier]
    SUBSET_SUM_TIER_WORKSTATION: _ClassVar[SubsetSumTier]
    SUBSET_SUM_TIER_SERVER: _ClassVar[SubsetSumTier]
    SUBSET_SUM_TIER_CLUSTER: _ClassVar[SubsetSumTier]

class VoteType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VOTE_TYPE_UNSPECIFIED: _ClassVar[VoteType]
    VOTE_TYPE_PREVOTE: _ClassVar[VoteType]
    VOTE_TYPE_PRECOMMIT: _ClassVar[VoteType]

class QuorumMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUORUM_MODE_UNSPECIFIED: _ClassVar[QuorumMode]
    QUORUM_MODE_CRASH: _ClassVar[QuorumMode]
    QUORUM_MODE_BYZANTINE: _ClassVar[QuorumMode]
TX_TYPE_UNSPECIFIED: TxType
TX_TYPE_TRANSFER: TxType
TX_TYPE_PROBLEM_SUBMISSION: TxType
TX_TYPE_BOUNTY_PAYMENT: TxType
TX_REJECT_REASON_UNSPECIFIED: TxRejectReason
TX_REJECT_REASON_MALFORMED: TxRejectReason
TX_REJECT_REASON_BAD_SIGNATURE: TxRejectReason
TX_REJECT_REASON_NONCE_TOO_LOW: TxRejectReason
TX_REJECT_REASON_NONCE_TOO_HIGH: TxRejectReason
TX_REJECT_REASON_INSUFFICIENT_BALANCE: TxRejectReason
TX_REJECT_REASON_FEE_TOO_LOW: TxRejectReason
TX_REJECT_REASON_GAS_LIMIT_TOO_LOW: TxRejectReason
TX_REJECT_REASON_OVERFLOW: TxRejectReason
TX_REJECT_REASON_DUPLICATE: TxRejectReason
TX_REJECT_REASON_MEMPOOL_FULL: TxRejectReason
TX_REJECT_REASON_WRONG_CHAIN: TxRejectReason
SUBSET_SUM_TIER_UNSPECIFIED: SubsetSumTier
SUBSET_SUM_TIER_MOBILE: SubsetSumTier
SUBSET_SUM_TIER_DESKTOP: SubsetSumTier
SUBSET_SUM_TIER_WORKSTATION: SubsetSumTier
SUBSET_SUM_TIER_SERVER: SubsetSumTier
SUBSET_SUM_TIER_CLUSTER: SubsetSumTier
VOTE_TYPE_UNSPECIFIED: VoteType
VOTE_TYPE_PREVOTE: VoteType
VOTE_TYPE_PRECOMMIT: VoteType
QUORUM_MODE_UNSPECIFIED: QuorumMode
QUORUM_MODE_CRASH: QuorumMode
QUORUM_MODE_BYZANTINE: QuorumMode

class BlockHeader(_message.Message):
    __slots__ = ("codec_version", "block_index", "timestamp", "parent_hash", "merkle_root", "miner_address", "commitment", "difficulty_target", "nonce", "extra_data")
    CODEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    BLOCK_INDEX_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PARENT_HASH_FIELD_NUMBER: _ClassVar[int]
    MERKLE_ROOT_FIELD_NUMBER: _ClassVar[int]
    MINER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    DIFFICULTY_TARGET_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    EXTRA_DATA_FIELD_NUMBER: _ClassVar[int]
    codec_version: int
    block_index: int
    timestamp: int
    parent_hash: bytes
    merkle_root: bytes
    miner_address: bytes
    commitment: bytes
    difficulty_target: int
    nonce: int
    extra_data: bytes
    def __init__(self, codec_version: _Optional[int] = ..., block_index: _Optional[int] = ..., timestamp: _Optional[int] = ..., parent_hash: _Optional[bytes] = ..., merkle_root: _Optional[bytes] = ..., miner_address: _Optional[bytes] = ..., commitment: _Optional[bytes] = ..., difficulty_target: _Optional[int] = ..., nonce: _Optional[int] = ..., extra_data: _Optional[bytes] = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ("codec_version", "tx_type", "to", "amount", "nonce", "gas_limit", "gas_price", "signature", "data", "timestamp")
    CODEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    TX_TYPE_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    GAS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    GAS_PRICE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    codec_version: int
    tx_type: TxType
    to: bytes
    amount: int
    nonce: int
    gas_limit: int
    gas_price: int
    signature: bytes
    data: bytes
    timestamp: int
    def __init__(self, codec_version: _Optional[int] = ..., tx_type: _Optional[_Union[TxType, str]] = ..., to: _Optional[bytes] = ..., amount: _Optional[int] = ..., nonce: _Optional[int] = ..., gas_limit: _Optional[int] = ..., gas_price: _Optional[int] = ..., signature: _Optional[bytes] = ..., data: _Optional[bytes] = ..., timestamp: _Optional[int] = ..., **kwargs) -> None: ...

class Block(_message.Message):
    __slots__ = ("header", "transactions", "commit_certificate", "work")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    COMMIT_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    WORK_FIELD_NUMBER: _ClassVar[int]
    header: BlockHeader
    transactions: _containers.RepeatedCompositeFieldContainer[Transaction]
    commit_certificate: CommitCertificate
    work: SubsetSumWork
    def __init__(self, header: _Optional[_Union[BlockHeader, _Mapping]] = ..., transactions: _Optional[_Iterable[_Union[Transaction, _Mapping]]] = ..., commit_certificate: _Optional[_Union[CommitCertificate, _Mapping]] = ..., work: _Optional[_Union[SubsetSumWork, _Mapping]] = ...) -> None: ...

class IndexedTransaction(_message.Message):
    __slots__ = ("transaction", "tx_hash", "block_height", "block_hash", "index")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    transaction: Transaction
    tx_hash: bytes
    block_height: int
    block_hash: bytes
    index: int
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ..., tx_hash: _Optional[bytes] = ..., block_height: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., index: _Optional[int] = ...) -> None: ...

class TransactionResult(_message.Message):
    __slots__ = ("tx_hash", "accepted", "reason", "message")
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    tx_hash: bytes
    accepted: bool
    reason: TxRejectReason
    message: str
    def __init__(self, tx_hash: _Optional[bytes] = ..., accepted: _Optional[bool] = ..., reason: _Optional[_Union[TxRejectReason, str]] = ..., message: _Optional[str] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("address", "balance", "nonce")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    balance: int
    nonce: int
    def __init__(self, address: _Optional[bytes] = ..., balance: _Optional[int] = ..., nonce: _Optional[int] = ...) -> None: ...

class SubsetSumProblem(_message.Message):
    __slots__ = ("tier", "elements", "target", "timestamp")
    TIER_FIELD_NUMBER: _ClassVar[int]
    ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    tier: SubsetSumTier
    elements: _containers.RepeatedScalarFieldContainer[int]
    target: int
    timestamp: int
    def __init__(self, tier: _Optional[_Union[SubsetSumTier, str]] = ..., elements: _Optional[_Iterable[int]] = ..., target: _Optional[int] = ..., timestamp: _Optional[int] = ...) -> None: ...

class SubsetSumSolution(_message.Message):
    __slots__ = ("indices", "timestamp")
    INDICES_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    indices: _containers.RepeatedScalarFieldContainer[int]
    timestamp: int
    def __init__(self, indices: _Optional[_Iterable[int]] = ..., timestamp: _Optional[int] = ...) -> None: ...

class SubsetSumWork(_message.Message):
    __slots__ = ("problem", "solution")
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    SOLUTION_FIELD_NUMBER: _ClassVar[int]
    problem: SubsetSumProblem
    solution: SubsetSumSolution
    def __init__(self, problem: _Optional[_Union[SubsetSumProblem, _Mapping]] = ..., solution: _Optional[_Union[SubsetSumSolution, _Mapping]] = ...) -> None: ...

class Vote(_message.Message):
    __slots__ = ("chain_id", "height", "round", "vote_type", "block_hash", "validator", "signature")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    VOTE_TYPE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    height: int
    round: int
    vote_type: VoteType
    block_hash: bytes
    validator: bytes
    signature: bytes
    def __init__(self, chain_id: _Optional[str] = ..., height: _Optional[int] = ..., round: _Optional[int] = ..., vote_type: _Optional[_Union[VoteType, str]] = ..., block_hash: _Optional[bytes] = ..., validator: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Proposal(_message.Message):
    __slots__ = ("chain_id", "height", "round", "pol_round", "block", "proposer", "timestamp_ms", "signature")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    POL_ROUND_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    height: int
    round: int
    pol_round: int
    block: Block
    proposer: bytes
    timestamp_ms: int
    signature: bytes
    def __init__(self, chain_id: _Optional[str] = ..., height: _Optional[int] = ..., round: _Optional[int] = ..., pol_round: _Optional[int] = ..., block: _Optional[_Union[Block, _Mapping]] = ..., proposer: _Optional[bytes] = ..., timestamp_ms: _Optional[int] = ..., signature: _Optional[bytes] = ...) -> None: ...

class CommitSignature(_message.Message):
    __slots__ = ("validator", "signature")
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    validator: bytes
    signature: bytes
    def __init__(self, validator: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class CommitCertificate(_message.Message):
    __slots__ = ("height", "round", "block_hash", "signatures")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    height: int
    round: int
    block_hash: bytes
    signatures: _containers.RepeatedCompositeFieldContainer[CommitSignature]
    def __init__(self, height: _Optional[int] = ..., round: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., signatures: _Optional[_Iterable[_Union[CommitSignature, _Mapping]]] = ...) -> None: ...

class DuplicateVote(_message.Message):
    __slots__ = ("vote_a", "vote_b")
    VOTE_A_FIELD_NUMBER: _ClassVar[int]
    VOTE_B_FIELD_NUMBER: _ClassVar[int]
    vote_a: Vote
    vote_b: Vote
    def __init__(self, vote_a: _Optional[_Union[Vote, _Mapping]] = ..., vote_b: _Optional[_Union[Vote, _Mapping]] = ...) -> None: ...

class DuplicateProposal(_message.Message):
    __slots__ = ("proposal_a", "proposal_b")
    PROPOSAL_A_FIELD_NUMBER: _ClassVar[int]
    PROPOSAL_B_FIELD_NUMBER: _ClassVar[int]
    proposal_a: Proposal
    proposal_b: Proposal
    def __init__(self, proposal_a: _Optional[_Union[Proposal, _Mapping]] = ..., proposal_b: _Optional[_Union[Proposal, _Mapping]] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("duplicate_vote", "duplicate_proposal")
    DUPLICATE_VOTE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    duplicate_vote: DuplicateVote
    duplicate_proposal: DuplicateProposal
    def __init__(self, duplicate_vote: _Optional[_Union[DuplicateVote, _Mapping]] = ..., duplicate_proposal: _Optional[_Union[DuplicateProposal, _Mapping]] = ...) -> None: ...

class ValidatorInfo(_message.Message):
    __slots__ = ("public_key", "peer_id", "index")
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    public_key: bytes
    peer_id: str
    index: int
    def __init__(self, public_key: _Optional[bytes] = ..., peer_id: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class ValidatorSet(_message.Message):
    __slots__ = ("validators", "activation_height", "quorum_mode")
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    QUORUM_MODE_FIELD_NUMBER: _ClassVar[int]
    validators: _containers.RepeatedCompositeFieldContainer[ValidatorInfo]
    activation_height: int
    quorum_mode: QuorumMode
    def __init__(self, validators: _Optional[_Iterable[_Union[ValidatorInfo, _Mapping]]] = ..., activation_height: _Optional[int] = ..., quorum_mode: _Optional[_Union[QuorumMode, str]] = ...) -> None: ...
