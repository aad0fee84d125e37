"""Validation of gossip before it is relayed: the verdict the Python validator reports to its
p2p-gateway for each received message (the Rust node's ``services/consensus/src/gossip.rs``).

ACCEPT relays the message, REJECT drops it and lowers the sending peer's score (the gateway
disconnects and bans a peer below its threshold), IGNORE drops it without penalty.

- vote, proposal: REJECT on another chain, a signer that is not a validator at the message's
  height (not the proposer of its round), a bad signature, or a malformed message; IGNORE when
  authentic but outside the relay window (height not within 1 of the node's, or a round more
  than 16 ahead); delivered to consensus when authentic.
- finalized block: IGNORE when already final here; REJECT when its certificate does not verify
  against its height's set; delivered when verified.
- transactions: REJECT when one lacks this chain's tag or has a bad signature; delivered when
  every one checks out.
- compact proposal, transaction request: IGNORE (this validator takes full proposals only).

A REJECT is objective (signatures, set membership, chain id), so honest relays are never
penalised; everything that depends on the node's own position is an IGNORE.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import client as conv
from . import consensus as c
from . import reference as ref
from .v1 import consensus_pb2

ACCEPT = "accept"
REJECT = "reject"
IGNORE = "ignore"

MAX_ROUNDS_AHEAD = 16


@dataclass
class Verdict:
    result: str  # ACCEPT | REJECT | IGNORE
    reason: str
    deliver: bool


def _in_window(height: int, round_: int, at: tuple[int, int] | None) -> bool:
    if at is None:
        return False
    at_height, at_round = at
    return at_height - 1 <= height <= at_height + 1 and (height != at_height or round_ <= at_round + MAX_ROUNDS_AHEAD)


def _authentic(result: str | None, height: int, round_: int, at: tuple[int, int] | None) -> Verdict:
    if result is not None:
        return Verdict(REJECT, result, False)
    if _in_window(height, round_, at):
        return Verdict(ACCEPT, "valid", True)
    return Verdict(IGNORE, "outside_window", True)


def check(
    message: consensus_pb2.ConsensusMessage,
    chain_id: str,
    schedule: c.ValidatorSchedule,
    crypto: c.Crypto,
    at: tuple[int, int] | None,
) -> Verdict:
    """The verdict on one received message; ``at`` is the (height, round) being decided, or None
    before the engine runs (then nothing is relayed, authentic messages are still delivered)."""
    kind = message.WhichOneof("kind")
    try:
        if kind == "vote":
            vote = conv.vote_from_proto(message.vote)
            if vote.chain_id != chain_id:
                why = "wrong_chain"
            elif not schedule.at(vote.height).contains(vote.validator):
                why = "not_a_validator"
            elif not crypto.verify(vote.validator, vote.signing_bytes(), vote.signature):
                why = "bad_signature"
            else:
                why = None
            return _authentic(why, vote.height, vote.round, at)
        if kind == "proposal":
            p = conv.proposal_from_proto(message.proposal)
            if p.chain_id != chain_id:
                why = "wrong_chain"
            elif schedule.at(p.height).proposer(p.height, p.round) != p.proposer:
                why = "wrong_proposer"
            elif p.block.header.block_index != p.height:
                why = "block_mismatch"
            elif not crypto.verify(p.proposer, p.signing_bytes(crypto.block_hash(p.block)), p.signature):
                why = "bad_signature"
            else:
                why = None
            return _authentic(why, p.height, p.round, at)
        if kind == "finalized_block":
            block, certificate = conv.finalized_block_from_proto(message.finalized_block)
            height = block.header.block_index
            if at is not None and height < at[0]:
                return Verdict(IGNORE, "already_final", False)
            problem = schedule.at(height).verify_certificate(
                crypto, chain_id, height, crypto.block_hash(block), certificate
            )
            if problem is not None:
                return Verdict(REJECT, "bad_certificate", False)
            relay = at is not None and height <= at[0] + 1
            return Verdict(ACCEPT, "valid", True) if relay else Verdict(IGNORE, "outside_window", True)
        if kind == "transactions":
            txs = [conv.transaction_from_proto(t) for t in message.transactions.transactions]
            if not txs:
                return Verdict(IGNORE, "empty", False)
            tag = ref.chain_tag(chain_id)
            if any(not t.data.startswith(tag) for t in txs):
                return Verdict(REJECT, "wrong_chain", False)
            if not all(crypto.verify_batch([(t.from_, t.signing_message(), t.signature) for t in txs])):
                return Verdict(REJECT, "bad_signature", False)
            return Verdict(ACCEPT, "valid", True)
        if kind in ("compact_proposal", "transaction_request"):
            # Compact proposals (issue #24): this validator takes full proposals only. Not
            # malformed, so no penalty for the relay; not delivered. A network with a Python
            # validator runs with `consensus.compact_proposals: false` on every node.
            return Verdict(IGNORE, "compact_unsupported", False)
    except ValueError:
        return Verdict(REJECT, "malformed", False)
    return Verdict(REJECT, "malformed", False)
