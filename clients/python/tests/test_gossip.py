"""The Python validator's gossip verdicts (coinjecture.gossip), mirroring the Rust node's:
authentic votes are relayed near our height, forged ones are rejected, transactions need our
chain tag and valid signatures."""

from __future__ import annotations

from coinjecture import client as conv
from coinjecture import consensus as c
from coinjecture import gossip
from coinjecture import reference as r
from coinjecture.v1 import consensus_pb2

CHAIN = "coinjecture-gossip"
SEEDS = [bytes([i + 1]) * 32 for i in range(4)]
KEYS = [r.ed25519_public_key(s) for s in SEEDS]
SCHEDULE = c.ValidatorSchedule([(1, c.ValidatorSet(KEYS, "byzantine"))])
AT = (10, 0)


def vote(seed: bytes, height: int, round_: int = 0, chain: str = CHAIN, sign: bool = True) -> consensus_pb2.ConsensusMessage:
    v = r.Vote(chain, height, round_, "prevote", None, validator=r.ed25519_public_key(seed))
    if sign:
        v.sign(seed)
    return consensus_pb2.ConsensusMessage(vote=conv.vote_to_proto(v))


def verdict(message: consensus_pb2.ConsensusMessage) -> tuple[str, str, bool]:
    v = gossip.check(message, CHAIN, SCHEDULE, c.ReferenceCrypto(), AT)
    return v.result, v.reason, v.deliver


def test_votes_are_relayed_only_when_authentic_and_near_our_height() -> None:
    assert verdict(vote(SEEDS[1], 10)) == (gossip.ACCEPT, "valid", True)
    assert verdict(vote(SEEDS[1], 10, sign=False)) == (gossip.REJECT, "bad_signature", False)
    assert verdict(vote(bytes([99]) * 32, 10)) == (gossip.REJECT, "not_a_validator", False)
    assert verdict(vote(SEEDS[1], 10, chain="another-chain")) == (gossip.REJECT, "wrong_chain", False)
    assert verdict(vote(SEEDS[1], 3)) == (gossip.IGNORE, "outside_window", True)
    assert verdict(vote(SEEDS[1], 10, round_=100)) == (gossip.IGNORE, "outside_window", True)


def transfer(seed: bytes, data: bytes, sign: bool = True) -> r.Transaction:
    t = r.Transaction("Transfer", r.ed25519_public_key(seed), KEYS[0], 1, 0, 21_000, 1, data=data)
    if sign:
        t.signature = r.ed25519_sign(seed, t.signing_message())
    return t


def batch(*txs: r.Transaction) -> consensus_pb2.ConsensusMessage:
    return consensus_pb2.ConsensusMessage(
        transactions=consensus_pb2.TransactionBatch(transactions=[conv.transaction_to_proto(t) for t in txs])
    )


def test_transactions_need_our_chain_tag_and_valid_signatures() -> None:
    seed = bytes([42]) * 32
    good = transfer(seed, r.chain_tag(CHAIN))
    assert verdict(batch(good, good)) == (gossip.ACCEPT, "valid", True)
    assert verdict(batch(good, transfer(seed, r.chain_tag(CHAIN), sign=False)))[0] == gossip.REJECT
    assert verdict(batch(transfer(seed, r.chain_tag("another-chain")), good)) == (gossip.REJECT, "wrong_chain", False)
