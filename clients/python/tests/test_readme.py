"""The READMEs' Python snippets, pasted in order into one interpreter, against a live crypto-core
and devnet (as scripts/test.sh starts them). The only edits are the addresses (the snippets use
the documented default ports) and the working directory (a `devnet` link to the live devnet, so
`devnet/keys/faucet.key` is the faucet key). Skipped unless COINJECTURE_CRYPTO_CORE,
COINJECTURE_NODE and COINJECTURE_FAUCET_KEY are set."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE_README = HERE.parent / "README.md"
TOP_README = HERE.parents[2] / "README.md"
CRYPTO_CORE = os.environ.get("COINJECTURE_CRYPTO_CORE")
NODE = os.environ.get("COINJECTURE_NODE")
FAUCET = os.environ.get("COINJECTURE_FAUCET_KEY")
SKIP_MARK = "# not run by tests/test_readme.py"


def snippets(readme: Path) -> list[str]:
    """The ```python blocks of `readme`, in order, without those marked as not run."""
    blocks = re.findall(r"^```python\n(.*?)^```", readme.read_text(), flags=re.S | re.M)
    return [b for b in blocks if not b.startswith(SKIP_MARK)]


def test_the_snippets_are_found():
    """The extraction sees the blocks the READMEs have (so a renamed fence cannot make the live
    test below vacuous)."""
    package = snippets(PACKAGE_README)
    assert len(package) >= 2 and any("submit_transaction" in b for b in package), package
    assert any("GoldenVectorsSelfTest" in b for b in snippets(TOP_README))
    assert all(SKIP_MARK not in b for b in package)


def run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not (CRYPTO_CORE and NODE and FAUCET), reason="needs COINJECTURE_CRYPTO_CORE, COINJECTURE_NODE and COINJECTURE_FAUCET_KEY")
def test_package_readme_snippets_run_as_pasted(tmp_path: Path):
    assert CRYPTO_CORE and NODE and FAUCET
    (tmp_path / "devnet").symlink_to(Path(FAUCET).resolve().parents[1])
    code = "\n".join(snippets(PACKAGE_README))
    code = code.replace("127.0.0.1:50151", CRYPTO_CORE).replace("127.0.0.1:8080", NODE)
    p = run(code, tmp_path)
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    lines = p.stdout.splitlines()
    assert "True None" in lines, p.stdout
    # The submitted transaction's line: accepted, and its hash as 64 hex digits (not b'...').
    assert any(re.fullmatch(r"True [0-9a-f]{64}", line) for line in lines), p.stdout
    assert "b'" not in p.stdout, p.stdout


@pytest.mark.skipif(not CRYPTO_CORE, reason="needs COINJECTURE_CRYPTO_CORE")
def test_top_readme_snippets_run_as_pasted(tmp_path: Path):
    assert CRYPTO_CORE
    code = "\n".join(snippets(TOP_README)).replace("127.0.0.1:50051", CRYPTO_CORE)
    p = run(code, tmp_path)
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert re.search(r"^(\d+) of \1 golden vectors pass$", p.stdout, flags=re.M), p.stdout
