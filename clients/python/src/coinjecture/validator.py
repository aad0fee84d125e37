"""A Network B validator in Python: the ``consensus`` service of a split node.

    python -m coinjecture.validator --config validator.yaml [--listen 127.0.0.1:50061]

A node of the split deployment runs ``coinjectured service <crypto-core|ledger|p2p-gateway|api>``
as separate processes that talk gRPC; this program takes the place of ``coinjectured service
consensus``. It reads the node's YAML config (the same file; the keys it uses are listed in
:class:`ValidatorConfig`), and

- follows gossip through the node's **p2p-gateway** (``Subscribe`` to proposals, votes,
  finalized blocks and transactions as their validating subscriber, reporting ACCEPT / REJECT /
  IGNORE for each after checking it (:mod:`coinjecture.gossip`), so the gateway relays only what
  checks out; ``Publish`` its own; ``RequestBlocks`` to catch up),
- runs :class:`coinjecture.consensus.Engine`, the Python port of the Rust Tendermint engine,
  signing its proposals and votes in Python (ed25519) with the validator key and persisting the
  double-sign state (``<database.path>.sign_state``, the Rust file format) before anything leaves,
  and the lock (``<database.path>.lock_state``, the Rust file format: the block it precommitted
  with its proof of lock) before the precommit leaves; both are taken back at a restart and
  checked as the Rust node checks them (format 2 with a checksum, format 1 rewritten; a damaged
  file, a state far ahead of the ledger, or a missing one on a database whose recent
  certificates carry this validator's signature stop the start unless
  ``--unsafe-reset-signing-state``; stale ``.tmp`` files are removed),
- builds proposals with the **ledger** (``ExecuteBlock`` draft for the Merkle root and state
  commitment), checks received proposals with ``ExecuteBlock``, and applies decided blocks with
  their commit certificates (``ApplyBlock``),
- keeps a mempool fed by transaction gossip and by ``Consensus.SubmitTransactions`` (checked by
  ``Ledger.CheckTransactions``), and proposes non-empty blocks from it,
- serves the ``Consensus`` gRPC service on ``--listen`` (status, submit, validator sets, evidence,
  mempool stats), so ``coinjectured service api`` runs on top of it unchanged,
- hashes block headers and checks signatures with crypto-core when ``crypto_core.endpoint`` is
  configured (``--hashing crypto-core``, the default then), else with the pure-Python reference.

Validator-set changes come from ``consensus.validator_changes`` as on the Rust nodes: after the
height where this validator's key leaves the set it keeps following the chain as an observer.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import grpc
import yaml

from . import client as conv
from . import consensus as c
from . import gossip
from . import reference as ref
from .v1 import consensus_pb2, consensus_pb2_grpc, ledger_pb2, ledger_pb2_grpc, p2p_pb2, p2p_pb2_grpc, types_pb2

log = logging.getLogger("coinjecture.validator")

#: This validator's own cap on a block's transactions (the chain's limits are the genesis's).
MAX_BLOCK_TRANSACTIONS = 10_000
#: The chain's block limits when the genesis leaves them out (Rust: ``BlockLimits::default``).
DEFAULT_MAX_BLOCK_GAS = 1_000_000_000
DEFAULT_MAX_BLOCK_BYTES = 8 * 1024 * 1024
#: Bytes of a block besides its transactions, kept free under ``max_block_bytes`` (Rust:
#: ``driver::BLOCK_ENVELOPE_BYTES``).
BLOCK_ENVELOPE_BYTES = 1024
MAX_BATCH_ITEMS = 100_000
LEDGER_TIMEOUT_S = 30.0


def genesis_block_limits(path: Path) -> tuple[int, int]:
    """``(max_block_gas, max_block_bytes)`` of the genesis file at ``path`` (defaults for keys it
    leaves out), with the Rust genesis's bounds; errors start with ``network.genesis``."""
    try:
        genesis = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"network.genesis: {path}: {e}") from None
    if not isinstance(genesis, dict):
        raise ConfigError(f"network.genesis: {path}: not a YAML mapping")
    gas = genesis.get("max_block_gas", DEFAULT_MAX_BLOCK_GAS)
    size = genesis.get("max_block_bytes", DEFAULT_MAX_BLOCK_BYTES)
    if not isinstance(gas, int) or isinstance(gas, bool) or not 50_000 <= gas < 2**64:
        raise ConfigError(f"network.genesis: max_block_gas {gas!r} is not an integer of at least 50000")
    if not isinstance(size, int) or isinstance(size, bool) or not 64 * 1024 <= size <= 15 * 1024 * 1024:
        raise ConfigError(f"network.genesis: max_block_bytes {size!r} is not in 65536..=15728640")
    return gas, size


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# ----------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------


class ConfigError(ValueError):
    """A bad config value; the message starts with the key."""


#: The largest duration the grammar reads: 100 days (as the Rust parser).
MAX_DURATION_MS = 100 * 24 * 3600 * 1000

_DURATION_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000}


def parse_duration_millis(text: str) -> int:
    """Milliseconds of a duration in the project's one grammar (Rust:
    ``coinjecture_primitives::duration::parse_millis``): ``DIGITS [. DIGITS] UNIT`` with
    ``UNIT`` one of ``ms``, ``s``, ``m``, ``h``, after trimming surrounding whitespace; a whole
    number of milliseconds, at most 100 days. Both run the cases of
    ``crates/primitives/tests/data/durations.json``."""
    s = str(text).strip()
    n = 0
    while n < len(s) and (s[n] in "0123456789."):
        n += 1
    number, unit = s[:n], s[n:]
    whole, dot, fraction = number.partition(".")

    def digits(d: str) -> bool:
        return d != "" and all(ch in "0123456789" for ch in d)

    if not digits(whole) or (dot and not digits(fraction)):
        raise ValueError(f"{s!r} is not a duration like 2s, 500ms, 1.5m or 1h")
    if unit == "":
        raise ValueError(f"{s!r} has no unit (use ms, s, m or h)")
    if unit not in _DURATION_UNITS_MS:
        if unit.isascii() and unit.isalpha():
            raise ValueError(f"{s!r}: unknown unit {unit!r} (use ms, s, m or h)")
        raise ValueError(f"{s!r} is not a duration like 2s, 500ms, 1.5m or 1h")
    unit_ms = _DURATION_UNITS_MS[unit]
    fraction = fraction.rstrip("0")
    scale = 10 ** len(fraction)
    frac = int(fraction) if fraction else 0
    if (frac * unit_ms) % scale:
        raise ValueError(f"{s!r} is not a whole number of milliseconds")
    ms = int(whole) * unit_ms + frac * unit_ms // scale
    if ms > MAX_DURATION_MS:
        raise ValueError(f"{s!r} is longer than 100 days")
    return ms


