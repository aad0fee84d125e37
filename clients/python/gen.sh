#!/usr/bin/env bash
# Generates the Python gRPC stubs of proto/coinjecture/v1/*.proto into
# clients/python/src/coinjecture/v1/ (modules *_pb2.py, *_pb2.pyi and *_pb2_grpc.py).
#
#   clients/python/gen.sh           rewrite the committed stubs (commit the result)
#   clients/python/gen.sh --check   fail, naming the files, if the committed stubs are stale
#
# grpcio-tools is pinned below; when the installed one differs, the pinned one is installed into
# clients/python/.gen-venv (git-ignored). The proto package path coinjecture/v1 matches the Python
# package, so the generated `from coinjecture.v1 import types_pb2` imports work as they are.
# `--check` ignores the version header lines ("# Protobuf Python Version: …" and the runtime
# version check), so a different protobuf release alone does not count as drift.
set -euo pipefail
GRPCIO_TOOLS_VERSION=1.85.1

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out_pkg="$here/src/coinjecture/v1"
check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

python="${PYTHON:-python3}"
have=$("$python" -c 'import importlib.metadata as m; print(m.version("grpcio-tools"))' 2>/dev/null || true)
if [ "$have" != "$GRPCIO_TOOLS_VERSION" ]; then
  venv="$here/.gen-venv"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('grpcio-tools') != '$GRPCIO_TOOLS_VERSION')" 2>/dev/null; then
    echo "installing grpcio-tools==$GRPCIO_TOOLS_VERSION into $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q "grpcio-tools==$GRPCIO_TOOLS_VERSION"
  fi
  python="$venv/bin/python"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$root/proto" && "$python" -m grpc_tools.protoc -I . \
  --python_out="$tmp" --pyi_out="$tmp" --grpc_python_out="$tmp" coinjecture/v1/*.proto)
# grpc_tools writes no package markers; the package has its own __init__.py (not generated).
gen="$tmp/coinjecture/v1"

strip_versions() { grep -v -E '^# (Protobuf Python Version|NO CHECKED-IN PROTOBUF GENCODE)|^ *(_runtime_version\.ValidateProtobufRuntimeVersion|_runtime_version\.Domain\.PUBLIC|[0-9]+,$|'"'"'[a-z_/.]+\.proto'"'"'$)|^GRPC_GENERATED_VERSION = ' "$1" || true; }

if [ "$check" = 1 ]; then
  stale=()
  for f in "$gen"/*.py "$gen"/*.pyi; do
    name="$(basename "$f")"
    if [ ! -f "$out_pkg/$name" ] || ! diff -q <(strip_versions "$f") <(strip_versions "$out_pkg/$name") >/dev/null; then
      stale+=("clients/python/src/coinjecture/v1/$name")
    fi
  done
  for f in "$out_pkg"/*_pb2*.py "$out_pkg"/*_pb2*.pyi; do
    [ -e "$f" ] || continue
    [ -f "$gen/$(basename "$f")" ] || stale+=("clients/python/src/coinjecture/v1/$(basename "$f") (no such proto)")
  done
  if [ "${#stale[@]}" -gt 0 ]; then
    printf 'stale Python stubs (run clients/python/gen.sh and commit):\n' >&2
    printf '  %s\n' "${stale[@]}" >&2
    exit 1
  fi
  echo "Python stubs are current"
  exit 0
fi

mkdir -p "$out_pkg"
rm -f "$out_pkg"/*_pb2.py "$out_pkg"/*_pb2.pyi "$out_pkg"/*_pb2_grpc.py
cp "$gen"/*.py "$gen"/*.pyi "$out_pkg"/
echo "wrote $(ls "$gen" | wc -l) files to clients/python/src/coinjecture/v1/"
