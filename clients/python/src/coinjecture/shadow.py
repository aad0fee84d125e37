"""Shadow mode: follow a node's chain and recompute every block's hashes with the Python reference.

    python -m coinjecture.shadow --node 127.0.0.1:8080 [--metrics-port 9464] [--summary-every 100]

Subscribes to ``PublicApi.StreamBlocks`` (from height 1 by default) and, for every finalized block,
recomputes with :mod:`coinjecture.reference` (pure Python, hashlib) what the node claims:

- ``block_hash``: SHA-256 of the header's canonical encoding, against the ``BlockView.block_hash``
  the node sent (and the commit certificate's ``block_hash``, when present);
- ``tx_hash``: each transaction's hash, against ``BlockView.transaction_hashes`` (and their count);
- ``merkle_root``: the Merkle root of the recomputed transaction hashes, against
  ``header.merkle_root``;
- ``parent_hash`` and ``height``: the chain links up (parent hash = our hash of the previous block,
  heights ascend by one).

Each disagreement is logged as ``WARN parity divergence height=… value=… node=… ours=…`` and
counted in ``coinjecture_parity_divergence_total{value="…"}``, served in the Prometheus text format
on ``--metrics-port`` when given; a summary line is logged every ``--summary-every`` blocks. The
stream is resumed from the next height after a disconnect.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import reference as ref

log = logging.getLogger("coinjecture.shadow")

# The values shadow mode recomputes (label `value` of the counter).
VALUES = ("block_hash", "certificate_block_hash", "tx_hash", "tx_count", "merkle_root", "parent_hash", "height", "decode")


@dataclass
class Divergence:
    height: int
    value: str
    node: str
    ours: str
    index: int | None = None  # transaction position, for tx_hash

    def __str__(self) -> str:
        where = f" index={self.index}" if self.index is not None else ""
        return f"parity divergence height={self.height} value={self.value}{where} node={self.node} ours={self.ours}"


@dataclass
class Checker:
    """Recomputes a block's hashes and compares them with the node's; keeps the counts."""

    blocks_checked: int = 0
    last_height: int | None = None
    last_hash: bytes | None = None
    divergences: dict[str, int] = field(default_factory=lambda: {v: 0 for v in VALUES})
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # blocks_checked when the last summary line was logged (None: never).
    summarized_at: int | None = None

    @property
    def total_divergences(self) -> int:
        return sum(self.divergences.values())

    def check(self, view) -> list[Divergence]:
        """Checks one ``BlockView`` (protobuf); returns (and counts) its divergences."""
        from .client import block_from_proto  # needs grpc/protobuf; keep reference-only users free

        header = view.block.header
        height = header.block_index
        found: list[Divergence] = []

        def diverge(value: str, node: bytes | int | str, ours: bytes | int | str, index: int | None = None) -> None:
            show = lambda v: v.hex() if isinstance(v, bytes) else str(v)  # noqa: E731
            found.append(Divergence(height, value, show(node), show(ours), index))

        ours_hash: bytes | None = None
        try:
            block = block_from_proto(view.block)
            ours_hash = block.header.hash()
            ours_tx = [t.hash() for t in block.transactions]
        except (ValueError, KeyError) as e:  # the node sent something our encoder refuses
            diverge("decode", "?", str(e))
            ours_hash = None

        if ours_hash is not None:
            if bytes(view.block_hash) != ours_hash:
                diverge("block_hash", bytes(view.block_hash), ours_hash)
            if view.block.HasField("commit_certificate") and bytes(view.block.commit_certificate.block_hash) != ours_hash:
                diverge("certificate_block_hash", bytes(view.block.commit_certificate.block_hash), ours_hash)
            node_tx = [bytes(x) for x in view.transaction_hashes]
            if len(node_tx) != len(ours_tx):
                diverge("tx_count", len(node_tx), len(ours_tx))
            for i, (n, o) in enumerate(zip(node_tx, ours_tx)):
                if n != o:
                    diverge("tx_hash", n, o, i)
            ours_root = ref.merkle_root(ours_tx)
            if bytes(header.merkle_root) != ours_root:
                diverge("merkle_root", bytes(header.merkle_root), ours_root)
        if self.last_height is not None:
            if height != self.last_height + 1:
                diverge("height", height, self.last_height + 1)
            elif self.last_hash is not None and bytes(header.parent_hash) != self.last_hash:
                diverge("parent_hash", bytes(header.parent_hash), self.last_hash)
        with self.lock:
            self.blocks_checked += 1
            self.last_height = height
            self.last_hash = ours_hash
            for d in found:
                self.divergences[d.value] += 1
        return found

    def metrics(self) -> str:
        """The Prometheus text exposition of the counters."""
        with self.lock:
            lines = [
                "# HELP coinjecture_parity_divergence_total Values recomputed by shadow mode that differ from the node's.",
                "# TYPE coinjecture_parity_divergence_total counter",
            ]
            lines += [f'coinjecture_parity_divergence_total{{value="{v}"}} {n}' for v, n in self.divergences.items()]
            lines += [
                "# HELP coinjecture_shadow_blocks_checked_total Blocks recomputed by shadow mode.",
                "# TYPE coinjecture_shadow_blocks_checked_total counter",
                f"coinjecture_shadow_blocks_checked_total {self.blocks_checked}",
                "# HELP coinjecture_shadow_height Height of the last block checked.",
                "# TYPE coinjecture_shadow_height gauge",
                f"coinjecture_shadow_height {self.last_height or 0}",
            ]
        return "\n".join(lines) + "\n"


def serve_metrics(checker: Checker, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Serves ``/metrics`` on a daemon thread; returns the server (``shutdown()`` stops it)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = checker.metrics().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="shadow-metrics", daemon=True).start()
    return server


def follow(
    node: str,
    checker: Checker,
    from_height: int = 1,
    max_blocks: int | None = None,
    summary_every: int = 100,
    retry_seconds: float = 2.0,
    stop: threading.Event | None = None,
) -> Checker:
    """Streams blocks from ``node`` and checks each; returns after ``max_blocks`` (else runs until
    ``stop`` is set or the process is interrupted). Reconnects from the next height on errors."""
    import grpc

    from .client import PublicApiClient

    next_height = from_height
    checked = 0
    stop = stop or threading.Event()
    while not stop.is_set():
        client = PublicApiClient(node)
        stream = client.stream_blocks(next_height)  # a generator: close() cancels the call
        try:
            log.info("following %s from height %d", node, next_height)
            for view in stream:
                for d in checker.check(view):
                    log.warning("%s", d)
                next_height = view.block.header.block_index + 1
                checked += 1
                if summary_every and checker.blocks_checked % summary_every == 0:
                    log_summary(checker)
                if (max_blocks is not None and checked >= max_blocks) or stop.is_set():
                    return checker
            log.warning("stream from %s ended at height %d; reconnecting", node, next_height)
        except grpc.RpcError as e:
            log.warning("stream from %s failed at height %d (%s: %s); retrying in %.0fs", node, next_height, e.code().name, e.details(), retry_seconds)
        finally:
            stream.close()
            client.close()
        stop.wait(retry_seconds)
    return checker


def log_summary(checker: Checker, unless_logged: bool = False) -> None:
    """Logs the summary line; with ``unless_logged``, only if the last one logged was for fewer
    blocks (the final summary is not repeated when the periodic one just said the same)."""
    if unless_logged and checker.summarized_at == checker.blocks_checked:
        return
    checker.summarized_at = checker.blocks_checked
    nonzero = {k: v for k, v in checker.divergences.items() if v}
    log.info(
        "parity summary: %d blocks checked up to height %s, %d divergences%s",
        checker.blocks_checked,
        checker.last_height,
        checker.total_divergences,
        f" {nonzero}" if nonzero else "",
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m coinjecture.shadow", description=__doc__.split("\n\n")[0])
    p.add_argument("--node", required=True, help="the node's PublicApi, host:port (its api.port) or http://host:port")
    p.add_argument("--from-height", type=int, default=1, help="first height to check (default 1)")
    p.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    p.add_argument("--summary-every", type=int, default=100, help="log a summary every N blocks (default 100; 0: never)")
    p.add_argument("--max-blocks", type=int, help="stop after checking N blocks (exit status 1 if any diverged)")
    p.add_argument("--log-level", default="INFO")
    a = p.parse_args(argv)
    logging.addLevelName(logging.WARNING, "WARN")
    logging.basicConfig(level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    checker = Checker()
    server = serve_metrics(checker, a.metrics_port) if a.metrics_port is not None else None
    try:
        follow(a.node, checker, a.from_height, a.max_blocks, a.summary_every)
    except KeyboardInterrupt:
        pass
    finally:
        log_summary(checker, unless_logged=True)
        if server is not None:
            server.shutdown()
    return 1 if checker.total_divergences else 0


if __name__ == "__main__":
    sys.exit(main())
