from coinjecture.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BlockRejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BLOCK_REJECT_REASON_UNSPECIFIED: _ClassVar[BlockRejectReason]
    BLOCK_REJECT_REASON_MALFORMED_HEADER: _ClassVar[BlockRejectReason]
    BLOCK_REJECT_REASON_BAD_TIMESTAMP: _ClassVar[BlockRejectReason]
    BLOCK_REJECT_REASON_BAD_MERKLE_ROOT: _ClassVar[BlockRejectReason]
    BLOCK_REJECT_REASON_BAD_STATE_COMMITMENT: _ClassVar[BlockRejectReason]
    BLOCK_REJECT_REASON_INVALID_TRANSACTION: _ClassVar[BlockRejectReason]
    BLOCK_REJECT_REASON_BAD_WORK: _ClassVar[BlockRejectReason]
    BLOCK_REJECT_REASON_TOO_LARGE: _ClassVar[BlockRejectReason]
BLOCK_REJECT_REASON_UNSPECIFIED: BlockRejectReason
BLOCK_REJECT_REASON_MALFORMED_HEADER: BlockRejectReason
BLOCK_REJECT_REASON_BAD_TIMESTAMP: BlockRejectReason
BLOCK_REJECT_REASON_BAD_MERKLE_ROOT: BlockRejectReason
BLOCK_REJECT_REASON_BAD_STATE_COMMITMENT: BlockRejectReason
BLOCK_REJECT_REASON_INVALID_TRANSACTION: BlockRejectReason
BLOCK_REJECT_REASON_BAD_WORK: BlockRejectReason
BLOCK_REJECT_REASON_TOO_LARGE: BlockRejectReason

class GetGenesisRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetGenesisResponse(_message.Message):
    __slots__ = ("block", "genesis_hash", "chain_id", "allocations", "validator_set")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    GENESIS_HASH_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_SET_FIELD_NUMBER: _ClassVar[int]
    block: _types_pb2.Block
    genesis_hash: bytes
    chain_id: str
    allocations: _containers.RepeatedCompositeFieldContainer[_types_pb2.Account]
    validator_set: _types_pb2.ValidatorSet
    def __init__(self, block: _Optional[_Union[_types_pb2.Block, _Mapping]] = ..., genesis_hash: _Optional[bytes] = ..., chain_id: _Optional[str] = ..., allocations: _Optional[_Iterable[_Union[_types_pb2.Account, _Mapping]]] = ..., validator_set: _Optional[_Union[_types_pb2.ValidatorSet, _Mapping]] = ...) -> None: ...

class GetChainInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetChainInfoResponse(_message.Message):
    __slots__ = ("chain_id", "genesis_hash", "tip_height", "tip_hash", "tip_timestamp", "state_commitment", "oldest_block_height")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    GENESIS_HASH_FIELD_NUMBER: _ClassVar[int]
    TIP_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    TIP_HASH_FIELD_NUMBER: _ClassVar[int]
    TIP_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STATE_COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    OLDEST_BLOCK_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    genesis_hash: bytes
    tip_height: int
    tip_hash: bytes
    tip_timestamp: int
    state_commitment: bytes
    oldest_block_height: int
    def __init__(self, chain_id: _Optional[str] = ..., genesis_hash: _Optional[bytes] = ..., tip_height: _Optional[int] = ..., tip_hash: _Optional[bytes] = ..., tip_timestamp: _Optional[int] = ..., state_commitment: _Optional[bytes] = ..., oldest_block_height: _Optional[int] = ...) -> None: ...

class GetBlockByHeightRequest(_message.Message):
    __slots__ = ("height",)
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    height: int
    def __init__(self, height: _Optional[int] = ...) -> None: ...

class GetBlockByHeightResponse(_message.Message):
    __slots__ = ("block", "block_hash")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    block: _types_pb2.Block
    block_hash: bytes
    def __init__(self, block: _Optional[_Union[_types_pb2.Block, _Mapping]] = ..., block_hash: _Optional[bytes] = ...) -> None: ...

class GetBlockByHashRequest(_message.Message):
    __slots__ = ("block_hash",)
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    block_hash: bytes
    def __init__(self, block_hash: _Optional[bytes] = ...) -> None: ...

class GetBlockByHashResponse(_message.Message):
    __slots__ = ("block", "height")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    block: _types_pb2.Block
    height: int
    def __init__(self, block: _Optional[_Union[_types_pb2.Block, _Mapping]] = ..., height: _Optional[int] = ...) -> None: ...

class GetBlockRangeRequest(_message.Message):
    __slots__ = ("from_height", "limit", "headers_only", "with_transaction_hashes", "with_transactions_bytes")
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    HEADERS_ONLY_FIELD_NUMBER: _ClassVar[int]
    WITH_TRANSACTION_HASHES_FIELD_NUMBER: _ClassVar[int]
    WITH_TRANSACTIONS_BYTES_FIELD_NUMBER: _ClassVar[int]
    from_height: int
    limit: int
    headers_only: bool
    with_transaction_hashes: bool
    with_transactions_bytes: bool
    def __init__(self, from_height: _Optional[int] = ..., limit: _Optional[int] = ..., headers_only: _Optional[bool] = ..., with_transaction_hashes: _Optional[bool] = ..., with_transactions_bytes: _Optional[bool] = ...) -> None: ...

