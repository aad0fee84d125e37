"""The Python consensus engine (``coinjecture.consensus``) in a deterministic simulation.

Several engines exchange messages through an in-memory network on virtual time; the ledger is
simulated (every built block is valid, decided blocks are appended). What is checked is what a
user of the chain would check: every node finalizes the same blocks, each with a certificate a
quorum of the right validator set signed, proposers take turns, a crashed validator costs a
round, a validator-set change hands over at its height, and the signing state refuses to sign a
conflicting message. The Rust interop test is ``test_validator.py``.
"""

from __future__ import annotations

import heapq
import itertools

import pytest

from coinjecture import client as conv
from coinjecture import consensus as c
from coinjecture import reference as r

CHAIN = "coinjecture-sim"
GENESIS_MS = 1_700_000_000_000
SEEDS = [bytes([i + 1]) * 32 for i in range(4)]
KEYS = [r.ed25519_public_key(s) for s in SEEDS]


class Node:
    def __init__(self, seed: bytes, schedule: c.ValidatorSchedule, block_time: int):
        self.seed = seed
        self.key = r.ed25519_public_key(seed)
        self.chain: list[tuple[r.Block, bytes, r.CommitCertificate]] = []
        self.engine = c.Engine(c.EngineConfig.with_block_time(CHAIN, block_time), schedule, seed, 1, GENESIS_MS, None)
        self.persisted: c.SignState | None = None

    def tip(self) -> tuple[bytes, int]:
        if not self.chain:
            return bytes(32), GENESIS_MS
        block, block_hash, _ = self.chain[-1]
        return block_hash, c.header_timestamp_ms(block.header)


class Sim:
    def __init__(
        self, n_nodes: int, schedule: c.ValidatorSchedule, down: set[int] = frozenset(), block_time: int = 1000
    ):
        self.schedule = schedule
        self.nodes = [Node(SEEDS[i], schedule, block_time) for i in range(n_nodes)]
        self.down = set(down)
        self.now = GENESIS_MS
        self.queue: list = []
        self.seq = itertools.count()
        for i in range(n_nodes):
            if i not in self.down:
                self.push(self.now, i, c.Start())

    def push(self, at: int, node: int, inp) -> None:
        heapq.heappush(self.queue, (at, next(self.seq), node, inp))

    def broadcast(self, sender: int, inp) -> None:
        for j in range(len(self.nodes)):
            if j != sender and j not in self.down:
                self.push(self.now + 10, j, inp)

    def run(self, height: int, limit_ms: int = 120_000) -> None:
        live = [i for i in range(len(self.nodes)) if i not in self.down]
        while self.queue and min(len(self.nodes[i].chain) for i in live) < height:
            at, _, i, inp = heapq.heappop(self.queue)
            self.now = max(self.now, at)
            assert self.now - GENESIS_MS < limit_ms, f"no progress: heights {[len(n.chain) for n in self.nodes]}"
            self.handle(i, inp)

    def handle(self, i: int, inp) -> None:
        node = self.nodes[i]
        pending = [inp]
        while pending:
            for action in node.engine.handle(self.now, pending.pop(0)):
                pending.extend(self.act(i, action))

    def act(self, i: int, a) -> list:
        node = self.nodes[i]
        if isinstance(a, c.PersistSignState):
            node.persisted = a.state
        elif isinstance(a, c.Broadcast):
            # Through the protobuf form, as on the wire.
            if isinstance(a.message, r.Proposal):
                self.broadcast(i, c.ProposalReceived(conv.proposal_from_proto(conv.proposal_to_proto(a.message))))
            else:
                self.broadcast(i, c.VoteReceived(conv.vote_from_proto(conv.vote_to_proto(a.message))))
        elif isinstance(a, c.ScheduleTimeout):
            self.push(a.at_ms, i, c.TimeoutFired(a.timeout))
        elif isinstance(a, c.BuildBlock):
            parent, _ = node.tip()
            ts = max(self.now, a.min_timestamp_ms)
            header = r.BlockHeader(
                block_index=a.height, timestamp=ts // 1000, parent_hash=parent, miner_address=node.key,
                extra_data=r.PoaExtra(a.round, ts % 1000, bytes(32)).encode(),
            )  # fmt: skip
            return [c.BlockBuilt(a.height, a.round, r.Block(header))]
        elif isinstance(a, c.ValidateBlock):
            parent, parent_ms = node.tip()
            h = a.block.header
            ok = (
                h.block_index == len(node.chain) + 1
                and h.parent_hash == parent
                and c.header_timestamp_ms(h) > parent_ms
            )
            return [c.BlockValidity(a.block_hash, ok)]
        elif isinstance(a, c.Commit):
            assert a.block.header.block_index == len(node.chain) + 1
            node.chain.append((a.block, a.block_hash, a.certificate))
        elif isinstance(a, c.RequestSync):
            ahead = max((n for k, n in enumerate(self.nodes) if k != i), key=lambda n: len(n.chain))
            return [c.DecidedBlock(b, cert) for b, _, cert in ahead.chain[a.from_height - 1 :]]
        elif isinstance(a, c.BroadcastDecided):
            if a.height <= len(node.chain):
                b, _, cert = node.chain[a.height - 1]
                self.broadcast(i, c.DecidedBlock(b, cert))
        return []


