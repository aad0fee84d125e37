from coinjecture.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("network_id", "chain_id", "block_height", "latest_block_hash", "latest_block_time", "validator", "peers", "syncing", "version", "genesis_hash", "signing_paused", "oldest_block_height")
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LATEST_BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    LATEST_BLOCK_TIME_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    SYNCING_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GENESIS_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNING_PAUSED_FIELD_NUMBER: _ClassVar[int]
    OLDEST_BLOCK_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    network_id: str
    chain_id: str
    block_height: int
    latest_block_hash: bytes
    latest_block_time: int
    validator: bytes
    peers: int
    syncing: bool
    version: str
    genesis_hash: bytes
    signing_paused: str
    oldest_block_height: int
    def __init__(self, network_id: _Optional[str] = ..., chain_id: _Optional[str] = ..., block_height: _Optional[int] = ..., latest_block_hash: _Optional[bytes] = ..., latest_block_time: _Optional[int] = ..., validator: _Optional[bytes] = ..., peers: _Optional[int] = ..., syncing: _Optional[bool] = ..., version: _Optional[str] = ..., genesis_hash: _Optional[bytes] = ..., signing_paused: _Optional[str] = ..., oldest_block_height: _Optional[int] = ...) -> None: ...

class BlockView(_message.Message):
    __slots__ = ("block", "block_hash", "transaction_hashes", "transaction_count")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_HASHES_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    block: _types_pb2.Block
    block_hash: bytes
    transaction_hashes: _containers.RepeatedScalarFieldContainer[bytes]
    transaction_count: int
    def __init__(self, block: _Optional[_Union[_types_pb2.Block, _Mapping]] = ..., block_hash: _Optional[bytes] = ..., transaction_hashes: _Optional[_Iterable[bytes]] = ..., transaction_count: _Optional[int] = ...) -> None: ...

class GetBlockRequest(_message.Message):
    __slots__ = ("height", "hash")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    height: int
    hash: bytes
    def __init__(self, height: _Optional[int] = ..., hash: _Optional[bytes] = ...) -> None: ...

class GetBlockResponse(_message.Message):
    __slots__ = ("block",)
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    block: BlockView
    def __init__(self, block: _Optional[_Union[BlockView, _Mapping]] = ...) -> None: ...

class ListBlocksRequest(_message.Message):
    __slots__ = ("from_height", "limit", "descending", "headers_only")
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    DESCENDING_FIELD_NUMBER: _ClassVar[int]
    HEADERS_ONLY_FIELD_NUMBER: _ClassVar[int]
    from_height: int
    limit: int
    descending: bool
    headers_only: bool
    def __init__(self, from_height: _Optional[int] = ..., limit: _Optional[int] = ..., descending: _Optional[bool] = ..., headers_only: _Optional[bool] = ...) -> None: ...

class ListBlocksResponse(_message.Message):
    __slots__ = ("blocks", "next_height")
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    blocks: _containers.RepeatedCompositeFieldContainer[BlockView]
    next_height: int
    def __init__(self, blocks: _Optional[_Iterable[_Union[BlockView, _Mapping]]] = ..., next_height: _Optional[int] = ...) -> None: ...

class GetTransactionRequest(_message.Message):
    __slots__ = ("tx_hash",)
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    tx_hash: bytes
    def __init__(self, tx_hash: _Optional[bytes] = ...) -> None: ...

class GetTransactionResponse(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _types_pb2.IndexedTransaction
    def __init__(self, transaction: _Optional[_Union[_types_pb2.IndexedTransaction, _Mapping]] = ...) -> None: ...

class SubmitTransactionRequest(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _types_pb2.Transaction
    def __init__(self, transaction: _Optional[_Union[_types_pb2.Transaction, _Mapping]] = ...) -> None: ...

class SubmitTransactionResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _types_pb2.TransactionResult
    def __init__(self, result: _Optional[_Union[_types_pb2.TransactionResult, _Mapping]] = ...) -> None: ...

class SubmitTransactionsRequest(_message.Message):
    __slots__ = ("transactions",)
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Transaction]
    def __init__(self, transactions: _Optional[_Iterable[_Union[_types_pb2.Transaction, _Mapping]]] = ...) -> None: ...

class SubmitTransactionsResponse(_message.Message):
    __slots__ = ("results", "accepted_count")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[_types_pb2.TransactionResult]
    accepted_count: int
    def __init__(self, results: _Optional[_Iterable[_Union[_types_pb2.TransactionResult, _Mapping]]] = ..., accepted_count: _Optional[int] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("address",)
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    def __init__(self, address: _Optional[bytes] = ...) -> None: ...

class GetAccountResponse(_message.Message):
    __slots__ = ("account", "height")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    account: _types_pb2.Account
    height: int
    def __init__(self, account: _Optional[_Union[_types_pb2.Account, _Mapping]] = ..., height: _Optional[int] = ...) -> None: ...

class ListAccountTransactionsRequest(_message.Message):
    __slots__ = ("address", "page_token", "limit")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    page_token: bytes
    limit: int
    def __init__(self, address: _Optional[bytes] = ..., page_token: _Optional[bytes] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAccountTransactionsResponse(_message.Message):
    __slots__ = ("transactions", "next_page_token")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[_types_pb2.IndexedTransaction]
    next_page_token: bytes
    def __init__(self, transactions: _Optional[_Iterable[_Union[_types_pb2.IndexedTransaction, _Mapping]]] = ..., next_page_token: _Optional[bytes] = ...) -> None: ...

class GetValidatorsRequest(_message.Message):
    __slots__ = ("height",)
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    height: int
    def __init__(self, height: _Optional[int] = ...) -> None: ...

class GetValidatorsResponse(_message.Message):
    __slots__ = ("validator_set", "height")
    VALIDATOR_SET_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    validator_set: _types_pb2.ValidatorSet
    height: int
    def __init__(self, validator_set: _Optional[_Union[_types_pb2.ValidatorSet, _Mapping]] = ..., height: _Optional[int] = ...) -> None: ...

class StreamBlocksRequest(_message.Message):
    __slots__ = ("from_height",)
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    from_height: int
    def __init__(self, from_height: _Optional[int] = ...) -> None: ...

class StreamBlocksResponse(_message.Message):
    __slots__ = ("block",)
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    block: BlockView
    def __init__(self, block: _Optional[_Union[BlockView, _Mapping]] = ...) -> None: ...