def parse_duration_ms(text: str) -> int:
    """A block time: the project's duration grammar (:func:`parse_duration_millis`), 1 ms to
    1 h (as the Rust node's ``consensus.block_time``)."""
    ms = parse_duration_millis(text)
    if not 1 <= ms <= 3_600_000:
        raise ValueError(f"{str(text).strip()!r} must be between 1ms and 1h")
    return ms


def read_key(path: Path) -> bytes:
    """The 32-byte seed from a key file: 64 hex characters, or 128 (seed ‖ public key)."""
    text = path.read_text().strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError as e:
        raise ValueError(f"key file {path}: not hex: {e}") from None
    if len(raw) == 32:
        return raw
    if len(raw) == 64:
        if ref.ed25519_public_key(raw[:32]) != raw[32:]:
            raise ValueError(f"key file {path}: the second half is not the public key of the first")
        return raw[:32]
    raise ValueError(f"key file {path}: expected 64 or 128 hex characters, found {len(text)}")


@dataclass
class ValidatorConfig:
    """What the validator reads from the node's YAML config: ``network.id``/``name``;
    ``consensus.block_time``, ``quorum``, ``validator_key``, ``validators``,
    ``validator_changes``; ``database.path`` (for the signing-state file beside it);
    ``services.ledger`` and ``services.p2p_gateway`` (required) and ``services.consensus`` (where
    to serve, unless ``--listen``); ``crypto_core.endpoint``; ``logger.level``/``format``;
    ``network.genesis`` for the chain's block limits (``max_block_gas``, ``max_block_bytes``;
    the defaults when the key or the limits are absent), which its proposals keep to. The
    ``COINJECTURE_<SECTION>_<KEY>`` environment overrides of these keys apply as on the Rust node."""

    chain_id: str
    network_name: str
    block_time_ms: int
    schedule: c.ValidatorSchedule
    seed: bytes
    sign_state_path: Path
    ledger: str
    p2p_gateway: str
    consensus_listen: str | None = None
    crypto_core: str | None = None
    log_level: str = "info"
    log_format: str = "json"
    max_block_gas: int = DEFAULT_MAX_BLOCK_GAS
    max_block_bytes: int = DEFAULT_MAX_BLOCK_BYTES

    @classmethod
    def load(cls, path: Path, environ: dict[str, str] | None = None) -> "ValidatorConfig":
        env = dict(os.environ if environ is None else environ)
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"config {path}: {e}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"config {path}: not a YAML mapping")
        base = path.parent

        def section(name: str) -> dict:
            s = doc.get(name) or {}
            if not isinstance(s, dict):
                raise ConfigError(f"{name}: must be a mapping")
            return s

        def value(sec: str, key: str, required: bool = True):
            override = env.get(f"COINJECTURE_{sec.upper()}_{key.upper()}")
            if override is not None:
                return override
            v = section(sec).get(key)
            if v is None and required:
                raise ConfigError(f"{sec}.{key}: missing")
            return v

        def file_path(sec: str, key: str) -> Path:
            p = Path(str(value(sec, key)))
            return p if p.is_absolute() else base / p

        def keys(items, key: str) -> list[bytes]:
            if isinstance(items, str):  # an environment override: comma-separated
                items = [x.strip() for x in items.split(",") if x.strip()]
            if not isinstance(items, list) or not items:
                raise ConfigError(f"{key}: at least one validator is needed")
            out = []
            for i, v in enumerate(items):
                try:
                    k = bytes.fromhex(str(v))
                except ValueError:
                    k = b""
                if len(k) != 32:
                    raise ConfigError(f"{key}[{i}]: {v!r} is not a 32-byte public key in hex")
                out.append(k)
            return out

        chain_id = str(value("network", "id"))
        try:
            ref.validate_chain_id(chain_id)
        except ValueError as e:
            raise ConfigError(f"network.id: {e}") from None
        try:
            block_time_ms = parse_duration_ms(value("consensus", "block_time"))
        except ValueError as e:
            raise ConfigError(f"consensus.block_time: {e}") from None
        quorum = str(value("consensus", "quorum"))
        if quorum not in c.QUORUM_MODES:
            raise ConfigError(f"consensus.quorum: {quorum!r} is not one of crash, byzantine")
        try:
            entries = [(1, c.ValidatorSet(keys(value("consensus", "validators"), "consensus.validators"), quorum))]
            for i, change in enumerate(section("consensus").get("validator_changes") or []):
                key = f"consensus.validator_changes[{i}]"
                if not isinstance(change, dict) or "height" not in change:
                    raise ConfigError(f"{key}: needs height and validators")
                entries.append(
                    (int(change["height"]), c.ValidatorSet(keys(change.get("validators"), key + ".validators"), quorum))
                )
            schedule = c.ValidatorSchedule(entries)
        except ConfigError:
            raise
        except ValueError as e:
            raise ConfigError(f"consensus.validator_changes: {e}") from None
        key_path = file_path("consensus", "validator_key")
        try:
            seed = read_key(key_path)
        except (OSError, ValueError) as e:
            raise ConfigError(f"consensus.validator_key: {e}") from None
        services = section("services")
        for name in ("ledger", "p2p_gateway"):
            if not services.get(name):
                raise ConfigError(f"services.{name}: needed to run the consensus service on its own")
        crypto = env.get("COINJECTURE_CRYPTO_CORE_ENDPOINT") or section("crypto_core").get("endpoint")
        logger = section("logger")
        max_block_gas, max_block_bytes = DEFAULT_MAX_BLOCK_GAS, DEFAULT_MAX_BLOCK_BYTES
        if value("network", "genesis", required=False):
            max_block_gas, max_block_bytes = genesis_block_limits(file_path("network", "genesis"))
        return cls(
            chain_id=chain_id,
            network_name=str(value("network", "name")),
            block_time_ms=block_time_ms,
            schedule=schedule,
            seed=seed,
            # Beside the database, as the Rust consensus keeps it (same file format).
            sign_state_path=file_path("database", "path").with_suffix(".sign_state"),
            max_block_gas=max_block_gas,
            max_block_bytes=max_block_bytes,
            ledger=str(services["ledger"]),
            p2p_gateway=str(services["p2p_gateway"]),
            consensus_listen=conv.target(str(services["consensus"])) if services.get("consensus") else None,
            crypto_core=str(crypto) if crypto else None,
            log_level=str(env.get("COINJECTURE_LOGGER_LEVEL") or logger.get("level") or "info"),
            log_format=str(env.get("COINJECTURE_LOGGER_FORMAT") or logger.get("format") or "json"),
        )


# ----------------------------------------------------------------------------------------------
# Crypto through crypto-core
# ----------------------------------------------------------------------------------------------


class ServiceFailed(RuntimeError):
    """A service the validator depends on (ledger, p2p-gateway, crypto-core) failed, or the
    signing state is unreadable: the validator stops rather than sign blindly."""