def _schedule(*entries: tuple[int, list[int]], mode: str = "byzantine") -> c.ValidatorSchedule:
    return c.ValidatorSchedule([(h, c.ValidatorSet([KEYS[i] for i in idx], mode)) for h, idx in entries])


def _assert_same_chain(sim: Sim, nodes: list[int], height: int) -> list[tuple[r.Block, bytes, r.CommitCertificate]]:
    chains = [[h for _, h, _ in sim.nodes[i].chain[:height]] for i in nodes]
    assert all(ch == chains[0] for ch in chains), "nodes finalized different blocks"
    chain = sim.nodes[nodes[0]].chain[:height]
    for k, (block, block_hash, cert) in enumerate(chain):
        assert block.hash() == block_hash and block.header.block_index == k + 1
        assert block.header.parent_hash == (chain[k - 1][1] if k else bytes(32))
        err = sim.schedule.at(k + 1).verify_certificate(c.ReferenceCrypto(), CHAIN, k + 1, block_hash, cert)
        assert err is None, err
    return chain


def test_three_validators_finalize_one_chain_with_rotating_proposers():
    sim = Sim(3, _schedule((1, [0, 1, 2])))
    sim.run(9)
    chain = _assert_same_chain(sim, [0, 1, 2], 9)
    for block, _, cert in chain:
        h = block.header.block_index
        assert r.PoaExtra.decode(block.header.extra_data).round == 0  # no failed rounds
        assert block.header.miner_address == KEYS[h % 3]  # validators[(height + round) mod n]
        assert {v for v, _ in cert.signatures} == set(KEYS[:3])  # byzantine quorum of 3 is 3
        assert [v for v, _ in cert.signatures] == sorted(v for v, _ in cert.signatures)
    # Block times: one block time apart at least (the proposer waits for it).
    times = [c.header_timestamp_ms(b.header) for b, _, _ in chain]
    assert all(b - a >= 1000 for a, b in zip(times, times[1:]))


def test_a_crashed_validator_costs_one_round_in_crash_mode():
    sim = Sim(3, _schedule((1, [0, 1, 2]), mode="crash"), down={2})
    sim.run(7)
    chain = _assert_same_chain(sim, [0, 1], 7)
    for block, _, cert in chain:
        h = block.header.block_index
        extra = r.PoaExtra.decode(block.header.extra_data)
        if h % 3 == 2:  # validator 2's slot: its round 0 times out, the next proposer takes round 1
            assert extra.round == 1 and block.header.miner_address == KEYS[0]
        else:
            assert extra.round == 0 and block.header.miner_address == KEYS[h % 3]
        assert KEYS[2] not in {v for v, _ in cert.signatures}


def test_a_validator_set_change_hands_over_at_its_height():
    # Validator 2 is replaced by validator 3 from height 5; validator 3 observes until then.
    sim = Sim(4, _schedule((1, [0, 1, 2]), (5, [0, 1, 3])))
    sim.run(10)
    chain = _assert_same_chain(sim, [0, 1, 2, 3], 10)
    for block, _, cert in chain:
        h = block.header.block_index
        signers = {v for v, _ in cert.signatures}
        assert signers == ({KEYS[0], KEYS[1], KEYS[2]} if h < 5 else {KEYS[0], KEYS[1], KEYS[3]})
    miners = {b.header.miner_address for b, _, _ in chain if b.header.block_index >= 5}
    assert KEYS[3] in miners and KEYS[2] not in miners
    assert sim.nodes[2].engine.is_validator() is False


