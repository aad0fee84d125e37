#!/usr/bin/env bash
# Container end-to-end test: builds the coinjectured image with podman and runs a 3-validator
# network in containers on a podman network (Network B's shape: the validators hash through a
# shared crypto-core container), until blocks are final on all three validators with identical
# hashes, checked as an operator would: GET /v1/status and /v1/blocks/{height} on each.
#
#   deploy/e2e-test.sh                 image from the debug build (its shared libraries copied in)
#   E2E_STATIC=1 deploy/e2e-test.sh    image from the static release build (deploy/build-image.sh)
#
# podman is installed with apt-get when missing (as root). The test is skipped, with the reason
# printed, only where podman cannot be installed or cannot run. Validators find each other by
# name (/dns4/validator-N/… bootstrap peers, http://crypto-core:50051) through /etc/hosts entries
# on a podman network without DNS; their APIs are published on 127.0.0.1 only. Containers run with
# a read-only root filesystem and no capabilities, as the Kubernetes pods do.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
skip() {
  echo "SKIP container e2e test: $*"
  exit 0
}

if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "installing podman and runc (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq --no-install-recommends podman runc >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends podman runc >/dev/null 2>&1; }; } ||
      skip "podman and runc could not be installed with apt-get"
  else
    skip "podman is not installed, and installing it needs root and apt-get"
  fi
fi
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}
podman=(podman --runtime "$(command -v runc)")
if ! info=$("${podman[@]}" info 2>&1 >/dev/null); then
  skip "podman cannot run here: $(tail -n 1 <<<"$info")"
fi

tmp=$(mktemp -d)
prefix=cje2e-$$
image=localhost/coinjectured:$prefix
containers=()
cleanup() {
  status=$?
  if [[ $status != 0 ]]; then
    for c in "${containers[@]}"; do
      echo "---- last log lines of $c"
      "${podman[@]}" logs --tail 25 "$c" 2>&1 || true
    done
  fi
  for c in "${containers[@]}"; do "${podman[@]}" rm -f -v "$c" >/dev/null 2>&1 || true; done
  for n in 1 2 3; do "${podman[@]}" volume rm -f "$prefix-validator-$n" >/dev/null 2>&1 || true; done
  "${podman[@]}" network rm -f "$prefix" >/dev/null 2>&1 || true
  "${podman[@]}" rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT

# The image.
if [[ ${E2E_STATIC:-0} == 1 ]]; then
  CONTAINER_ENGINE=podman deploy/build-image.sh --tag "$image" >/dev/null
  bin=target/static/x86_64-unknown-linux-gnu/release/coinjectured
else
  bin=${COINJECTURED:-target/debug/coinjectured}
  [[ -x $bin ]] || cargo build --quiet --locked -p coinjectured
  CONTAINER_ENGINE=podman deploy/build-image.sh --binary "$bin" --tag "$image" >/dev/null
fi
size=$("${podman[@]}" image inspect --format '{{.Size}}' "$image")
user=$("${podman[@]}" image inspect --format '{{.Config.User}}' "$image")
[[ $user == 10001:10001 ]] || { echo "FAIL: the image runs as '$user', not 10001:10001"; exit 1; }
echo "image $image: $((size / 1024 / 1024)) MiB, user $user"

# Keys, genesis and the three validators' configs (whole nodes, hashing through crypto-core).
deploy/gen-network.sh --dir "$tmp/network" --layout node --validators 3 --block-time 1s \
  --chain-id coinjecture-e2e --name e2e --crypto-core http://crypto-core:50051 --bin "$bin"

# A podman network; fixed addresses in it so every container's /etc/hosts can name the others.
# No DNS on it (the same whether or not the dnsname plugin is installed): the resolver libp2p uses
# reads /etc/hosts only for the first name it tries, and a DNS network's search domain comes first.
"${podman[@]}" network create --disable-dns "$prefix" >/dev/null
subnet=$("${podman[@]}" network inspect --format '{{range .Subnets}}{{.Subnet}}{{end}}' "$prefix")
[[ $subnet =~ ^([0-9]+\.[0-9]+\.[0-9]+)\.0/24$ ]] || { echo "FAIL: unexpected subnet '$subnet'"; exit 1; }
net=${BASH_REMATCH[1]}
declare -A ip=([crypto-core]=$net.20 [validator-1]=$net.11 [validator-2]=$net.12 [validator-3]=$net.13)
hosts=()
for h in "${!ip[@]}"; do hosts+=(--add-host "$h:${ip[$h]}"); done

# Three free loopback ports for the validators' APIs.
read -r -a ports < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)

run() { # name, podman run arguments...
  local name=$1
  shift
  containers+=("$prefix-$name")
  # As the Kubernetes pods run: read-only root filesystem, no capabilities, no privilege gain.
  "${podman[@]}" run -d --name "$prefix-$name" --network "$prefix" --ip "${ip[$name]}" "${hosts[@]}" \
    --read-only --cap-drop ALL --security-opt no-new-privileges "$@" >/dev/null
}
run crypto-core "$image" service crypto-core --listen 0.0.0.0:50051 --insecure-public
for n in 1 2 3; do
  run "validator-$n" -v "$tmp/network:/config:ro" -v "$prefix-validator-$n:/data" \
    -p "127.0.0.1:${ports[n - 1]}:8080" "$image" node --config "/config/validator-$n.yaml"
done

# Until every validator has finalized height 3 and sees both others (2 minutes at most).
target=3
status() { curl -fsS --max-time 2 "http://127.0.0.1:$1/v1/status" 2>/dev/null || true; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', ''))" 2>/dev/null || true; }
deadline=$((SECONDS + 120))
while :; do
  ready=0
  for n in 1 2 3; do
    s=$(status "${ports[n - 1]}")
    height=$(field block_height <<<"$s") peers=$(field peers <<<"$s")
    [[ ${height:-0} -ge $target && ${peers:-0} -ge 2 ]] && ready=$((ready + 1))
  done
  [[ $ready == 3 ]] && break
  for c in "${containers[@]}"; do
    if [[ $("${podman[@]}" inspect --format '{{.State.Running}}' "$c") != true ]]; then
      echo "FAIL: container $c exited"
      exit 1
    fi
  done
  if ((SECONDS > deadline)); then
    echo "FAIL: not every validator reached height $target with 2 peers within 120 s"
    for n in 1 2 3; do echo "validator-$n: $(status "${ports[n - 1]}")"; done
    exit 1
  fi
  sleep 0.5
done

# The same blocks everywhere.
for ((h = 1; h <= target; h++)); do
  hashes=()
  for n in 1 2 3; do
    hashes+=("$(curl -fsS --max-time 5 "http://127.0.0.1:${ports[n - 1]}/v1/blocks/$h" | field hash)")
  done
  if [[ -z ${hashes[0]} || ${hashes[0]} != "${hashes[1]}" || ${hashes[0]} != "${hashes[2]}" ]]; then
    echo "FAIL: block $h differs between validators: ${hashes[*]}"
    exit 1
  fi
  echo "block $h: ${hashes[0]} on validator-1, -2 and -3"
done
# The node process runs as the unprivileged user, not root (as seen from the host when podman
# runs as root; rootless podman maps uids).
if [[ $(id -u) == 0 ]]; then
  pid=$("${podman[@]}" inspect --format '{{.State.Pid}}' "$prefix-validator-1")
  uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
  [[ $uid == 10001 ]] || { echo "FAIL: the node runs as uid '$uid', not 10001"; exit 1; }
fi

echo "container e2e: 3 validators + crypto-core in podman, blocks 1-$target final with identical hashes ($((SECONDS - started)) s)"
