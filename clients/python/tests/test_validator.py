"""The seed's Network B topology end to end: 1 Python + 2 Rust validators, then the cutover to
all-Rust through a validator-set change.

Real processes, real sockets, real SQLite files. Four validator keys come from
``coinjectured devnet --init-only``; every node gets the same schedule:

- heights 1 … H−1: validators 1, 2, 3, quorum ``byzantine`` (⌊2·3/3⌋ + 1 = 3: no block is final
  without every validator's precommit, so the Python validator signs every certificate);
- from height H: validators 1, 2, 4 (validator 4 takes validator 3's place).

Validators 1, 2 and 4 are ``coinjectured node`` processes (4 observes until H). Validator 3 is a
split node whose consensus is Python: ``coinjectured service crypto-core``, ``service ledger``
(hashing through that crypto-core: Network B), ``service p2p-gateway``, ``service api``, and
``python -m coinjecture.validator`` in place of ``service consensus``. Transfers are submitted to
the Python node's public API while it validates (api → Python ``Consensus.SubmitTransactions`` →
Python mempool → gossip), so the blocks carry transactions.

Needs ``COINJECTURED`` (path of the built ``coinjectured`` binary; ``scripts/test.sh`` sets it).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
import yaml

from coinjecture import client as conv
from coinjecture import consensus as c
from coinjecture import reference as r
from coinjecture.v1 import ledger_pb2, ledger_pb2_grpc

BIN = os.environ.get("COINJECTURED", "")
SRC = Path(__file__).resolve().parents[1] / "src"
CUTOVER = 10  # first height decided by validators 1, 2, 4
FINAL = CUTOVER + 5  # run until every node has finalized this height
DEADLINE_S = 80
GENESIS_DELAY_MS = 4_000

pytestmark = pytest.mark.skipif(not BIN, reason="COINJECTURED (path of the coinjectured binary) is not set")


def _free_base(count: int) -> int:
    def free(port: int) -> bool:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False

    for _ in range(500):
        base = random.randrange(20_000, 30_000)
        if all(free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free port range")


class Processes:
    def __init__(self, logs: Path):
        self.logs = logs
        self.children: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        self.children[name] = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        log.close()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def check_running(self) -> None:
        for name, p in self.children.items():
            if p.poll() is not None:
                raise AssertionError(f"{name} exited with {p.returncode}:\n{self.log(name)[-3000:]}")

    def stop(self, first: tuple[str, ...] = ()) -> dict[str, int | None]:
        """SIGTERM to `first` (waiting for them), then to the rest; the exit codes (None: killed)."""
        codes = {}
        for group in ([n for n in first if n in self.children], [n for n in self.children if n not in first]):
            for name in group:
                if self.children[name].poll() is None:
                    self.children[name].terminate()
            deadline = time.monotonic() + 15
            for name in group:
                p = self.children[name]
                try:
                    codes[name] = p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    codes[name] = None
        return codes


class Ledger:
    """A node's Ledger service, read-only."""

    def __init__(self, port: int):
        self.channel = conv.channel(f"127.0.0.1:{port}")
        self.stub = ledger_pb2_grpc.LedgerStub(self.channel)

    def height(self) -> int | None:
        try:
            return self.stub.GetChainInfo(ledger_pb2.GetChainInfoRequest(), timeout=2).tip_height
        except grpc.RpcError:
            return None

    def block(self, height: int):
        return self.stub.GetBlockByHeight(ledger_pb2.GetBlockByHeightRequest(height=height), timeout=5)

    def balance(self, address: bytes) -> int:
        return self.stub.GetAccount(ledger_pb2.LedgerGetAccountRequest(address=address), timeout=5).account.balance


def _key(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip()[:64])


@pytest.fixture
def network(tmp_path):
    procs = Processes(tmp_path / "logs")
    yield tmp_path, procs
    procs.stop()


