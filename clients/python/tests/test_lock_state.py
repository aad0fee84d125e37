"""The persisted lock (``coinjecture.consensus.LockState``, the Rust ``lock_state.rs`` format).

Ports of the two Rust scenarios of ``services/consensus/tests/it/simulation/scenarios.rs`` that
prove what the lock is for (a restarted locked validator stays locked; a restarted locked
proposer re-proposes its block with the proof of lock), the file format's round trip and
refusals, the cross-implementation check against bytes written by the Rust ``LockState::encode``
(``tests/data/lock_state_rust.hex``, made by ``tests/data/lock_state_rust.rs``), and the
validator's lock file (written durably, a damaged one stops the start naming it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coinjecture import consensus as c
from coinjecture import reference as r
from coinjecture import validator as v

CHAIN = "coinjecture-sim"
SEEDS = [bytes([i + 1]) * 32 for i in range(4)]
KEYS = [r.ed25519_public_key(s) for s in SEEDS]
DATA = Path(__file__).resolve().parent / "data"


def _set() -> c.ValidatorSet:
    return c.ValidatorSet(list(KEYS), "byzantine")


def _schedule() -> c.ValidatorSchedule:
    return c.ValidatorSchedule([(1, _set())])


def _config() -> c.EngineConfig:
    return c.EngineConfig.with_block_time(CHAIN, 1000)


def _block(height: int, proposer: int, salt: int) -> r.Block:
    """The Rust scenarios' ``block(height, proposer, salt)``."""
    header = r.BlockHeader(
        block_index=height,
        timestamp=1_767_225_601,
        miner_address=KEYS[proposer],
        extra_data=r.PoaExtra(0, 0, bytes([salt]) * 32).encode(),
    )
    return r.Block(header)


def _prevote(signer: int, height: int, round_: int, block_hash: bytes | None) -> r.Vote:
    return r.Vote(CHAIN, height, round_, c.PREVOTE, block_hash).sign(SEEDS[signer])


def _index(key: bytes) -> int:
    return KEYS.index(key)


def _lock_on_block(me: int, b: r.Block) -> tuple[c.SignState, c.LockState]:
    """Validator `me` of 4 (byzantine quorum 3) sees block B proposed at (1, 0), and prevotes for
    it from two others: it locks on B and precommits. Returns the engine's signing state and the
    lock it asked to persist (checked to come before the precommit leaves)."""
    p0 = _index(_set().proposer(1, 0))
    engine = c.Engine(_config(), _schedule(), SEEDS[me], 1, 0, None)
    engine.handle(0, c.Start())
    proposal = r.Proposal(CHAIN, 1, 0, None, 1000, b).sign(SEEDS[p0])
    actions: list = []
    if me != p0:
        engine.handle(1000, c.ProposalReceived(proposal))
        engine.handle(1001, c.BlockValidity(b.hash(), True))
    for other in [i for i in range(4) if i != me][:2]:
        actions.extend(engine.handle(1002, c.VoteReceived(_prevote(other, 1, 0, b.hash()))))
    assert engine.locked == (0, b.hash()), f"did not lock: {actions}"
    lock_at = next(i for i, a in enumerate(actions) if isinstance(a, c.PersistLock))
    precommit_at = next(
        i
        for i, a in enumerate(actions)
        if isinstance(a, c.Broadcast) and isinstance(a.message, r.Vote) and a.message.vote_type == c.PRECOMMIT
    )
    assert lock_at < precommit_at, f"the precommit left before the lock was persisted: {actions}"
    lock = actions[lock_at].lock
    assert (lock.height, lock.round, lock.block.hash()) == (1, 0, b.hash())
    assert len(lock.prevotes) == 3, "the proof of lock is the quorum of prevotes"
    # In the Rust order (the engine's vote map is keyed by validator), so both write the same file.
    assert [p.validator for p in lock.prevotes] == sorted(p.validator for p in lock.prevotes)
    assert engine.sign_state is not None
    return engine.sign_state, lock


