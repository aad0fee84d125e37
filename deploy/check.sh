#!/usr/bin/env bash
# Checks the deployment files without a cluster or a container engine:
#  - k8s/: in a copy, k8s/gen-keys.sh writes keys for both overlays; `kubectl kustomize` (or
#    kustomize from the Go module proxy where kubectl is missing) builds them;
#    `kubernetes-validate --strict` validates every object against the Kubernetes schemas; the
#    built objects wire what a pod needs (its key, the generated ConfigMaps, the replica count);
#    the follower Deployment is the public Service's only backend (no public Service selects
#    validators) and holds no key; each overlay's validator.yaml and follower.yaml with the
#    environment a pod gets pass `coinjectured check-config`, the validator's keeps the chain
#    settings of its file in configs/, the follower's the validator's.
#  - deploy/compose.yaml: deploy/gen-network.sh's configs pass check-config, and every host name
#    they use is a service of the compose file.
# Usage: deploy/check.sh   (COINJECTURED=path: the binary to use; default target/debug, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${COINJECTURED:-$PWD/target/debug/coinjectured}
[[ -x $bin ]] || cargo build --quiet --locked -p coinjectured
kubernetes_validate_version=1.37.0
kustomize_version=v5.5.0
if ! python3 -m kubernetes_validate --version 2>/dev/null | grep -q "$kubernetes_validate_version"; then
  python3 -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$kubernetes_validate_version"
fi
if kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5'; then
  kustomize() { kubectl kustomize "$1"; }
  echo "kustomize: $(kubectl version --client | grep Kustomize) (kubectl)"
else
  # kubectl is missing or embeds an old kustomize (Debian's kubernetes-client 1.20 has v2).
  kustomize() { go run "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version" build "$1"; }
  echo "kustomize: $kustomize_version from the Go module proxy (no kubectl with kustomize v5)"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r k8s "$tmp/k8s"