class CryptoCoreCrypto:
    """Header hashes and signature checks by a crypto-core service (Network B's shared core).
    Calls are synchronous (the engine is sans-I/O); a failed call stops the validator."""

    def __init__(self, address: str):
        self.address = address
        self.client = conv.CryptoCoreClient(address, timeout=10.0)

    def _call(self, name: str, f, *args):
        try:
            return f(*args)
        except grpc.RpcError as e:
            raise ServiceFailed(
                f"crypto_core.endpoint {self.address}: {name}: {e.code().name}: {e.details()}"
            ) from None

    def block_hash(self, block: ref.Block) -> bytes:
        return self._call("HashHeader", self.client.hash_header, block.header)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        return self._call("Ed25519Verify", self.client.ed25519_verify, public_key, message, signature)

    def verify_batch(self, items: list[tuple[bytes, bytes, bytes]]) -> list[bool]:
        return self._call("Ed25519VerifyBatch", self.client.ed25519_verify_batch, items)[1] if items else []


# ----------------------------------------------------------------------------------------------
# Mempool
# ----------------------------------------------------------------------------------------------


@dataclass
class _Pending:
    tx: ref.Transaction
    tx_hash: bytes
    size: int
    arrival: int


@dataclass
class Mempool:
    """Transactions waiting for a block. Deduplicated by hash, one per (sender, nonce); selection
    takes each sender's transactions in nonce order from its account nonce without gaps, across
    senders the highest gas price first, then arrival order (the Rust mempool's rules)."""

    max_transactions: int = 200_000
    max_per_account: int = 10_000
    by_hash: dict[bytes, _Pending] = field(default_factory=dict)
    by_sender: dict[bytes, dict[int, bytes]] = field(default_factory=dict)
    arrivals: int = 0

    def __len__(self) -> int:
        return len(self.by_hash)

    def size_bytes(self) -> int:
        return sum(p.size for p in self.by_hash.values())

    def has_nonce(self, sender: bytes, nonce: int) -> bool:
        return nonce in self.by_sender.get(sender, {})

    def add(self, tx: ref.Transaction, tx_hash: bytes) -> tuple[int, str] | None:
        """None when admitted, else (TxRejectReason, message)."""
        if tx_hash in self.by_hash:
            return types_pb2.TX_REJECT_REASON_DUPLICATE, "already pending"
        nonces = self.by_sender.get(tx.from_, {})
        if tx.nonce in nonces:
            return types_pb2.TX_REJECT_REASON_DUPLICATE, f"sender already has nonce {tx.nonce} pending"
        if len(self.by_hash) >= self.max_transactions:
            return types_pb2.TX_REJECT_REASON_MEMPOOL_FULL, f"the mempool is full ({len(self.by_hash)} transactions)"
        if len(nonces) >= self.max_per_account:
            return types_pb2.TX_REJECT_REASON_MEMPOOL_FULL, f"sender already has {len(nonces)} pending transactions"
        self.arrivals += 1
        self.by_hash[tx_hash] = _Pending(tx, tx_hash, len(tx.encode()), self.arrivals)
        self.by_sender.setdefault(tx.from_, {})[tx.nonce] = tx_hash
        return None

    def remove(self, hashes: list[bytes]) -> None:
        for h in hashes:
            p = self.by_hash.pop(h, None)
            if p is None:
                continue
            nonces = self.by_sender.get(p.tx.from_, {})
            nonces.pop(p.tx.nonce, None)
            if not nonces:
                self.by_sender.pop(p.tx.from_, None)

    def prune(self, account_nonce: dict[bytes, int]) -> None:
        """Drops transactions whose nonce is below their sender's known account nonce."""
        stale = [
            h
            for s, nonces in self.by_sender.items()
            if s in account_nonce
            for n, h in nonces.items()
            if n < account_nonce[s]
        ]
        self.remove(stale)

    def select(
        self, max_txs: int, max_bytes: int, account_nonce: dict[bytes, int], max_gas: int = 2**64 - 1
    ) -> list[ref.Transaction]:
        heads: list[tuple[int, int, bytes, int]] = []  # (-gas_price, arrival, sender, nonce)
        for sender, nonces in self.by_sender.items():
            n = account_nonce.get(sender, 0)
            if n in nonces:
                p = self.by_hash[nonces[n]]
                heads.append((-p.tx.gas_price, p.arrival, sender, n))
        heapq.heapify(heads)
        out: list[ref.Transaction] = []
        used = 0
        gas = 0
        while heads and len(out) < max_txs:
            _, _, sender, n = heapq.heappop(heads)
            p = self.by_hash[self.by_sender[sender][n]]
            if used + p.size > max_bytes or gas + p.tx.gas_limit > max_gas:
                continue  # this sender's later nonces cannot follow a skipped one
            out.append(p.tx)
            used += p.size
            gas += p.tx.gas_limit
            following = self.by_sender[sender].get(n + 1)
            if following is not None:
                q = self.by_hash[following]
                heapq.heappush(heads, (-q.tx.gas_price, q.arrival, sender, n + 1))
        return out


# ----------------------------------------------------------------------------------------------
# The driver
# ----------------------------------------------------------------------------------------------


@dataclass
class Tip:
    height: int
    block_hash: bytes
    timestamp_ms: int


_TOPIC_OF_KIND = {
    "proposal": p2p_pb2.TOPIC_PROPOSALS,
    "vote": p2p_pb2.TOPIC_VOTES,
    "finalized_block": p2p_pb2.TOPIC_BLOCKS,
    "transactions": p2p_pb2.TOPIC_TRANSACTIONS,
}

_ROUND_STEPS = {
    c.Step.PROPOSE: consensus_pb2.ROUND_STEP_PROPOSE,
    c.Step.PREVOTE: consensus_pb2.ROUND_STEP_PREVOTE,
    c.Step.PRECOMMIT: consensus_pb2.ROUND_STEP_PRECOMMIT,
}
_QUORUM_MODES = {"crash": types_pb2.QUORUM_MODE_CRASH, "byzantine": types_pb2.QUORUM_MODE_BYZANTINE}


def _describe(x: object) -> str:
    """A short form of an engine input or action for debug logs."""
    parts = []
    for k, v in vars(x).items():
        if isinstance(v, bytes):
            v = v.hex()[:12]
        elif isinstance(v, ref.Vote):
            v = f"Vote(h={v.height} r={v.round} {v.vote_type} from={v.validator.hex()[:8]})"
        elif isinstance(v, ref.Proposal):
            v = f"Proposal(h={v.height} r={v.round} from={v.proposer.hex()[:8]})"
        elif isinstance(v, ref.Block):
            v = f"Block(h={v.header.block_index} txs={len(v.transactions)})"
        parts.append(f"{k}={v}")
    return f"{type(x).__name__}({', '.join(parts)})"


def _channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        conv.target(address),
        options=[
            ("grpc.max_receive_message_length", conv.MAX_MESSAGE_BYTES + 64 * 1024),
            ("grpc.max_send_message_length", conv.MAX_MESSAGE_BYTES + 64 * 1024),
            # The node's own services, usually starting beside us: retry connecting quickly
            # (gRPC's default backoff grows to minutes).
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 1000),
        ],
    )


