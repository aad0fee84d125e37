#!/usr/bin/env bash
# Generates the Go gRPC stubs of proto/coinjecture/v1/*.proto into clients/go/gen/coinjecture/v1.
#
# Usage:
#   scripts/gen-go.sh           regenerate the committed stubs in place
#   scripts/gen-go.sh --check   regenerate into a temporary directory and fail, naming the files,
#                               when the committed stubs differ (CI runs this to catch drift)
#
# Installs what it needs when missing: protoc (Debian's protobuf-compiler, via apt-get) and the
# two plugins at the pinned versions below (go install into clients/go/.bin, git-ignored).
#
# Determinism: the plugins are pinned, so their output depends only on the .proto files — except
# for the protoc version that both plugins print in each file's header comment. The committed
# stubs carry the version that generated them; --check ignores exactly that header line, so a
# machine with another protoc release does not report spurious drift.
set -euo pipefail

# Pinned plugin versions. protoc-gen-go must match the google.golang.org/protobuf runtime in
# clients/go/go.mod; protoc-gen-go-grpc's output needs google.golang.org/grpc >= 1.64.
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
GO_MODULE=github.com/coinjecture/coinjecture/clients/go

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
GO_DIR="$ROOT/clients/go"
OUT_REL="gen/coinjecture/v1"
BIN="${COINJECTURE_GO_BIN:-$GO_DIR/.bin}"

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

log() { printf 'gen-go: %s\n' "$*" >&2; }

ensure_protoc() {
  if command -v protoc >/dev/null 2>&1; then return; fi
  log "protoc not found: installing Debian's protobuf-compiler"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  if ! $sudo apt-get install -y -qq protobuf-compiler >/dev/null; then
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq protobuf-compiler >/dev/null
  fi
  command -v protoc >/dev/null 2>&1 || { log "protoc still missing after apt-get"; exit 1; }
}

# ensure_plugin NAME PACKAGE VERSION: go install PACKAGE@VERSION into $BIN unless the binary there
# already reports VERSION.
ensure_plugin() {
  local name="$1" pkg="$2" version="$3" have=""
  if [ -x "$BIN/$name" ]; then
    # protoc-gen-go prints "v1.36.12", protoc-gen-go-grpc prints "1.6.2": compare without the v.
    have="v$("$BIN/$name" --version 2>/dev/null | awk '{print $NF}' | sed 's/^v//')"
  fi
  if [ "$have" != "$version" ]; then
    log "installing $name $version into $BIN"
    mkdir -p "$BIN"
    GOBIN="$BIN" GOFLAGS=-mod=mod go install "$pkg@$version"
  fi
}

ensure_protoc
ensure_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
ensure_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"

# generate DEST: writes DEST/gen/coinjecture/v1/*.go
generate() {
  local dest="$1"
  (
    cd "$ROOT/proto"
    PATH="$BIN:$PATH" protoc -I . \
      --go_out="$dest" --go_opt=module="$GO_MODULE" \
      --go-grpc_out="$dest" --go-grpc_opt=module="$GO_MODULE" \
      coinjecture/v1/*.proto
  )
}

# The header line in which each plugin records the protoc version.
strip_protoc_version() { grep -Ev '^//[[:space:]]+(-[[:space:]]+)?protoc[[:space:]]+(v[0-9]|\(unknown\))' "$1"; }

if [ "$check" -eq 0 ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  rm -rf "${GO_DIR:?}/$OUT_REL"
  mkdir -p "$GO_DIR/$OUT_REL"
  cp "$tmp/$OUT_REL"/*.go "$GO_DIR/$OUT_REL/"
  log "wrote $(find "$GO_DIR/$OUT_REL" -name '*.go' | wc -l) files to clients/go/$OUT_REL ($(protoc --version))"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
generate "$tmp"
fresh="$tmp/$OUT_REL"
committed="$GO_DIR/$OUT_REL"
drift=()
for f in "$fresh"/*.go; do
  name="$(basename "$f")"
  if [ ! -f "$committed/$name" ]; then
    drift+=("clients/go/$OUT_REL/$name (missing: not committed)")
  elif ! diff -q <(strip_protoc_version "$f") <(strip_protoc_version "$committed/$name") >/dev/null; then
    drift+=("clients/go/$OUT_REL/$name (differs)")
    diff -u <(strip_protoc_version "$committed/$name") <(strip_protoc_version "$f") | head -40 >&2 || true
  fi
done
for f in "$committed"/*.go; do
  [ -e "$f" ] || continue
  name="$(basename "$f")"
  [ -f "$fresh/$name" ] || drift+=("clients/go/$OUT_REL/$name (stale: no longer generated)")
done
if [ "${#drift[@]}" -ne 0 ]; then
  log "generated Go stubs are out of date; run scripts/gen-go.sh and commit:"
  printf '  %s\n' "${drift[@]}" >&2
  exit 1
fi
log "Go stubs up to date ($(find "$committed" -name '*.go' | wc -l) files; protoc version lines ignored)"
