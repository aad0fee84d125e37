#!/usr/bin/env bash
# Runs every check and test of the project: formatting, lints, the Rust test suite (unit,
# property, integration over real sockets, golden vectors), the golden-file drift check, and the
# Python reference's golden tests. Usage: scripts/test.sh
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

step "all checks passed"