def write_durably(path: Path, data: bytes) -> None:
    """Temp file ``<path>.tmp``, fsync, rename over `path`, fsync the directory: after a crash the
    file holds either the old or the new bytes (as the Rust driver's ``write_durably``)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# As services/consensus/src/signing_checks.rs.
MAX_HEIGHTS_AHEAD = 1_000
CERTIFICATE_LOOKBACK = 32
RESET_FLAG = "--unsafe-reset-signing-state"
# A signing state that refuses every position: the engine follows the chain and signs nothing.
PAUSED_SIGN_STATE = c.SignState(2**64 - 1, 2**32 - 1, c.SignStep.PRECOMMIT, bytes(32), bytes(64))


def remove_stale_temp_files(paths: list[Path]) -> None:
    """Removes ``<path>.tmp`` (a write cut short by a crash or a full disk) for each path."""
    for path in paths:
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.unlink()
            log.warning("removed a stale temporary file (a write was cut short)", extra={"fields": {"file": str(tmp)}})
        except FileNotFoundError:
            pass


def _refused(what: str, path: Path, problem: str, action: str) -> ServiceFailed:
    return ServiceFailed(f"the {what} {path} {problem}: {action}")


def _damaged(what: str, path: Path, reason: str, after_tip: int) -> ServiceFailed:
    return _refused(
        what,
        path,
        f"is damaged ({reason})",
        "the node will not guess what this validator signed; restore the file from a backup, or start once with "
        f"{RESET_FLAG} (it moves the file aside and signs nothing until height {after_tip} is final; dangerous "
        'unless this database is the validator\'s own, current one: see the README, "Safety files")',
    )


def _read_safety_file(path: Path, decode):
    """None (missing), (value, legacy), or the SafetyFileError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ServiceFailed(f"the file {path} cannot be read ({e.strerror or e}): check the disk and its permissions") from None
    try:
        return decode(data)
    except c.SafetyFileError as e:
        return e


def _move_aside(path: Path) -> Path:
    aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
    os.replace(path, aside)
    return aside


def check_safety_files(
    sign_path: Path, tip_height: int, signed_at: int | None, reset: bool
) -> tuple[c.SignState | None, c.LockState | None, int | None]:
    """The signing state and lock to start with, and the height the chain must reach before this
    validator signs (None: sign at once), as the Rust driver's start-up checks. `signed_at` is the
    height of a recent certificate carrying this validator's signature, if any."""
    lock_path = lock_state_path(sign_path)
    after_tip = tip_height + 1
    hold: int | None = None
    state = None
    read = _read_safety_file(sign_path, c.SignState.from_file_bytes)
    if read is None:
        if signed_at is not None:
            if not reset:
                raise _refused(
                    "signing state",
                    sign_path,
                    f"is missing, but the commit certificate at height {signed_at} in the database carries this "
                    "validator's signature (the file was deleted, or the database is another validator's)",
                    f"restore the file from a backup, or start once with {RESET_FLAG} (this validator then signs "
                    f"nothing until height {after_tip} is final; dangerous if this database is not its own, current "
                    'one: see the README, "Safety files")',
                )
            hold = after_tip
    elif isinstance(read, c.SafetyFileError):
        if not reset:
            raise _damaged("signing state", sign_path, str(read), after_tip)
        aside = _move_aside(sign_path)
        log.warning("the damaged signing state was moved aside", extra={"fields": {"moved_to": str(aside)}})
        hold = after_tip
    else:
        state, legacy = read
        if state.height > after_tip + MAX_HEIGHTS_AHEAD and not reset:
            raise _refused(
                "signing state",
                sign_path,
                f"says this validator signed at height {state.height}, but the ledger's tip is {tip_height} (more than "
                f"{MAX_HEIGHTS_AHEAD} heights ahead: the database is older than this validator's signatures, or the "
                "file is another chain's)",
                f"start with this validator's current database, or once with {RESET_FLAG} (the node then keeps the "
                f'file and signs nothing before the chain reaches height {state.height}; see the README, "Safety files")',
            )
        if state.height > after_tip:
            hold = max(hold or 0, state.height - 1)
        if legacy:
            write_durably(sign_path, state.to_file_bytes())
    lock = None
    read = _read_safety_file(lock_path, c.LockState.from_file_bytes)
    if isinstance(read, c.SafetyFileError):
        if not reset:
            raise _damaged("lock", lock_path, str(read), after_tip)
        _move_aside(lock_path)
        hold = max(hold or 0, after_tip)
    elif read is not None:
        lock, legacy = read
        if lock.height > after_tip + MAX_HEIGHTS_AHEAD and not reset:
            raise _refused(
                "lock",
                lock_path,
                f"is at height {lock.height}, but the ledger's tip is {tip_height} (more than {MAX_HEIGHTS_AHEAD} "
                "heights ahead: the database is older than this validator's lock, or the file is another chain's)",
                f"start with this validator's current database, or once with {RESET_FLAG} (the node then signs "
                f"nothing before the chain reaches height {lock.height})",
            )
        if lock.height > after_tip:
            hold = max(hold or 0, lock.height - 1)
        if legacy:
            write_durably(lock_path, lock.to_file_bytes())
    if hold is not None and hold <= tip_height:
        hold = None
    return state, lock, hold


def lock_state_path(sign_state_path: Path) -> Path:
    """Where the lock is kept for a signing state at `sign_state_path`: the same name with the
    extension ``lock_state`` (e.g. ``data/validator-1.lock_state``), as the Rust driver."""
    return sign_state_path.with_suffix(".lock_state")