def test_a_validator_restarted_after_locking_stays_locked():
    # The safety hole this closes: validator X precommitted B (and some validator may have
    # committed it); X restarts, forgets its lock, and prevotes a fresh block B' in the next round.
    # With a quorum of validators doing that, B' is decided at the same height: a fork.
    s = _set()
    p0, p1 = _index(s.proposer(1, 0)), _index(s.proposer(1, 1))
    me = next(i for i in range(4) if i not in (p0, p1))
    b = _block(1, p0, 0xB0)
    sign_state, lock = _lock_on_block(me, b)

    # After the restart the proposer of round 1 offers a fresh block B'.
    b2 = _block(1, p1, 0xB2)
    fresh = r.Proposal(CHAIN, 1, 1, None, 5000, b2).sign(SEEDS[p1])

    def prevote_in_round_1(restore: bool):
        engine = c.Engine(_config(), _schedule(), SEEDS[me], 1, 0, sign_state)
        if restore:
            assert engine.restore_lock(lock)
        actions = engine.handle(5000, c.Start())
        assert engine.round == 1, "resumes after the round it last signed in"
        actions += engine.handle(5001, c.ProposalReceived(fresh))
        actions += engine.handle(5002, c.BlockValidity(b2.hash(), True))
        votes = [
            a.message
            for a in actions
            if isinstance(a, c.Broadcast)
            and isinstance(a.message, r.Vote)
            and a.message.round == 1
            and a.message.vote_type == c.PREVOTE
        ]
        return [vote.block_hash for vote in votes][:1]

    assert prevote_in_round_1(True) == [None], "a locked validator prevotes nil for another block"
    # Without the persisted lock the same validator would vote for B' (what this used to do).
    assert prevote_in_round_1(False) == [b2.hash()]


def test_a_restarted_locked_proposer_re_proposes_its_block_with_the_proof_of_lock():
    # The whole network stopped right after locking: nobody else holds B any more, so the
    # proposer of the resumed round must bring it back, with the prevotes that justify it.
    s = _set()
    p0, me = _index(s.proposer(1, 0)), _index(s.proposer(1, 1))
    b = _block(1, p0, 0xB0)
    sign_state, lock = _lock_on_block(me, b)

    config = _config()
    engine = c.Engine(config, _schedule(), SEEDS[me], 1, 0, sign_state)
    assert engine.restore_lock(lock)
    actions = engine.handle(5000, c.Start())
    reproposed = [
        (a.message.round, a.message.pol_round, a.message.block.hash())
        for a in actions
        if isinstance(a, c.Broadcast) and isinstance(a.message, r.Proposal)
    ]
    assert reproposed[:1] == [(1, 0, b.hash())], actions
    # The rebroadcast relays the proof of lock: the others' prevotes and its own.
    rebroadcast = next(
        a.timeout
        for a in actions
        if isinstance(a, c.ScheduleTimeout) and a.timeout.kind == c.TimeoutKind.REBROADCAST
    )
    relayed = engine.handle(5000 + config.rebroadcast_ms, c.TimeoutFired(rebroadcast))
    pol_votes = [
        a
        for a in relayed
        if isinstance(a, c.Broadcast)
        and isinstance(a.message, r.Vote)
        and a.message.round == 0
        and a.message.vote_type == c.PREVOTE
        and a.message.block_hash == b.hash()
    ]
    assert len(pol_votes) == 3, relayed

    # A lock of another height is left alone.
    stale = c.LockState(7, lock.round, lock.block, lock.prevotes)
    fresh_engine = c.Engine(config, _schedule(), SEEDS[me], 1, 0, None)
    assert not fresh_engine.restore_lock(stale)
    assert fresh_engine.locked is None


def test_restore_lock_keeps_only_the_prevotes_that_check_out_and_not_after_start():
    s = _set()
    p0 = _index(s.proposer(1, 0))
    b = _block(1, p0, 0xB0)
    good = [_prevote(i, 1, 0, b.hash()) for i in (0, 2)]
    forged = r.Vote(CHAIN, 1, 0, c.PREVOTE, b.hash(), KEYS[3], good[0].signature)
    other_round = _prevote(3, 1, 1, b.hash())
    other_block = _prevote(1, 1, 0, b"\x55" * 32)
    other_chain = r.Vote("other-chain", 1, 0, c.PREVOTE, b.hash()).sign(SEEDS[1])
    outsider = r.Vote(CHAIN, 1, 0, c.PREVOTE, b.hash()).sign(b"\x09" * 32)
    lock = c.LockState(1, 0, b, good + [forged, other_round, other_block, other_chain, outsider])
    engine = c.Engine(_config(), _schedule(), SEEDS[1], 1, 0, None)
    assert engine.restore_lock(lock)
    assert (engine.locked, engine.valid) == ((0, b.hash()), (0, b.hash()))
    assert engine.validity[b.hash()] is True and engine.blocks[b.hash()] == b
    assert sorted(engine.rounds[0].prevotes.votes) == sorted((g.validator, b.hash()) for g in good)
    # A lock whose block is of another height, or given after Start, is refused.
    engine = c.Engine(_config(), _schedule(), SEEDS[1], 1, 0, None)
    assert not engine.restore_lock(c.LockState(1, 0, _block(2, p0, 0xB0), good))
    engine.handle(0, c.Start())
    assert not engine.restore_lock(lock)
    assert engine.locked is None