def test_a_late_validator_catches_up_from_decided_blocks():
    sim = Sim(3, _schedule((1, [0, 1, 2]), mode="crash"), down={2})
    sim.run(5)
    # Validator 2 comes back: it learns of later heights, asks for the decided blocks, commits them.
    sim.down.clear()
    sim.push(sim.now, 2, c.Start())
    sim.run(9)
    _assert_same_chain(sim, [0, 1, 2], 9)


def test_the_signing_state_refuses_conflicts_and_reuses_identical_signatures():
    last = c.SignState.after(5, 1, c.SignStep.PREVOTE, b"vote A", bytes([7]) * 64)
    decide = lambda h, rd, st, m: c.SignState.decide(last, h, rd, st, m)  # noqa: E731
    assert decide(5, 1, c.SignStep.PRECOMMIT, b"x") is True
    assert decide(5, 2, c.SignStep.PROPOSAL, b"x") is True
    assert decide(6, 0, c.SignStep.PROPOSAL, b"x") is True
    assert decide(5, 1, c.SignStep.PREVOTE, b"vote A") == bytes([7]) * 64
    assert decide(5, 1, c.SignStep.PREVOTE, b"vote B") is False
    assert decide(5, 1, c.SignStep.PROPOSAL, b"x") is False
    assert decide(4, 9, c.SignStep.PRECOMMIT, b"x") is False
    # The Rust file format: version 1, height, round, step, sha256 of the bytes, signature.
    encoded = last.encode()
    assert len(encoded) == 110 and encoded[:14] == bytes([1]) + (5).to_bytes(8, "big") + (1).to_bytes(4, "big") + bytes(
        [2]
    )
    assert c.SignState.decode(encoded) == last
    with pytest.raises(ValueError):
        c.SignState.decode(encoded[:50])


def test_a_restarted_engine_does_not_sign_a_conflicting_vote():
    schedule = _schedule((1, [0, 1, 2]))
    # Validator 2 (not height 1's proposer) prevoted for some block at (1, 0) before a restart.
    # It resumes at the round after (as the Rust engine: the messages of that round are gone and
    # it may sign nothing else there), and a proposal of another block for (1, 0) or a round-0
    # timeout makes it sign nothing at that position.
    vote = r.Vote(CHAIN, 1, 0, "prevote", b"\x11" * 32).sign(SEEDS[2])
    state = c.SignState.after(1, 0, c.SignStep.PREVOTE, vote.signing_bytes(), vote.signature)
    e = c.Engine(c.EngineConfig.with_block_time(CHAIN, 1000), schedule, SEEDS[2], 1, GENESIS_MS, state)
    actions = e.handle(GENESIS_MS, c.Start())
    assert e.round == 1
    header = r.BlockHeader(block_index=1, miner_address=KEYS[1], extra_data=r.PoaExtra(0, 0, bytes(32)).encode())
    other = r.Proposal(CHAIN, 1, 0, None, GENESIS_MS, r.Block(header)).sign(SEEDS[1])
    actions += e.handle(GENESIS_MS + 10, c.ProposalReceived(other))
    actions += e.handle(GENESIS_MS + 20, c.BlockValidity(other.block.hash(), True))
    actions += e.handle(GENESIS_MS + 5000, c.TimeoutFired(c.Timeout(1, 0, c.TimeoutKind.PROPOSE)))
    signed = [a for a in actions if isinstance(a, c.Broadcast) or isinstance(a, c.PersistSignState)]
    assert all((a.message if isinstance(a, c.Broadcast) else a.state).round >= 1 for a in signed), signed