def load_lock_state(path: Path) -> c.LockState | None:
    """The persisted lock (None when there is none); an unreadable or undecodable file stops the
    start, naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ServiceFailed(_lock_read_error(path, e.strerror or str(e))) from None
    try:
        return c.LockState.from_file_bytes(data)[0]
    except ValueError as e:
        raise ServiceFailed(_lock_read_error(path, str(e))) from None


def _lock_read_error(path: Path, reason: str) -> str:
    return (
        f"reading the lock {path}: {reason} (it holds the block this validator precommitted; "
        "move it away only if the height it names is final everywhere)"
    )


def store_lock_state(path: Path, lock: c.LockState) -> None:
    """Writes the lock durably (as the signing state), before the precommit after it leaves."""
    try:
        write_durably(path, lock.to_file_bytes())
    except OSError as e:
        raise ServiceFailed(f"writing the lock {path}: {e}") from None


class Validator:
    """Runs the engine against the node's ledger and p2p-gateway; serves ``Consensus``."""

    def __init__(
        self, config: ValidatorConfig, crypto: c.Crypto, listen: str | None = None, reset_signing_state: bool = False
    ):
        self.config = config
        self.reset_signing_state = reset_signing_state
        # While set, nothing is signed until the finalized tip reaches this height.
        self.hold_until: int | None = None
        self.durable_sign_state: c.SignState | None = None
        self.durable_lock: c.LockState | None = None
        self.crypto = crypto
        self.listen = listen or config.consensus_listen
        self.me = ref.ed25519_public_key(config.seed)
        self.ledger_channel = _channel(config.ledger)
        self.gateway_channel = _channel(config.p2p_gateway)
        self.ledger = ledger_pb2_grpc.LedgerStub(self.ledger_channel)
        self.gateway = p2p_pb2_grpc.P2pGatewayStub(self.gateway_channel)
        self.events: asyncio.Queue = asyncio.Queue(maxsize=16_384)
        self.mempool = Mempool()
        self.nonces: dict[bytes, int] = {}
        self.timers: list[tuple[int, c.Timeout]] = []
        self.timer_set: set[tuple[int, c.Timeout]] = set()
        self.evidence: deque[tuple[c.Evidence, int]] = deque(maxlen=10_000)
        self.dropped: dict[str, int] = {}
        self.blocks_produced = 0
        self.syncing = False
        self.engine: c.Engine | None = None
        self.tip: Tip | None = None

    # -- ledger calls ----------------------------------------------------------------------

    async def _ledger_call(self, name: str, request):
        try:
            return await getattr(self.ledger, name)(request, timeout=LEDGER_TIMEOUT_S)
        except grpc.aio.AioRpcError as e:
            raise ServiceFailed(f"Ledger.{name}: {e.code().name}: {e.details()}") from None

    async def ledger_tip(self) -> Tip:
        info = await self._ledger_call("GetChainInfo", ledger_pb2.GetChainInfoRequest())
        r = await self._ledger_call("GetBlockByHeight", ledger_pb2.GetBlockByHeightRequest(height=info.tip_height))
        header = conv.header_from_proto(r.block.header)
        return Tip(info.tip_height, bytes(info.tip_hash), c.header_timestamp_ms(header))

    async def nonce_of(self, sender: bytes) -> int:
        if sender not in self.nonces:
            r = await self._ledger_call("GetAccount", ledger_pb2.LedgerGetAccountRequest(address=sender))
            self.nonces[sender] = r.account.nonce
        return self.nonces[sender]

    async def execute(self, block: ref.Block, draft: bool) -> ledger_pb2.ExecuteBlockResponse:
        return await self._ledger_call(
            "ExecuteBlock", ledger_pb2.ExecuteBlockRequest(block=conv.block_to_proto(block), draft=draft)
        )

    # -- network ---------------------------------------------------------------------------

    async def publish(self, message: consensus_pb2.ConsensusMessage) -> None:
        topic = _TOPIC_OF_KIND[message.WhichOneof("kind")]
        try:
            await self.gateway.Publish(
                p2p_pb2.PublishRequest(topic=topic, payload=message.SerializeToString()), timeout=10
            )
        except grpc.aio.AioRpcError as e:
            log.warning(
                "publishing a consensus message failed", extra={"fields": {"error": f"{e.code().name}: {e.details()}"}}
            )

    async def subscribe_forever(self, subscribed: asyncio.Event) -> None:
        """Keeps a subscription open; resubscribes after the gateway restarts. Sets `subscribed`
        once the gateway has taken the first subscription (messages before it are not seen)."""
        topics = [p2p_pb2.TOPIC_TRANSACTIONS, p2p_pb2.TOPIC_PROPOSALS, p2p_pb2.TOPIC_VOTES, p2p_pb2.TOPIC_BLOCKS]
        while True:
            try:
                # Validating: the gateway relays a message only after our verdict (gossip.py).
                call = self.gateway.Subscribe(
                    p2p_pb2.SubscribeRequest(topics=topics, validate=True), wait_for_ready=True
                )
                await call.wait_for_connection()
                log.info("subscribed to the p2p-gateway", extra={"fields": {"p2p_gateway": self.config.p2p_gateway}})
                subscribed.set()
                async for m in call:
                    try:
                        message = consensus_pb2.ConsensusMessage.FromString(m.payload)
                    except Exception:  # noqa: BLE001 (protobuf's DecodeError and friends)
                        self.count_drop("malformed")
                        await self.report(m.message_id, gossip.REJECT)
                        continue
                    at = (self.engine.height, self.engine.round) if self.engine is not None else None
                    verdict = gossip.check(message, self.config.chain_id, self.config.schedule, self.crypto, at)
                    if verdict.result == gossip.REJECT:
                        log.debug("gossip rejected: %s from %s", verdict.reason, m.source_peer_id)
                        self.count_drop(f"gossip_{verdict.reason}")
                    await self.report(m.message_id, verdict.result)
                    if verdict.deliver:
                        await self.events.put(("message", message))
            except grpc.aio.AioRpcError as e:
                log.debug("subscription to the p2p-gateway ended: %s", e.code().name)
            await asyncio.sleep(0.5)

    async def report(self, message_id: bytes, result: str) -> None:
        """Reports one gossip verdict to the gateway (ACCEPT relays, REJECT penalises the sender)."""
        code = {
            gossip.ACCEPT: p2p_pb2.VALIDATION_RESULT_ACCEPT,
            gossip.REJECT: p2p_pb2.VALIDATION_RESULT_REJECT,
            gossip.IGNORE: p2p_pb2.VALIDATION_RESULT_IGNORE,
        }[result]
        request = p2p_pb2.ReportValidationRequest(reports=[p2p_pb2.ValidationReport(message_id=message_id, result=code)])
        try:
            await self.gateway.ReportValidation(request, timeout=10)
        except grpc.aio.AioRpcError as e:
            log.debug("reporting a gossip verdict failed: %s", e.code().name)

    async def request_blocks(self, from_height: int, count: int = 100) -> list[tuple[ref.Block, ref.CommitCertificate]]:
        out = []
        try:
            call = self.gateway.RequestBlocks(
                p2p_pb2.RequestBlocksRequest(from_height=from_height, count=count), timeout=10
            )
            async for item in call:
                try:
                    out.append(conv.finalized_block_from_proto(item.block))
                except ValueError as e:
                    log.warning("p2p-gateway served a malformed block", extra={"fields": {"error": str(e)}})
                    break
        except grpc.aio.AioRpcError as e:
            log.debug("sync request from %d failed: %s", from_height, e.code().name)
        return out

    # -- the loop --------------------------------------------------------------------------

    def count_drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    async def wait_for_ledger(self, attempts: int = 120) -> Tip:
        for attempt in range(attempts):
            try:
                return await self.ledger_tip()
            except ServiceFailed as e:
                if attempt + 1 == attempts:
                    raise ServiceFailed(f"services.ledger: not reachable: {e}") from None
                await asyncio.sleep(0.5)
        raise AssertionError("unreachable")

    async def run(self, stop: asyncio.Event) -> None:
        """Runs until `stop` is set (after the input in progress is carried out)."""
        # Subscribe first: gossip is not repeated, so what arrives before the subscription is lost.
        subscribed = asyncio.Event()
        subscriber = asyncio.create_task(self.subscribe_forever(subscribed))
        server: grpc.aio.Server | None = None
        get: asyncio.Future | None = None
        try:
            try:
                await asyncio.wait_for(subscribed.wait(), timeout=60)
            except TimeoutError:
                raise ServiceFailed(f"services.p2p_gateway: {self.config.p2p_gateway} not reachable") from None
            self.tip = await self.wait_for_ledger()
            sign_path = self.config.sign_state_path
            remove_stale_temp_files([sign_path, lock_state_path(sign_path)])
            signed_at = None if sign_path.exists() else await self.signed_recently()
            sign_state, lock, self.hold_until = check_safety_files(
                sign_path, self.tip.height, signed_at, self.reset_signing_state
            )
            self.durable_sign_state, self.durable_lock = sign_state, lock
            if self.hold_until is not None:
                log.warning("signing paused", extra={"fields": {"until_final": self.hold_until}})
            self.new_engine()
            if self.listen:
                server = await self.serve()
            assert self.engine is not None
            fields = {
                "network": self.config.network_name,
                "validator": self.me.hex(),
                "height": self.engine.height,
                "consensus": self.listen or "",
                "hashing": type(self.crypto).__name__,
            }
            log.info("python validator started", extra={"fields": fields})
            await self.input(c.Start())
            while not stop.is_set():
                if get is None:
                    get = asyncio.ensure_future(self.events.get())
                stopper = asyncio.ensure_future(stop.wait())
                delay = max(0, self.timers[0][0] - now_ms()) / 1000 if self.timers else None
                done, _ = await asyncio.wait({get, stopper}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if get in done:
                    event, get = get.result(), None
                    await self.on_event(event)
                await self.fire_due_timers()
                if self.hold_until is not None and self.tip.height >= self.hold_until:
                    self.hold_until = None
                    log.info("signing resumed", extra={"fields": {"height": self.tip.height + 1}})
                    self.new_engine()
                    await self.input(c.Start())
            log.info("python validator stopped", extra={"fields": {"height": self.tip.height}})
        finally:
            if get is not None:
                get.cancel()
            subscriber.cancel()
            if server is not None:
                await server.stop(1)
            await self.ledger_channel.close()
            await self.gateway_channel.close()

    def new_engine(self) -> None:
        """An engine at the tip + 1 from what is on disk; while signing is held, one that refuses
        every position (it follows the chain and signs nothing)."""
        assert self.tip is not None
        held = self.hold_until is not None
        self.timers.clear()
        self.timer_set.clear()
        self.engine = c.Engine(
            c.EngineConfig.with_block_time(self.config.chain_id, self.config.block_time_ms),
            self.config.schedule,
            self.config.seed,
            self.tip.height + 1,
            self.tip.timestamp_ms,
            PAUSED_SIGN_STATE if held else self.durable_sign_state,
            self.crypto,
        )
        lock = self.durable_lock
        if not held and lock is not None and self.engine.restore_lock(lock) and self.engine.locked is not None:
            fields = {"height": lock.height, "round": lock.round, "block": self.engine.locked[1].hex()}
            log.info("resuming locked on a block", extra={"fields": fields})

    async def signed_recently(self) -> int | None:
        """The height of the latest of the last CERTIFICATE_LOOKBACK certificates in the
        database that carries this validator's signature."""
        assert self.tip is not None
        for height in range(self.tip.height, max(1, self.tip.height - CERTIFICATE_LOOKBACK + 1) - 1, -1):
            r = await self._ledger_call("GetBlockByHeight", ledger_pb2.GetBlockByHeightRequest(height=height))
            if any(bytes(s.validator) == self.me for s in r.block.commit_certificate.signatures):
                return height
        return None

    async def fire_due_timers(self) -> None:
        now = now_ms()
        while self.timers and self.timers[0][0] <= now:
            item = heapq.heappop(self.timers)
            self.timer_set.discard(item)
            await self.input(c.TimeoutFired(item[1]))

    async def on_event(self, event: tuple) -> None:
        kind = event[0]
        if kind == "message":
            await self.on_message(event[1])
        elif kind == "submit":
            _, txs, future = event
            try:
                results = await self.submit(txs, gossip=True)
            except BaseException as e:
                if not future.done():
                    future.set_exception(e)
                raise
            if not future.done():
                future.set_result(results)

    async def on_message(self, message: consensus_pb2.ConsensusMessage) -> None:
        kind = message.WhichOneof("kind")
        try:
            if kind == "proposal":
                inp: c.Input | None = c.ProposalReceived(conv.proposal_from_proto(message.proposal))
            elif kind == "vote":
                inp = c.VoteReceived(conv.vote_from_proto(message.vote))
            elif kind == "finalized_block":
                block, certificate = conv.finalized_block_from_proto(message.finalized_block)
                inp = c.DecidedBlock(block, certificate)
            elif kind == "transactions":
                txs = [conv.transaction_from_proto(t) for t in message.transactions.transactions]
                inp = None
            else:
                self.count_drop("malformed")
                return
        except ValueError as e:
            log.debug("malformed %s dropped: %s", kind, e)
            self.count_drop("malformed")
            return
        if inp is None:
            await self.submit(txs, gossip=False)
        else:
            await self.input(inp)

    async def input(self, first: c.Input) -> None:
        """Feeds one input and carries out every resulting action, in order; answers to engine
        requests (built blocks, validity, synced blocks) are fed back the same way."""
        assert self.engine is not None
        queue: deque[c.Input] = deque([first])
        while queue:
            inp = queue.popleft()
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "input %s at h=%d r=%d %s",
                    _describe(inp),
                    self.engine.height,
                    self.engine.round,
                    self.engine.step.name,
                )
            for action in self.engine.handle(now_ms(), inp):
                queue.extend(await self.act(action))

    async def act(self, action: c.Action) -> list[c.Input]:
        if log.isEnabledFor(logging.DEBUG) and not isinstance(
            action, (c.ScheduleTimeout, c.PersistSignState, c.PersistLock)
        ):
            log.debug("action %s", _describe(action))
        if isinstance(action, c.PersistSignState):
            self.store_sign_state(action.state)
        elif isinstance(action, c.PersistLock) and self.hold_until is not None:
            pass  # a held engine locks but never signs the precommit the lock is for
        elif isinstance(action, c.PersistLock):
            started = time.monotonic()
            store_lock_state(lock_state_path(self.config.sign_state_path), action.lock)
            self.durable_lock = action.lock
            log.debug(
                "lock persisted h=%d r=%d in %.1f ms",
                action.lock.height,
                action.lock.round,
                (time.monotonic() - started) * 1000,
            )
        elif isinstance(action, c.Broadcast):
            m = action.message
            if isinstance(m, ref.Proposal):
                await self.publish(consensus_pb2.ConsensusMessage(proposal=conv.proposal_to_proto(m)))
            else:
                await self.publish(consensus_pb2.ConsensusMessage(vote=conv.vote_to_proto(m)))
        elif isinstance(action, c.ScheduleTimeout):
            item = (action.at_ms, action.timeout)
            if item not in self.timer_set:
                self.timer_set.add(item)
                heapq.heappush(self.timers, item)
        elif isinstance(action, c.BuildBlock):
            block = await self.build_block(action.height, action.round, action.min_timestamp_ms)
            return [c.BlockBuilt(action.height, action.round, block)]
        elif isinstance(action, c.ValidateBlock):
            r = await self.execute(action.block, draft=False)
            if not r.valid:
                log.info(
                    "proposed block rejected", extra={"fields": {"block": action.block_hash.hex(), "reason": r.message}}
                )
            return [c.BlockValidity(action.block_hash, r.valid)]
        elif isinstance(action, c.Commit):
            await self.commit(action.block, action.block_hash, action.certificate)
        elif isinstance(action, c.RequestSync):
            self.syncing = True
            return [c.DecidedBlock(b, cert) for b, cert in await self.request_blocks(action.from_height)]
        elif isinstance(action, c.BroadcastDecided):
            try:
                r = await self.ledger.GetBlockByHeight(
                    ledger_pb2.GetBlockByHeightRequest(height=action.height), timeout=10
                )
            except grpc.aio.AioRpcError:
                return []
            if r.block.HasField("commit_certificate"):
                await self.publish(consensus_pb2.ConsensusMessage(finalized_block=r.block))
        elif isinstance(action, c.Evidence):
            v = action.vote_a
            log.warning(
                "equivocation detected",
                extra={"fields": {"validator": v.validator.hex(), "height": v.height, "round": v.round}},
            )
            self.evidence.append((action, now_ms()))
        elif isinstance(action, c.Dropped):
            self.count_drop(action.reason)
        return []

    def store_sign_state(self, state: c.SignState) -> None:
        """Durably (:func:`write_durably`), in format 2."""
        write_durably(self.config.sign_state_path, state.to_file_bytes())
        self.durable_sign_state = state

    # -- blocks ----------------------------------------------------------------------------

    async def build_block(self, height: int, round_: int, min_timestamp_ms: int) -> ref.Block:
        assert self.tip is not None
        for sender in list(self.mempool.by_sender):
            await self.nonce_of(sender)
        txs = self.mempool.select(
            MAX_BLOCK_TRANSACTIONS,
            self.config.max_block_bytes - BLOCK_ENVELOPE_BYTES,
            self.nonces,
            max_gas=self.config.max_block_gas,
        )
        if not txs:
            log.info(
                "No transactions in mempool",
                extra={"fields": {"network": self.config.network_name, "block_number": height}},
            )
        timestamp_ms = max(now_ms(), min_timestamp_ms)
        header = ref.BlockHeader(
            block_index=height, timestamp=timestamp_ms // 1000, parent_hash=self.tip.block_hash, miner_address=self.me
        )

        def extra(state_commitment: bytes) -> bytes:
            return ref.PoaExtra(round_, timestamp_ms % 1000, state_commitment).encode()

        # The draft execution gives the Merkle root and state commitment; transactions the ledger
        # rejects (e.g. a balance spent by an earlier one) leave the block and the mempool.
        for _ in range(3):
            header.extra_data = extra(ref.ZERO32)
            r = await self.execute(ref.Block(header, txs), draft=True)
            rejected = [i for i, t in enumerate(r.results) if not t.accepted]
            if not rejected:
                if len(r.merkle_root) == 32 and len(r.state_commitment) == 32:
                    header.merkle_root = bytes(r.merkle_root)
                    header.extra_data = extra(bytes(r.state_commitment))
                    return ref.Block(header, txs)
                break
            self.mempool.remove([bytes(r.results[i].tx_hash) for i in rejected])
            txs = [t for i, t in enumerate(txs) if i not in set(rejected)]
        # An empty block is always valid: better than missing the slot.
        r = await self.execute(ref.Block(header, []), draft=True)
        header.merkle_root = bytes(r.merkle_root) if len(r.merkle_root) == 32 else ref.ZERO32
        header.extra_data = extra(bytes(r.state_commitment) if len(r.state_commitment) == 32 else ref.ZERO32)
        return ref.Block(header, [])

    async def commit(self, block: ref.Block, block_hash: bytes, certificate: ref.CommitCertificate) -> None:
        height = block.header.block_index
        await self._ledger_call(
            "ApplyBlock", ledger_pb2.ApplyBlockRequest(block=conv.finalized_block_to_proto(block, certificate))
        )
        self.mempool.remove([t.hash() for t in block.transactions])
        for t in block.transactions:
            self.nonces[t.from_] = max(self.nonces.get(t.from_, 0), t.nonce + 1)
        self.mempool.prune(self.nonces)
        self.nonces = {k: v for k, v in self.nonces.items() if k in self.mempool.by_sender}
        self.tip = Tip(height, block_hash, c.header_timestamp_ms(block.header))
        self.syncing = False
        fields = {
            "network": self.config.network_name,
            "block_number": height,
            "tx_count": len(block.transactions),
            "block_hash": block_hash.hex(),
        }
        if block.header.miner_address == self.me:
            self.blocks_produced += 1
            log.info("New block produced", extra={"fields": fields})
        else:
            log.info("Block accepted", extra={"fields": {**fields, "validator": block.header.miner_address.hex()}})

    # -- transactions ----------------------------------------------------------------------

    async def submit(self, txs: list[ref.Transaction], gossip: bool) -> list[types_pb2.TransactionResult]:
        """Admission: the ledger's check in one batch, then the mempool. A nonce ahead of the
        account nonce is admitted when pending transactions of the sender fill the gap."""
        if not txs:
            return []
        checked = await self._ledger_call(
            "CheckTransactions",
            ledger_pb2.CheckTransactionsRequest(transactions=[conv.transaction_to_proto(t) for t in txs]),
        )
        results, admitted = [], []
        for tx, verdict in zip(txs, checked.results):
            tx_hash = tx.hash()
            reason, message = (None, "") if verdict.accepted else (verdict.reason, verdict.message)
            if reason == types_pb2.TX_REJECT_REASON_NONCE_TOO_HIGH:
                base = await self.nonce_of(tx.from_)
                if all(self.mempool.has_nonce(tx.from_, n) for n in range(base, tx.nonce)):
                    reason = None
            if reason is None:
                refused = self.mempool.add(tx, tx_hash)
                if refused is None:
                    admitted.append(tx)
                else:
                    reason, message = refused
            results.append(
                types_pb2.TransactionResult(
                    tx_hash=tx_hash,
                    accepted=reason is None,
                    reason=cast(types_pb2.TxRejectReason, reason or 0),
                    message=message,
                )
            )
        if gossip and admitted:
            batch = consensus_pb2.TransactionBatch(transactions=[conv.transaction_to_proto(t) for t in admitted])
            await self.publish(consensus_pb2.ConsensusMessage(transactions=batch))
        return results

    # -- the Consensus gRPC service --------------------------------------------------------

    async def serve(self) -> grpc.aio.Server:
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", conv.MAX_MESSAGE_BYTES + 64 * 1024),
                ("grpc.max_send_message_length", conv.MAX_MESSAGE_BYTES + 64 * 1024),
            ]
        )
        consensus_pb2_grpc.add_ConsensusServicer_to_server(_ConsensusService(self), server)
        if self.listen is None or server.add_insecure_port(self.listen) == 0:
            raise OSError(f"--listen: cannot listen on {self.listen}")
        await server.start()
        return server


