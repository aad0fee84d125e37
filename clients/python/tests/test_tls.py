"""Mutual TLS with a node's internal gRPC services: ``coinjectured service crypto-core`` with
``api.internal_tls`` (certificates from ``coinjectured tls gen``) serves a client holding a
certificate of its CA and refuses one without. Needs ``COINJECTURED`` (a coinjectured binary);
skipped without it."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from coinjecture.client import CryptoCoreClient, TlsFiles

BIN = os.environ.get("COINJECTURED", "")
pytestmark = pytest.mark.skipif(not BIN, reason="COINJECTURED is not set (the path of a coinjectured binary)")


@pytest.fixture
def tls_crypto_core(tmp_path: Path):
    def run(*args: str) -> None:
        subprocess.run([BIN, *args], check=True, capture_output=True)

    run("devnet", "--init-only", "--validators", "1", "--dir", str(tmp_path / "devnet"))
    tls_dir = tmp_path / "tls"
    run("tls", "gen", "--dir", str(tls_dir), "--names", "127.0.0.1")
    files = TlsFiles(ca=str(tls_dir / "ca.pem"), cert=str(tls_dir / "node.pem"), key=str(tls_dir / "node-key.pem"))
    config = tmp_path / "devnet" / "validator-1.yaml"
    section = f"api:\n  internal_tls:\n    ca: {files.ca}\n    cert: {files.cert}\n    key: {files.key}\n"
    config.write_text(config.read_text().replace("api:\n", section, 1))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "crypto-core.log", "wb")
    proc = subprocess.Popen(
        [BIN, "service", "crypto-core", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "crypto-core.log").read_text()
                time.sleep(0.1)
        yield f"127.0.0.1:{port}", files
    finally:
        proc.kill()
        proc.wait()
        log.close()


def test_mutual_tls_is_served_and_a_client_without_a_certificate_is_refused(tls_crypto_core) -> None:
    address, files = tls_crypto_core
    with CryptoCoreClient(address, timeout=20, tls=files) as c:
        c.wait_ready(timeout=20)
        assert c.sha256(b"mutual TLS") == hashlib.sha256(b"mutual TLS").digest()
    # Plaintext, and TLS trusting the CA without a client certificate: refused.
    with CryptoCoreClient(address, timeout=5) as c, pytest.raises(grpc.RpcError):
        c.sha256(b"x")
    no_cert = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=Path(files.ca).read_bytes()))
    with CryptoCoreClient(no_cert, timeout=5) as c, pytest.raises(grpc.RpcError):
        c.sha256(b"x")
    no_cert.close()


def test_tls_files_that_are_not_pem_are_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not pem")
    with pytest.raises(ValueError, match="tls.ca: .* is not PEM"):
        TlsFiles(ca=str(junk), cert=str(junk), key=str(junk)).credentials()
    with pytest.raises(ValueError, match="tls.ca: cannot read"):
        TlsFiles(ca=str(tmp_path / "missing.pem"), cert=str(junk), key=str(junk)).credentials()
