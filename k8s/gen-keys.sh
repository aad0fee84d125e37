#!/usr/bin/env bash
# Generates a network's validator keys, genesis and peer list for a k8s overlay, as a kustomize
# component in <overlay>/generated/ that the overlay includes:
#
#   k8s/gen-keys.sh k8s/overlays/network-a [--validators 3] [--bin PATH] [--force]
#   kubectl apply -k k8s/overlays/network-a
#
# It writes, with `coinjectured keygen`:
#   generated/keys/validator-<i>.key   one per StatefulSet pod (validator-0, validator-1, …) ->
#                                      Secret validator-keys; pod validator-<i> reads its own
#   generated/faucet.key               funded in the genesis; stays here (not deployed)
#   generated/genesis.yaml             chain id from the overlay's validator.yaml -> ConfigMap
#                                      validator-genesis
#   generated/network.env              COINJECTURE_CONSENSUS_VALIDATORS (public keys, pod order =
#                                      proposer order) and COINJECTURE_P2P_BOOTSTRAP_PEERS
#                                      (/dns4/validator-<i>.validator/tcp/9000/p2p/<peer id>) ->
#                                      ConfigMap validator-network, read as environment overrides
#   generated/tls/validator-<i>/       that validator's own CA (ca.pem, ca-key.pem) and the pod's
#                                      certificate (node.pem, node-key.pem; `coinjectured tls gen`)
#                                      -> Secret validator-tls as validator-<i>-{ca,cert,key}.pem
#                                      (the CA key stays here); the internal port's mutual TLS
#   generated/internal-networkpolicy.yaml  per validator: its internal gRPC port admits only its
#                                      own pods (and pods labelled coinjecture.io/validator:
#                                      validator-<i>, e.g. an operator's tool holding a
#                                      certificate of that CA)
#   generated/kustomization.yaml       the component: those generators + the replica count
#
# The directory holds private keys: it is git-ignored; keep it (or the Secret) safe. Refuses to
# replace existing keys unless --force (a new key set is a new chain: delete the PVCs too).
# The coinjectured used: --bin, $COINJECTURED, `coinjectured` on PATH, else the one in the image
# $COINJECTURE_IMAGE (coinjectured:dev) via podman or docker.
set -euo pipefail

overlay='' validators=3 bin=${COINJECTURED:-} force=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --validators) validators=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --force) force=true; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gen-keys.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) overlay=$1; shift ;;
  esac
done
[[ -n $overlay && -f $overlay/validator.yaml ]] || {
  echo "gen-keys.sh: give an overlay directory with a validator.yaml, e.g. k8s/overlays/network-a" >&2
  exit 2
}
[[ $validators =~ ^[1-9][0-9]?$ ]] || { echo "--validators: 1 to 99, not $validators" >&2; exit 2; }
out=$overlay/generated
if [[ -e $out/keys && $force != true ]]; then
  echo "gen-keys.sh: $out/keys exists (the network's keys); --force replaces them" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
script=gen-keys.sh
# shellcheck source=deploy/lib/find-binary.sh
source "$(dirname "$0")/../deploy/lib/find-binary.sh"

chain_id=$(awk '/^network:/ {n = 1; next} /^[^ #]/ {n = 0} n && $1 == "id:" {print $2; exit}' "$overlay/validator.yaml")
[[ -n $chain_id ]] || { echo "gen-keys.sh: no network.id in $overlay/validator.yaml" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/keys"
chmod 0700 "$out"
keygen() { # file -> "public key" "peer id" on stdout
  local text
  text=$("$bin" keygen --output "$1")
  awk '/^public key:/ {k = $3} /^peer id:/ {p = $3} END {if (k == "" || p == "") exit 1; print k, p}' <<<"$text"
}
faucet=$(keygen "$out/faucet.key" | cut -d' ' -f1)
pubkeys=() peers=()
for ((i = 0; i < validators; i++)); do
  line=$(keygen "$out/keys/validator-$i.key")
  pubkeys+=("${line% *}")
  peers+=("/dns4/validator-$i.validator/tcp/9000/p2p/${line#* }")
done

{
  echo "chain_id: $chain_id"
  echo "timestamp_ms: $(($(date +%s) * 1000))"
  echo "allocations:"
  echo "- address: $faucet"
  echo "  balance: 1000000000000000000"
  for key in "${pubkeys[@]}"; do
    echo "- address: $key"
    echo "  balance: 1000000000000"
  done
} >"$out/genesis.yaml"

for ((i = 0; i < validators; i++)); do
  "$bin" tls gen --dir "$out/tls/validator-$i" --names "validator-$i.validator,validator-$i" >/dev/null
done
{
  echo "# Written by k8s/gen-keys.sh: the internal gRPC port of validator-<i> admits only that validator's"
  echo "# pods (NetworkPolicies add up: the base policy admits p2p and the API, not this port)."
  for ((i = 0; i < validators; i++)); do
    echo "---"
    echo "apiVersion: networking.k8s.io/v1"
    echo "kind: NetworkPolicy"
    echo "metadata:"
    echo "  name: validator-$i-internal"
    echo "spec:"
    echo "  podSelector:"
    echo "    matchLabels:"
    echo "      app.kubernetes.io/component: validator"
    echo "      statefulset.kubernetes.io/pod-name: validator-$i"
    echo "  policyTypes: [Ingress]"
    echo "  ingress:"
    echo "    - from:"
    echo "        - podSelector:"
    echo "            matchLabels:"
    echo "              statefulset.kubernetes.io/pod-name: validator-$i"
    echo "        - podSelector:"
    echo "            matchLabels:"
    echo "              coinjecture.io/validator: validator-$i"
    echo "      ports:"
    echo "        - port: grpc"
  done
} >"$out/internal-networkpolicy.yaml"

join() { local IFS=,; echo "$*"; }
{
  echo "COINJECTURE_CONSENSUS_VALIDATORS=$(join "${pubkeys[@]}")"
  echo "COINJECTURE_P2P_BOOTSTRAP_PEERS=$(join "${peers[@]}")"
} >"$out/network.env"

{
  echo "# Written by k8s/gen-keys.sh: $validators validators of $chain_id. Holds private keys: not in git."
  echo "apiVersion: kustomize.config.k8s.io/v1alpha1"
  echo "kind: Component"
  echo "secretGenerator:"
  echo "  - name: validator-keys"
  echo "    files:"
  for ((i = 0; i < validators; i++)); do echo "      - keys/validator-$i.key"; done
  echo "  - name: validator-tls"
  echo "    files:"
  for ((i = 0; i < validators; i++)); do
    echo "      - validator-$i-ca.pem=tls/validator-$i/ca.pem"
    echo "      - validator-$i-cert.pem=tls/validator-$i/node.pem"
    echo "      - validator-$i-key.pem=tls/validator-$i/node-key.pem"
  done
  echo "resources:"
  echo "  - internal-networkpolicy.yaml"
  echo "configMapGenerator:"
  echo "  - name: validator-genesis"
  echo "    files: [genesis.yaml]"
  echo "  - name: validator-network"
  echo "    envs: [network.env]"
  echo "patches:"
  echo "  - target: {kind: StatefulSet, name: validator}"
  echo "    patch: |-"
  echo "      - {op: replace, path: /spec/replicas, value: $validators}"
} >"$out/kustomization.yaml"

echo "gen-keys.sh: $validators validators of $chain_id in $out" >&2
for ((i = 0; i < validators; i++)); do
  echo "  validator-$i  ${pubkeys[i]}  ${peers[i]##*/}" >&2
done