# ----------------------------------------------------------------------------------------------
# The file format
# ----------------------------------------------------------------------------------------------


def _rust_lock() -> c.LockState:
    """The lock ``tests/data/lock_state_rust.rs`` builds, in Python."""
    data = r.chain_tag(CHAIN) + bytes([0, 200, 255])
    tx = r.Transaction("Transfer", KEYS[0], KEYS[1], 1_000_000, 3, 21_000, 1, data=data, timestamp=-5).sign(SEEDS[0])
    header = r.BlockHeader(
        block_index=7,
        timestamp=1_767_225_601,
        parent_hash=b"\x09" * 32,
        merkle_root=b"\x08" * 32,
        miner_address=KEYS[2],
        difficulty_target=300,
        nonce=70_000,
        extra_data=r.PoaExtra(2, 345, b"\x03" * 32).encode(),
    )
    block = r.Block(header, [tx])
    votes = sorted((_prevote(i, 7, 2, block.hash()) for i in (2, 0, 3)), key=lambda x: x.validator)
    return c.LockState(7, 2, block, votes)


def test_a_lock_written_by_rust_is_read_by_python_and_python_writes_the_same_bytes():
    rust = bytes.fromhex((DATA / "lock_state_rust.hex").read_text().strip())
    lock = _rust_lock()
    assert lock.encode() == rust
    decoded = c.LockState.decode(rust)
    assert decoded == lock
    assert decoded.block.hash().hex() == "4fa9daf0d95b8f30eaa5d8055e877e8a348d3e283c97a8a4d714488e38c833a0"
    # The documented layout: version, height, round, block length and block, count, each vote
    # with its length.
    block = lock.block.encode()
    votes = b"".join(len(x.encode()).to_bytes(2, "big") + x.encode() for x in lock.prevotes)
    layout = b"\x01" + (7).to_bytes(8, "big") + (2).to_bytes(4, "big") + len(block).to_bytes(4, "big") + block
    assert rust == layout + (3).to_bytes(2, "big") + votes
    # And an engine at that height takes it, with the whole proof of lock.
    engine = c.Engine(_config(), _schedule(), SEEDS[1], 7, 0, None)
    assert engine.restore_lock(decoded)
    assert engine.rounds[2].prevotes.count(lock.block.hash()) == 3


def test_lock_state_round_trips_and_damaged_files_are_refused_naming_the_field():
    lock = _rust_lock()
    encoded = lock.encode()
    assert c.LockState.decode(encoded) == lock
    empty = c.LockState(1, 0, _block(1, 0, 1), [])
    assert c.LockState.decode(empty.encode()) == empty
    for cut, field in [
        (0, "lock state version"),
        (1, "lock state height"),
        (13, "lock state block length"),
        (20, "lock state block"),
        (len(encoded) - 1, "lock state prevote"),
    ]:
        with pytest.raises(ValueError, match=field):
            c.LockState.decode(encoded[:cut])
    with pytest.raises(ValueError, match="lock state: 1 trailing bytes"):
        c.LockState.decode(encoded + b"\x00")
    with pytest.raises(ValueError, match="lock state: unsupported version 9"):
        c.LockState.decode(b"\x09" + encoded[1:])
    # A block that is not in its canonical encoding: block_index 7 as a u8 (0xcc 0x07).
    block = lock.block.encode()
    at = block.index(b"block_index") + len(b"block_index")
    bad_block = block[:at] + b"\xcc" + block[at:]
    bad = encoded[:13] + len(bad_block).to_bytes(4, "big") + bad_block + encoded[17 + len(block) :]
    with pytest.raises(ValueError, match="lock state block: block_index: not in its canonical"):
        c.LockState.decode(bad)
    # A damaged prevote: an unknown vote type.
    vote_at = 17 + len(block) + 2 + 2
    type_at = vote_at + 1 + 1 + len(CHAIN) + 8 + 4
    damaged = encoded[:type_at] + b"\x07" + encoded[type_at + 1 :]
    with pytest.raises(ValueError, match="lock state prevote 0: vote type"):
        c.LockState.decode(damaged)


