"""The chain's block limits in the Python validator (issue #24 item 3): read from the genesis
(``max_block_gas``, ``max_block_bytes``, defaults when absent, bounds as in Rust) and kept to by
its proposals' selection, as the Rust proposer does."""

from __future__ import annotations

from pathlib import Path

import pytest

from coinjecture import reference as r
from coinjecture import validator as v


def transfer(seed: bytes, nonce: int, gas_limit: int = 21_000) -> r.Transaction:
    t = r.Transaction(
        tx_type="Transfer",
        from_=r.ed25519_public_key(seed),
        to=b"\x07" * 32,
        amount=1_000,
        nonce=nonce,
        gas_limit=gas_limit,
        gas_price=1,
        data=r.chain_tag("coinjecture-test"),
        timestamp=1,
    )
    t.signature = r.ed25519_sign(seed, t.signing_message())
    return t


def test_genesis_limits_default_when_absent_and_bad_ones_name_the_key(tmp_path: Path) -> None:
    g = tmp_path / "genesis.yaml"
    g.write_text("chain_id: coinjecture-test\ntimestamp_ms: 0\nallocations: []\n")
    assert v.genesis_block_limits(g) == (1_000_000_000, 8 * 1024 * 1024)
    g.write_text("chain_id: c\nmax_block_gas: 2100000\nmax_block_bytes: 65536\n")
    assert v.genesis_block_limits(g) == (2_100_000, 65_536)
    for text, says in [
        ("max_block_gas: 49999\n", "network.genesis: max_block_gas 49999"),
        ("max_block_bytes: 16777216\n", "network.genesis: max_block_bytes 16777216"),
    ]:
        g.write_text(text)
        with pytest.raises(v.ConfigError, match=says):
            v.genesis_block_limits(g)


def test_selection_keeps_to_the_gas_limit_and_ends_a_senders_chain_there() -> None:
    m = v.Mempool()
    seeds = [bytes([i]) * 32 for i in (1, 2)]
    for seed in seeds:
        for n in range(5):
            t = transfer(seed, n)
            assert m.add(t, t.hash()) is None
    nonces = {r.ed25519_public_key(s): 0 for s in seeds}
    assert len(m.select(100, 1 << 30, nonces)) == 10
    picked = m.select(100, 1 << 30, nonces, max_gas=3 * 21_000)
    assert len(picked) == 3
    assert sum(t.gas_limit for t in picked) <= 3 * 21_000
