from coinjecture.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubsetSumRejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBSET_SUM_REJECT_REASON_UNSPECIFIED: _ClassVar[SubsetSumRejectReason]
    SUBSET_SUM_REJECT_REASON_INVALID_TIER: _ClassVar[SubsetSumRejectReason]
    SUBSET_SUM_REJECT_REASON_TOO_MANY_ELEMENTS: _ClassVar[SubsetSumRejectReason]
    SUBSET_SUM_REJECT_REASON_TOO_MANY_INDICES: _ClassVar[SubsetSumRejectReason]
    SUBSET_SUM_REJECT_REASON_DUPLICATE_INDEX: _ClassVar[SubsetSumRejectReason]
    SUBSET_SUM_REJECT_REASON_INDEX_OUT_OF_RANGE: _ClassVar[SubsetSumRejectReason]
    SUBSET_SUM_REJECT_REASON_OVERFLOW: _ClassVar[SubsetSumRejectReason]
    SUBSET_SUM_REJECT_REASON_SUM_MISMATCH: _ClassVar[SubsetSumRejectReason]
    SUBSET_SUM_REJECT_REASON_EMPTY_SOLUTION: _ClassVar[SubsetSumRejectReason]
    SUBSET_SUM_REJECT_REASON_ELEMENT_COUNT_OUTSIDE_TIER: _ClassVar[SubsetSumRejectReason]
SUBSET_SUM_REJECT_REASON_UNSPECIFIED: SubsetSumRejectReason
SUBSET_SUM_REJECT_REASON_INVALID_TIER: SubsetSumRejectReason
SUBSET_SUM_REJECT_REASON_TOO_MANY_ELEMENTS: SubsetSumRejectReason
SUBSET_SUM_REJECT_REASON_TOO_MANY_INDICES: SubsetSumRejectReason
SUBSET_SUM_REJECT_REASON_DUPLICATE_INDEX: SubsetSumRejectReason
SUBSET_SUM_REJECT_REASON_INDEX_OUT_OF_RANGE: SubsetSumRejectReason
SUBSET_SUM_REJECT_REASON_OVERFLOW: SubsetSumRejectReason
SUBSET_SUM_REJECT_REASON_SUM_MISMATCH: SubsetSumRejectReason
SUBSET_SUM_REJECT_REASON_EMPTY_SOLUTION: SubsetSumRejectReason
SUBSET_SUM_REJECT_REASON_ELEMENT_COUNT_OUTSIDE_TIER: SubsetSumRejectReason

class Sha256Request(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class Sha256Response(_message.Message):
    __slots__ = ("digest",)
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    digest: bytes
    def __init__(self, digest: _Optional[bytes] = ...) -> None: ...

class Sha256BatchRequest(_message.Message):
    __slots__ = ("inputs",)
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, inputs: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Sha256BatchResponse(_message.Message):
    __slots__ = ("digests",)
    DIGESTS_FIELD_NUMBER: _ClassVar[int]
    digests: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, digests: _Optional[_Iterable[bytes]] = ...) -> None: ...

class MerkleRootRequest(_message.Message):
    __slots__ = ("leaves",)
    LEAVES_FIELD_NUMBER: _ClassVar[int]
    leaves: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, leaves: _Optional[_Iterable[bytes]] = ...) -> None: ...

class MerkleRootResponse(_message.Message):
    __slots__ = ("root",)
    ROOT_FIELD_NUMBER: _ClassVar[int]
    root: bytes
    def __init__(self, root: _Optional[bytes] = ...) -> None: ...

class MerkleProofStep(_message.Message):
    __slots__ = ("sibling", "current_is_right")
    SIBLING_FIELD_NUMBER: _ClassVar[int]
    CURRENT_IS_RIGHT_FIELD_NUMBER: _ClassVar[int]
    sibling: bytes
    current_is_right: bool
    def __init__(self, sibling: _Optional[bytes] = ..., current_is_right: _Optional[bool] = ...) -> None: ...

class MerkleProofRequest(_message.Message):
    __slots__ = ("leaves", "index")
    LEAVES_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    leaves: _containers.RepeatedScalarFieldContainer[bytes]
    index: int
    def __init__(self, leaves: _Optional[_Iterable[bytes]] = ..., index: _Optional[int] = ...) -> None: ...

class MerkleProofResponse(_message.Message):
    __slots__ = ("steps", "root")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedCompositeFieldContainer[MerkleProofStep]
    root: bytes
    def __init__(self, steps: _Optional[_Iterable[_Union[MerkleProofStep, _Mapping]]] = ..., root: _Optional[bytes] = ...) -> None: ...

