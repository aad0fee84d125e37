#!/usr/bin/env bash
# The performance suite: this machine's strict ed25519 verification rate (the bound on final TPS
# when every validator verifies every signature on the same cores), then a fresh 3-validator
# devnet (release build) in a temp dir under the load generator at increasing offered rates, and
# with --anchor the same rates on a 3-validator CometBFT network, plain kvstore and kvstore plus
# one ed25519 check per transaction. Results: bench/results/<UTC date>.json, a side-by-side
# table on stdout, and a plot of both next to the JSON (.png).
#
#   bench/run.sh                         # rates 100 1000 5000 10000 20000, 20 s each
#   bench/run.sh --rates "100 500" --duration 30s --accounts 2000
#   bench/run.sh --presign               # generators sign everything before each window
#   bench/run.sh --anchor                # also CometBFT (go install, pinned; see bench/anchor)
#   bench/run.sh --note "machine busy"   # recorded in the result with the load average
#   bench/run.sh --check                 # the seed's success metrics, exit 1 on a miss:
#                                        # 3 validators producing blocks consistently,
#                                        # > 100 TPS sustained, < 200 ms block propagation (p99)
#
# Ports (override with BENCH_API_PORT, BENCH_P2P_PORT, BENCH_GRPC_PORT, BENCH_CMT_PORT) are away
# from the default devnet's and CometBFT's so running networks are left alone. The networks'
# directories are deleted at the end unless BENCH_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

rates="100 1000 5000 10000 20000"
duration="20s"
accounts=1000
block_time="2s"
check=0
presign=0
anchor=0
note=""
verify_seconds=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rates) rates="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --accounts) accounts="$2"; shift 2 ;;
    --block-time) block_time="$2"; shift 2 ;;
    --presign) presign=1; shift ;;
    --anchor) anchor=1; shift ;;
    --note) note="$2"; shift 2 ;;
    --verify-seconds) verify_seconds="$2"; shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [[ $check == 1 ]]; then
  rates="200"
  anchor=0
  [[ "$duration" == "20s" ]] && duration="30s"
fi

api=${BENCH_API_PORT:-18080}
p2p=${BENCH_P2P_PORT:-19000}
grpc=${BENCH_GRPC_PORT:-18090}
cmt_port=${BENCH_CMT_PORT:-26700}
# The pinned CometBFT (v0.38.x; bench/anchor/go.mod names the same version).
cometbft_version=v0.38.26
# Our blocks are bounded by the genesis's max_block_bytes (default 8 MiB, which binds before
# the default max_block_gas for transfers): CometBFT's block.max_bytes is set so its blocks hold
# as many transactions of the same size (block_txs, computed once tx_bytes is measured).
max_block_bytes=8388608
presign_flag=()
[[ $presign == 1 ]] && presign_flag=(--presign)

cargo build --release --quiet -p coinjectured -p coinjecture-loadtest
bin=target/release
anchor_bin=$root/target/anchor/bin
if [[ $anchor == 1 ]]; then
  command -v go >/dev/null || { echo "--anchor needs Go (go install of CometBFT $cometbft_version)" >&2; exit 1; }
  mkdir -p "$anchor_bin"
  if ! "$anchor_bin/cometbft" version 2>/dev/null | grep -qx "${cometbft_version#v}"; then
    echo "installing CometBFT $cometbft_version into $anchor_bin (go install)" >&2
    GOBIN=$anchor_bin go install "github.com/cometbft/cometbft/cmd/cometbft@$cometbft_version"
  fi
  (cd bench/anchor && go build -o "$anchor_bin/coinjecture-anchor" .)
fi

work=$(mktemp -d /tmp/coinjecture-bench.XXXXXX)
pids=()
stop_network() {
  # SIGTERM: devnet stops its validators cleanly; CometBFT nodes stop on it too.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
  # A validator the devnet started outlives it when the devnet is killed before its children
  # stop (seen once: it held the bench's ports into the next run). Anything still running from
  # this run's directory is stopped too.
  if pgrep -f "$work/" >/dev/null 2>&1; then
    pkill -TERM -f "$work/" 2>/dev/null || true
    for _ in $(seq 50); do pgrep -f "$work/" >/dev/null 2>&1 || break; sleep 0.2; done
    pkill -KILL -f "$work/" 2>/dev/null || true
  fi
}
cleanup() {
  stop_network
  # The chain data of a full run is a few hundred MB: keep it only when asked (BENCH_KEEP=1).
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# 1. The bound, measured before any network runs.
load_before=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "")
"$bin/coinjecture-bench" verify-rate --seconds "$verify_seconds" --out "$work/verify.json"
tx_bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tx_bytes"])' "$work/verify.json")
# What our proposer fits under max_block_bytes (1,024 bytes are kept for the block's envelope).
block_txs=$(( (max_block_bytes - 1024) / tx_bytes ))

# 2. Ours.
# The per-IP rate limit (api.limits.rate_per_second) is off: the load generator is one address
# standing for many clients, and at the default (200 work units/s, 0.1 per transaction) it
# caps each node's intake near 2,000 tx/s from it, which is what the bench would then measure.
COINJECTURE_API_LIMITS_RATE_PER_SECOND=0 \
"$bin/coinjectured" devnet --validators 3 --dir "$work/devnet" --block-time "$block_time" \
  --api-port "$api" --p2p-port "$p2p" --grpc-port "$grpc" >"$work/devnet.log" 2>&1 &
