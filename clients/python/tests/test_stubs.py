"""The committed stubs import, match the .proto files (``gen.sh --check``) and convert losslessly."""

from __future__ import annotations

import importlib.metadata
import subprocess
from pathlib import Path

import pytest

from coinjecture import client as c
from coinjecture import reference as r

GEN = Path(__file__).resolve().parents[1] / "gen.sh"


def _pinned() -> str:
    for line in GEN.read_text().splitlines():
        if line.startswith("GRPCIO_TOOLS_VERSION="):
            return line.split("=", 1)[1]
    raise AssertionError("gen.sh pins no grpcio-tools version")


def _installed() -> str | None:
    try:
        return importlib.metadata.version("grpcio-tools")
    except importlib.metadata.PackageNotFoundError:
        return None


@pytest.mark.skipif(_installed() != _pinned(), reason="the pinned grpcio-tools is not installed (gen.sh --check installs it itself)")
def test_stubs_are_current():
    p = subprocess.run([str(GEN), "--check"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr


def test_round_trips():
    seed = bytes(range(32))
    tx = r.Transaction("BountyPayment", r.ed25519_public_key(seed), b"\x05" * 32, 2**64 - 1, 3, 50_000, 7,
                       data=b"cj:x\n", timestamp=-5).sign(seed)  # fmt: skip
    assert c.transaction_from_proto(c.transaction_to_proto(tx)) == tx
    hdr = r.BlockHeader(block_index=9, timestamp=-1, nonce=2**64 - 1, extra_data=b"\x01" * 39)
    assert c.header_from_proto(c.header_to_proto(hdr)) == hdr
    block = r.Block(hdr, [tx, tx])
    assert c.block_from_proto(c.block_to_proto(block)) == block
    prob = r.SubsetSumProblem("Cluster", [-(2**63), 2**63 - 1] + [0] * 22, -3, 4)
    assert c.problem_from_proto(c.problem_to_proto(prob)) == prob
    sol = r.SubsetSumSolution([0, 2**32 - 1], 1)
    assert c.solution_from_proto(c.solution_to_proto(sol)) == sol
    assert c.reason_name(0) is None and c.reason_name(7) == "SUM_MISMATCH"
    assert c.target("http://127.0.0.1:8080/") == "127.0.0.1:8080"
