"""Pure-Python reference of the COINjecture wire rules.

Written from ``golden/README.md`` (the normative specification); section numbers below refer to
it. Nothing here is fast; everything here is meant to be obviously right. Only ed25519 signing and
the final signature equation use a library (``cryptography``); the strict-verification checks that
library lacks (small-order points, README §8) are implemented here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

U8_MAX = 0xFF
U32_MAX = 0xFFFF_FFFF
U64_MAX = 0xFFFF_FFFF_FFFF_FFFF
I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1

CODEC_VERSION = 1
MAX_EXTRA_DATA = 256
MAX_TX_DATA = 1024 * 1024
MAX_SUBSET_SUM_ELEMENTS = 32
MAX_VALIDATORS = 1024
MAX_CHAIN_ID = 64
MAX_BLOCK_TRANSACTIONS = 50_000
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def sha256(data: bytes) -> bytes:
    """The chain's only hash function."""
    return hashlib.sha256(data).digest()


# --------------------------------------------------------------------------------------------
# §1.4 Refusals: one rule for malformed input
# --------------------------------------------------------------------------------------------

#: The refusal codes of README §1.4.
REFUSAL_CODES = (
    "WRONG_LENGTH",
    "TOO_LONG",
    "UNSUPPORTED_CODEC_VERSION",
    "UNKNOWN_VARIANT",
    "INVALID_CHAIN_ID",
    "OUT_OF_RANGE",
    "NOT_CONFLICTING",
)


class Refused(ValueError):
    """Malformed input, refused (README §1.4): it has no encoding, hash or verdict. ``field``
    names the input at fault (``codec_version``, ``leaves[1]``, ``public_key``), ``code`` is one
    of :data:`REFUSAL_CODES`. A ``ValueError``, so existing ``except ValueError`` still catches it."""

    def __init__(self, field: str, code: str, detail: str = "") -> None:
        assert code in REFUSAL_CODES, code
        super().__init__(f"{field}: {detail or code}")
        self.field, self.code, self.detail = field, code, detail

    def within(self, prefix: str) -> "Refused":
        """The same refusal with ``prefix`` before the field (``header.`` + ``codec_version``)."""
        return Refused(prefix + self.field, self.code, self.detail)


def _fixed(b: bytes, n: int, field: str) -> bytes:
    if len(b) != n:
        raise Refused(field, "WRONG_LENGTH", f"expected {n} bytes, found {len(b)}")
    return b


# --------------------------------------------------------------------------------------------
# §2 Canonical MessagePack (encoder)
# --------------------------------------------------------------------------------------------


def _container_header(n: int, fix: int, m16: int, m32: int) -> bytes:
    if n < 0:
        raise ValueError("negative length")
    if n < 16:
        return bytes([fix | n])
    if n <= 0xFFFF:
        return bytes([m16]) + n.to_bytes(2, "big")
    if n <= U32_MAX:
        return bytes([m32]) + n.to_bytes(4, "big")
    raise ValueError(f"length {n} does not fit MessagePack")


def mp_map_header(n: int) -> bytes:
    return _container_header(n, 0x80, 0xDE, 0xDF)


def mp_array_header(n: int) -> bytes:
    return _container_header(n, 0x90, 0xDC, 0xDD)


def mp_str(s: str) -> bytes:
    b = s.encode("utf-8")
    n = len(b)
    if n < 32:
        head = bytes([0xA0 | n])
    elif n <= 0xFF:
        head = bytes([0xD9, n])
    elif n <= 0xFFFF:
        head = b"\xda" + n.to_bytes(2, "big")
    else:
        head = b"\xdb" + n.to_bytes(4, "big")
    return head + b


def mp_uint(v: int) -> bytes:
    """An unsigned integer in its smallest form."""
    if not 0 <= v <= U64_MAX:
        raise ValueError(f"{v} is not a u64")
    if v < 0x80:
        return bytes([v])
    if v <= 0xFF:
        return bytes([0xCC, v])
    if v <= 0xFFFF:
        return b"\xcd" + v.to_bytes(2, "big")
    if v <= U32_MAX:
        return b"\xce" + v.to_bytes(4, "big")
    return b"\xcf" + v.to_bytes(8, "big")


def mp_int(v: int) -> bytes:
    """A signed (i64) integer: non-negative values take the unsigned forms."""
    if not I64_MIN <= v <= I64_MAX:
        raise ValueError(f"{v} is not an i64")
    if v >= 0:
        return mp_uint(v)
    if v >= -32:
        return bytes([v & 0xFF])
    if v >= -(1 << 7):
        return b"\xd0" + v.to_bytes(1, "big", signed=True)
    if v >= -(1 << 15):
        return b"\xd1" + v.to_bytes(2, "big", signed=True)
    if v >= -(1 << 31):
        return b"\xd2" + v.to_bytes(4, "big", signed=True)
    return b"\xd3" + v.to_bytes(8, "big", signed=True)


def mp_bin_fixed(b: bytes, n: int) -> bytes:
    """A fixed-size byte array (32 or 64 bytes) as ``bin 8``."""
    if len(b) != n:
        raise ValueError(f"expected {n} bytes, got {len(b)}")
    return bytes([0xC4, n]) + b


def mp_byte_array(b: bytes) -> bytes:
    """A variable byte string as an array of integers."""
    return mp_array_header(len(b)) + b"".join(mp_uint(x) for x in b)


