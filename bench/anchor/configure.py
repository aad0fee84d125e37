#!/usr/bin/env python3
"""Turns a `cometbft testnet --v N` directory into a loopback network matched to our devnet.

    configure.py DIR --validators 3 --base-port 26700 --block-time 2s --block-txs 10000 --tx-bytes 290

Node i (0-based) listens for p2p on base+10i and RPC on base+10i+1, all on 127.0.0.1. Matched to
ours: the block holds --block-txs transactions of --tx-bytes (block.max_bytes from CometBFT's
own size rule), timeout_commit is the block time, the mempool has our limits (200,000
transactions, 256 MiB). Raised so they do not bind before the consensus does: the p2p send/recv
rate (5 MB/s per peer by default; our gossip has no such throttle). Everything else is stock.
"""

import argparse
import json
import pathlib
import re
import sys

MEMPOOL_TXS = 200_000
MEMPOOL_BYTES = 256 * 1024 * 1024
P2P_RATE = 100 * 1024 * 1024
# CometBFT's block size rule (types/block.go, v0.38): a block's data is max_bytes minus the
# block overhead (11), the largest header (626), the commit (94 + 109 per validator) and the
# evidence budget; each transaction costs its length plus 3 bytes of protobuf framing (< 16 KiB).
BLOCK_OVERHEAD, HEADER_BYTES, COMMIT_BYTES, COMMIT_SIG_BYTES, TX_FRAMING = 11, 626, 94, 109, 3


def block_max_bytes(block_txs, tx_bytes, validators, evidence_bytes):
    """The block.max_bytes that holds exactly `block_txs` transactions of `tx_bytes`."""
    data = block_txs * (tx_bytes + TX_FRAMING)
    return data + BLOCK_OVERHEAD + HEADER_BYTES + COMMIT_BYTES + COMMIT_SIG_BYTES * validators + evidence_bytes


def secs(text):
    m = re.fullmatch(r"([\d.]+)(ms|s)", text)
    if not m:
        sys.exit(f"--block-time {text!r}: expected e.g. 2s or 500ms")
    return float(m[1]) * (0.001 if m[2] == "ms" else 1)


def set_key(toml, section, key, value):
    """Replaces `key = ...` inside `[section]` (the top level when section is None)."""
    lines, current, done = toml.splitlines(), None, False
    for i, line in enumerate(lines):
        header = re.fullmatch(r"\[([\w.]+)\]\s*", line)
        if header:
            current = header[1]
            continue
        if current == section and re.match(rf"{re.escape(key)}\s*=", line):
            lines[i] = f"{key} = {value}"
            done = True
            break
    if not done:
        sys.exit(f"config.toml has no {key} in [{section}]")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir", type=pathlib.Path)
    p.add_argument("--validators", type=int, default=3)
    p.add_argument("--base-port", type=int, default=26700)
    p.add_argument("--block-time", default="2s")
    p.add_argument("--block-txs", type=int, default=10_000)
    p.add_argument("--tx-bytes", type=int, default=290)
    a = p.parse_args()

    homes = [a.dir / f"node{i}" for i in range(a.validators)]
    ids = []
    for home in homes:
        config = (home / "config" / "config.toml").read_text()
        peers = re.search(r'^persistent_peers = "(.*)"', config, re.M)
        if not peers:
            sys.exit(f"{home}: no persistent_peers (generate with --populate-persistent-peers)")
        ids = [p.split("@")[0] for p in peers[1].split(",") if p]
    if len(ids) != a.validators:
        sys.exit(f"expected {a.validators} peers in persistent_peers, found {len(ids)}")
    block_ms = int(secs(a.block_time) * 1000)
    for i, home in enumerate(homes):
        p2p, rpc = a.base_port + 10 * i, a.base_port + 10 * i + 1
        path = home / "config" / "config.toml"
        c = path.read_text()
        c = set_key(c, None, "log_level", '"state:info,*:error"')
        c = set_key(c, "rpc", "laddr", f'"tcp://127.0.0.1:{rpc}"')
        # One JSON-RPC batch carries one submission call's transactions (ours: up to 500).
        c = set_key(c, "rpc", "max_request_batch_size", "1000")
        c = set_key(c, "rpc", "max_body_bytes", str(16 * 1024 * 1024))
        c = set_key(c, "p2p", "laddr", f'"tcp://127.0.0.1:{p2p}"')
        peers = ",".join(f"{pid}@127.0.0.1:{a.base_port + 10 * j}" for j, pid in enumerate(ids) if j != i)
        c = set_key(c, "p2p", "persistent_peers", f'"{peers}"')
        c = set_key(c, "p2p", "allow_duplicate_ip", "true")
        c = set_key(c, "p2p", "addr_book_strict", "false")
        c = set_key(c, "p2p", "pex", "false")
        c = set_key(c, "p2p", "send_rate", str(P2P_RATE))
        c = set_key(c, "p2p", "recv_rate", str(P2P_RATE))
        c = set_key(c, "mempool", "size", str(MEMPOOL_TXS))
        c = set_key(c, "mempool", "max_txs_bytes", str(MEMPOOL_BYTES))
        c = set_key(c, "mempool", "cache_size", str(2 * MEMPOOL_TXS))
        c = set_key(c, "consensus", "timeout_commit", f'"{block_ms}ms"')
        path.write_text(c)

        gpath = home / "config" / "genesis.json"
        genesis = json.loads(gpath.read_text())
        params = genesis.setdefault("consensus_params", {})
        evidence = int(params.get("evidence", {}).get("max_bytes", 1_048_576))
        params.setdefault("block", {})["max_bytes"] = str(
            block_max_bytes(a.block_txs, a.tx_bytes, a.validators, evidence))
        params["block"]["max_gas"] = "-1"
        gpath.write_text(json.dumps(genesis, indent=2))
    print(" ".join(f"http://127.0.0.1:{a.base_port + 10 * i + 1}" for i in range(a.validators)))


if __name__ == "__main__":
    main()
