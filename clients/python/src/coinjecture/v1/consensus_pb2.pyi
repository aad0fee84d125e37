from coinjecture.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoundStep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUND_STEP_UNSPECIFIED: _ClassVar[RoundStep]
    ROUND_STEP_PROPOSE: _ClassVar[RoundStep]
    ROUND_STEP_PREVOTE: _ClassVar[RoundStep]
    ROUND_STEP_PRECOMMIT: _ClassVar[RoundStep]
    ROUND_STEP_COMMIT: _ClassVar[RoundStep]
ROUND_STEP_UNSPECIFIED: RoundStep
ROUND_STEP_PROPOSE: RoundStep
ROUND_STEP_PREVOTE: RoundStep
ROUND_STEP_PRECOMMIT: RoundStep
ROUND_STEP_COMMIT: RoundStep

class TransactionBatch(_message.Message):
    __slots__ = ("transactions",)
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Transaction]
    def __init__(self, transactions: _Optional[_Iterable[_Union[_types_pb2.Transaction, _Mapping]]] = ...) -> None: ...

class ConsensusMessage(_message.Message):
    __slots__ = ("proposal", "vote", "finalized_block", "transactions", "compact_proposal", "transaction_request")
    PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    VOTE_FIELD_NUMBER: _ClassVar[int]
    FINALIZED_BLOCK_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    COMPACT_PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_REQUEST_FIELD_NUMBER: _ClassVar[int]
    proposal: _types_pb2.Proposal
    vote: _types_pb2.Vote
    finalized_block: _types_pb2.Block
    transactions: TransactionBatch
    compact_proposal: CompactProposal
    transaction_request: TransactionRequest
    def __init__(self, proposal: _Optional[_Union[_types_pb2.Proposal, _Mapping]] = ..., vote: _Optional[_Union[_types_pb2.Vote, _Mapping]] = ..., finalized_block: _Optional[_Union[_types_pb2.Block, _Mapping]] = ..., transactions: _Optional[_Union[TransactionBatch, _Mapping]] = ..., compact_proposal: _Optional[_Union[CompactProposal, _Mapping]] = ..., transaction_request: _Optional[_Union[TransactionRequest, _Mapping]] = ...) -> None: ...

class CompactProposal(_message.Message):
    __slots__ = ("proposal", "tx_hashes")
    PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    TX_HASHES_FIELD_NUMBER: _ClassVar[int]
    proposal: _types_pb2.Proposal
    tx_hashes: bytes
    def __init__(self, proposal: _Optional[_Union[_types_pb2.Proposal, _Mapping]] = ..., tx_hashes: _Optional[bytes] = ...) -> None: ...

class TransactionRequest(_message.Message):
    __slots__ = ("height", "round", "block_hash", "tx_hashes", "full_block")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    TX_HASHES_FIELD_NUMBER: _ClassVar[int]
    FULL_BLOCK_FIELD_NUMBER: _ClassVar[int]
    height: int
    round: int
    block_hash: bytes
    tx_hashes: bytes
    full_block: bool
    def __init__(self, height: _Optional[int] = ..., round: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., tx_hashes: _Optional[bytes] = ..., full_block: _Optional[bool] = ...) -> None: ...

class ConsensusSubmitTransactionsRequest(_message.Message):
    __slots__ = ("transactions",)
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Transaction]
    def __init__(self, transactions: _Optional[_Iterable[_Union[_types_pb2.Transaction, _Mapping]]] = ...) -> None: ...

class ConsensusSubmitTransactionsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_types_pb2.TransactionResult]
    def __init__(self, results: _Optional[_Iterable[_Union[_types_pb2.TransactionResult, _Mapping]]] = ...) -> None: ...

class ConsensusGetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConsensusGetStatusResponse(_message.Message):
    __slots__ = ("chain_id", "finalized_height", "finalized_hash", "height", "round", "step", "proposer", "local_validator", "syncing", "mempool_size", "quorum_mode", "validator_count", "signing_paused")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    FINALIZED_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FINALIZED_HASH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    LOCAL_VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    SYNCING_FIELD_NUMBER: _ClassVar[int]
    MEMPOOL_SIZE_FIELD_NUMBER: _ClassVar[int]
    QUORUM_MODE_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    SIGNING_PAUSED_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    finalized_height: int
    finalized_hash: bytes
    height: int
    round: int
    step: RoundStep
    proposer: bytes
    local_validator: bytes
    syncing: bool
    mempool_size: int
    quorum_mode: _types_pb2.QuorumMode
    validator_count: int
    signing_paused: str
    def __init__(self, chain_id: _Optional[str] = ..., finalized_height: _Optional[int] = ..., finalized_hash: _Optional[bytes] = ..., height: _Optional[int] = ..., round: _Optional[int] = ..., step: _Optional[_Union[RoundStep, str]] = ..., proposer: _Optional[bytes] = ..., local_validator: _Optional[bytes] = ..., syncing: _Optional[bool] = ..., mempool_size: _Optional[int] = ..., quorum_mode: _Optional[_Union[_types_pb2.QuorumMode, str]] = ..., validator_count: _Optional[int] = ..., signing_paused: _Optional[str] = ...) -> None: ...

class GetValidatorSetRequest(_message.Message):
    __slots__ = ("height",)
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    height: int
    def __init__(self, height: _Optional[int] = ...) -> None: ...

class GetValidatorSetResponse(_message.Message):
    __slots__ = ("validator_set", "height")
    VALIDATOR_SET_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    validator_set: _types_pb2.ValidatorSet
    height: int
    def __init__(self, validator_set: _Optional[_Union[_types_pb2.ValidatorSet, _Mapping]] = ..., height: _Optional[int] = ...) -> None: ...

class ListEvidenceRequest(_message.Message):
    __slots__ = ("page_token", "limit")
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    page_token: bytes
    limit: int
    def __init__(self, page_token: _Optional[bytes] = ..., limit: _Optional[int] = ...) -> None: ...

class EvidenceRecord(_message.Message):
    __slots__ = ("evidence", "detected_at_ms")
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    DETECTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    evidence: _types_pb2.Evidence
    detected_at_ms: int
    def __init__(self, evidence: _Optional[_Union[_types_pb2.Evidence, _Mapping]] = ..., detected_at_ms: _Optional[int] = ...) -> None: ...

class ListEvidenceResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[EvidenceRecord]
    next_page_token: bytes
    def __init__(self, records: _Optional[_Iterable[_Union[EvidenceRecord, _Mapping]]] = ..., next_page_token: _Optional[bytes] = ...) -> None: ...

class GetMempoolStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMempoolStatsResponse(_message.Message):
    __slots__ = ("transaction_count", "future_count", "size_bytes", "sender_count", "capacity_transactions", "capacity_bytes", "oldest_age_ms")
    TRANSACTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    FUTURE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SENDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_BYTES_FIELD_NUMBER: _ClassVar[int]
    OLDEST_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    transaction_count: int
    future_count: int
    size_bytes: int
    sender_count: int
    capacity_transactions: int
    capacity_bytes: int
    oldest_age_ms: int
    def __init__(self, transaction_count: _Optional[int] = ..., future_count: _Optional[int] = ..., size_bytes: _Optional[int] = ..., sender_count: _Optional[int] = ..., capacity_transactions: _Optional[int] = ..., capacity_bytes: _Optional[int] = ..., oldest_age_ms: _Optional[int] = ...) -> None: ...