def mp_map(entries: list[tuple[str, bytes]]) -> bytes:
    """A named map: string keys in the given order, values already encoded."""
    return mp_map_header(len(entries)) + b"".join(mp_str(k) + v for k, v in entries)


class BinReader:
    """Fixed-width big-endian reader (the Rust ``BinReader`` of the consensus encodings). Errors
    start with ``prefix`` and name the field and the byte offset."""

    def __init__(self, b: bytes, prefix: str = "") -> None:
        self.b, self.pos, self.prefix = bytes(b), 0, prefix

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.b):
            raise ValueError(
                f"{self.prefix}{what}: expected {n} bytes at offset {self.pos}, found {len(self.b) - self.pos}"
            )
        self.pos += n
        return self.b[self.pos - n : self.pos]

    def uint(self, n: int, what: str) -> int:
        return int.from_bytes(self.take(n, what), "big")

    def finish(self, what: str) -> None:
        if self.pos != len(self.b):
            raise ValueError(f"{what}: {len(self.b) - self.pos} trailing bytes")


class MsgpackReader:
    """Strict reader of the canonical MessagePack above: only the encodings the encoder produces
    (smallest forms, named-map keys in order) are accepted. Every error is a ``ValueError`` naming
    the field."""

    def __init__(self, b: bytes):
        self.b = bytes(b)
        self.pos = 0

    def _take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.b):
            raise ValueError(f"{what}: unexpected end of input at offset {self.pos}")
        out = self.b[self.pos : self.pos + n]
        self.pos += n
        return out

    def _canonical(self, start: int, expected: bytes, what: str) -> None:
        if self.b[start : self.pos] != expected:
            raise ValueError(f"{what}: not in its canonical (smallest) form at offset {start}")

    def _container(self, fix: int, m16: int, m32: int, kind: str, what: str) -> int:
        start = self.pos
        marker = self._take(1, what)[0]
        if marker & 0xF0 == fix:
            n = marker & 0x0F
        elif marker == m16:
            n = int.from_bytes(self._take(2, what), "big")
        elif marker == m32:
            n = int.from_bytes(self._take(4, what), "big")
        else:
            raise ValueError(f"{what}: expected a {kind} at offset {start}, found marker 0x{marker:02x}")
        self._canonical(start, _container_header(n, fix, m16, m32), what)
        return n

    def versioned_map(self, fields: int, what: str) -> int:
        """A map of ``fields`` entries whose first is ``codec_version`` = CODEC_VERSION; returns it."""
        self.map_header(fields, what)
        self.key("codec_version")
        codec_version = self.uint(U8_MAX, "codec_version")
        if codec_version != CODEC_VERSION:
            raise ValueError(f"{what} codec: unsupported version {codec_version}")
        return codec_version

    def map_header(self, expected: int, what: str) -> None:
        n = self._container(0x80, 0xDE, 0xDF, "map", what)
        if n != expected:
            raise ValueError(f"{what}: expected {expected} fields, found {n}")

    def array_header(self, max_len: int, what: str) -> int:
        n = self._container(0x90, 0xDC, 0xDD, "array", what)
        if n > max_len:
            raise ValueError(f"{what}: {n} elements, at most {max_len}")
        return n

    def str_(self, what: str) -> str:
        start = self.pos
        marker = self._take(1, what)[0]
        if marker & 0xE0 == 0xA0:
            n = marker & 0x1F
        elif marker in (0xD9, 0xDA, 0xDB):
            n = int.from_bytes(self._take({0xD9: 1, 0xDA: 2, 0xDB: 4}[marker], what), "big")
        else:
            raise ValueError(f"{what}: expected a string at offset {start}, found marker 0x{marker:02x}")
        try:
            s = self._take(n, what).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{what}: invalid UTF-8 at offset {start}") from None
        self._canonical(start, mp_str(s), what)
        return s

    def key(self, expected: str) -> None:
        found = self.str_(f"key {expected!r}")
        if found != expected:
            raise ValueError(f"expected key {expected!r}, found {found[:64]!r}")

    def int_(self, what: str) -> int:
        start = self.pos
        marker = self._take(1, what)[0]
        if marker < 0x80:
            v = marker
        elif marker >= 0xE0:
            v = marker - 0x100
        elif marker in (0xCC, 0xCD, 0xCE, 0xCF):
            v = int.from_bytes(self._take(1 << (marker - 0xCC), what), "big")
        elif marker in (0xD0, 0xD1, 0xD2, 0xD3):
            v = int.from_bytes(self._take(1 << (marker - 0xD0), what), "big", signed=True)
        else:
            raise ValueError(f"{what}: expected an integer at offset {start}, found marker 0x{marker:02x}")
        if v > I64_MAX and marker != 0xCF:
            raise ValueError(f"{what}: out of range")
        self._canonical(start, mp_uint(v) if v > I64_MAX else mp_int(v), what)
        return v

    def uint(self, max_value: int, what: str) -> int:
        v = self.int_(what)
        if not 0 <= v <= max_value:
            raise ValueError(f"{what}: {v} out of range 0..={max_value}")
        return v

    def int64(self, what: str) -> int:
        v = self.int_(what)
        if v > I64_MAX:
            raise ValueError(f"{what}: {v} is not an i64")
        return v

    def bin_fixed(self, n: int, what: str) -> bytes:
        start = self.pos
        marker = self._take(1, what)[0]
        if marker != 0xC4:
            raise ValueError(f"{what}: expected bin 8 at offset {start}, found marker 0x{marker:02x}")
        length = self._take(1, what)[0]
        if length != n:
            raise ValueError(f"{what}: expected {n} bytes, found {length}")
        return self._take(n, what)

    def byte_array(self, max_len: int, what: str) -> bytes:
        n = self.array_header(max_len, what)
        return bytes(self.uint(U8_MAX, what) for _ in range(n))

    def finish(self, what: str) -> None:
        if self.pos != len(self.b):
            raise ValueError(f"{what}: {len(self.b) - self.pos} trailing bytes")