class VerifyMerkleProofRequest(_message.Message):
    __slots__ = ("leaf", "steps", "root")
    LEAF_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    leaf: bytes
    steps: _containers.RepeatedCompositeFieldContainer[MerkleProofStep]
    root: bytes
    def __init__(self, leaf: _Optional[bytes] = ..., steps: _Optional[_Iterable[_Union[MerkleProofStep, _Mapping]]] = ..., root: _Optional[bytes] = ...) -> None: ...

class VerifyMerkleProofResponse(_message.Message):
    __slots__ = ("valid",)
    VALID_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    def __init__(self, valid: _Optional[bool] = ...) -> None: ...

class HashHeaderRequest(_message.Message):
    __slots__ = ("header",)
    HEADER_FIELD_NUMBER: _ClassVar[int]
    header: _types_pb2.BlockHeader
    def __init__(self, header: _Optional[_Union[_types_pb2.BlockHeader, _Mapping]] = ...) -> None: ...

class HashHeaderResponse(_message.Message):
    __slots__ = ("hash", "encoding")
    HASH_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    encoding: bytes
    def __init__(self, hash: _Optional[bytes] = ..., encoding: _Optional[bytes] = ...) -> None: ...

class HashTransactionRequest(_message.Message):
    __slots__ = ("transaction",)
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: _types_pb2.Transaction
    def __init__(self, transaction: _Optional[_Union[_types_pb2.Transaction, _Mapping]] = ...) -> None: ...

class HashTransactionResponse(_message.Message):
    __slots__ = ("tx_hash", "signing_message", "encoding")
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNING_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    tx_hash: bytes
    signing_message: bytes
    encoding: bytes
    def __init__(self, tx_hash: _Optional[bytes] = ..., signing_message: _Optional[bytes] = ..., encoding: _Optional[bytes] = ...) -> None: ...

class HashTransactionBatchRequest(_message.Message):
    __slots__ = ("transactions", "verify_signatures")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    VERIFY_SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[_types_pb2.Transaction]
    verify_signatures: bool
    def __init__(self, transactions: _Optional[_Iterable[_Union[_types_pb2.Transaction, _Mapping]]] = ..., verify_signatures: _Optional[bool] = ...) -> None: ...

class TransactionDigest(_message.Message):
    __slots__ = ("tx_hash", "signature_valid", "error")
    TX_HASH_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_VALID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    tx_hash: bytes
    signature_valid: bool
    error: str
    def __init__(self, tx_hash: _Optional[bytes] = ..., signature_valid: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class HashTransactionBatchResponse(_message.Message):
    __slots__ = ("digests", "all_valid")
    DIGESTS_FIELD_NUMBER: _ClassVar[int]
    ALL_VALID_FIELD_NUMBER: _ClassVar[int]
    digests: _containers.RepeatedCompositeFieldContainer[TransactionDigest]
    all_valid: bool
    def __init__(self, digests: _Optional[_Iterable[_Union[TransactionDigest, _Mapping]]] = ..., all_valid: _Optional[bool] = ...) -> None: ...

class VerifySubsetSumRequest(_message.Message):
    __slots__ = ("problem", "solution")
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    SOLUTION_FIELD_NUMBER: _ClassVar[int]
    problem: _types_pb2.SubsetSumProblem
    solution: _types_pb2.SubsetSumSolution
    def __init__(self, problem: _Optional[_Union[_types_pb2.SubsetSumProblem, _Mapping]] = ..., solution: _Optional[_Union[_types_pb2.SubsetSumSolution, _Mapping]] = ...) -> None: ...

class VerifySubsetSumResponse(_message.Message):
    __slots__ = ("valid", "reason", "detail")
    VALID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    reason: SubsetSumRejectReason
    detail: str
    def __init__(self, valid: _Optional[bool] = ..., reason: _Optional[_Union[SubsetSumRejectReason, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class Ed25519VerifyRequest(_message.Message):
    __slots__ = ("public_key", "message", "signature")
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    public_key: bytes
    message: bytes
    signature: bytes
    def __init__(self, public_key: _Optional[bytes] = ..., message: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class Ed25519VerifyResponse(_message.Message):
    __slots__ = ("valid",)
    VALID_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    def __init__(self, valid: _Optional[bool] = ...) -> None: ...

class Ed25519VerifyBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Ed25519VerifyRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[Ed25519VerifyRequest, _Mapping]]] = ...) -> None: ...

class Ed25519VerifyBatchResponse(_message.Message):
    __slots__ = ("all_valid", "valid", "errors")
    ALL_VALID_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    all_valid: bool
    valid: _containers.RepeatedScalarFieldContainer[bool]
    errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, all_valid: _Optional[bool] = ..., valid: _Optional[_Iterable[bool]] = ..., errors: _Optional[_Iterable[str]] = ...) -> None: ...

class Ed25519PackedBatch(_message.Message):
    __slots__ = ("public_keys", "signatures", "messages", "message_lengths")
    PUBLIC_KEYS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_LENGTHS_FIELD_NUMBER: _ClassVar[int]
    public_keys: bytes
    signatures: bytes
    messages: bytes
    message_lengths: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, public_keys: _Optional[bytes] = ..., signatures: _Optional[bytes] = ..., messages: _Optional[bytes] = ..., message_lengths: _Optional[_Iterable[int]] = ...) -> None: ...