rm -rf "$tmp"/k8s/overlays/*/generated

for network in a b; do
  overlay=$tmp/k8s/overlays/network-$network
  validators=3
  [[ $network == a ]] && validators=4 # a count other than the base's 3: the component sets it
  k8s/gen-keys.sh "$overlay" --validators "$validators" --bin "$bin" 2>"$tmp/gen-keys.log" ||
    { cat "$tmp/gen-keys.log"; exit 1; }
  kustomize "$overlay" >"$tmp/network-$network.yaml"
  python3 -m kubernetes_validate --strict --quiet "$tmp/network-$network.yaml"
  python3 - "$tmp/network-$network.yaml" "$network" "$validators" <<'PY'
import sys, yaml
path, network, validators = sys.argv[1], sys.argv[2], int(sys.argv[3])
docs = [d for d in yaml.safe_load_all(open(path)) if d]
by = {}
for d in docs:
    by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
def fail(msg):
    sys.exit(f"k8s/overlays/network-{network}: {msg}")
namespace = f"coinjecture-network-{network}"
for d in docs:
    if d["kind"] != "Namespace" and d["metadata"].get("namespace") != namespace:
        fail(f"{d['kind']}/{d['metadata']['name']} is not in namespace {namespace}")
sts = by["StatefulSet"]["validator"]
if sts["spec"]["replicas"] != validators:
    fail(f"StatefulSet replicas {sts['spec']['replicas']}, gen-keys.sh wrote {validators} keys")
if by["Service"]["validator"]["spec"].get("clusterIP") != "None":
    fail("Service validator (the peers' DNS names) must be headless")
pod = sts["spec"]["template"]["spec"]
generated = {name.rsplit("-", 1)[0]: name for kind in ("ConfigMap", "Secret") for name in by.get(kind, {})}
volumes = {v["name"]: v for v in pod["volumes"]}
refs = {
    "validator-config": volumes["config"]["configMap"]["name"],
    "validator-genesis": volumes["genesis"]["configMap"]["name"],
    "validator-keys": volumes["keys"]["secret"]["secretName"],
    "validator-network": pod["containers"][0]["envFrom"][0]["configMapRef"]["name"],
}
for base, ref in refs.items():
    if generated.get(base) != ref:
        fail(f"the pod refers to {ref}, the generated object is {generated.get(base)}")
keys = sorted(by["Secret"][refs["validator-keys"]]["data"])
if keys != sorted(f"validator-{i}.key" for i in range(validators)):
    fail(f"Secret validator-keys holds {keys}")
env = by["ConfigMap"][refs["validator-network"]]["data"]
if len(env["COINJECTURE_CONSENSUS_VALIDATORS"].split(",")) != validators:
    fail("COINJECTURE_CONSENSUS_VALIDATORS does not list every validator")
peers = env["COINJECTURE_P2P_BOOTSTRAP_PEERS"].split(",")
if [p.split("/")[2] for p in peers] != [f"validator-{i}.validator" for i in range(validators)]:
    fail(f"bootstrap peers {peers} are not the StatefulSet pods' names")
key_env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
if key_env.get("COINJECTURE_CONSENSUS_VALIDATOR_KEY") != "/etc/coinjecture/keys/$(POD_NAME).key":
    fail("each pod must read the key named after it")
# The internal port: mutual TLS with the pod's own CA and certificate, and only its own
# validator's pods admitted by a NetworkPolicy (none by the base policy).
tls_secret = volumes["tls"]["secret"]["secretName"]
if generated.get("validator-tls") != tls_secret:
    fail(f"the pod mounts TLS Secret {tls_secret}, the generated one is {generated.get('validator-tls')}")
tls_files = sorted(by["Secret"][tls_secret]["data"])
want = sorted(f"validator-{i}-{k}.pem" for i in range(validators) for k in ("ca", "cert", "key"))
if tls_files != want:
    fail(f"Secret validator-tls holds {tls_files}")
for k in ("CA", "CERT", "KEY"):
    if key_env.get(f"COINJECTURE_API_INTERNAL_TLS_{k}") != f"/etc/coinjecture/tls/$(POD_NAME)-{k.lower()}.pem":
        fail(f"COINJECTURE_API_INTERNAL_TLS_{k} must name the pod's own file")
policies = by.get("NetworkPolicy", {})
def admits_grpc(rule):
    return any(p.get("port") in ("grpc", 50051) for p in rule.get("ports", []))
for rule in policies["validator"]["spec"]["ingress"]:
    if admits_grpc(rule):
        fail("the base validator policy must not admit the internal port")
for i in range(validators):
    policy = policies.get(f"validator-{i}-internal")
    if policy is None:
        fail(f"no NetworkPolicy validator-{i}-internal")
    if policy["spec"]["podSelector"]["matchLabels"].get("statefulset.kubernetes.io/pod-name") != f"validator-{i}":
        fail(f"validator-{i}-internal does not select pod validator-{i}")
    for rule in policy["spec"]["ingress"]:
        for peer in rule.get("from", []):
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            if set(labels.values()) != {f"validator-{i}"} or "namespaceSelector" in peer:
                fail(f"validator-{i}-internal admits {peer}, not only validator-{i}'s pods")
# Probes: liveness on /health (the process), readiness on /ready (synced, peers, signing).
container = pod["containers"][0]
for probe, path in [("livenessProbe", "/health"), ("readinessProbe", "/ready")]:
    if container.get(probe, {}).get("httpGet", {}).get("path") != path:
        fail(f"the validator's {probe} must GET {path}")
# Followers: a Deployment behind the public Service, with the network's generated genesis and
# validator list, no key and no internal port; no public (non-headless) Service selects validators.
follower = by["Deployment"].get("follower")
if follower is None:
    fail("no follower Deployment")
fpod = follower["spec"]["template"]["spec"]
fvolumes = {v["name"]: v for v in fpod["volumes"]}
frefs = {
    "follower-config": fvolumes["config"]["configMap"]["name"],
    "validator-genesis": fvolumes["genesis"]["configMap"]["name"],
    "validator-network": fpod["containers"][0]["envFrom"][0]["configMapRef"]["name"],
}
for base, ref in frefs.items():
    if generated.get(base) != ref:
        fail(f"the follower pod refers to {ref}, the generated object is {generated.get(base)}")
if any("secret" in v for v in fpod["volumes"]) or any(p["name"] == "grpc" for p in fpod["containers"][0]["ports"]):
    fail("followers hold no key or certificate and have no internal port")
if fpod["containers"][0].get("readinessProbe", {}).get("httpGet", {}).get("path") != "/ready":
    fail("the follower's readinessProbe must GET /ready (not ready while it replays the chain)")
follower_labels = follower["spec"]["template"]["metadata"]["labels"]
public = by["Service"].get("public-api")
if public is None or any(follower_labels.get(k) != v for k, v in public["spec"]["selector"].items()):
    fail("Service public-api must select the follower pods")
for name, service in by["Service"].items():
    if service["spec"].get("clusterIP") == "None":
        continue
    if service["spec"].get("selector", {}).get("app.kubernetes.io/component") == "validator":
        fail(f"Service {name} puts the validators' API behind a public address; the followers serve it")
has_core = "crypto-core" in by.get("Deployment", {})
if has_core != (network == "b"):
    fail("the crypto-core Deployment belongs to Network B only")
print(f"network-{network}: {len(docs)} objects, {validators} validators, {follower['spec']['replicas']} followers behind public-api"
      + (", shared crypto-core" if has_core else "") + ": wired")
PY
  # The overlay's config with what validator-1's pod gets from the environment.
  (
    set -a
    # shellcheck disable=SC1091
    . "$overlay/generated/network.env"
    set +a
    COINJECTURE_CONSENSUS_VALIDATOR_KEY=$overlay/generated/keys/validator-1.key \
      COINJECTURE_API_INTERNAL_TLS_CA=$overlay/generated/tls/validator-1/ca.pem \
      COINJECTURE_API_INTERNAL_TLS_CERT=$overlay/generated/tls/validator-1/node.pem \
      COINJECTURE_API_INTERNAL_TLS_KEY=$overlay/generated/tls/validator-1/node-key.pem \
      COINJECTURE_NETWORK_GENESIS=$overlay/generated/genesis.yaml \
      "$bin" check-config --config "$overlay/validator.yaml"
  )
  # The followers' config with what a follower pod gets from the environment (no key).
  (
    set -a
    # shellcheck disable=SC1091
    . "$overlay/generated/network.env"
    set +a
    COINJECTURE_NETWORK_GENESIS=$overlay/generated/genesis.yaml \
      "$bin" check-config --config "$overlay/follower.yaml"
  )
  # The followers' chain settings are the validators'.
  python3 - "$overlay/validator.yaml" "$overlay/follower.yaml" <<'PY'
import sys, yaml
validator, follower = (yaml.safe_load(open(p)) for p in sys.argv[1:3])
for section, key in [("network", "id"), ("network", "name"), ("network", "genesis"), ("consensus", "block_time"),
                     ("consensus", "quorum")]:
    if validator[section][key] != follower[section][key]:
        sys.exit(f"{sys.argv[2]}: {section}.{key} is {follower[section][key]!r}, {sys.argv[1]} says {validator[section][key]!r}")
if follower["consensus"].get("role") != "follower" or "validator_key" in follower["consensus"]:
    sys.exit(f"{sys.argv[2]}: consensus.role must be follower, with no validator_key (each pod its own identity)")
PY
  # The overlay's config is configs/'s with the pod's paths: the chain settings must agree.
  python3 - "configs/network-$network-$([[ $network == a ]] && echo validator || echo go-validator).yaml" \
    "$overlay/validator.yaml" <<'PY'
import sys, yaml
ours, pod = (yaml.safe_load(open(p)) for p in sys.argv[1:3])
for section, key in [("network", "id"), ("network", "name"), ("consensus", "block_time"), ("consensus", "quorum")]:
    if ours[section][key] != pod[section][key]:
        sys.exit(f"{sys.argv[2]}: {section}.{key} is {pod[section][key]!r}, {sys.argv[1]} says {ours[section][key]!r}")
for section in ["crypto_core", "rust"]:
    if (section in ours) != (section in pod):
        sys.exit(f"{sys.argv[2]}: {section} differs from {sys.argv[1]}")
PY
  chain=$(awk '/^chain_id:/ {print $2}' "$overlay/generated/genesis.yaml")
  grep -q "^  id: $chain\$" "$overlay/validator.yaml" || { echo "genesis chain $chain is not network.id"; exit 1; }
done

# Compose: the configs gen-network.sh writes, and the names they use.
deploy/gen-network.sh --dir "$tmp/network" --bin "$bin" 2>/dev/null
for n in 1 2 3; do "$bin" check-config --config "$tmp/network/validator-$n.yaml"; done
python3 - deploy/compose.yaml "$tmp/network" <<'PY'
import re, sys, yaml, pathlib
compose = yaml.safe_load(open(sys.argv[1]))
services = set(compose["services"])
for config in sorted(pathlib.Path(sys.argv[2]).glob("validator-*.yaml")):
    text = config.read_text()
    hosts = set(re.findall(r"/dns4/([^/]+)/", text)) | set(re.findall(r"https?://([^:/]+):", text))
    parsed = yaml.safe_load(text)
    # Split services listen on 0.0.0.0: mutual TLS, and every services: URL is https.
    if "internal_tls" not in parsed["api"] or any(not u.startswith("https://") for u in parsed["services"].values()):
        sys.exit(f"{config.name}: split services need api.internal_tls and https:// services: URLs")
    missing = hosts - services
    if missing:
        sys.exit(f"{config.name} names {sorted(missing)}, which deploy/compose.yaml does not define")
    used = [s for s, d in compose["services"].items() if f"/config/{config.name}" in d.get("command", [])]
    if len(used) != 4:
        sys.exit(f"{config.name}: {len(used)} compose services use it, expected 4 (ledger, p2p, consensus, api)")
# Healthchecks run the image's binary: api containers GET /ready, the others their metrics port.
for name, service in compose["services"].items():
    test = service.get("healthcheck", {}).get("test", [])
    want = "http://127.0.0.1:8080/ready" if name.endswith("-api") else "http://127.0.0.1:9100/metrics"
    if test != ["CMD", "/usr/local/bin/coinjectured", "healthcheck", want]:
        sys.exit(f"deploy/compose.yaml: {name} needs healthcheck [CMD, /usr/local/bin/coinjectured, healthcheck, {want}], found {test}")
    for port in service.get("ports", []):
        # Host ports are picked free unless the operator sets VALIDATOR_N_API_PORT.
        if not re.fullmatch(r"127\.0\.0\.1:\$\{VALIDATOR_\d+_API_PORT:-\}:\d+", port):
            sys.exit(f"deploy/compose.yaml: {name} publishes fixed host port {port!r}")
print(f"compose: {len(services)} services; every name in the configs is one of them; healthchecks and free host ports")
PY
echo "deploy/check.sh: k8s overlays network-a and network-b valid (kubernetes-validate --strict), compose configs valid"