class _ConsensusService(consensus_pb2_grpc.ConsensusServicer):
    """``coinjecture.v1.Consensus`` over the running validator (what ``service api`` calls)."""

    def __init__(self, v: Validator):
        self.v = v

    async def SubmitTransactions(self, request, context):  # noqa: N802 (gRPC's name)
        if len(request.transactions) > MAX_BATCH_ITEMS:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"transactions: {len(request.transactions)} items exceed the maximum {MAX_BATCH_ITEMS}",
            )
        results: list[types_pb2.TransactionResult | None] = []
        good = []
        for i, t in enumerate(request.transactions):
            try:
                tx = conv.transaction_from_proto(t)
                tx.encode()
            except ValueError as e:
                results.append(
                    types_pb2.TransactionResult(
                        accepted=False, reason=types_pb2.TX_REJECT_REASON_MALFORMED, message=f"transactions[{i}]: {e}"
                    )
                )
                continue
            good.append(tx)
            results.append(None)
        future = asyncio.get_running_loop().create_future()
        await self.v.events.put(("submit", good, future))
        verdicts = iter(await future)
        return consensus_pb2.ConsensusSubmitTransactionsResponse(
            results=[r if r is not None else next(verdicts) for r in results]
        )

    async def GetStatus(self, request, context):  # noqa: N802
        v, e = self.v, self.v.engine
        if e is None or v.tip is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the validator is starting")
        s = e.validator_set()
        return consensus_pb2.ConsensusGetStatusResponse(
            chain_id=v.config.chain_id,
            finalized_height=v.tip.height,
            finalized_hash=v.tip.block_hash,
            height=e.height,
            round=e.round,
            step=_ROUND_STEPS[e.step],
            proposer=s.proposer(e.height, e.round),
            local_validator=v.me if s.contains(v.me) else b"",
            syncing=v.syncing,
            mempool_size=len(v.mempool),
            quorum_mode=_QUORUM_MODES[s.mode],
            validator_count=len(s),
        )

    async def GetValidatorSet(self, request, context):  # noqa: N802
        v = self.v
        height = request.height if request.HasField("height") else max(v.engine.height if v.engine else 1, 1)
        if height == 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "height: validator sets start at height 1")
        s = v.config.schedule.at(height)
        return consensus_pb2.GetValidatorSetResponse(
            validator_set=types_pb2.ValidatorSet(
                validators=[types_pb2.ValidatorInfo(public_key=k, index=i) for i, k in enumerate(s.validators)],
                activation_height=v.config.schedule.activation(height),
                quorum_mode=_QUORUM_MODES[s.mode],
            ),
            height=height,
        )

    async def ListEvidence(self, request, context):  # noqa: N802
        if len(request.page_token) not in (0, 8):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"page_token: expected 8 bytes, found {len(request.page_token)}"
            )
        offset = int.from_bytes(request.page_token, "big") if request.page_token else 0
        limit = min(request.limit or 100, 1000)
        everything = list(self.v.evidence)
        page = everything[offset : offset + limit]
        records = [
            consensus_pb2.EvidenceRecord(
                evidence=types_pb2.Evidence(
                    duplicate_vote=types_pb2.DuplicateVote(
                        vote_a=conv.vote_to_proto(e.vote_a), vote_b=conv.vote_to_proto(e.vote_b)
                    )
                ),
                detected_at_ms=at,
            )
            for e, at in page
        ]
        following = offset + len(records)
        token = following.to_bytes(8, "big") if following < len(everything) else b""
        return consensus_pb2.ListEvidenceResponse(records=records, next_page_token=token)

    async def GetMempoolStats(self, request, context):  # noqa: N802
        m = self.v.mempool
        return consensus_pb2.GetMempoolStatsResponse(
            transaction_count=len(m),
            size_bytes=m.size_bytes(),
            sender_count=len(m.by_sender),
            capacity_transactions=m.max_transactions,
        )