def test_engine_drops_bad_messages_with_the_rust_reasons():
    schedule = _schedule((1, [0, 1, 2]))
    e = c.Engine(c.EngineConfig.with_block_time(CHAIN, 1000), schedule, SEEDS[0], 1, GENESIS_MS, None)
    e.handle(GENESIS_MS, c.Start())

    def drops(inp):
        return [a.reason for a in e.handle(GENESIS_MS + 1, inp) if isinstance(a, c.Dropped)]

    vote = r.Vote(CHAIN, 1, 0, "prevote", None).sign(SEEDS[1])
    forged = r.Vote(CHAIN, 1, 0, "prevote", None, KEYS[2], vote.signature)
    assert drops(c.VoteReceived(forged)) == ["bad_signature"]
    assert drops(c.VoteReceived(r.Vote("other-chain", 1, 0, "prevote", None).sign(SEEDS[1]))) == ["wrong_chain"]
    assert drops(c.VoteReceived(r.Vote(CHAIN, 1, 0, "prevote", None).sign(SEEDS[3]))) == ["not_a_validator"]
    assert drops(c.VoteReceived(vote)) == []
    # An identical copy is a duplicate, dropped without a second signature check.
    verify, checks = e.crypto.verify, []
    e.crypto.verify = lambda *args: checks.append(args) or verify(*args)
    assert drops(c.VoteReceived(vote)) == ["duplicate"]
    assert checks == []
    # A copy with a damaged signature is not identical: it is verified, and refused.
    damaged = bytearray(vote.signature)
    damaged[5] ^= 1
    copy = r.Vote(CHAIN, 1, 0, "prevote", None, vote.validator, bytes(damaged))
    assert drops(c.VoteReceived(copy)) == ["bad_signature"]
    # Height 1, round 0's proposer is validators[1]; a proposal from validator 2 is refused.
    header = r.BlockHeader(block_index=1, miner_address=KEYS[2], extra_data=r.PoaExtra(0, 0, bytes(32)).encode())
    wrong = r.Proposal(CHAIN, 1, 0, None, GENESIS_MS, r.Block(header)).sign(SEEDS[2])
    assert drops(c.ProposalReceived(wrong)) == ["wrong_proposer"]


def test_an_equivocating_vote_is_kept_as_evidence_in_canonical_order():
    e = c.Engine(c.EngineConfig.with_block_time(CHAIN, 1000), _schedule((1, [0, 1, 2])), SEEDS[0], 1, GENESIS_MS, None)
    e.handle(GENESIS_MS, c.Start())
    votes = [r.Vote(CHAIN, 1, 0, "prevote", h).sign(SEEDS[2]) for h in (b"\x22" * 32, b"\x11" * 32)]
    assert not [a for a in e.handle(GENESIS_MS + 1, c.VoteReceived(votes[0])) if isinstance(a, c.Evidence)]
    [evidence] = [a for a in e.handle(GENESIS_MS + 2, c.VoteReceived(votes[1])) if isinstance(a, c.Evidence)]
    assert [evidence.vote_a, evidence.vote_b] == sorted(votes, key=lambda v: v.encode())
    assert r.duplicate_vote_evidence(evidence.vote_a, evidence.vote_b) == r.duplicate_vote_evidence(*votes)
    # A third version from the same validator is not kept (bounded memory).
    third = r.Vote(CHAIN, 1, 0, "prevote", None).sign(SEEDS[2])
    assert [a.reason for a in e.handle(GENESIS_MS + 3, c.VoteReceived(third)) if isinstance(a, c.Dropped)] == [
        "equivocation"
    ]


def test_conversions_refuse_malformed_messages_naming_the_field():
    vote = conv.vote_to_proto(r.Vote(CHAIN, 3, 1, "precommit", b"\x01" * 32).sign(SEEDS[0]))
    assert conv.vote_from_proto(vote) == r.Vote(CHAIN, 3, 1, "precommit", b"\x01" * 32).sign(SEEDS[0])
    for field, value, message in [
        ("validator", b"\x01" * 31, "validator"),
        ("signature", b"", "signature"),
        ("block_hash", b"\x01" * 5, "block_hash"),
        ("vote_type", 0, "vote_type"),
        ("chain_id", "Not A Chain", "chain id"),
    ]:
        bad = type(vote)()
        bad.CopyFrom(vote)
        setattr(bad, field, value)
        with pytest.raises(ValueError, match=message):
            conv.vote_from_proto(bad)
    header = r.BlockHeader(block_index=1, miner_address=KEYS[0], extra_data=r.PoaExtra(0, 0, bytes(32)).encode())
    proposal = r.Proposal(CHAIN, 1, 0, None, GENESIS_MS, r.Block(header)).sign(SEEDS[0])
    p = conv.proposal_to_proto(proposal)
    assert p.pol_round == -1 and conv.proposal_from_proto(p) == proposal
    p.pol_round = -2
    with pytest.raises(ValueError, match="pol_round"):
        conv.proposal_from_proto(p)
    p.pol_round = -1
    p.block.header.parent_hash = b"\x00" * 3
    with pytest.raises(ValueError, match="parent_hash"):
        conv.proposal_from_proto(p)