# --------------------------------------------------------------------------------------------
# §3.3 Chain id
# --------------------------------------------------------------------------------------------

_CHAIN_ID = re.compile(r"[a-z0-9._-]{1,64}")


def validate_chain_id(chain_id: str) -> str:
    if not _CHAIN_ID.fullmatch(chain_id):
        raise Refused("chain_id", "INVALID_CHAIN_ID", f"invalid chain id {chain_id[:80]!r}: 1-64 of a-z 0-9 - _ .")
    return chain_id


# --------------------------------------------------------------------------------------------
# §3 Block header
# --------------------------------------------------------------------------------------------

ZERO32 = bytes(32)


@dataclass
class BlockHeader:
    codec_version: int = CODEC_VERSION
    block_index: int = 0
    timestamp: int = 0
    parent_hash: bytes = ZERO32
    merkle_root: bytes = ZERO32
    miner_address: bytes = ZERO32
    commitment: bytes = ZERO32
    difficulty_target: int = 0
    nonce: int = 0
    extra_data: bytes = b""

    def validate(self) -> None:
        """Refuses (README §1.4) a header that has no encoding: ``codec_version`` other than 1, a
        hash of the wrong length, ``extra_data`` over 256 bytes."""
        if self.codec_version != CODEC_VERSION:
            raise Refused("codec_version", "UNSUPPORTED_CODEC_VERSION", f"must be 1, found {self.codec_version}")
        for name in ("parent_hash", "merkle_root", "miner_address", "commitment"):
            _fixed(getattr(self, name), 32, name)
        if len(self.extra_data) > MAX_EXTRA_DATA:
            raise Refused("extra_data", "TOO_LONG", f"{len(self.extra_data)} bytes, at most {MAX_EXTRA_DATA}")

    def encode(self) -> bytes:
        self.validate()
        return mp_map(
            [
                ("codec_version", mp_uint(self.codec_version)),
                ("block_index", mp_uint(self.block_index)),
                ("timestamp", mp_int(self.timestamp)),
                ("parent_hash", mp_bin_fixed(self.parent_hash, 32)),
                ("merkle_root", mp_bin_fixed(self.merkle_root, 32)),
                ("miner_address", mp_bin_fixed(self.miner_address, 32)),
                ("commitment", mp_bin_fixed(self.commitment, 32)),
                ("difficulty_target", mp_uint(self.difficulty_target)),
                ("nonce", mp_uint(self.nonce)),
                ("extra_data", mp_byte_array(self.extra_data)),
            ]
        )

    def hash(self) -> bytes:
        return sha256(self.encode())

    @classmethod
    def read(cls, r: MsgpackReader) -> "BlockHeader":
        """Strict inverse of :meth:`encode` (as the Rust ``BlockHeader::decode_from``)."""
        codec_version = r.versioned_map(10, "header")
        fields: dict = {"codec_version": codec_version}
        for name, kind in [
            ("block_index", "u64"),
            ("timestamp", "i64"),
            ("parent_hash", 32),
            ("merkle_root", 32),
            ("miner_address", 32),
            ("commitment", 32),
            ("difficulty_target", "u64"),
            ("nonce", "u64"),
        ]:
            r.key(name)
            if kind == "u64":
                fields[name] = r.uint(U64_MAX, name)
            elif kind == "i64":
                fields[name] = r.int64(name)
            elif isinstance(kind, int):
                fields[name] = r.bin_fixed(kind, name)
            else:  # pragma: no cover (the table above has no other kind)
                raise AssertionError(kind)
        r.key("extra_data")
        fields["extra_data"] = r.byte_array(MAX_EXTRA_DATA, "extra_data")
        return cls(**fields)


@dataclass
class PoaExtra:
    """The PoA layout of ``extra_data`` (§3.3)."""

    round: int
    timestamp_millis: int
    state_commitment: bytes
    chain_id: str | None = None

    LAYOUT_VERSION = 1
    BASE_LEN = 39

    def encode(self) -> bytes:
        if not 0 <= self.round <= U32_MAX:
            raise Refused("round", "OUT_OF_RANGE", "round is a u32")
        if not 0 <= self.timestamp_millis <= 999:
            raise Refused("timestamp_millis", "OUT_OF_RANGE", f"{self.timestamp_millis}: must be 0..999")
        _fixed(self.state_commitment, 32, "state_commitment")
        chain = validate_chain_id(self.chain_id).encode("ascii") if self.chain_id is not None else b""
        return (
            bytes([self.LAYOUT_VERSION])
            + self.round.to_bytes(4, "big")
            + self.timestamp_millis.to_bytes(2, "big")
            + self.state_commitment
            + chain
        )

    @classmethod
    def decode(cls, b: bytes) -> "PoaExtra":
        if len(b) < cls.BASE_LEN:
            raise ValueError("extra_data shorter than 39 bytes")
        if b[0] != cls.LAYOUT_VERSION:
            raise ValueError(f"unsupported extra_data layout {b[0]}")
        millis = int.from_bytes(b[5:7], "big")
        if millis > 999:
            raise ValueError("timestamp_millis above 999")
        rest = b[39:]
        chain_id = validate_chain_id(rest.decode("ascii")) if rest else None
        return cls(int.from_bytes(b[1:5], "big"), millis, bytes(b[7:39]), chain_id)


