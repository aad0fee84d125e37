#!/usr/bin/env bash
# Runs the crypto-core benchmarks and, in the same run, OpenSSL's SHA-256 for comparison.
# Usage: bench/crypto.sh   (results: target/criterion/, summary on stdout)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> CPU SHA extensions: $(grep -o -m1 -w 'sha_ni' /proc/cpuinfo || echo 'none (software SHA-256)')"
if command -v openssl >/dev/null; then
  echo "==> openssl speed -evp sha256"
  openssl speed -seconds 3 -bytes 16384 -evp sha256 2>/dev/null | tail -n 2
  openssl speed -seconds 3 -bytes 1048576 -evp sha256 2>/dev/null | tail -n 1
else
  echo "openssl not installed: skipping the comparison"
fi
echo "==> cargo bench -p coinjecture-crypto-core"
cargo bench -p coinjecture-crypto-core --bench crypto -- "$@" 2>&1 | grep -E '^[a-z_]+/|time:|thrpt:'