class VerifyBlockRequest(_message.Message):
    __slots__ = ("leaves", "signatures")
    LEAVES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    leaves: bytes
    signatures: Ed25519PackedBatch
    def __init__(self, leaves: _Optional[bytes] = ..., signatures: _Optional[_Union[Ed25519PackedBatch, _Mapping]] = ...) -> None: ...

class VerifyBlockResponse(_message.Message):
    __slots__ = ("root", "valid", "all_valid")
    ROOT_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    ALL_VALID_FIELD_NUMBER: _ClassVar[int]
    root: bytes
    valid: _containers.RepeatedScalarFieldContainer[bool]
    all_valid: bool
    def __init__(self, root: _Optional[bytes] = ..., valid: _Optional[_Iterable[bool]] = ..., all_valid: _Optional[bool] = ...) -> None: ...

class DeriveAddressRequest(_message.Message):
    __slots__ = ("public_key",)
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    public_key: bytes
    def __init__(self, public_key: _Optional[bytes] = ...) -> None: ...

class DeriveAddressResponse(_message.Message):
    __slots__ = ("address",)
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: bytes
    def __init__(self, address: _Optional[bytes] = ...) -> None: ...

class EpochSaltRequest(_message.Message):
    __slots__ = ("parent_hash", "block_index")
    PARENT_HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_INDEX_FIELD_NUMBER: _ClassVar[int]
    parent_hash: bytes
    block_index: int
    def __init__(self, parent_hash: _Optional[bytes] = ..., block_index: _Optional[int] = ...) -> None: ...

class EpochSaltResponse(_message.Message):
    __slots__ = ("epoch_salt",)
    EPOCH_SALT_FIELD_NUMBER: _ClassVar[int]
    epoch_salt: bytes
    def __init__(self, epoch_salt: _Optional[bytes] = ...) -> None: ...

class CommitRevealCommitmentRequest(_message.Message):
    __slots__ = ("parent_hash", "block_index", "problem", "solution", "miner_salt")
    PARENT_HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_INDEX_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    SOLUTION_FIELD_NUMBER: _ClassVar[int]
    MINER_SALT_FIELD_NUMBER: _ClassVar[int]
    parent_hash: bytes
    block_index: int
    problem: _types_pb2.SubsetSumProblem
    solution: _types_pb2.SubsetSumSolution
    miner_salt: bytes
    def __init__(self, parent_hash: _Optional[bytes] = ..., block_index: _Optional[int] = ..., problem: _Optional[_Union[_types_pb2.SubsetSumProblem, _Mapping]] = ..., solution: _Optional[_Union[_types_pb2.SubsetSumSolution, _Mapping]] = ..., miner_salt: _Optional[bytes] = ...) -> None: ...

class CommitRevealCommitmentResponse(_message.Message):
    __slots__ = ("commitment", "epoch_salt", "problem_hash", "solution_hash")
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    EPOCH_SALT_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_HASH_FIELD_NUMBER: _ClassVar[int]
    SOLUTION_HASH_FIELD_NUMBER: _ClassVar[int]
    commitment: bytes
    epoch_salt: bytes
    problem_hash: bytes
    solution_hash: bytes
    def __init__(self, commitment: _Optional[bytes] = ..., epoch_salt: _Optional[bytes] = ..., problem_hash: _Optional[bytes] = ..., solution_hash: _Optional[bytes] = ...) -> None: ...

class GoldenVectorsSelfTestRequest(_message.Message):
    __slots__ = ("file",)
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: str
    def __init__(self, file: _Optional[str] = ...) -> None: ...

class GoldenVectorResult(_message.Message):
    __slots__ = ("file", "case_name", "passed", "detail")
    FILE_FIELD_NUMBER: _ClassVar[int]
    CASE_NAME_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    file: str
    case_name: str
    passed: bool
    detail: str
    def __init__(self, file: _Optional[str] = ..., case_name: _Optional[str] = ..., passed: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class GoldenVectorsSelfTestResponse(_message.Message):
    __slots__ = ("results", "total", "passed", "failed")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[GoldenVectorResult]
    total: int
    passed: int
    failed: int
    def __init__(self, results: _Optional[_Iterable[_Union[GoldenVectorResult, _Mapping]]] = ..., total: _Optional[int] = ..., passed: _Optional[int] = ..., failed: _Optional[int] = ...) -> None: ...