pids+=($!)
nodes="http://127.0.0.1:$api,http://127.0.0.1:$((api + 1)),http://127.0.0.1:$((api + 2))"
echo "devnet in $work/devnet (logs: $work/devnet/logs); waiting for height 2 on every node" >&2
for port in "$api" "$((api + 1))" "$((api + 2))"; do
  for i in $(seq 300); do
    h=$(curl -sf "http://127.0.0.1:$port/v1/status" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["block_height"])' 2>/dev/null || echo 0)
    [[ "$h" -ge 2 ]] && break
    [[ $i == 300 ]] && { echo "node on port $port never reached height 2; see $work/devnet/logs" >&2; exit 1; }
    sleep 0.2
  done
done
for rate in $rates; do
  echo "== ours: $rate tx/s for $duration" >&2
  "$bin/coinjecture-loadtest" --node "http://127.0.0.1:$api" --nodes "$nodes" --duration "$duration" \
    --txrate "$rate" --accounts "$accounts" --faucet-key "$work/devnet/keys/faucet.key" "${presign_flag[@]}" \
    --report "$work/ours-$rate.json" || { echo "load generator failed at $rate tx/s" >&2; exit 1; }
done
stop_network

if [[ $check == 1 ]]; then
  python3 - "$duration" "$block_time" "$work/ours-$rates.json" <<'PY'
import json, re, sys

def secs(s):
    m = re.fullmatch(r"([\d.]+)(ms|s|m|h)?", s)
    return float(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m[2]]

duration, block_time, r = secs(sys.argv[1]), secs(sys.argv[2]), json.load(open(sys.argv[3]))
expected_blocks = duration / block_time
prop = r["block_propagation_p99_s"]
checks = [
    ("3 validators producing blocks", r["proposers"] == 3 and r["blocks"] >= 0.8 * expected_blocks,
     f'{r["proposers"]} proposers, {r["blocks"]} blocks in {duration:.0f} s (expected ~{expected_blocks:.0f})'),
    ("> 100 TPS sustained", r["sustained_final_tps"] > 100 and r["lost"] == 0 and r["duplicated"] == 0,
     f'{r["sustained_final_tps"]:.1f} final tx/s, lost {r["lost"]}, duplicated {r["duplicated"]}'),
    ("< 200 ms block propagation (p99)", prop is not None and prop < 0.2,
     "n/a" if prop is None else f"{prop * 1000:.1f} ms"),
]
ok = True
for name, passed, detail in checks:
    print(f'{"PASS" if passed else "FAIL"}  {name}: {detail}')
    ok &= passed
sys.exit(0 if ok else 1)
PY
  exit $?
fi

# 3. The anchor: the same rates on CometBFT, stock kvstore, then kvstore + ed25519 per transaction.
if [[ $anchor == 1 ]]; then
  rpcs="http://127.0.0.1:$((cmt_port + 1)),http://127.0.0.1:$((cmt_port + 11)),http://127.0.0.1:$((cmt_port + 21))"
  for variant in kvstore signed; do
    net="$work/cometbft-$variant"
    "$anchor_bin/cometbft" testnet --v 3 --o "$net" --starting-ip-address 127.0.0.1 >/dev/null
    python3 bench/anchor/configure.py "$net" --validators 3 --base-port "$cmt_port" --block-time "$block_time" \
      --block-txs "$block_txs" --tx-bytes "$tx_bytes" >/dev/null
    for i in 0 1 2; do
      if [[ $variant == kvstore ]]; then
        "$anchor_bin/cometbft" node --home "$net/node$i" --proxy_app=kvstore >"$net/node$i.log" 2>&1 &
      else
        "$anchor_bin/coinjecture-anchor" node --home "$net/node$i" >"$net/node$i.log" 2>&1 &
      fi
      pids+=($!)
    done
    echo "CometBFT $cometbft_version ($variant) in $net; waiting for height 2 on every node" >&2
    for i in 0 1 2; do
      for n in $(seq 300); do
        h=$(curl -sf "http://127.0.0.1:$((cmt_port + 10 * i + 1))/status" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["sync_info"]["latest_block_height"])' 2>/dev/null || echo 0)
        [[ "$h" -ge 2 ]] && break
        [[ $n == 300 ]] && { echo "CometBFT node $i never reached height 2; see $net/node$i.log" >&2; exit 1; }
        sleep 0.2
      done
    done
    for rate in $rates; do
      echo "== CometBFT $variant: $rate tx/s for $duration" >&2
      "$anchor_bin/coinjecture-anchor" load --rpc "$rpcs" --rate "$rate" --duration "$duration" \
        --variant "$([[ $variant == kvstore ]] && echo plain || echo signed)" --tx-bytes "$tx_bytes" \
        --accounts "$accounts" "${presign_flag[@]}" --report "$work/$variant-$rate.json" \
        || { echo "CometBFT load generator failed at $rate tx/s" >&2; exit 1; }
    done
    stop_network
  done
fi

mkdir -p bench/results
out="bench/results/$(date -u +%Y-%m-%dT%H%MZ).json"
summary=(--out "$out" --validators 3 --block-time "$block_time" --duration "$duration" --note "$note")
[[ -n "$load_before" ]] && summary+=(--load-before "$load_before")
[[ $presign == 1 ]] && summary+=(--presign)
[[ $anchor == 1 ]] && summary+=(--cometbft "$cometbft_version")
"$bin/coinjecture-bench" summarize "$work" "${summary[@]}"
"$bin/coinjecture-bench-plot" "$out" "${out%.json}.png" || echo "plot skipped (see the error above)" >&2