class GetBlockRangeResponse(_message.Message):
    __slots__ = ("block", "block_hash", "transaction_count", "transaction_hashes", "transactions_bytes")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_HASHES_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_BYTES_FIELD_NUMBER: _ClassVar[int]
    block: _types_pb2.Block
    block_hash: bytes
    transaction_count: int
    transaction_hashes: _containers.RepeatedScalarFieldContainer[bytes]
    transactions_bytes: int
    def __init__(self, block: _Optional[_Union[_types_pb2.Block, _Mapping]] = ..., block_hash: _Optional[bytes] = ..., transaction_count: _Optional[int] = ..., transaction_hashes: _Optional[_Iterable[bytes]] = ..., transactions_bytes: _Optional[int] = ...) -> None: ...

class LedgerGetTransactionRequest(_message.Message):
    __slots__ = ("tx_hash",)
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    tx_hash: bytes
    def __init__(self, tx_hash: _Optional[bytes] = ...) -> None: ...

class LedgerGetTransactionResponse(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _types_pb2.IndexedTransaction
    def __init__(self, transaction: _Optional[_Union[_types_pb2.IndexedTransaction, _Mapping]] = ...) -> None: ...

class LedgerGetAccountRequest(_message.Message):
    __slots__ = ("address",)
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    def __init__(self, address: _Optional[bytes] = ...) -> None: ...

class LedgerGetAccountResponse(_message.Message):
    __slots__ = ("account", "height")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    account: _types_pb2.Account
    height: int
    def __init__(self, account: _Optional[_Union[_types_pb2.Account, _Mapping]] = ..., height: _Optional[int] = ...) -> None: ...

class GetAccountHistoryRequest(_message.Message):
    __slots__ = ("address", "page_token", "limit")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    page_token: bytes
    limit: int
    def __init__(self, address: _Optional[bytes] = ..., page_token: _Optional[bytes] = ..., limit: _Optional[int] = ...) -> None: ...

class GetAccountHistoryResponse(_message.Message):
    __slots__ = ("transactions", "next_page_token")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[_types_pb2.IndexedTransaction]
    next_page_token: bytes
    def __init__(self, transactions: _Optional[_Iterable[_Union[_types_pb2.IndexedTransaction, _Mapping]]] = ..., next_page_token: _Optional[bytes] = ...) -> None: ...

class CheckTransactionsRequest(_message.Message):
    __slots__ = ("transactions",)
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Transaction]
    def __init__(self, transactions: _Optional[_Iterable[_Union[_types_pb2.Transaction, _Mapping]]] = ...) -> None: ...

class CheckTransactionsResponse(_message.Message):
    __slots__ = ("results", "height")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_types_pb2.TransactionResult]
    height: int
    def __init__(self, results: _Optional[_Iterable[_Union[_types_pb2.TransactionResult, _Mapping]]] = ..., height: _Optional[int] = ...) -> None: ...

class ExecuteBlockRequest(_message.Message):
    __slots__ = ("block", "draft")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    block: _types_pb2.Block
    draft: bool
    def __init__(self, block: _Optional[_Union[_types_pb2.Block, _Mapping]] = ..., draft: _Optional[bool] = ...) -> None: ...

class ExecuteBlockResponse(_message.Message):
    __slots__ = ("valid", "reason", "message", "state_commitment", "merkle_root", "results")
    VALID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    MERKLE_ROOT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    reason: BlockRejectReason
    message: str
    state_commitment: bytes
    merkle_root: bytes
    results: _containers.RepeatedCompositeFieldContainer[_types_pb2.TransactionResult]
    def __init__(self, valid: _Optional[bool] = ..., reason: _Optional[_Union[BlockRejectReason, str]] = ..., message: _Optional[str] = ..., state_commitment: _Optional[bytes] = ..., merkle_root: _Optional[bytes] = ..., results: _Optional[_Iterable[_Union[_types_pb2.TransactionResult, _Mapping]]] = ...) -> None: ...

class ApplyBlockRequest(_message.Message):
    __slots__ = ("block",)
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    block: _types_pb2.Block
    def __init__(self, block: _Optional[_Union[_types_pb2.Block, _Mapping]] = ...) -> None: ...

class ApplyBlockResponse(_message.Message):
    __slots__ = ("tip_height", "tip_hash", "state_commitment", "already_applied")
    TIP_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    TIP_HASH_FIELD_NUMBER: _ClassVar[int]
    STATE_COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    ALREADY_APPLIED_FIELD_NUMBER: _ClassVar[int]
    tip_height: int
    tip_hash: bytes
    state_commitment: bytes
    already_applied: bool
    def __init__(self, tip_height: _Optional[int] = ..., tip_hash: _Optional[bytes] = ..., state_commitment: _Optional[bytes] = ..., already_applied: _Optional[bool] = ...) -> None: ...

class RecordEvidenceRequest(_message.Message):
    __slots__ = ("evidence", "detected_at_ms")
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    DETECTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    evidence: bytes
    detected_at_ms: int
    def __init__(self, evidence: _Optional[bytes] = ..., detected_at_ms: _Optional[int] = ...) -> None: ...

class RecordEvidenceResponse(_message.Message):
    __slots__ = ("recorded",)
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    recorded: bool
    def __init__(self, recorded: _Optional[bool] = ...) -> None: ...

class ListRecordedEvidenceRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class RecordedEvidence(_message.Message):
    __slots__ = ("evidence", "detected_at_ms")
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    DETECTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    evidence: bytes
    detected_at_ms: int
    def __init__(self, evidence: _Optional[bytes] = ..., detected_at_ms: _Optional[int] = ...) -> None: ...

class ListRecordedEvidenceResponse(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[RecordedEvidence]
    def __init__(self, records: _Optional[_Iterable[_Union[RecordedEvidence, _Mapping]]] = ...) -> None: ...
