#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, the Rust test suite (unit,
# property, integration over real sockets, golden vectors, the consensus simulation), the
# golden-file drift check, the Python and Go references' golden tests, and the Go client's
# parity run against a live crypto-core service. Usage: scripts/test.sh
# Needs once: python3 -m pip install -e clients/python pytest (CI's .ci/run does it); Go stubs'
# tools (protoc, plugins) are installed by scripts/gen-go.sh when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "golden files match the generator"
cargo run --quiet --locked -p coinjecture-golden -- --check

step "Python reference implementation against the golden vectors"
(cd clients/python && python3 -m pytest -q)

step "Go stubs are current; go vet; gofmt"
scripts/gen-go.sh --check
(cd clients/go && go vet ./... && test -z "$(gofmt -l .)")

step "Go reference and client against the golden vectors, and against a live crypto-core"
cargo build --quiet --locked -p coinjectured
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/debug/coinjectured service crypto-core --listen "127.0.0.1:$port" --log-format text --log-level warn &
crypto_core_pid=$!
trap 'kill "$crypto_core_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
(cd clients/go && COINJECTURE_CRYPTO_CORE="127.0.0.1:$port" go test ./...)
kill "$crypto_core_pid"
wait "$crypto_core_pid" 2>/dev/null || true
trap - EXIT

step "all checks passed"