# --------------------------------------------------------------------------------------------
# §4 Transaction
# --------------------------------------------------------------------------------------------

TX_TYPE_CODES = {"Transfer": 1, "ProblemSubmission": 2, "BountyPayment": 3}
MIN_GAS = {"Transfer": 21_000, "ProblemSubmission": 50_000, "BountyPayment": 50_000}
MIN_FEE = 1_000
FEE_AMOUNT_DIVISOR = 10_000


def chain_tag(chain_id: str) -> bytes:
    """``cj:<chain id>\\n``: the required start of a transaction's data on our chain (§4.4)."""
    return b"cj:" + validate_chain_id(chain_id).encode("ascii") + b"\n"


@dataclass
class Transaction:
    tx_type: str
    from_: bytes
    to: bytes
    amount: int
    nonce: int
    gas_limit: int
    gas_price: int
    signature: bytes = bytes(64)
    data: bytes = b""
    timestamp: int = 0
    codec_version: int = CODEC_VERSION

    def validate(self) -> None:
        """Refuses (README §1.4) a transaction that has no encoding and no signing message:
        ``codec_version`` other than 1, an unknown ``tx_type``, a key or signature of the wrong
        length, ``data`` over 1 MiB."""
        if self.codec_version != CODEC_VERSION:
            raise Refused("codec_version", "UNSUPPORTED_CODEC_VERSION", f"must be 1, found {self.codec_version}")
        if self.tx_type not in TX_TYPE_CODES:
            raise Refused("tx_type", "UNKNOWN_VARIANT", f"unknown tx_type {self.tx_type[:64]!r}")
        _fixed(self.from_, 32, "from")
        _fixed(self.to, 32, "to")
        _fixed(self.signature, 64, "signature")
        if len(self.data) > MAX_TX_DATA:
            raise Refused("data", "TOO_LONG", f"{len(self.data)} bytes, at most {MAX_TX_DATA}")

    def encode(self) -> bytes:
        self.validate()
        return mp_map(
            [
                ("codec_version", mp_uint(self.codec_version)),
                ("tx_type", mp_str(self.tx_type)),
                ("from", mp_bin_fixed(self.from_, 32)),
                ("to", mp_bin_fixed(self.to, 32)),
                ("amount", mp_uint(self.amount)),
                ("nonce", mp_uint(self.nonce)),
                ("gas_limit", mp_uint(self.gas_limit)),
                ("gas_price", mp_uint(self.gas_price)),
                ("signature", mp_bin_fixed(self.signature, 64)),
                ("data", mp_byte_array(self.data)),
                ("timestamp", mp_int(self.timestamp)),
            ]
        )

    def hash(self) -> bytes:
        """SHA-256 of the encoding, signature included (§4.2)."""
        return sha256(self.encode())

    def signing_message(self) -> bytes:
        """The little-endian byte string the sender signs (§4.3)."""
        self.validate()
        return (
            bytes([self.codec_version, TX_TYPE_CODES[self.tx_type]])
            + self.from_
            + self.to
            + self.amount.to_bytes(8, "little")
            + self.nonce.to_bytes(8, "little")
            + self.gas_limit.to_bytes(8, "little")
            + self.gas_price.to_bytes(8, "little")
            + len(self.data).to_bytes(4, "little")
            + self.data
            + self.timestamp.to_bytes(8, "little", signed=True)
        )

    def sign(self, seed: bytes) -> "Transaction":
        self.signature = ed25519_sign(seed, self.signing_message())
        return self

    @classmethod
    def read(cls, r: MsgpackReader) -> "Transaction":
        """Strict inverse of :meth:`encode` (as the Rust ``Transaction::decode_from``)."""
        codec_version = r.versioned_map(11, "transaction")
        r.key("tx_type")
        tx_type = r.str_("tx_type")
        if tx_type not in TX_TYPE_CODES:
            raise ValueError(f"tx_type: unknown variant {tx_type[:64]!r}")
        r.key("from")
        from_ = r.bin_fixed(32, "from")
        r.key("to")
        to = r.bin_fixed(32, "to")
        numbers: dict[str, int] = {}
        for name in ("amount", "nonce", "gas_limit", "gas_price"):
            r.key(name)
            numbers[name] = r.uint(U64_MAX, name)
        r.key("signature")
        signature = r.bin_fixed(64, "signature")
        r.key("data")
        data = r.byte_array(MAX_TX_DATA, "data")
        r.key("timestamp")
        timestamp = r.int64("timestamp")
        return cls(tx_type, from_, to, **numbers, signature=signature, data=data, timestamp=timestamp, codec_version=codec_version)

    def check_stateless(self, chain_id: str) -> str | None:
        """The first stateless rule broken (§4.5), or None."""
        if self.codec_version != CODEC_VERSION:
            return "CODEC_VERSION"
        if len(self.data) > MAX_TX_DATA:
            return "DATA_TOO_LONG"
        if self.gas_limit < MIN_GAS[self.tx_type]:
            return "GAS_TOO_LOW"
        fee = self.gas_limit * self.gas_price
        if fee > U64_MAX:
            return "FEE_OVERFLOW"
        if fee < max(self.amount // FEE_AMOUNT_DIVISOR, MIN_FEE):
            return "FEE_TOO_LOW"
        if self.amount + fee > U64_MAX:
            return "TOTAL_OVERFLOW"
        if not self.data.startswith(chain_tag(chain_id)):
            return "WRONG_CHAIN"
        if self.tx_type == "Transfer" and self.from_ == self.to:
            return "SELF_TRANSFER"
        return None


# --------------------------------------------------------------------------------------------
# §3.5 Block
# --------------------------------------------------------------------------------------------


@dataclass
class Block:
    header: BlockHeader
    transactions: list[Transaction] = field(default_factory=list)

    def encode(self) -> bytes:
        """The encoding (§3.5). Refuses more than 50,000 transactions (``transactions``) and an
        encoding over 16 MiB (``block``), as the decoder does, and what the header and each
        transaction refuse (``header.…``, ``transactions[i].…``)."""
        if len(self.transactions) > MAX_BLOCK_TRANSACTIONS:
            raise Refused("transactions", "TOO_LONG", f"{len(self.transactions)}, at most {MAX_BLOCK_TRANSACTIONS}")
        try:
            header = self.header.encode()
        except Refused as e:
            raise e.within("header.") from None
        parts = []
        for i, t in enumerate(self.transactions):
            try:
                parts.append(t.encode())
            except Refused as e:
                raise e.within(f"transactions[{i}].") from None
        out = (
            mp_map_header(2)
            + mp_str("header")
            + header
            + mp_str("transactions")
            + mp_array_header(len(self.transactions))
            + b"".join(parts)
        )
        if len(out) > MAX_MESSAGE_BYTES:
            raise Refused("block", "TOO_LONG", f"{len(out)} bytes, at most {MAX_MESSAGE_BYTES}")
        return out

    def hash(self) -> bytes:
        return self.header.hash()

    @classmethod
    def decode(cls, b: bytes) -> "Block":
        """Strict inverse of :meth:`encode` (as the Rust ``Block::decode``): only the canonical
        encoding, at most 16 MiB and 50,000 transactions; ``ValueError`` naming the field."""
        if len(b) > MAX_MESSAGE_BYTES:
            raise ValueError(f"block: {len(b)} bytes, at most {MAX_MESSAGE_BYTES}")
        r = MsgpackReader(b)
        r.map_header(2, "block")
        r.key("header")
        header = BlockHeader.read(r)
        r.key("transactions")
        count = r.array_header(MAX_BLOCK_TRANSACTIONS, "transactions")
        transactions = [Transaction.read(r) for _ in range(count)]
        r.finish("block")
        return cls(header, transactions)


# --------------------------------------------------------------------------------------------
# §5 Merkle
# --------------------------------------------------------------------------------------------


def _next_level(nodes: list[bytes]) -> list[bytes]:
    out = [sha256(nodes[i] + nodes[i + 1]) for i in range(0, len(nodes) - 1, 2)]
    if len(nodes) % 2 == 1:
        out.append(nodes[-1])  # promoted unchanged
    return out


def _check_leaves(leaves: list[bytes]) -> None:
    for i, leaf in enumerate(leaves):
        _fixed(leaf, 32, f"leaves[{i}]")


def merkle_root(leaves: list[bytes]) -> bytes:
    """The root (§5.1); a leaf that is not 32 bytes is refused (``leaves[i]``, WRONG_LENGTH)."""
    _check_leaves(leaves)
    if not leaves:
        return ZERO32
    level = list(leaves)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def merkle_proof(leaves: list[bytes], index: int) -> list[tuple[bytes, bool]]:
    """Steps ``(sibling, current_is_right)`` from the leaf level up (§5.2). Refuses a leaf that is
    not 32 bytes and an index that is not a leaf's (``index``, OUT_OF_RANGE)."""
    _check_leaves(leaves)
    if not 0 <= index < len(leaves):
        raise Refused("index", "OUT_OF_RANGE", f"{index} is out of range for {len(leaves)} leaves")
    steps: list[tuple[bytes, bool]] = []
    level, i = list(leaves), index
    while len(level) > 1:
        if i % 2 == 1:
            steps.append((level[i - 1], True))
        elif i + 1 < len(level):
            steps.append((level[i + 1], False))
        level, i = _next_level(level), i // 2
    return steps


def root_from_proof(leaf: bytes, steps: list[tuple[bytes, bool]]) -> bytes:
    node = leaf
    for sibling, current_is_right in steps:
        node = sha256(sibling + node) if current_is_right else sha256(node + sibling)
    return node


# --------------------------------------------------------------------------------------------
# §6 Subset-sum
# --------------------------------------------------------------------------------------------

TIERS = {  # name -> (protobuf number, min elements, max elements)
    "Mobile": (1, 8, 12),
    "Desktop": (2, 12, 16),
    "Workstation": (3, 16, 20),
    "Server": (4, 20, 24),
    "Cluster": (5, 24, 32),
}


@dataclass
class SubsetSumProblem:
    tier: str
    elements: list[int]
    target: int
    timestamp: int

    def encode(self) -> bytes:
        if self.tier not in TIERS:
            raise ValueError(f"unknown tier {self.tier!r}")
        if len(self.elements) > MAX_SUBSET_SUM_ELEMENTS:
            raise ValueError("more than 32 elements have no encoding")
        return mp_map(
            [
                ("problem_type", mp_str("SubsetSum")),
                ("tier", mp_str(self.tier)),
                ("elements", mp_array_header(len(self.elements)) + b"".join(mp_int(e) for e in self.elements)),
                ("target", mp_int(self.target)),
                ("timestamp", mp_int(self.timestamp)),
            ]
        )

    def hash(self) -> bytes:
        return sha256(self.encode())


@dataclass
class SubsetSumSolution:
    indices: list[int]
    timestamp: int

    def encode(self) -> bytes:
        if len(self.indices) > MAX_SUBSET_SUM_ELEMENTS:
            raise ValueError("more than 32 indices have no encoding")
        for i in self.indices:
            if not 0 <= i <= U32_MAX:
                raise ValueError("indices are u32")
        return mp_map(
            [
                ("indices", mp_array_header(len(self.indices)) + b"".join(mp_uint(i) for i in self.indices)),
                ("timestamp", mp_int(self.timestamp)),
            ]
        )

    def hash(self) -> bytes:
        return sha256(self.encode())


def verify_subset_sum(problem: SubsetSumProblem, solution: SubsetSumSolution) -> str | None:
    """None when valid, else the reason code of the first failed check (§6.3)."""
    if problem.tier not in TIERS:
        return "INVALID_TIER"  # a verdict, not a refusal (as over gRPC)
    n = len(problem.elements)
    if n > MAX_SUBSET_SUM_ELEMENTS:
        return "TOO_MANY_ELEMENTS"
    _, lo, hi = TIERS[problem.tier]
    if not lo <= n <= hi:
        return "ELEMENT_COUNT_OUTSIDE_TIER"
    if not solution.indices:
        return "EMPTY_SOLUTION"
    if len(solution.indices) > n:
        return "TOO_MANY_INDICES"
    if len(set(solution.indices)) != len(solution.indices):
        return "DUPLICATE_INDEX"  # over the whole list, before any range check (upstream's order)
    total = 0
    for i in solution.indices:
        if i >= n:
            return "INDEX_OUT_OF_RANGE"
        total += problem.elements[i]
        if not I64_MIN <= total <= I64_MAX:
            return "OVERFLOW"
    if total != problem.target:
        return "SUM_MISMATCH"
    return None


# --------------------------------------------------------------------------------------------
# §7 Commit–reveal
# --------------------------------------------------------------------------------------------


def epoch_salt(parent_hash: bytes, block_index: int) -> bytes:
    return sha256(parent_hash + block_index.to_bytes(8, "little"))


def miner_salt(miner_secret: bytes, parent_hash: bytes, block_index: int) -> bytes:
    msg = epoch_salt(parent_hash, block_index) + parent_hash + block_index.to_bytes(8, "little")
    return hmac.new(miner_secret, msg, hashlib.sha256).digest()


def commitment(
    miner_secret: bytes,
    parent_hash: bytes,
    block_index: int,
    problem: SubsetSumProblem,
    solution: SubsetSumSolution,
) -> bytes:
    return sha256(
        epoch_salt(parent_hash, block_index)
        + problem.hash()
        + solution.hash()
        + miner_salt(miner_secret, parent_hash, block_index)
    )


# --------------------------------------------------------------------------------------------
# §8 ed25519 (strict)
# --------------------------------------------------------------------------------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = (-121665 * pow(121666, -1, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _decode_point(b: bytes) -> tuple[int, int] | None:
    """Decompress a 32-byte Edwards point; None if it is not on the curve.

    y is the low 255 bits taken mod p, the top bit the sign of x (README §8, check 1).
    """
    if len(b) != 32:
        return None
    raw = int.from_bytes(b, "little")
    sign = raw >> 255
    y = (raw & ((1 << 255) - 1)) % _P
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    # candidate root of u/v: (u v^3) (u v^7)^((p-5)/8)
    x = (u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P)) % _P
    vx2 = (v * x * x) % _P
    if vx2 == u:
        pass
    elif vx2 == (-u) % _P:
        x = (x * _SQRT_M1) % _P
    else:
        return None
    if (x & 1) != sign:
        x = (-x) % _P
    return x, y


