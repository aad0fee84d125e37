from coinjecture.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Topic(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOPIC_UNSPECIFIED: _ClassVar[Topic]
    TOPIC_TRANSACTIONS: _ClassVar[Topic]
    TOPIC_PROPOSALS: _ClassVar[Topic]
    TOPIC_VOTES: _ClassVar[Topic]
    TOPIC_BLOCKS: _ClassVar[Topic]

class ValidationResult(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALIDATION_RESULT_UNSPECIFIED: _ClassVar[ValidationResult]
    VALIDATION_RESULT_ACCEPT: _ClassVar[ValidationResult]
    VALIDATION_RESULT_REJECT: _ClassVar[ValidationResult]
    VALIDATION_RESULT_IGNORE: _ClassVar[ValidationResult]
TOPIC_UNSPECIFIED: Topic
TOPIC_TRANSACTIONS: Topic
TOPIC_PROPOSALS: Topic
TOPIC_VOTES: Topic
TOPIC_BLOCKS: Topic
VALIDATION_RESULT_UNSPECIFIED: ValidationResult
VALIDATION_RESULT_ACCEPT: ValidationResult
VALIDATION_RESULT_REJECT: ValidationResult
VALIDATION_RESULT_IGNORE: ValidationResult

class PublishRequest(_message.Message):
    __slots__ = ("topic", "payload")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    topic: Topic
    payload: bytes
    def __init__(self, topic: _Optional[_Union[Topic, str]] = ..., payload: _Optional[bytes] = ...) -> None: ...

class PublishResponse(_message.Message):
    __slots__ = ("message_id", "recipients", "duplicate")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    message_id: bytes
    recipients: int
    duplicate: bool
    def __init__(self, message_id: _Optional[bytes] = ..., recipients: _Optional[int] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("topics", "validate")
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_FIELD_NUMBER: _ClassVar[int]
    topics: _containers.RepeatedScalarFieldContainer[Topic]
    validate: bool
    def __init__(self, topics: _Optional[_Iterable[_Union[Topic, str]]] = ..., validate: _Optional[bool] = ...) -> None: ...

class InboundMessage(_message.Message):
    __slots__ = ("message_id", "topic", "payload", "source_peer_id", "received_at_ms")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PEER_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    message_id: bytes
    topic: Topic
    payload: bytes
    source_peer_id: str
    received_at_ms: int
    def __init__(self, message_id: _Optional[bytes] = ..., topic: _Optional[_Union[Topic, str]] = ..., payload: _Optional[bytes] = ..., source_peer_id: _Optional[str] = ..., received_at_ms: _Optional[int] = ...) -> None: ...

class ValidationReport(_message.Message):
    __slots__ = ("message_id", "result")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    message_id: bytes
    result: ValidationResult
    def __init__(self, message_id: _Optional[bytes] = ..., result: _Optional[_Union[ValidationResult, str]] = ...) -> None: ...

class ReportValidationRequest(_message.Message):
    __slots__ = ("reports",)
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    reports: _containers.RepeatedCompositeFieldContainer[ValidationReport]
    def __init__(self, reports: _Optional[_Iterable[_Union[ValidationReport, _Mapping]]] = ...) -> None: ...

class ReportValidationResponse(_message.Message):
    __slots__ = ("applied", "unknown")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    applied: int
    unknown: int
    def __init__(self, applied: _Optional[int] = ..., unknown: _Optional[int] = ...) -> None: ...

class ListPeersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PeerInfo(_message.Message):
    __slots__ = ("peer_id", "addresses", "connected_since_ms", "score", "outbound", "agent_version")
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    OUTBOUND_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    addresses: _containers.RepeatedScalarFieldContainer[str]
    connected_since_ms: int
    score: float
    outbound: bool
    agent_version: str
    def __init__(self, peer_id: _Optional[str] = ..., addresses: _Optional[_Iterable[str]] = ..., connected_since_ms: _Optional[int] = ..., score: _Optional[float] = ..., outbound: _Optional[bool] = ..., agent_version: _Optional[str] = ...) -> None: ...

class ListPeersResponse(_message.Message):
    __slots__ = ("peers",)
    PEERS_FIELD_NUMBER: _ClassVar[int]
    peers: _containers.RepeatedCompositeFieldContainer[PeerInfo]
    def __init__(self, peers: _Optional[_Iterable[_Union[PeerInfo, _Mapping]]] = ...) -> None: ...

class DialRequest(_message.Message):
    __slots__ = ("multiaddr",)
    MULTIADDR_FIELD_NUMBER: _ClassVar[int]
    multiaddr: str
    def __init__(self, multiaddr: _Optional[str] = ...) -> None: ...

class DialResponse(_message.Message):
    __slots__ = ("peer_id",)
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    def __init__(self, peer_id: _Optional[str] = ...) -> None: ...

class RequestBlocksRequest(_message.Message):
    __slots__ = ("from_height", "count", "peer_id")
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    from_height: int
    count: int
    peer_id: str
    def __init__(self, from_height: _Optional[int] = ..., count: _Optional[int] = ..., peer_id: _Optional[str] = ...) -> None: ...

class RequestBlocksResponse(_message.Message):
    __slots__ = ("block", "peer_id")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    block: _types_pb2.Block
    peer_id: str
    def __init__(self, block: _Optional[_Union[_types_pb2.Block, _Mapping]] = ..., peer_id: _Optional[str] = ...) -> None: ...

class GetNetworkInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TopicName(_message.Message):
    __slots__ = ("topic", "name")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    topic: Topic
    name: str
    def __init__(self, topic: _Optional[_Union[Topic, str]] = ..., name: _Optional[str] = ...) -> None: ...

class GetNetworkInfoResponse(_message.Message):
    __slots__ = ("local_peer_id", "listen_addresses", "network_id", "connected_peers", "topics")
    LOCAL_PEER_ID_FIELD_NUMBER: _ClassVar[int]
    LISTEN_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_PEERS_FIELD_NUMBER: _ClassVar[int]
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    local_peer_id: str
    listen_addresses: _containers.RepeatedScalarFieldContainer[str]
    network_id: str
    connected_peers: int
    topics: _containers.RepeatedCompositeFieldContainer[TopicName]
    def __init__(self, local_peer_id: _Optional[str] = ..., listen_addresses: _Optional[_Iterable[str]] = ..., network_id: _Optional[str] = ..., connected_peers: _Optional[int] = ..., topics: _Optional[_Iterable[_Union[TopicName, _Mapping]]] = ...) -> None: ...
