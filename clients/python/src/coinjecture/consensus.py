"""The consensus engine in Python: a sans-I/O port of ``services/consensus/src/engine.rs``.

Same protocol, same rules, same messages as the Rust engine, so a Python validator and Rust
validators decide blocks together: Tendermint (Buchman, Kwon, Milosevic, *The latest gossip on
BFT consensus*, arXiv:1807.04938, Algorithm 1) — propose, prevote, precommit with locking
(``locked``) and proof-of-lock re-proposals (``valid``), round timeouts growing per round and
capped, the ``f + 1`` rule to skip to later rounds, catch-up from finalized blocks with
certificates, and validator-set changes at configured heights (:class:`ValidatorSchedule`). The
quorum rule is the set's (:data:`QUORUM_MODES`: ``crash`` a majority, ``byzantine`` ⌊2n/3⌋ + 1).

Like the Rust one, :class:`Engine` performs no I/O and reads no clock:
``handle(now_ms, input) -> list[action]``. The driver (:mod:`coinjecture.validator`) feeds it
gossip, timer expiries and the ledger's answers, and carries out the actions **in order** (a
:class:`PersistSignState` is durable before the :class:`Broadcast` after it, and so is a
:class:`PersistLock`: the lock, :class:`LockState`, the block precommitted with its proof of lock,
in the Rust file format, given back after a restart with :meth:`Engine.restore_lock`).

Messages are :class:`coinjecture.reference.Vote` / :class:`~coinjecture.reference.Proposal`, whose
signing bytes are checked against ``golden/consensus.json``; hashing and signature checks go
through a :class:`Crypto` (the pure-Python reference, or crypto-core over gRPC). Signing is local
(ed25519 with ``cryptography``).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from . import reference as ref

PREVOTE = "prevote"
PRECOMMIT = "precommit"

# ----------------------------------------------------------------------------------------------
# Validator sets
# ----------------------------------------------------------------------------------------------

QUORUM_MODES: dict[str, Callable[[int], int]] = {
    # Majority: tolerates ⌊(n−1)/2⌋ crashed validators, no Byzantine ones.
    "crash": lambda n: n // 2 + 1,
    # ⌊2n/3⌋ + 1: tolerates f Byzantine validators when n ≥ 3f + 1.
    "byzantine": lambda n: 2 * n // 3 + 1,
}


class Crypto(Protocol):
    """Hashing and signature checks (the reference, or crypto-core)."""

    def block_hash(self, block: ref.Block) -> bytes: ...

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...

    def verify_batch(self, items: list[tuple[bytes, bytes, bytes]]) -> list[bool]: ...


class ReferenceCrypto:
    """The pure-Python reference (hashlib, strict ed25519)."""

    def block_hash(self, block: ref.Block) -> bytes:
        return block.hash()

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return ref.ed25519_verify_strict(public_key, message, signature)

    def verify_batch(self, items: list[tuple[bytes, bytes, bytes]]) -> list[bool]:
        return ref.ed25519_verify_batch(items)


class ValidatorSet:
    """An ordered set with its quorum rule; the proposer of (height, round) is
    ``validators[(height + round) mod n]``."""

    def __init__(self, validators: list[bytes], mode: str):
        if not validators:
            raise ValueError("a validator set needs at least one validator")
        if mode not in QUORUM_MODES:
            raise ValueError(f"quorum {mode!r} is not one of crash, byzantine")
        seen: set[bytes] = set()
        for v in validators:
            if len(v) != 32:
                raise ValueError(f"validator key {v.hex()} is not 32 bytes")
            if v in seen:
                raise ValueError(f"validator {v.hex()} appears twice in one set")
            seen.add(v)
        self.validators = list(validators)
        self.mode = mode

    def __len__(self) -> int:
        return len(self.validators)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValidatorSet) and (self.validators, self.mode) == (other.validators, other.mode)

    def quorum(self) -> int:
        return QUORUM_MODES[self.mode](len(self.validators))

    def skip_threshold(self) -> int:
        """Validators whose messages for a later round make us skip to it (f + 1)."""
        return len(self.validators) - self.quorum() + 1

    def contains(self, key: bytes) -> bool:
        return key in self.validators

    def proposer(self, height: int, round_: int) -> bytes:
        return self.validators[(height + round_) % len(self.validators)]

    def verify_certificate(
        self, crypto: Crypto, chain_id: str, height: int, block_hash: bytes, certificate: ref.CommitCertificate
    ) -> str | None:
        """None when the certificate proves `block_hash` final at `height`, else why not."""
        if certificate.height != height:
            return f"certificate is for height {certificate.height}, expected {height}"
        if certificate.block_hash != block_hash:
            return f"certificate is for block {certificate.block_hash.hex()}, expected {block_hash.hex()}"
        message = certificate.signing_bytes(chain_id)
        for validator, _ in certificate.signatures:
            if not self.contains(validator):
                return f"certificate signer {validator.hex()} is not a validator at this height"
        verdicts = crypto.verify_batch([(v, message, s) for v, s in certificate.signatures])
        for (validator, _), ok in zip(certificate.signatures, verdicts):
            if not ok:
                return f"certificate signature of {validator.hex()} is invalid"
        signers = {v for v, _ in certificate.signatures}
        if len(signers) < self.quorum():
            return f"certificate has {len(signers)} distinct valid signers, quorum is {self.quorum()}"
        return None


class ValidatorSchedule:
    """Which set votes at which height: the first from height 1, each later one from its
    activation height on (the seed's gradual cutover, without a halt)."""

    def __init__(self, entries: list[tuple[int, ValidatorSet]]):
        if not entries:
            raise ValueError("a validator schedule needs at least one set")
        if entries[0][0] != 1:
            raise ValueError(f"first activation height {entries[0][0]}, must be 1")
        if any(a[0] >= b[0] for a, b in zip(entries, entries[1:])):
            raise ValueError("activation heights must strictly increase")
        self.entries = list(entries)
        self._heights = [h for h, _ in entries]

    def at(self, height: int) -> ValidatorSet:
        i = max(bisect.bisect_right(self._heights, height) - 1, 0)
        return self.entries[i][1]

    def activation(self, height: int) -> int:
        i = max(bisect.bisect_right(self._heights, height) - 1, 0)
        return self.entries[i][0]


# ----------------------------------------------------------------------------------------------
# Double-sign protection (services/consensus/src/sign_state.rs; same file format)
# ----------------------------------------------------------------------------------------------


# The envelope of the safety files (services/consensus/src/safety_file.rs): format 2 is
# magic ("CJSS" signing state, "CJLK" lock) ‖ version 2 ‖ payload length (u32) ‖ payload ‖
# SHA-256 of all that; the payload is the format-1 encoding without its version byte. Format 1
# (version byte 0x01, no checksum) is still read, to be rewritten in format 2.
SAFETY_FILE_VERSION = 2
SIGN_STATE_MAGIC = b"CJSS"
LOCK_STATE_MAGIC = b"CJLK"
_SAFETY_ENVELOPE_LEN = 4 + 1 + 4 + 32
_SAFETY_FILE_NAMES = {SIGN_STATE_MAGIC: "signing state", LOCK_STATE_MAGIC: "lock"}


class SafetyFileError(ValueError):
    """A safety file that must not be trusted; the message says why."""


def seal_safety_file(magic: bytes, payload: bytes) -> bytes:
    """Wraps `payload` in the format-2 envelope."""
    body = magic + bytes([SAFETY_FILE_VERSION]) + len(payload).to_bytes(4, "big") + payload
    return body + ref.sha256(body)


def open_safety_file(magic: bytes, data: bytes) -> tuple[bytes, bool]:
    """(payload, legacy): a format-1 file is returned whole with ``legacy`` True; a format-2 one
    without its envelope. Raises :class:`SafetyFileError` naming the problem."""
    if not data:
        raise SafetyFileError("empty file")
    if data[0] == 1:
        return data, True
    head = data[:4]
    other = LOCK_STATE_MAGIC if magic == SIGN_STATE_MAGIC else SIGN_STATE_MAGIC
    if head == other:
        raise SafetyFileError(f"not a {_SAFETY_FILE_NAMES[magic]} file: it is a {_SAFETY_FILE_NAMES[other]} file")
    if head != magic:
        raise SafetyFileError(f"unknown format (starts with {data[:8].hex()}); this node reads formats 1 and 2")
    if len(data) < 9:
        raise SafetyFileError(f"truncated: {len(data)} bytes, the header says {_SAFETY_ENVELOPE_LEN}")
    if data[4] != SAFETY_FILE_VERSION:
        raise SafetyFileError(
            f"format version {data[4]} is not supported (this node reads 1 and 2; was it written by a newer node?)"
        )
    expected = _SAFETY_ENVELOPE_LEN + int.from_bytes(data[5:9], "big")
    if len(data) > expected:
        raise SafetyFileError("checksum mismatch")
    if len(data) < expected:
        raise SafetyFileError(f"truncated: {len(data)} bytes, the header says {expected}")
    body, checksum = data[:-32], data[-32:]
    if ref.sha256(body) != checksum:
        raise SafetyFileError("checksum mismatch")
    return body[9:], False


class SignStep(IntEnum):
    PROPOSAL = 1
    PREVOTE = 2
    PRECOMMIT = 3


SIGN_STATE_LEN = 1 + 8 + 4 + 1 + 32 + 64


@dataclass(frozen=True)
class SignState:
    """The last message this validator signed, persisted before the message is sent."""

    height: int
    round: int
    step: SignStep
    signed_bytes_hash: bytes
    signature: bytes

    @classmethod
    def after(cls, height: int, round_: int, step: SignStep, message: bytes, signature: bytes) -> "SignState":
        return cls(height, round_, step, ref.sha256(message), signature)

    @staticmethod
    def decide(last: "SignState | None", height: int, round_: int, step: SignStep, message: bytes) -> bytes | bool:
        """True: sign (a later position). bytes: the identical message was signed before, send this
        signature again. False: refuse (conflicts with what was signed)."""
        if last is None:
            return True
        position, last_position = (height, round_, int(step)), (last.height, last.round, int(last.step))
        if position > last_position:
            return True
        if position == last_position and ref.sha256(message) == last.signed_bytes_hash:
            return last.signature
        return False

    def encode(self) -> bytes:
        return (
            b"\x01"
            + self.height.to_bytes(8, "big")
            + self.round.to_bytes(4, "big")
            + bytes([int(self.step)])
            + self.signed_bytes_hash
            + self.signature
        )

    def to_file_bytes(self) -> bytes:
        """The file's bytes: :meth:`encode` in the checked envelope (format 2)."""
        return seal_safety_file(SIGN_STATE_MAGIC, self.encode()[1:])

    @classmethod
    def from_file_bytes(cls, data: bytes) -> tuple["SignState", bool]:
        """(state, legacy) from a signing-state file in format 2 or 1; ``SafetyFileError`` names
        what is wrong."""
        payload, legacy = open_safety_file(SIGN_STATE_MAGIC, data)
        try:
            return cls.decode(payload if legacy else b"\x01" + payload), legacy
        except ValueError as e:
            raise SafetyFileError(f"damaged contents: {e}") from None

    @classmethod
    def decode(cls, b: bytes) -> "SignState":
        if len(b) != SIGN_STATE_LEN:
            raise ValueError(f"sign state: expected {SIGN_STATE_LEN} bytes, found {len(b)}")
        if b[0] != 1:
            raise ValueError(f"sign state: unsupported version {b[0]}")
        if b[13] not in (1, 2, 3):
            raise ValueError(f"sign state: unknown step {b[13]}")
        return cls(
            int.from_bytes(b[1:9], "big"),
            int.from_bytes(b[9:13], "big"),
            SignStep(b[13]),
            bytes(b[14:46]),
            bytes(b[46:110]),
        )


# ----------------------------------------------------------------------------------------------
# The lock, persisted (services/consensus/src/lock_state.rs; same file format)
# ----------------------------------------------------------------------------------------------

LOCK_STATE_VERSION = 1
# Prevotes kept with a lock, at most (a proof of lock needs a quorum of the validator set).
MAX_LOCK_PREVOTES = 1024


@dataclass
class LockState:
    """A validator's lock at one height: the block it precommitted, the round it locked in, and
    the prevotes for the block in that round that made it lock (the proof of lock).

    A lock held only in memory is gone after a restart: if one validator committed the block and
    a quorum of the others restarted before seeing the commit, they could decide another block at
    the same height. The engine therefore asks for it to be made durable (:class:`PersistLock`)
    before the precommit that follows it leaves, and a restarted engine takes it back
    (:meth:`Engine.restore_lock`). The block and the prevotes are kept, not just the hash, so that
    after a whole-network stop the locked proposer can re-propose the block with its proof of lock.
    """

    height: int
    round: int
    block: ref.Block
    prevotes: list[ref.Vote] = field(default_factory=list)

    def encode(self) -> bytes:
        """Version 1, height (u64), round (u32), the block's canonical encoding with its length
        (u32), then the prevotes (count u16, each with its length u16). Big-endian."""
        block = self.block.encode()
        votes = self.prevotes[:MAX_LOCK_PREVOTES]
        out = bytearray([LOCK_STATE_VERSION])
        out += self.height.to_bytes(8, "big")
        out += self.round.to_bytes(4, "big")
        out += len(block).to_bytes(4, "big")
        out += block
        out += len(votes).to_bytes(2, "big")
        for vote in votes:
            encoded = vote.encode()
            out += len(encoded).to_bytes(2, "big")
            out += encoded
        return bytes(out)

    def to_file_bytes(self) -> bytes:
        """The file's bytes: :meth:`encode` in the checked envelope (format 2)."""
        return seal_safety_file(LOCK_STATE_MAGIC, self.encode()[1:])

    @classmethod
    def from_file_bytes(cls, data: bytes) -> tuple["LockState", bool]:
        """(lock, legacy) from a lock file in format 2 or 1; ``SafetyFileError`` names what is
        wrong."""
        payload, legacy = open_safety_file(LOCK_STATE_MAGIC, data)
        try:
            return cls.decode(payload if legacy else bytes([LOCK_STATE_VERSION]) + payload), legacy
        except ValueError as e:
            raise SafetyFileError(f"damaged contents: {e}") from None

    @classmethod
    def decode(cls, b: bytes) -> "LockState":
        """Strict inverse of :meth:`encode`; every ``ValueError`` names the field."""
        r = ref.BinReader(b)
        version = r.take(1, "lock state version")[0]
        if version != LOCK_STATE_VERSION:
            raise ValueError(f"lock state: unsupported version {version}")
        height = r.uint(8, "lock state height")
        round_ = r.uint(4, "lock state round")
        block_len = r.uint(4, "lock state block length")
        block_bytes = r.take(block_len, "lock state block")
        try:
            block = ref.Block.decode(block_bytes)
        except ValueError as e:
            raise ValueError(f"lock state block: {e}") from None
        count = r.uint(2, "lock state prevote count")
        if count > MAX_LOCK_PREVOTES:
            raise ValueError(f"lock state prevotes: {count}, at most {MAX_LOCK_PREVOTES}")
        prevotes = []
        for i in range(count):
            length = r.uint(2, "lock state prevote length")
            encoded = r.take(length, "lock state prevote")
            try:
                prevotes.append(ref.Vote.decode(encoded))
            except ValueError as e:
                raise ValueError(f"lock state prevote {i}: {e}") from None
        r.finish("lock state")
        return cls(height, round_, block, prevotes)


# ----------------------------------------------------------------------------------------------
# Engine inputs and actions
# ----------------------------------------------------------------------------------------------


@dataclass
class EngineConfig:
    chain_id: str
    block_time_ms: int
    timeout_propose_ms: int
    timeout_vote_ms: int
    timeout_increase_ms: int
    timeout_cap_ms: int
    max_rounds_ahead: int = 16
    max_buffered_messages: int = 4096
    sync_retry_ms: int = 2000
    rebroadcast_ms: int = 500
    max_pending_decided: int = 256

    @classmethod
    def with_block_time(cls, chain_id: str, block_time_ms: int) -> "EngineConfig":
        """The Rust defaults: propose timeout 2 block times, vote timeouts half of one, +half a block
        time per failed round, capped at ten block times."""
        return cls(
            chain_id=chain_id,
            block_time_ms=block_time_ms,
            timeout_propose_ms=2 * block_time_ms,
            timeout_vote_ms=block_time_ms // 2,
            timeout_increase_ms=block_time_ms // 2,
            timeout_cap_ms=10 * block_time_ms,
            sync_retry_ms=block_time_ms,
            rebroadcast_ms=block_time_ms // 4,
        )

    def timeout(self, base: int, round_: int) -> int:
        return min(base + self.timeout_increase_ms * round_, self.timeout_cap_ms)


class TimeoutKind(IntEnum):
    BUILD_BLOCK = 0
    REBROADCAST = 1
    PROPOSE = 2
    PREVOTE = 3
    PRECOMMIT = 4


@dataclass(frozen=True, order=True)
class Timeout:
    height: int
    round: int
    kind: TimeoutKind


class Step(IntEnum):
    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


# Inputs


@dataclass
class Start:
    """Begin (or resume after a restart) at the engine's height."""


@dataclass
class ProposalReceived:
    proposal: ref.Proposal


@dataclass
class VoteReceived:
    vote: ref.Vote


@dataclass
class TimeoutFired:
    timeout: Timeout


@dataclass
class BlockBuilt:
    """The block asked for by :class:`BuildBlock` (already executed by the ledger)."""

    height: int
    round: int
    block: ref.Block


@dataclass
class BlockValidity:
    """The ledger's verdict on a block asked for by :class:`ValidateBlock`."""

    block_hash: bytes
    valid: bool


@dataclass
class DecidedBlock:
    """A finalized block with its certificate, from sync or gossip."""

    block: ref.Block
    certificate: ref.CommitCertificate


# Actions


@dataclass
class PersistSignState:
    state: SignState


@dataclass
class PersistLock:
    """Make this the persisted lock (durably) before anything that follows: the validator has just
    locked on a block and is about to precommit it. Give it back with :meth:`Engine.restore_lock`
    after a restart."""

    lock: LockState


@dataclass
class Broadcast:
    message: ref.Proposal | ref.Vote


@dataclass
class ScheduleTimeout:
    at_ms: int
    timeout: Timeout


@dataclass
class BuildBlock:
    height: int
    round: int
    min_timestamp_ms: int


@dataclass
class ValidateBlock:
    block: ref.Block
    block_hash: bytes


@dataclass
class Commit:
    block: ref.Block
    block_hash: bytes
    certificate: ref.CommitCertificate


@dataclass
class RequestSync:
    from_height: int


@dataclass
class BroadcastDecided:
    height: int


@dataclass
class Evidence:
    """Two conflicting votes of one validator, in canonical order (by encoding)."""

    vote_a: ref.Vote
    vote_b: ref.Vote


@dataclass
class Dropped:
    reason: str  # the Rust driver's names: wrong_chain, old_height, bad_signature, …


Input = Start | ProposalReceived | VoteReceived | TimeoutFired | BlockBuilt | BlockValidity | DecidedBlock
Action = (
    PersistSignState
    | PersistLock
    | Broadcast
    | ScheduleTimeout
    | BuildBlock
    | ValidateBlock
    | Commit
    | RequestSync
    | BroadcastDecided
    | Evidence
    | Dropped
)


def header_timestamp_ms(header: ref.BlockHeader) -> int:
    """Seconds from the header plus the milliseconds carried in extra_data (0 when absent)."""
    try:
        millis = ref.PoaExtra.decode(header.extra_data).timestamp_millis
    except ValueError:
        millis = 0
    return header.timestamp * 1000 + millis


# ----------------------------------------------------------------------------------------------
# Vote bookkeeping
# ----------------------------------------------------------------------------------------------

MAX_VERSIONS_PER_VALIDATOR = 2


class VoteSet:
    """Votes of one (round, type). A validator counts once per block hash; an equivocator's second,
    conflicting vote is kept too (and reported) but no third."""

    def __init__(self) -> None:
        self.votes: dict[tuple[bytes, bytes | None], ref.Vote] = {}
        self.per_validator: dict[bytes, int] = {}
        self.tally: dict[bytes | None, int] = {}

    def add(self, vote: ref.Vote) -> tuple[str, ref.Vote | None]:
        """("new" | "duplicate" | "excess", None) or ("conflict", the validator's first vote)."""
        key = (vote.validator, vote.block_hash)
        if key in self.votes:
            return "duplicate", None
        versions = self.per_validator.get(vote.validator, 0)
        if versions >= MAX_VERSIONS_PER_VALIDATOR:
            return "excess", None
        self.per_validator[vote.validator] = versions + 1
        first = next((v for (k, _), v in self.votes.items() if k == vote.validator), None) if versions else None
        self.tally[vote.block_hash] = self.tally.get(vote.block_hash, 0) + 1
        self.votes[key] = vote
        return ("conflict", first) if first is not None else ("new", None)

    def count(self, block_hash: bytes | None) -> int:
        return self.tally.get(block_hash, 0)

    def total(self) -> int:
        """Distinct validators that voted (anything)."""
        return len(self.per_validator)

    def block_with(self, quorum: int) -> bytes | None:
        return next((h for h, n in self.tally.items() if h is not None and n >= quorum), None)

    def signatures_for(self, block_hash: bytes) -> list[tuple[bytes, bytes]]:
        return sorted((v.validator, v.signature) for v in self.votes.values() if v.block_hash == block_hash)


@dataclass
class RoundState:
    proposal: ref.Proposal | None = None
    proposal_hash: bytes | None = None
    prevotes: VoteSet = field(default_factory=VoteSet)
    precommits: VoteSet = field(default_factory=VoteSet)
    senders: set[bytes] = field(default_factory=set)
    prevote_timeout_set: bool = False
    precommit_timeout_set: bool = False
    prevote_quorum_seen: bool = False


# ----------------------------------------------------------------------------------------------
# The engine
# ----------------------------------------------------------------------------------------------


class Engine:
    """The consensus state machine of one node (validator or observer) deciding `height`."""

    def __init__(
        self,
        config: EngineConfig,
        schedule: ValidatorSchedule,
        seed: bytes,
        height: int,
        last_commit_ms: int,
        sign_state: SignState | None,
        crypto: Crypto | None = None,
    ):
        self.config = config
        self.schedule = schedule
        self._seed = seed
        self.me = ref.ed25519_public_key(seed)
        self.crypto: Crypto = crypto or ReferenceCrypto()
        self.sign_state = sign_state
        self.height = height
        self.round = 0
        self.step = Step.PROPOSE
        self.locked: tuple[int, bytes] | None = None
        self.valid: tuple[int, bytes] | None = None
        self.rounds: dict[int, RoundState] = {}
        self.blocks: dict[bytes, ref.Block] = {}
        self.validity: dict[bytes, bool] = {}
        self.validation_requested: set[bytes] = set()
        self.building: int | None = None
        self.last_commit_ms = last_commit_ms
        self.round_start_ms = last_commit_ms
        self.future: list[ref.Proposal | ref.Vote] = []
        self.ahead_senders: set[bytes] = set()
        self.last_sync_request_ms: int | None = None
        self.own_messages: list[ref.Proposal | ref.Vote] = []
        self.pending_decided: dict[int, tuple[ref.Block, ref.CommitCertificate]] = {}
        self.last_help: tuple[int, int] | None = None
        self.started = False

    # -- queries ---------------------------------------------------------------------------

    def validator_set(self) -> ValidatorSet:
        return self.schedule.at(self.height)

    def is_validator(self) -> bool:
        return self.validator_set().contains(self.me)

    def restore_lock(self, lock: LockState) -> bool:
        """Takes back the lock persisted with :class:`PersistLock` before a restart; call it before
        :class:`Start`. A lock of another height (an older one, left behind by a height that was
        decided) is ignored. The lock itself is always honoured, since it is this validator's own
        commitment; the locked block becomes the one it re-proposes, and the prevotes that check
        out (this height and round, that block, a validator's valid signature) are kept as the
        proof of lock and relayed again. Returns whether the lock was taken."""
        if self.started or lock.height != self.height or lock.block.header.block_index != self.height:
            return False
        block_hash = self.crypto.block_hash(lock.block)
        self.locked = (lock.round, block_hash)
        self.valid = (lock.round, block_hash)
        # It was valid on this parent before the restart (locking needs it), and the parent is the
        # same: the height has not moved.
        self.validity[block_hash] = True
        self.validation_requested.add(block_hash)
        self.blocks[block_hash] = lock.block
        candidates = [
            v
            for v in lock.prevotes
            if v.chain_id == self.config.chain_id
            and v.height == self.height
            and v.round == lock.round
            and v.vote_type == PREVOTE
            and v.block_hash == block_hash
            and self._set().contains(v.validator)
        ]
        verdicts = self.crypto.verify_batch([(v.validator, v.signing_bytes(), v.signature) for v in candidates])
        for vote, ok in zip(candidates, verdicts):
            if ok:
                if vote.validator == self.me:
                    self.own_messages.append(vote)
                rs = self._round_state(lock.round)
                rs.senders.add(vote.validator)
                rs.prevotes.add(vote)
        return True

    # -- the one entry point ---------------------------------------------------------------

    def handle(self, now: int, inp: Input) -> list[Action]:
        """Feeds one input; returns the actions to carry out, in order."""
        out: list[Action] = []
        if isinstance(inp, Start):
            if not self.started:
                self.started = True
                # Restarted mid-height: the messages of the round this validator last signed in
                # are gone, and double-sign protection forbids signing anything else there. If
                # every validator is in that position, waiting in that round deadlocks the network.
                # Resume at the next round instead; moving to a later round is always safe.
                last = self.sign_state
                self._start_round(now, last.round + 1 if last is not None and last.height == self.height else 0, out)
                self._schedule_rebroadcast(now, out)
        elif isinstance(inp, ProposalReceived):
            self._on_proposal(now, inp.proposal, out)
        elif isinstance(inp, VoteReceived):
            self._on_vote(now, inp.vote, out)
        elif isinstance(inp, TimeoutFired):
            self._on_timeout(now, inp.timeout, out)
        elif isinstance(inp, BlockBuilt):
            self._on_block_built(now, inp.height, inp.round, inp.block, out)
        elif isinstance(inp, BlockValidity):
            if inp.block_hash in self.validation_requested:
                self.validity[inp.block_hash] = inp.valid
        elif isinstance(inp, DecidedBlock):
            self._on_decided_block(now, inp.block, inp.certificate, out)
        else:
            raise TypeError(f"not an engine input: {inp!r}")
        if self.started:
            self._evaluate(now, out)
        return out

    # -- helpers ---------------------------------------------------------------------------

    def _set(self) -> ValidatorSet:
        return self.schedule.at(self.height)

    def _round_state(self, round_: int) -> RoundState:
        return self.rounds.setdefault(round_, RoundState())

    def _schedule_timeout(self, at_ms: int, round_: int, kind: TimeoutKind, out: list[Action]) -> None:
        out.append(ScheduleTimeout(at_ms, Timeout(self.height, round_, kind)))

    def _schedule_rebroadcast(self, now: int, out: list[Action]) -> None:
        self._schedule_timeout(now + self.config.rebroadcast_ms, 0, TimeoutKind.REBROADCAST, out)

    def _start_round(self, now: int, round_: int, out: list[Action]) -> None:
        self.round = round_
        self.step = Step.PROPOSE
        self.round_start_ms = now
        self.building = None
        # Round 0's proposal is due one block time after the parent; later rounds at once.
        due = max(now, self.last_commit_ms + self.config.block_time_ms) if round_ == 0 else now
        if self._set().proposer(self.height, round_) == self.me:
            if self.valid is not None and self.valid[1] in self.blocks:
                self._propose(now, self.blocks[self.valid[1]], self.valid[1], self.valid[0], out)
                return
            if due > now:
                self._schedule_timeout(due, round_, TimeoutKind.BUILD_BLOCK, out)
            else:
                self._request_block(round_, out)
        else:
            timeout = self.config.timeout(self.config.timeout_propose_ms, round_)
            self._schedule_timeout(due + timeout, round_, TimeoutKind.PROPOSE, out)

    def _request_block(self, round_: int, out: list[Action]) -> None:
        if self.building is None:
            self.building = round_
            out.append(BuildBlock(self.height, round_, self.last_commit_ms + 1))

    def _on_block_built(self, now: int, height: int, round_: int, block: ref.Block, out: list[Action]) -> None:
        if height != self.height or round_ != self.round or self.building != round_ or self.step != Step.PROPOSE:
            return
        if block.header.block_index != height or block.header.miner_address != self.me:
            out.append(Dropped("block_mismatch"))
            return
        block_hash = self.crypto.block_hash(block)
        # Built through the ledger's ExecuteBlock: valid by construction.
        self.validity[block_hash] = True
        self.validation_requested.add(block_hash)
        self._propose(now, block, block_hash, None, out)

    def _propose(self, now: int, block: ref.Block, block_hash: bytes, pol_round: int | None, out: list[Action]) -> None:
        proposal = ref.Proposal(self.config.chain_id, self.height, self.round, pol_round, now, block, self.me)
        signature = self._sign(SignStep.PROPOSAL, proposal.signing_bytes(block_hash), out)
        if signature is None:
            return
        proposal.signature = signature
        out.append(Broadcast(proposal))
        self.own_messages.append(proposal)
        self._accept_proposal(proposal, block_hash)

    def _sign(self, step: SignStep, message: bytes, out: list[Action]) -> bytes | None:
        decision = SignState.decide(self.sign_state, self.height, self.round, step, message)
        if decision is True:
            signature = ref.ed25519_sign(self._seed, message)
            state = SignState.after(self.height, self.round, step, message, signature)
            self.sign_state = state
            out.append(PersistSignState(state))
            return signature
        if isinstance(decision, bytes):
            return decision
        return None

    def _vote(self, vote_type: str, block_hash: bytes | None, out: list[Action]) -> None:
        if not self.is_validator():
            return
        vote = ref.Vote(self.config.chain_id, self.height, self.round, vote_type, block_hash, self.me)
        step = SignStep.PREVOTE if vote_type == PREVOTE else SignStep.PRECOMMIT
        signature = self._sign(step, vote.signing_bytes(), out)
        if signature is None:
            return
        vote.signature = signature
        out.append(Broadcast(vote))
        self.own_messages.append(vote)
        self._add_vote(vote, out)

    def _accept_proposal(self, proposal: ref.Proposal, block_hash: bytes) -> None:
        self.blocks.setdefault(block_hash, proposal.block)
        rs = self._round_state(proposal.round)
        rs.senders.add(proposal.proposer)
        rs.proposal = proposal
        rs.proposal_hash = block_hash

    def _add_vote(self, vote: ref.Vote, out: list[Action]) -> None:
        rs = self._round_state(vote.round)
        votes = rs.prevotes if vote.vote_type == PREVOTE else rs.precommits
        added, first = votes.add(vote)
        if added == "new":
            rs.senders.add(vote.validator)
        elif added == "duplicate":
            out.append(Dropped("duplicate"))
        elif added == "conflict":
            rs.senders.add(vote.validator)
            assert first is not None
            a, b = sorted((first, vote), key=lambda v: v.encode())  # canonical order, as in Rust
            out.append(Evidence(a, b))
        else:
            out.append(Dropped("equivocation"))

    def _admit(
        self, now: int, height: int, round_: int, sender: bytes, message: ref.Proposal | ref.Vote, out: list[Action]
    ) -> bool:
        """Common checks of a message's (height, round); buffers next-height messages."""
        if height < self.height:
            out.append(Dropped("old_height"))
            due = (
                self.last_help is None
                or self.last_help[0] != height
                or now - self.last_help[1] >= self.config.sync_retry_ms
            )
            if due:
                self.last_help = (height, now)
                out.append(BroadcastDecided(height))
            return False
        if height > self.height:
            if self.schedule.at(height).contains(sender):
                self.ahead_senders.add(sender)
            if len(self.ahead_senders) >= self._set().skip_threshold():
                self._maybe_request_sync(now, out)
            if height == self.height + 1 and len(self.future) < self.config.max_buffered_messages:
                self.future.append(message)
            else:
                out.append(Dropped("future_height"))
            return False
        if round_ > self.round + self.config.max_rounds_ahead:
            out.append(Dropped("round_too_far_ahead"))
            return False
        return True

    def _maybe_request_sync(self, now: int, out: list[Action]) -> None:
        if self.last_sync_request_ms is None or now - self.last_sync_request_ms >= self.config.sync_retry_ms:
            self.last_sync_request_ms = now
            out.append(RequestSync(self.height))

    def _on_proposal(self, now: int, proposal: ref.Proposal, out: list[Action]) -> None:
        if proposal.chain_id != self.config.chain_id:
            out.append(Dropped("wrong_chain"))
            return
        if not self._admit(now, proposal.height, proposal.round, proposal.proposer, proposal, out):
            return
        if self._set().proposer(proposal.height, proposal.round) != proposal.proposer:
            out.append(Dropped("wrong_proposer"))
            return
        header = proposal.block.header
        pol_ok = proposal.pol_round is None or proposal.pol_round < proposal.round
        # A re-proposed block (with a proof-of-lock round) keeps its first proposer's header.
        miner_ok = proposal.pol_round is not None or header.miner_address == proposal.proposer
        if header.block_index != proposal.height or not miner_ok or not pol_ok:
            out.append(Dropped("block_mismatch"))
            return
        existing = self.rounds.get(proposal.round)
        if existing is not None and existing.proposal is not None:
            out.append(Dropped("duplicate" if existing.proposal == proposal else "equivocation"))
            return
        block_hash = self.crypto.block_hash(proposal.block)
        if not self.crypto.verify(proposal.proposer, proposal.signing_bytes(block_hash), proposal.signature):
            out.append(Dropped("bad_signature"))
            return
        if block_hash not in self.validity and block_hash not in self.validation_requested:
            self.validation_requested.add(block_hash)
            out.append(ValidateBlock(proposal.block, block_hash))
        self._accept_proposal(proposal, block_hash)

    def _on_vote(self, now: int, vote: ref.Vote, out: list[Action]) -> None:
        if vote.chain_id != self.config.chain_id:
            out.append(Dropped("wrong_chain"))
            return
        if not self._admit(now, vote.height, vote.round, vote.validator, vote, out):
            return
        if not self._set().contains(vote.validator):
            out.append(Dropped("not_a_validator"))
            return
        # An identical copy of a vote already counted (signature and all) was verified when it was
        # counted: validators re-send their votes until the height is decided, and gossip repeats.
        rs = self.rounds.get(vote.round)
        if rs is not None:
            counted = (rs.prevotes if vote.vote_type == PREVOTE else rs.precommits).votes
            if counted.get((vote.validator, vote.block_hash)) == vote:
                out.append(Dropped("duplicate"))
                return
        if not self.crypto.verify(vote.validator, vote.signing_bytes(), vote.signature):
            out.append(Dropped("bad_signature"))
            return
        self._add_vote(vote, out)

    def _on_timeout(self, now: int, t: Timeout, out: list[Action]) -> None:
        if t.kind == TimeoutKind.REBROADCAST:
            # This round and the last, plus our prevotes of the rounds we locked or saw a polka in.
            recent = max(self.round - 1, 0)
            pol_rounds = [lr[0] for lr in (self.locked, self.valid) if lr is not None]
            for m in self.own_messages:
                pol_vote = isinstance(m, ref.Vote) and m.vote_type == PREVOTE and m.round in pol_rounds
                if m.round >= recent or pol_vote:
                    out.append(Broadcast(m))
            # Relay the proof of lock itself: everyone's prevotes for our valid block in its round.
            if self.valid is not None and self.valid[0] in self.rounds:
                valid_round, block_hash = self.valid
                for v in sorted(
                    self.rounds[valid_round].prevotes.votes.values(), key=lambda v: (v.validator, v.block_hash or b"")
                ):
                    if v.block_hash == block_hash and v.validator != self.me:
                        out.append(Broadcast(v))
            self._schedule_rebroadcast(now, out)
            return
        if t.height != self.height or t.round != self.round:
            return
        if t.kind == TimeoutKind.BUILD_BLOCK:
            if self.step == Step.PROPOSE and self._set().proposer(self.height, self.round) == self.me:
                self._request_block(t.round, out)
        elif t.kind == TimeoutKind.PROPOSE:
            if self.step == Step.PROPOSE:
                self._vote(PREVOTE, None, out)
                self.step = Step.PREVOTE
        elif t.kind == TimeoutKind.PREVOTE:
            if self.step == Step.PREVOTE:
                self._vote(PRECOMMIT, None, out)
                self.step = Step.PRECOMMIT
        elif t.kind == TimeoutKind.PRECOMMIT:
            self._start_round(now, t.round + 1, out)

    def _on_decided_block(
        self, now: int, block: ref.Block, certificate: ref.CommitCertificate, out: list[Action]
    ) -> None:
        height = block.header.block_index
        if height < self.height:
            return
        if height > self.height:
            if len(self.pending_decided) < self.config.max_pending_decided:
                self.pending_decided[height] = (block, certificate)
            self._maybe_request_sync(now, out)
            return
        block_hash = self.crypto.block_hash(block)
        if (
            self._set().verify_certificate(self.crypto, self.config.chain_id, height, block_hash, certificate)
            is not None
        ):
            out.append(Dropped("bad_certificate"))
            return
        self._commit(now, block, block_hash, certificate, out)

    def _commit(
        self, now: int, block: ref.Block, block_hash: bytes, certificate: ref.CommitCertificate, out: list[Action]
    ) -> None:
        out.append(Commit(block, block_hash, certificate))
        self.height += 1
        self.round = 0
        self.step = Step.PROPOSE
        self.locked = None
        self.valid = None
        self.rounds.clear()
        self.blocks.clear()
        self.validity.clear()
        self.validation_requested.clear()
        self.building = None
        self.ahead_senders.clear()
        self.own_messages.clear()
        self.last_commit_ms = header_timestamp_ms(block.header)
        self.pending_decided = {h: v for h, v in self.pending_decided.items() if h >= self.height}
        if self.height in self.pending_decided:
            # Catching up: the next finalized block is already here.
            next_block, next_certificate = self.pending_decided.pop(self.height)
            self._on_decided_block(now, next_block, next_certificate, out)
            return
        self._start_round(now, 0, out)
        future, self.future = self.future, []
        for message in future:
            if isinstance(message, ref.Proposal):
                self._on_proposal(now, message, out)
            else:
                self._on_vote(now, message, out)

    # -- the algorithm's "upon" rules ------------------------------------------------------

    def _evaluate(self, now: int, out: list[Action]) -> None:
        for _ in range(65):  # every rule changes state monotonically; this is only a safety net
            if not self._fire_one_rule(now, out):
                break

    def _fire_one_rule(self, now: int, out: list[Action]) -> bool:
        quorum = self._set().quorum()
        height = self.height

        # Decide: a proposal's block with a precommit quorum in any round.
        decided = next(
            ((r, h) for r, rs in sorted(self.rounds.items()) if (h := rs.precommits.block_with(quorum)) is not None),
            None,
        )
        if decided is not None:
            round_, block_hash = decided
            block, valid = self.blocks.get(block_hash), self.validity.get(block_hash)
            if block is not None and valid is True:
                signatures = self.rounds[round_].precommits.signatures_for(block_hash)
                certificate = ref.CommitCertificate(height, round_, block_hash, signatures).sorted()
                self._commit(now, block, block_hash, certificate, out)
                return True
            if block is None:
                self._maybe_request_sync(now, out)

        # Skip ahead: f + 1 validators are already in a later round.
        skip = self._set().skip_threshold()
        later = next(
            (r for r in sorted(self.rounds, reverse=True) if r > self.round and len(self.rounds[r].senders) >= skip),
            None,
        )
        if later is not None:
            self._start_round(now, later, out)
            return True

        round_, locked, step = self.round, self.locked, self.step

        # Prevote on this round's proposal.
        if step == Step.PROPOSE:
            rs = self.rounds.get(round_)
            if rs is not None and rs.proposal is not None and rs.proposal_hash is not None:
                p, block_hash = rs.proposal, rs.proposal_hash
                validity = self.validity.get(block_hash)
                decision: bool | None = None
                if p.pol_round is None:
                    if validity is not None:
                        decision = validity and (locked is None or locked[1] == block_hash)
                else:
                    vr = p.pol_round
                    pol = vr in self.rounds and self.rounds[vr].prevotes.count(block_hash) >= quorum
                    if pol and validity is not None:
                        decision = validity and (locked is None or locked[0] <= vr or locked[1] == block_hash)
                if decision is not None:
                    self._vote(PREVOTE, block_hash if decision else None, out)
                    self.step = Step.PREVOTE
                    return True

        rs = self.rounds.get(round_)
        if rs is None:
            return False
        prevote_total = rs.prevotes.total()
        prevote_nil = rs.prevotes.count(None)
        precommit_total = rs.precommits.total()
        polka = None
        if rs.proposal_hash is not None:
            h = rs.proposal_hash
            if rs.prevotes.count(h) >= quorum and self.validity.get(h) is True:
                polka = h

        # A prevote quorum for the proposal: lock and precommit (first time only).
        if step >= Step.PREVOTE and not rs.prevote_quorum_seen and polka is not None:
            rs.prevote_quorum_seen = True
            if step == Step.PREVOTE:
                self.locked = (round_, polka)
                if self.is_validator() and polka in self.blocks:
                    # The proof of lock in the Rust order (by validator key).
                    prevotes = sorted(
                        (v for v in rs.prevotes.votes.values() if v.block_hash == polka), key=lambda v: v.validator
                    )
                    out.append(PersistLock(LockState(height, round_, self.blocks[polka], prevotes)))
                self._vote(PRECOMMIT, polka, out)
                self.step = Step.PRECOMMIT
            self.valid = (round_, polka)
            return True

        if step == Step.PREVOTE and prevote_nil >= quorum:
            self._vote(PRECOMMIT, None, out)
            self.step = Step.PRECOMMIT
            return True

        if step == Step.PREVOTE and prevote_total >= quorum and not rs.prevote_timeout_set:
            rs.prevote_timeout_set = True
            self._schedule_timeout(
                now + self.config.timeout(self.config.timeout_vote_ms, round_), round_, TimeoutKind.PREVOTE, out
            )
            return True

        if precommit_total >= quorum and not rs.precommit_timeout_set:
            rs.precommit_timeout_set = True
            self._schedule_timeout(
                now + self.config.timeout(self.config.timeout_vote_ms, round_), round_, TimeoutKind.PRECOMMIT, out
            )
            return True
        return False