def test_block_and_vote_decoders_are_strict_inverses_of_the_encoders():
    lock = _rust_lock()
    assert r.Block.decode(lock.block.encode()) == lock.block
    for vote in lock.prevotes + [_prevote(1, 2, 3, None)]:
        assert r.Vote.decode(vote.encode()) == vote
    encoded = lock.block.encode()
    with pytest.raises(ValueError, match="block: 1 trailing bytes"):
        r.Block.decode(encoded + b"\x00")
    with pytest.raises(ValueError, match="unexpected end"):
        r.Block.decode(encoded[:-1])
    with pytest.raises(ValueError, match="expected key 'header'"):
        r.Block.decode(encoded.replace(b"\xa6header", b"\xa6hEader", 1))
    with pytest.raises(ValueError, match="vote: 1 trailing bytes"):
        r.Vote.decode(lock.prevotes[0].encode() + b"\x00")
    with pytest.raises(ValueError, match="signature"):
        r.Vote.decode(lock.prevotes[0].encode()[:-1])


def test_block_decoding_round_trips_every_integer_width_and_refuses_wider_forms():
    import random

    rng = random.Random(7)
    unsigned = [0, 127, 128, 255, 256, 65_535, 65_536, 2**32 - 1, 2**32, 2**63, 2**64 - 1]
    signed = [0, -1, -32, -33, -128, -129, -32_768, -32_769, -(2**31), -(2**31) - 1, -(2**63), 2**63 - 1]
    for _ in range(50):
        u = lambda: rng.choice(unsigned)  # noqa: E731
        txs = [
            r.Transaction(
                rng.choice(list(r.TX_TYPE_CODES)), rng.randbytes(32), rng.randbytes(32), u(), u(), u(), u(),
                rng.randbytes(64), rng.randbytes(rng.choice([0, 1, 15, 16, 300])), rng.choice(signed),
            )
            for _ in range(rng.choice([0, 1, 2, 16]))
        ]  # fmt: skip
        header = r.BlockHeader(
            block_index=u(), timestamp=rng.choice(signed), parent_hash=rng.randbytes(32),
            merkle_root=rng.randbytes(32), miner_address=rng.randbytes(32), commitment=rng.randbytes(32),
            difficulty_target=u(), nonce=u(), extra_data=rng.randbytes(rng.choice([0, 39, 256])),
        )  # fmt: skip
        block = r.Block(header, txs)
        assert r.Block.decode(block.encode()) == block
    # The same value in a wider form than its smallest is not the canonical encoding.
    header = r.BlockHeader(block_index=1, timestamp=-1, extra_data=b"\x05")
    encoded = r.Block(header).encode()
    for smallest, wider, field in [
        (b"\xabblock_index\x01", b"\xabblock_index\xcd\x00\x01", "block_index"),
        (b"\xa9timestamp\xff", b"\xa9timestamp\xd0\xff", "timestamp"),
        (b"\xaaextra_data\x91\x05", b"\xaaextra_data\xdc\x00\x01\x05", "extra_data"),
    ]:
        assert smallest in encoded
        with pytest.raises(ValueError, match=f"{field}: not in its canonical"):
            r.Block.decode(encoded.replace(smallest, wider))


# ----------------------------------------------------------------------------------------------
# The validator's lock file
# ----------------------------------------------------------------------------------------------


def test_the_validator_lock_file_is_written_durably_and_a_damaged_one_stops_the_start(tmp_path: Path):
    path = v.lock_state_path(tmp_path / "validator-1.sign_state")
    assert path == tmp_path / "validator-1.lock_state"
    assert v.load_lock_state(path) is None
    lock = _rust_lock()
    v.store_lock_state(path, lock)
    assert v.load_lock_state(path) == lock
    assert path.read_bytes() == lock.to_file_bytes()  # format 2: the Rust envelope around encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["validator-1.lock_state"]  # no temp file left
    path.write_bytes(b"\x01garbage")
    with pytest.raises(v.ServiceFailed) as e:
        v.load_lock_state(path)
    assert "validator-1.lock_state" in str(e.value) and "reading the lock" in str(e.value)
    with pytest.raises(v.ServiceFailed, match="writing the lock"):
        v.store_lock_state(tmp_path / "missing-dir" / "validator-1.lock_state", lock)