def test_python_validator_with_two_rust_validators_then_cutover_to_all_rust(network):
    d, procs = network
    base = _free_base(4 * 3 + 5)
    p2p, api, grpc_base = base, base + 4, base + 8
    crypto_core, ledger, gateway, consensus = base + 12, base + 13, base + 14, base + 15
    out = subprocess.run(
        [BIN, "--log-format", "text", "devnet", "--init-only", "--validators", "4", "--dir", str(d),
         "--p2p-port", str(p2p), "--api-port", str(api), "--grpc-port", str(grpc_base), "--block-time", "500ms"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    seeds = [_key(d / "keys" / f"validator-{i}.key") for i in range(1, 5)]
    keys = [r.ed25519_public_key(s) for s in seeds]
    hexes = [k.hex() for k in keys]

    # One schedule for every node: 1, 2, 3 until the cutover, then 1, 2, 4 (4 in 3's slot).
    for i in range(1, 5):
        path = d / f"validator-{i}.yaml"
        config = yaml.safe_load(path.read_text())
        config["consensus"]["quorum"] = "byzantine"
        config["consensus"]["validators"] = hexes[:3]
        config["consensus"]["validator_changes"] = [{"height": CUTOVER, "validators": [hexes[0], hexes[1], hexes[3]]}]
        # The Python validator takes full proposals only: the Rust nodes publish them full.
        config["consensus"]["compact_proposals"] = False
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    # Validator 3: split, Network B (its ledger hashes through crypto-core), consensus in Python.
    split = yaml.safe_load((d / "validator-3.yaml").read_text())
    split["crypto_core"] = {"endpoint": f"http://127.0.0.1:{crypto_core}"}
    split["services"] = {
        "ledger": f"http://127.0.0.1:{ledger}",
        "p2p_gateway": f"http://127.0.0.1:{gateway}",
        "consensus": f"http://127.0.0.1:{consensus}",
    }
    split_path = d / "validator-3-split.yaml"
    split_path.write_text(yaml.safe_dump(split, sort_keys=False))
    sp = str(split_path)

    procs.start("crypto-core", [BIN, "service", "crypto-core", "--listen", f"127.0.0.1:{crypto_core}"])
    procs.start("v3-p2p", [BIN, "service", "p2p-gateway", "--config", sp, "--listen", f"127.0.0.1:{gateway}"])
    extra = os.environ.get("COINJECTURE_VALIDATOR_ARGS", "").split()  # e.g. --log-level debug
    python = [sys.executable, "-m", "coinjecture.validator", "--config", sp, *extra]
    procs.start("v3-python", python, env={"PYTHONPATH": str(SRC)})
    # Gossip is not repeated (republishing identical bytes is a no-op), so a validator that
    # subscribes after the first proposal misses that round's messages. As chains launch at an
    # announced genesis time: once the Python validator is subscribed, the genesis time is set a
    # few seconds ahead and the ledgers and Rust nodes start; the first proposal waits for it.
    _wait_for_line(procs, "v3-python", "subscribed to the p2p-gateway")
    genesis = yaml.safe_load((d / "genesis.yaml").read_text())
    genesis["timestamp_ms"] = int(time.time() * 1000) + GENESIS_DELAY_MS
    (d / "genesis.yaml").write_text(yaml.safe_dump(genesis, sort_keys=False))
    procs.start("v3-ledger", [BIN, "service", "ledger", "--config", sp, "--listen", f"127.0.0.1:{ledger}"])
    procs.start("v3-api", [BIN, "service", "api", "--config", sp])
    for i in (1, 2, 4):
        procs.start(f"v{i}", [BIN, "node", "--config", str(d / f"validator-{i}.yaml")])

    ledgers = {1: Ledger(grpc_base), 2: Ledger(grpc_base + 1), 3: Ledger(ledger), 4: Ledger(grpc_base + 3)}
    chain_id = split["network"]["id"]
    faucet = _key(d / "keys" / "faucet.key")
    recipient = r.ed25519_public_key(b"\x42" * 32)
    submitted = []
    started = time.monotonic()
    with conv.PublicApiClient(f"127.0.0.1:{api + 2}", timeout=5) as public:
        while True:
            procs.check_running()
            heights = {i: (lg.height() or 0) for i, lg in ledgers.items()}
            if min(heights.values()) >= FINAL:
                break
            assert time.monotonic() - started < DEADLINE_S, f"heights {heights} after {DEADLINE_S}s\n" + _logs(procs)
            # Transfers through the Python node while it validates (nonces 0, 1, 2, …).
            if heights[3] < CUTOVER - 2 and len(submitted) < 40:
                tx = r.Transaction(
                    "Transfer", r.ed25519_public_key(faucet), recipient, amount=1_000 + len(submitted), nonce=len(submitted),
                    gas_limit=21_000, gas_price=1, data=r.chain_tag(chain_id), timestamp=int(time.time()),
                ).sign(faucet)  # fmt: skip
                try:
                    result = public.submit_transaction(tx)
                except grpc.RpcError:
                    result = None  # the api or the validator is still starting
                if result is not None:
                    assert result.accepted, result.message
                    submitted.append(tx)
            time.sleep(0.2)

    # Every node finalized the same blocks.
    blocks = {i: [lg.block(h) for h in range(1, FINAL + 1)] for i, lg in ledgers.items()}
    for h in range(FINAL):
        hashes = {i: bytes(blocks[i][h].block_hash) for i in ledgers}
        assert len(set(hashes.values())) == 1, f"height {h + 1}: {hashes}"
    # Each node's stored certificates prove finality under the schedule (checked in Python).
    schedule = c.ValidatorSchedule(
        [
            (1, c.ValidatorSet(keys[:3], "byzantine")),
            (CUTOVER, c.ValidatorSet([keys[0], keys[1], keys[3]], "byzantine")),
        ]
    )
    for i in ledgers:
        for h, b in enumerate(blocks[i], start=1):
            cert = conv.certificate_from_proto(b.block.commit_certificate)
            err = schedule.at(h).verify_certificate(c.ReferenceCrypto(), chain_id, h, bytes(b.block_hash), cert)
            assert err is None, f"node {i}, height {h}: {err}"
    chain = blocks[3]
    for h, b in enumerate(chain, start=1):
        ours = conv.block_from_proto(b.block)
        assert ours.hash() == bytes(b.block_hash)  # the Python reference agrees with the nodes
        signers = {bytes(s.validator) for s in b.block.commit_certificate.signatures}
        miner = bytes(b.block.header.miner_address)
        if h < CUTOVER:
            # Byzantine quorum of 3 validators is 3: the Python validator precommitted every block.
            assert signers == {keys[0], keys[1], keys[2]}, f"height {h}"
            assert miner in keys[:3]
        else:
            assert signers == {keys[0], keys[1], keys[3]}, f"height {h}: validator 3 signed after the cutover"
            assert miner in (keys[0], keys[1], keys[3])
    before = [bytes(b.block.header.miner_address) for b in chain[: CUTOVER - 1]]
    after = [bytes(b.block.header.miner_address) for b in chain[CUTOVER - 1 :]]
    assert keys[2] in before, "the Python validator proposed no block"
    assert keys[3] in after and keys[2] not in after, "validator 4 did not take over proposing"
    python_blocks = [b for b in chain[: CUTOVER - 1] if bytes(b.block.header.miner_address) == keys[2]]
    assert any(b.block.transactions for b in python_blocks), "no Python-proposed block carried transactions"

    # The transfers submitted through the Python node are final everywhere, exactly once.
    assert len(submitted) >= 5
    on_chain = [t for b in chain for t in b.block.transactions]
    assert sorted(conv.transaction_from_proto(t).hash() for t in on_chain) == sorted(t.hash() for t in submitted)
    expected = sum(t.amount for t in submitted)
    assert {i: lg.balance(recipient) for i, lg in ledgers.items()} == {i: expected for i in ledgers}

    # The split node's own api serves the Python consensus's status; its log has the seed's lines.
    with urllib.request.urlopen(f"http://127.0.0.1:{api + 2}/v1/status", timeout=5) as resp:
        status = json.loads(resp.read())
    assert status["block_height"] >= FINAL and status["chain_id"] == chain_id
    python_log = procs.log("v3-python")
    produced = [json.loads(x) for x in python_log.splitlines() if '"New block produced"' in x]
    assert produced and {p["block_number"] for p in produced} == {
        b.block.header.block_index for b in python_blocks
    }, python_log[-3000:]  # fmt: skip

    # SIGTERM: the Python validator (stopped before the services it uses) exits cleanly.
    codes = procs.stop(first=("v3-python",))
    assert codes["v3-python"] == 0, procs.log("v3-python")[-3000:]
    assert '"python validator stopped"' in procs.log("v3-python")
    # Its signing state (beside the database, in the Rust format): the last thing it signed was
    # for the height before the cutover (it precommitted that block); after it, nothing.
    state, legacy = c.SignState.from_file_bytes((d / "data" / "validator-3.sign_state").read_bytes())
    assert not legacy, "written in format 2 (checksum)"
    assert state.height == CUTOVER - 1
    # And its lock (the Rust lock file format): the block it precommitted there, with the proof
    # of lock, the byzantine quorum's three prevotes for it.
    lock, _ = c.LockState.from_file_bytes((d / "data" / "validator-3.lock_state").read_bytes())
    assert lock.height == CUTOVER - 1 and lock.block.header.block_index == lock.height
    assert len(lock.prevotes) >= 3, lock.prevotes
    for p in lock.prevotes:
        assert p.block_hash == lock.block.hash() and r.ed25519_verify_strict(p.validator, p.signing_bytes(), p.signature)


def _wait_for_line(procs: Processes, name: str, text: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in procs.log(name):
        procs.check_running()
        assert time.monotonic() < deadline, f"{name} never logged {text!r}:\n{procs.log(name)[-3000:]}"
        time.sleep(0.1)


def _logs(procs: Processes) -> str:
    return "\n".join(f"--- {name}\n{procs.log(name)[-2000:]}" for name in procs.children)