# ----------------------------------------------------------------------------------------------
# Logging and the command line
# ----------------------------------------------------------------------------------------------


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "target": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        return json.dumps(line)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "fields", {}).items())
        return f"{self.formatTime(record)} {record.levelname} {record.getMessage()}" + (f" {fields}" if fields else "")


def setup_logging(fmt: str, level: str) -> None:
    logging.addLevelName(logging.WARNING, "WARN")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)  # libraries (grpc, asyncio) at INFO at most
    logging.getLogger("coinjecture").setLevel(
        level.upper() if level.upper() in ("DEBUG", "INFO", "WARN", "WARNING", "ERROR") else "INFO"
    )


async def _main(config: ValidatorConfig, crypto: c.Crypto, listen: str | None, reset: bool = False) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await Validator(config, crypto, listen, reset).run(stop)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m coinjecture.validator", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, type=Path, help="the node's YAML config (with a services: section)")
    p.add_argument("--listen", help="serve the Consensus gRPC service here (default: services.consensus of the config)")
    p.add_argument(
        "--hashing",
        choices=["reference", "crypto-core"],
        help="block hashes and signature checks: the pure-Python reference, or crypto_core.endpoint "
        "(default: crypto-core when the config names one)",
    )
    p.add_argument("--log-format", choices=["json", "text"], help="default: logger.format of the config")
    p.add_argument("--log-level", help="default: logger.level of the config")
    p.add_argument(
        RESET_FLAG,
        dest="reset_signing_state",
        action="store_true",
        help="DANGEROUS: start although the signing state or lock is damaged, missing on a database whose "
        "certificates carry this validator's signature, or far ahead of the chain; nothing is signed until the "
        "chain has passed the last height this validator may have signed (README, \"Safety files\")",
    )
    a = p.parse_args(argv)
    try:
        config = ValidatorConfig.load(a.config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    setup_logging(a.log_format or config.log_format, a.log_level or config.log_level)
    hashing = a.hashing or ("crypto-core" if config.crypto_core else "reference")
    if hashing == "crypto-core":
        if not config.crypto_core:
            print("error: --hashing crypto-core: crypto_core.endpoint is not configured", file=sys.stderr)
            return 2
        crypto: c.Crypto = CryptoCoreCrypto(config.crypto_core)
    else:
        crypto = c.ReferenceCrypto()
    try:
        asyncio.run(_main(config, crypto, a.listen, a.reset_signing_state))
    except ServiceFailed as e:
        log.error("consensus stopped", extra={"fields": {"error": str(e)}})
        return 1
    except OSError as e:
        log.error("consensus stopped", extra={"fields": {"error": str(e)}})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
