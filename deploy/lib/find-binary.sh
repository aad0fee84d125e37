# Sourced by deploy/gen-network.sh and k8s/gen-keys.sh: sets $bin to a coinjectured binary when
# it is empty (no --bin): the one on PATH, else the one inside the image $COINJECTURE_IMAGE
# (default coinjectured:dev), copied out with podman or docker into $tmp. Needs $tmp and $script
# (the caller's name, for errors).
if [[ -z $bin ]]; then
  if command -v coinjectured >/dev/null; then
    bin=$(command -v coinjectured)
  else
    image=${COINJECTURE_IMAGE:-coinjectured:dev}
    engine=${CONTAINER_ENGINE:-$(command -v podman || command -v docker || true)}
    [[ -n $engine ]] || { echo "$script: no coinjectured binary (--bin) and no podman/docker" >&2; exit 1; }
    # The image's binary runs on the host: static, or built here with its libraries.
    id=$("$engine" create "$image")
    "$engine" cp "$id:/usr/local/bin/coinjectured" "$tmp/coinjectured" >/dev/null
    "$engine" rm -v "$id" >/dev/null
    bin=$tmp/coinjectured
  fi
fi
