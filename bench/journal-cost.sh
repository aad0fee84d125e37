#!/usr/bin/env bash
# The transaction journal's cost: one fresh release 3-validator devnet (2 s blocks) per run, the
# load generator at RATE for DURATION, with the journal (default) or without it (the hidden
# `coinjectured node --no-tx-journal`), then each node's coinjecture_tx_journal_* metrics.
#
#   bench/journal-cost.sh 5000 on 30s      # → $OUT/5000-on/{report.json,journal.metrics,loadtest.out}
#   bench/journal-cost.sh 5000 off 30s
#
# Interleave on/off runs: on a shared machine the spread between runs is larger than the cost.
# Ports 19300/19360/19380 (+0..2); OUT defaults to /tmp/journal-cost.
set -u
rate=$1; mode=$2; duration=${3:-30s}
cd "$(dirname "$0")/.."
cargo build --release --quiet -p coinjectured -p coinjecture-loadtest
bin=target/release
dir=${OUT:-/tmp/journal-cost}/$rate-$mode; rm -rf "$dir"; mkdir -p "$dir"
"$bin/coinjectured" devnet --init-only --dir "$dir" --validators 3 --block-time 2s \
  --p2p-port 19300 --api-port 19380 --grpc-port 19360 >/dev/null
flag=""; [ "$mode" = off ] && flag="--no-tx-journal"
pids=()
for i in 1 2 3; do
  "$bin/coinjectured" node --config "$dir/validator-$i.yaml" $flag >"$dir/v$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 150); do
  curl -sf http://127.0.0.1:19382/v1/status | grep -q '"block_height":[1-9]' && break; sleep 0.2
done
"$bin/coinjecture-loadtest" --node http://127.0.0.1:19380 \
  --nodes http://127.0.0.1:19380,http://127.0.0.1:19381,http://127.0.0.1:19382 \
  --duration "$duration" --txrate "$rate" --accounts 1000 --faucet-key "$dir/keys/faucet.key" \
  --report "$dir/report.json" >"$dir/loadtest.out" 2>&1
for p in 19380 19381 19382; do curl -s "http://127.0.0.1:$p/metrics" | grep -E '^coinjecture_tx_journal'; done \
  >"$dir/journal.metrics"
for p in "${pids[@]}"; do kill -TERM "$p"; done
wait
echo "$dir"
