"""Shadow mode (``coinjecture.shadow``).

The unit tests build BlockViews with the reference and tamper with them. ``test_live_devnet``
follows a real node and needs ``COINJECTURE_NODE=host:port`` (the node's api.port); with
``COINJECTURE_FAUCET_KEY=<path of a funded key file>`` (the devnet's ``keys/faucet.key``) it first
submits transfers, so that blocks with transactions and Merkle roots are checked too:

    target/debug/coinjectured devnet --dir /tmp/shadow-dn --block-time 500ms \\
        --p2p-port 9300 --api-port 8300 --grpc-port 50300 &
    COINJECTURE_NODE=127.0.0.1:8300 COINJECTURE_FAUCET_KEY=/tmp/shadow-dn/keys/faucet.key \\
        python -m pytest -q tests/test_shadow.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from coinjecture import reference as r
from coinjecture import shadow
from coinjecture.client import PublicApiClient, block_to_proto
from coinjecture.v1 import api_pb2, types_pb2

CHAIN = "coinjecture-devnet"
SEED = bytes(range(32))


def _tx(nonce: int) -> r.Transaction:
    return r.Transaction(
        tx_type="Transfer", from_=r.ed25519_public_key(SEED), to=b"\x02" * 32, amount=1_000 + nonce,
        nonce=nonce, gas_limit=21_000, gas_price=1, data=r.chain_tag(CHAIN), timestamp=1_700_000_000,
    ).sign(SEED)  # fmt: skip


def _view(height: int, parent: bytes, n_tx: int) -> api_pb2.BlockView:
    """A consistent BlockView, as an honest node sends it."""
    txs = [_tx(i) for i in range(n_tx)]
    hashes = [t.hash() for t in txs]
    header = r.BlockHeader(
        block_index=height, timestamp=1_700_000_000 + height, parent_hash=parent,
        merkle_root=r.merkle_root(hashes), miner_address=r.ed25519_public_key(SEED),
    )  # fmt: skip
    block = block_to_proto(r.Block(header, txs))
    block.commit_certificate.CopyFrom(types_pb2.CommitCertificate(height=height, block_hash=header.hash()))
    return api_pb2.BlockView(block=block, block_hash=header.hash(), transaction_hashes=hashes)


def _chain(n: int, n_tx: int = 3) -> list[api_pb2.BlockView]:
    views, parent = [], bytes(32)
    for height in range(1, n + 1):
        views.append(_view(height, parent, n_tx))
        parent = bytes(views[-1].block_hash)
    return views


def test_honest_chain_has_no_divergence():
    c = shadow.Checker()
    for v in _chain(5):
        assert c.check(v) == []
    assert c.blocks_checked == 5 and c.total_divergences == 0 and c.last_height == 5


def test_tampered_header_field_is_a_block_hash_divergence():
    views = _chain(3)
    views[1].block.header.nonce += 1  # the node's block_hash no longer matches the header
    c = shadow.Checker()
    found = [d for v in views for d in c.check(v)]
    assert [(d.height, d.value) for d in found] == [(2, "block_hash"), (2, "certificate_block_hash"), (3, "parent_hash")]
    assert found[0].node == bytes(views[1].block_hash).hex()
    assert found[0].ours == r.BlockHeader(**_fields(views[1].block.header)).hash().hex()
    assert "WARN" not in str(found[0]) and str(found[0]).startswith("parity divergence height=2 value=block_hash")
    assert c.divergences["block_hash"] == 1 and c.total_divergences == 3


def _fields(h: types_pb2.BlockHeader) -> dict:
    from coinjecture.client import header_from_proto

    return header_from_proto(h).__dict__


def test_tampered_transaction_and_merkle_root():
    v = _chain(1, n_tx=4)[0]
    v.transaction_hashes[2] = bytes(32)
    v.block.transactions[3].amount += 1  # our hash of tx 3 and so our Merkle root change
    found = shadow.Checker().check(v)
    assert sorted((d.value, d.index) for d in found) == [("merkle_root", None), ("tx_hash", 2), ("tx_hash", 3)]


def test_missing_transaction_hash_and_height_gap():
    views = _chain(3)
    del views[0].transaction_hashes[-1]
    c = shadow.Checker()
    assert [d.value for d in c.check(views[0])] == ["tx_count"]
    assert [d.value for d in c.check(views[2])] == ["height"]


def test_metrics_endpoint():
    c = shadow.Checker()
    views = _chain(2)
    views[0].block.header.timestamp += 1
    for v in views:
        c.check(v)
    server = shadow.serve_metrics(c, 0, "127.0.0.1")
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/metrics", timeout=5).read().decode()
    finally:
        server.shutdown()
    assert "# TYPE coinjecture_parity_divergence_total counter" in body
    assert 'coinjecture_parity_divergence_total{value="block_hash"} 1' in body
    assert "coinjecture_shadow_blocks_checked_total 2" in body


NODE = os.environ.get("COINJECTURE_NODE", "")
FAUCET = os.environ.get("COINJECTURE_FAUCET_KEY", "")


def _submit_transfers(api: PublicApiClient, chain_id: str, n: int) -> list[bytes]:
    seed = bytes.fromhex(Path(FAUCET).read_text().strip()[:64])
    sender = r.ed25519_public_key(seed)
    nonce = api.account(sender).nonce
    txs = [
        r.Transaction(
            tx_type="Transfer", from_=sender, to=r.sha256(b"shadow-test-%d" % i), amount=10_000 + i,
            nonce=nonce + i, gas_limit=21_000, gas_price=1, data=r.chain_tag(chain_id) + b"shadow test",
            timestamp=int(time.time()),
        ).sign(seed)
        for i in range(n)
    ]  # fmt: skip
    results = api.submit_transactions(txs)
    assert all(x.accepted for x in results), [x.message for x in results]
    assert [x.tx_hash for x in results] == [t.hash().hex() for t in txs]
    return [bytes.fromhex(x.tx_hash) for x in results]


@pytest.mark.skipif(not NODE, reason="COINJECTURE_NODE is not set: start a devnet and set COINJECTURE_NODE=127.0.0.1:8300 (its api port)")
def test_live_devnet():
    with PublicApiClient(NODE, timeout=10) as api:
        api.wait_ready(10)
        status = api.status()
        submitted = _submit_transfers(api, status.chain_id, 5) if FAUCET else []
        # Wait for the transfers to be final, so that the blocks followed below include them.
        deadline = time.time() + 30
        heights = set()
        for tx_hash in submitted:
            while True:
                try:
                    heights.add(api.transaction(tx_hash).block_height)
                    break
                except Exception:
                    assert time.time() < deadline, "transfers not finalized within 30 s"
                    time.sleep(0.2)
        tip = api.status().block_height
    target = max(tip + 3, 5)
    checker = shadow.Checker()
    with_tx = 0
    orig = checker.check

    def counting(view):
        nonlocal with_tx
        with_tx += bool(view.block.transactions)
        return orig(view)

    checker.check = counting  # type: ignore[method-assign]
    shadow.follow(NODE, checker, from_height=1, max_blocks=target)
    assert checker.blocks_checked == target and checker.last_height == target
    assert checker.total_divergences == 0, checker.divergences
    if submitted:
        assert with_tx >= 1 and max(heights) <= target

    # The command line: exit status 0, a summary line, no divergence.
    p = subprocess.run(
        [sys.executable, "-m", "coinjecture.shadow", "--node", NODE, "--max-blocks", "5", "--summary-every", "5"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(Path(shadow.__file__).parents[1])},
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "parity summary: 5 blocks checked up to height 5, 0 divergences" in p.stderr
    assert p.stderr.count("parity summary:") == 1, p.stderr  # once, not again at exit
    assert "WARN" not in p.stderr


BIN = os.environ.get("COINJECTURED", "")


@pytest.mark.skipif(not (NODE and BIN), reason="COINJECTURE_NODE and COINJECTURED (path of the coinjectured binary) are not both set")
def test_live_devnet_rust_shadow():
    """The Rust shadow (`coinjectured shadow`) over the same chain: no divergence."""
    p = subprocess.run(
        [BIN, "--log-format", "json", "--log-level", "info", "shadow", "--node", f"http://{NODE}",
         "--max-blocks", "20", "--summary-every", "10"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert not [x for x in lines if x.get("message") == "parity divergence"], out
    summaries = [x for x in lines if x.get("message") == "parity summary"]
    assert summaries and summaries[-1]["blocks_checked"] == 20 and summaries[-1]["divergences"] == 0, out


class _FakeNode:
    """A PublicApi that streams a fixed chain (one block tampered), to test shadow end to end."""

    def __init__(self, views):
        from concurrent import futures

        import grpc

        from coinjecture.v1 import api_pb2_grpc

        outer = self

        class Servicer(api_pb2_grpc.PublicApiServicer):
            def StreamBlocks(self, request, context):  # noqa: N802 (gRPC's name)
                for v in outer.views:
                    if v.block.header.block_index >= request.from_height:
                        yield api_pb2.StreamBlocksResponse(block=v)
                context.abort(grpc.StatusCode.UNAVAILABLE, "fake node: end of chain")

        self.views = views
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        api_pb2_grpc.add_PublicApiServicer_to_server(Servicer(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def close(self):
        self.server.stop(None)


def _tampered_chain():
    views = _chain(6, n_tx=2)
    views[2].block.header.nonce = 7  # height 3: block_hash, certificate_block_hash; height 4: parent_hash
    views[4].block.header.merkle_root = bytes(32)  # height 5: block_hash, cert, merkle_root; 6: parent
    return views


def test_shadow_follows_a_fake_node_and_reports_tampering():
    node = _FakeNode(_tampered_chain())
    try:
        checker = shadow.follow(f"127.0.0.1:{node.port}", shadow.Checker(), max_blocks=6, summary_every=0)
    finally:
        node.close()
    assert checker.blocks_checked == 6
    assert {k: v for k, v in checker.divergences.items() if v} == {
        "block_hash": 2, "certificate_block_hash": 2, "parent_hash": 2, "merkle_root": 1,
    }  # fmt: skip


CRYPTO_CORE = os.environ.get("COINJECTURE_CRYPTO_CORE", "")


@pytest.mark.skipif(not BIN, reason="COINJECTURED (path of the coinjectured binary) is not set")
@pytest.mark.parametrize("via", ["library", "crypto-core"])
def test_rust_shadow_reports_tampering_from_a_fake_node(via):
    extra = []
    if via == "crypto-core":
        if not CRYPTO_CORE:
            pytest.skip("COINJECTURE_CRYPTO_CORE is not set")
        extra = ["--crypto-core", f"http://{CRYPTO_CORE}"]
    node = _FakeNode(_tampered_chain())
    try:
        p = subprocess.run(
            [BIN, "--log-format", "json", "shadow", "--node", f"http://127.0.0.1:{node.port}", "--max-blocks", "6", *extra],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        node.close()
    out = p.stdout + p.stderr
    assert p.returncode == 1, out  # --max-blocks with divergences fails
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    found = sorted((x["height"], x["value"]) for x in lines if x.get("message") == "parity divergence")
    assert found == [
        (3, "block_hash"), (3, "certificate_block_hash"), (4, "parent_hash"),
        (5, "block_hash"), (5, "certificate_block_hash"), (5, "merkle_root"), (6, "parent_hash"),
    ], out  # fmt: skip
    assert all(x["level"] == "WARN" for x in lines if x.get("message") == "parity divergence")