def _edwards_add(p1: tuple[int, int], p2: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = p1, p2
    t = (_D * x1 * x2 * y1 * y2) % _P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, -1, _P) % _P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, _P) % _P
    return x3, y3


def _is_small_order(pt: tuple[int, int]) -> bool:
    """True if 8·P is the identity (README §8, checks 2 and 3)."""
    q = pt
    for _ in range(3):
        q = _edwards_add(q, q)
    return q == (0, 1)


def ed25519_public_key(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def ed25519_verify_strict(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Strict verification (README §8): checks 1–4 here, then the equation (5) via OpenSSL. A key
    that is not 32 bytes or a signature that is not 64 is refused (:class:`Refused`,
    WRONG_LENGTH), not answered: README §1.4."""
    _fixed(public_key, 32, "public_key")
    _fixed(signature, 64, "signature")
    a = _decode_point(public_key)
    if a is None or _is_small_order(a):
        return False
    r = _decode_point(signature[:32])
    if r is None or _is_small_order(r):
        return False
    if int.from_bytes(signature[32:], "little") >= _L:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass
class BatchVerdict:
    """One item's answer in a batch (README §1.4): ``valid``, and for a refused item ``valid``
    False with the refusal, its field under ``items[i].``. Truthy exactly when valid."""

    valid: bool
    refused: Refused | None = None

    def __bool__(self) -> bool:
        return self.valid


def ed25519_verify_batch_verdicts(items: list[tuple[bytes, bytes, bytes]]) -> list[BatchVerdict]:
    """One answer per (public_key, message, signature): the single strict answer, or the single
    check's refusal (the other items are answered all the same)."""
    out = []
    for i, (pk, m, s) in enumerate(items):
        try:
            out.append(BatchVerdict(ed25519_verify_strict(pk, m, s)))
        except Refused as e:
            out.append(BatchVerdict(False, e.within(f"items[{i}].")))
    return out


def ed25519_verify_batch(items: list[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """The ``valid`` column of :func:`ed25519_verify_batch_verdicts` (a refused item is False;
    its refusal is in the verdicts), as crypto-core's ``Ed25519VerifyBatch.valid``."""
    return [v.valid for v in ed25519_verify_batch_verdicts(items)]


# --------------------------------------------------------------------------------------------
# §9 Address
# --------------------------------------------------------------------------------------------


def derive_address(public_key: bytes) -> bytes:
    return sha256(_fixed(public_key, 32, "public_key"))


# --------------------------------------------------------------------------------------------
# §10 Consensus messages
# --------------------------------------------------------------------------------------------

CONSENSUS_FORMAT_VERSION = 1
VOTE_DOMAIN = b"coinjecture/v1/vote\x00"
PROPOSAL_DOMAIN = b"coinjecture/v1/proposal\x00"
VOTE_TYPES = {"prevote": 1, "precommit": 2}


def _chain_id_field(chain_id: str) -> bytes:
    b = validate_chain_id(chain_id).encode("ascii")
    return bytes([len(b)]) + b


def _option_hash(h: bytes | None) -> bytes:
    if h is None:
        return b"\x00"
    return b"\x01" + _fixed(h, 32, "block_hash")


def _option_u32(v: int | None) -> bytes:
    return b"\x00" if v is None else b"\x01" + v.to_bytes(4, "big")


SNAPSHOT_ATTESTATION_DOMAIN = b"coinjecture/v1/snapshot\x00"


def snapshot_attestation_signing_bytes(chain_id: str, height: int, root: bytes) -> bytes:
    """§10.6: what a validator signs to attest a state-sync snapshot root."""
    body = _chain_id_field(chain_id) + height.to_bytes(8, "big") + _fixed(root, 32, "root")
    return SNAPSHOT_ATTESTATION_DOMAIN + body


def snapshot_attestation_encoding(chain_id: str, height: int, root: bytes, validator: bytes, signature: bytes) -> bytes:
    """§10.6: the attestation's wire encoding."""
    return (
        bytes([CONSENSUS_FORMAT_VERSION])
        + _chain_id_field(chain_id)
        + height.to_bytes(8, "big")
        + _fixed(root, 32, "root")
        + _fixed(validator, 32, "validator")
        + _fixed(signature, 64, "signature")
    )


def _vote_body(chain_id: str, height: int, round_: int, vote_type: str, block_hash: bytes | None) -> bytes:
    if vote_type not in VOTE_TYPES:
        raise Refused("vote_type", "UNKNOWN_VARIANT", f"unknown vote type {vote_type[:64]!r}")
    return (
        _chain_id_field(chain_id)
        + height.to_bytes(8, "big")
        + round_.to_bytes(4, "big")
        + bytes([VOTE_TYPES[vote_type]])
        + _option_hash(block_hash)
    )


def vote_signing_bytes(chain_id: str, height: int, round_: int, vote_type: str, block_hash: bytes | None) -> bytes:
    return VOTE_DOMAIN + _vote_body(chain_id, height, round_, vote_type, block_hash)


@dataclass
class Vote:
    chain_id: str
    height: int
    round: int
    vote_type: str  # "prevote" | "precommit"
    block_hash: bytes | None
    validator: bytes = ZERO32
    signature: bytes = bytes(64)

    def signing_bytes(self) -> bytes:
        return vote_signing_bytes(self.chain_id, self.height, self.round, self.vote_type, self.block_hash)

    def sign(self, seed: bytes) -> "Vote":
        self.validator = ed25519_public_key(seed)
        self.signature = ed25519_sign(seed, self.signing_bytes())
        return self

    def encode(self) -> bytes:
        return (
            bytes([CONSENSUS_FORMAT_VERSION])
            + _vote_body(self.chain_id, self.height, self.round, self.vote_type, self.block_hash)
            + self.validator
            + self.signature
        )

    @classmethod
    def decode(cls, b: bytes) -> "Vote":
        """Strict inverse of :meth:`encode` (as the Rust ``Vote::decode``); ``ValueError`` naming
        the field."""
        r = BinReader(b, "vote ")
        version = r.take(1, "version")[0]
        if version != CONSENSUS_FORMAT_VERSION:
            raise ValueError(f"vote: unsupported version {version}")
        chain_len = r.take(1, "chain id length")[0]
        try:
            chain_id = validate_chain_id(r.take(chain_len, "chain id").decode("ascii"))
        except UnicodeDecodeError:
            raise ValueError("vote chain id: not ASCII") from None
        height = r.uint(8, "height")
        round_ = r.uint(4, "round")
        code = r.take(1, "vote type")[0]
        types = {v: k for k, v in VOTE_TYPES.items()}
        if code not in types:
            raise ValueError(f"vote type: unknown code {code}")
        flag = r.take(1, "block_hash flag")[0]
        if flag not in (0, 1):
            raise ValueError(f"vote block_hash: option flag {flag}, expected 0 or 1")
        block_hash = r.take(32, "block_hash") if flag else None
        validator = r.take(32, "validator")
        signature = r.take(64, "signature")
        r.finish("vote")
        return cls(chain_id, height, round_, types[code], block_hash, validator, signature)


@dataclass
class Proposal:
    chain_id: str
    height: int
    round: int
    pol_round: int | None
    timestamp_ms: int
    block: Block
    proposer: bytes = ZERO32
    signature: bytes = bytes(64)

    def _common(self) -> bytes:
        return (
            _chain_id_field(self.chain_id)
            + self.height.to_bytes(8, "big")
            + self.round.to_bytes(4, "big")
            + _option_u32(self.pol_round)
            + self.timestamp_ms.to_bytes(8, "big", signed=True)
        )

    def signing_bytes(self, block_hash: bytes | None = None) -> bytes:
        """``block_hash``: the block's hash when already known (e.g. computed by crypto-core)."""
        return PROPOSAL_DOMAIN + self._common() + (self.block.hash() if block_hash is None else block_hash)

    def sign(self, seed: bytes) -> "Proposal":
        self.proposer = ed25519_public_key(seed)
        self.signature = ed25519_sign(seed, self.signing_bytes())
        return self

    def encode(self) -> bytes:
        block = self.block.encode()
        return (
            bytes([CONSENSUS_FORMAT_VERSION])
            + self._common()
            + self.proposer
            + self.signature
            + len(block).to_bytes(4, "big")
            + block
        )


@dataclass
class CommitCertificate:
    height: int
    round: int
    block_hash: bytes
    signatures: list[tuple[bytes, bytes]] = field(default_factory=list)  # (validator, signature)

    def signing_bytes(self, chain_id: str) -> bytes:
        return vote_signing_bytes(chain_id, self.height, self.round, "precommit", self.block_hash)

    def sorted(self) -> "CommitCertificate":
        """Signers sorted bytewise by key; a repeated key keeps its first pair only."""
        seen: dict[bytes, bytes] = {}
        for pk, sig in self.signatures:
            seen.setdefault(pk, sig)
        return CommitCertificate(self.height, self.round, self.block_hash, sorted(seen.items()))

    def encode(self) -> bytes:
        if len(self.signatures) > MAX_VALIDATORS:
            raise ValueError("more than 1024 signers")
        keys = [pk for pk, _ in self.signatures]
        if any(a >= b for a, b in zip(keys, keys[1:])):
            raise ValueError("signers must be strictly ascending (use sorted())")
        return (
            bytes([CONSENSUS_FORMAT_VERSION])
            + self.height.to_bytes(8, "big")
            + self.round.to_bytes(4, "big")
            + self.block_hash
            + len(self.signatures).to_bytes(2, "big")
            + b"".join(pk + sig for pk, sig in self.signatures)
        )


def duplicate_vote_evidence(a: Vote, b: Vote) -> bytes:
    """Evidence of two conflicting votes, in canonical order (§10.5)."""
    conflicting = (
        a.validator == b.validator
        and a.chain_id == b.chain_id
        and a.height == b.height
        and a.round == b.round
        and a.vote_type == b.vote_type
        and a.block_hash != b.block_hash
    )
    if not conflicting:
        raise Refused("b", "NOT_CONFLICTING", "the votes do not conflict")
    return _evidence(1, a.encode(), b.encode())


def _evidence(kind: int, a: bytes, b: bytes) -> bytes:
    ea, eb = sorted([a, b])
    return bytes([CONSENSUS_FORMAT_VERSION, kind]) + len(ea).to_bytes(4, "big") + ea + len(eb).to_bytes(4, "big") + eb


def duplicate_proposal_evidence(a: Proposal, b: Proposal) -> bytes:
    """Evidence of two conflicting proposals (§10.5, kind 2): same proposer, chain id, height and
    round, different signing bytes; the blocks are kept without their transactions (the
    signatures cover the block hash, which the header alone fixes); canonical order."""
    conflicting = (
        a.proposer == b.proposer
        and a.chain_id == b.chain_id
        and a.height == b.height
        and a.round == b.round
        and a.signing_bytes() != b.signing_bytes()
    )
    if not conflicting:
        raise Refused("b", "NOT_CONFLICTING", "the proposals do not conflict")

    def bare(p: Proposal) -> bytes:
        return Proposal(
            p.chain_id, p.height, p.round, p.pol_round, p.timestamp_ms, Block(p.block.header), p.proposer, p.signature
        ).encode()

    return _evidence(2, bare(a), bare(b))
