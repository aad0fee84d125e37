#!/usr/bin/env bash
# Builds the coinjectured container image (deploy/Containerfile, FROM scratch) with podman or docker.
#
#   deploy/build-image.sh                       static release binary, tag coinjectured:dev
#   deploy/build-image.sh --tag registry.example/coinjectured:1.0
#   deploy/build-image.sh --binary target/debug/coinjectured   an existing binary (see below)
#   CONTAINER_ENGINE=docker deploy/build-image.sh
#
# The binary is built here, on the host, and copied in: the image needs no builder image, so it
# builds where no registry is reachable. The static build uses its own target directory
# (target/static) so it does not invalidate the shared target/debug and target/release artifacts:
#   RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked \
#     --target x86_64-unknown-linux-gnu --target-dir target/static -p coinjectured
# With --binary, a dynamically linked binary gets its shared libraries (as `ldd` lists them) copied
# in beside it; that is how the container end-to-end test reuses the debug build it already has.
# Debug info is stripped from the copy in the image (symbols stay, for backtraces).
set -euo pipefail
cd "$(dirname "$0")/.."

tag=coinjectured:dev
binary=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

engine=${CONTAINER_ENGINE:-}
if [[ -z $engine ]]; then
  if command -v podman >/dev/null; then engine=podman
  elif command -v docker >/dev/null; then engine=docker
  else echo "build-image.sh: neither podman nor docker is installed" >&2; exit 1
  fi
fi

if [[ -z $binary ]]; then
  target=x86_64-unknown-linux-gnu
  echo "==> static release build ($target, target/static)" >&2
  RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --locked --target "$target" --target-dir target/static -p coinjectured >&2
  binary=target/static/$target/release/coinjectured
fi
[[ -x $binary ]] || { echo "build-image.sh: $binary is not an executable" >&2; exit 1; }

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
rootfs=$context/rootfs
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/tmp" "$context/data"
chmod 1777 "$rootfs/tmp"
if command -v strip >/dev/null; then
  strip --strip-debug -o "$rootfs/usr/local/bin/coinjectured" "$binary"
else
  cp "$binary" "$rootfs/usr/local/bin/coinjectured"
fi
# `ldd` prints "statically linked" / "not a dynamic executable" for a static binary.
if ldd "$binary" >/dev/null 2>&1 && ! ldd "$binary" 2>&1 | grep -q 'statically linked'; then
  echo "==> $binary is dynamically linked: copying its shared libraries in" >&2
  ldd "$binary" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    cp -L --parents "$lib" "$rootfs"
  done
fi
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
coinjecture:x:10001:10001:COINjecture node:/data:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
coinjecture:x:10001:
nogroup:x:65534:
EOF
# Host names from /etc/hosts first, then DNS (compose service names, Kubernetes Services).
echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"
cp deploy/Containerfile "$context/Containerfile"

echo "==> $engine build -t $tag" >&2
"$engine" build --quiet -f "$context/Containerfile" -t "$tag" "$context" >/dev/null
size=$("$engine" image inspect --format '{{.Size}}' "$tag")
echo "==> built $tag ($((size / 1024 / 1024)) MiB)" >&2
echo "$tag"
