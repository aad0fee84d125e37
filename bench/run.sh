#!/usr/bin/env bash
# The performance suite: a fresh 3-validator devnet (release build) in a temp dir, the load
# generator at increasing offered rates, results in bench/results/<UTC date>.json and a plot of
# offered vs. final TPS and latency next to it (.png).
#
#   bench/run.sh                         # rates 100 1000 5000 10000 20000, 20 s each
#   bench/run.sh --rates "100 500" --duration 30s --accounts 2000
#   bench/run.sh --check                 # the seed's success metrics, exit 1 on a miss:
#                                        # 3 validators producing blocks consistently,
#                                        # > 100 TPS sustained, < 200 ms block propagation (p99)
#
# Ports (override with BENCH_API_PORT, BENCH_P2P_PORT, BENCH_GRPC_PORT) are away from the
# default devnet's so a running `coinjectured devnet` is left alone. The devnet's directory is
# deleted at the end unless BENCH_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."

rates="100 1000 5000 10000 20000"
duration="20s"
accounts=1000
block_time="2s"
check=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rates) rates="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --accounts) accounts="$2"; shift 2 ;;
    --block-time) block_time="$2"; shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [[ $check == 1 ]]; then
  rates="200"
  [[ "$duration" == "20s" ]] && duration="30s"
fi

api=${BENCH_API_PORT:-18080}
p2p=${BENCH_P2P_PORT:-19000}
grpc=${BENCH_GRPC_PORT:-18090}

cargo build --release --quiet -p coinjectured -p coinjecture-loadtest
bin=target/release
dir=$(mktemp -d /tmp/coinjecture-bench.XXXXXX)
"$bin/coinjectured" devnet --validators 3 --dir "$dir" --block-time "$block_time" \
  --api-port "$api" --p2p-port "$p2p" --grpc-port "$grpc" >"$dir/devnet.log" 2>&1 &
devnet=$!
stop() {
  # SIGTERM: devnet stops its validators cleanly.
  kill -TERM "$devnet" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$devnet" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$devnet" 2>/dev/null || true
  wait "$devnet" 2>/dev/null || true
  # The chain data of a full run is a few hundred MB: keep it only when asked (BENCH_KEEP=1).
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap stop EXIT

nodes="http://127.0.0.1:$api,http://127.0.0.1:$((api + 1)),http://127.0.0.1:$((api + 2))"
echo "devnet in $dir (logs: $dir/logs); waiting for height 2 on every node" >&2
for port in "$api" "$((api + 1))" "$((api + 2))"; do
  for i in $(seq 300); do
    h=$(curl -sf "http://127.0.0.1:$port/v1/status" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["block_height"])' 2>/dev/null || echo 0)
    [[ "$h" -ge 2 ]] && break
    [[ $i == 300 ]] && { echo "node on port $port never reached height 2; see $dir/logs" >&2; exit 1; }
    sleep 0.2
  done
done

reports=()
for rate in $rates; do
  echo "== $rate tx/s for $duration" >&2
  "$bin/coinjecture-loadtest" --node "http://127.0.0.1:$api" --nodes "$nodes" --duration "$duration" \
    --txrate "$rate" --accounts "$accounts" --faucet-key "$dir/keys/faucet.key" \
    --report "$dir/report-$rate.json" || { echo "load generator failed at $rate tx/s" >&2; exit 1; }
  reports+=("$dir/report-$rate.json")
done

if [[ $check == 1 ]]; then
  python3 - "$duration" "$block_time" "${reports[0]}" <<'PY'
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

mkdir -p bench/results
out="bench/results/$(date -u +%Y-%m-%dT%H%MZ).json"
python3 - "$out" "$duration" "$block_time" "${reports[@]}" <<'PY'
import json, os, platform, sys
out, duration, block_time, paths = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
runs = [json.load(open(p)) for p in paths]
doc = {
    "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    "validators": 3, "block_time": block_time, "duration_per_rate": duration,
    "runs": runs,
}
json.dump(doc, open(out, "w"), indent=2)
print(f"{'offered':>8} {'sustained':>10} {'overall':>8} {'p50 ms':>8} {'p99 ms':>8} {'lost':>6} {'dup':>4} {'rejected':>9} {'unsent':>8}")
for r in runs:
    ms = lambda v: "n/a" if v is None else f"{v * 1000:.0f}"
    print(f'{r["offered_tps"]:>8.0f} {r["sustained_final_tps"]:>10.1f} {r["overall_final_tps"]:>8.1f} '
          f'{ms(r["latency"]["p50"]):>8} {ms(r["latency"]["p99"]):>8} {r["lost"]:>6} {r["duplicated"]:>4} '
          f'{r["rejected_total"]:>9} {r["unsent_backlog"]:>8}')
print(f"wrote {out}")
PY
"$bin/coinjecture-bench-plot" "$out" "${out%.json}.png" || echo "plot skipped (see the error above)" >&2
