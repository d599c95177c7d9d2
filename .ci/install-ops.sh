#!/usr/bin/env bash
# Installs what the ops tests need and builds the local stand-ins for the container base images.
# Idempotent: every step is skipped when its result is already there. Called by .ci/run.
#
#   .ci/install-ops.sh            packages + podman config + base images
#   .ci/install-ops.sh --no-images  packages + podman config only
#
# No image registry is reachable here, so the images the Dockerfiles and docker-compose.yml name
# (node:20-bookworm-slim, redis, haproxy, prom/prometheus) are built from Debian packages with
# debootstrap and tagged with exactly those names (see /work/shared/CONTAINERS.md). Root filesystems
# are cached as tarballs under $MEGAPHONE_IMAGE_CACHE so a fresh podman store re-imports in seconds.
set -euo pipefail

CACHE="${MEGAPHONE_IMAGE_CACHE:-/var/cache/megaphone-images}"
RECIPE=v1 # bump when the image recipe below changes, to rebuild cached root filesystems
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# Keep these names in sync with docker-compose.yml and the Dockerfiles (tests/test/ops-compose.test.ts checks).
NODE_IMAGE=docker.io/library/node:20-bookworm-slim
REDIS_IMAGE=docker.io/library/redis:7.0-bookworm
HAPROXY_IMAGE=docker.io/library/haproxy:2.6-bookworm
PROMETHEUS_IMAGE=docker.io/prom/prometheus:v2.42.0

log() { printf '[install-ops] %s\n' "$*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# 1. Debian packages -------------------------------------------------------------------------------
PACKAGES=(prometheus haproxy podman runc docker-compose debootstrap redis-server)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  $SUDO apt-get update -q
  # With recommends: podman needs netavark/aardvark-dns (or CNI plugins), iptables and buildah from them.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
else
  log "packages present: ${PACKAGES[*]}"
fi
# The packages ship services that would hold the ports the tests use; nothing here runs systemd,
# but stop them if an init script started them anyway.
for svc in prometheus haproxy prometheus-node-exporter; do
  if command -v service >/dev/null && service "$svc" status >/dev/null 2>&1; then $SUDO service "$svc" stop || true; fi
done

# 2. podman configuration for this sandbox (crun and the default rlimits fail here) -----------------
CONF=/etc/containers/containers.conf
if ! grep -q 'megaphone-ops' "$CONF" 2>/dev/null; then
  log "writing $CONF"
  $SUDO mkdir -p /etc/containers
  $SUDO tee "$CONF" >/dev/null <<'CONF'
# megaphone-ops: written by .ci/install-ops.sh
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
fi

if [ "${1:-}" = "--no-images" ]; then exit 0; fi

# 3. Base images -----------------------------------------------------------------------------------
$SUDO mkdir -p "$CACHE/debs"

# rootfs NAME INCLUDE CUSTOMIZE_FN: debootstrap once, customize, cache as $CACHE/NAME-$RECIPE.tar
rootfs() {
  local name="$1" include="$2" customize="$3"
  local tar="$CACHE/$name-$RECIPE.tar"
  if [ -s "$tar" ]; then log "cached root filesystem $tar"; return; fi
  local dir; dir="$(mktemp -d "$CACHE/$name.XXXXXX")"
  log "debootstrap $name (--include=$include), takes a minute or two"
  $SUDO debootstrap --variant=minbase --cache-dir="$CACHE/debs" ${include:+--include="$include"} "$SUITE" "$dir" "$MIRROR" >"$CACHE/$name.debootstrap.log" 2>&1 \
    || { log "debootstrap failed, see $CACHE/$name.debootstrap.log"; tail -20 "$CACHE/$name.debootstrap.log"; exit 1; }
  "$customize" "$dir"
  $SUDO rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  $SUDO tar -C "$dir" -cf "$tar.tmp" .
  $SUDO mv "$tar.tmp" "$tar"
  $SUDO rm -rf "$dir"
}

customize_node() {
  local dir="$1"
  # The Node.js of this machine stands in for the official image's (same major version).
  $SUDO install -D -m 0755 "$(readlink -f "$(command -v node)")" "$dir/usr/local/bin/node"
  $SUDO mkdir -p "$dir/usr/local/lib/node_modules"
  $SUDO cp -a /usr/lib/node_modules/npm "$dir/usr/local/lib/node_modules/npm"
  $SUDO ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
  $SUDO ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx"
  # Builds inside the image reach the npm registry through this machine's CA bundle.
  $SUDO install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  # The official image has a user `node` with uid/gid 1000.
  $SUDO chroot "$dir" groupadd --gid 1000 node
  $SUDO chroot "$dir" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
}

customize_services() {
  local dir="$1"
  $SUDO mkdir -p "$dir/usr/local/etc/haproxy" "$dir/prometheus" "$dir/var/lib/haproxy"
  $SUDO chroot "$dir" chown nobody:nogroup /prometheus
}

image_exists() { podman image exists "$1" 2>/dev/null; }

import_image() { # import_image TAR NAME --change ... (skips an image already in the store)
  local tar="$1" name="$2"; shift 2
  if image_exists "$name"; then log "image present: $name"; return; fi
  log "importing $name"
  local changes=()
  for c in "$@"; do changes+=(--change "$c"); done
  $SUDO podman import "${changes[@]}" "$tar" "$name" >/dev/null
}

need_node=1; need_services=1
image_exists "$NODE_IMAGE" && need_node=0
image_exists "$REDIS_IMAGE" && image_exists "$HAPROXY_IMAGE" && image_exists "$PROMETHEUS_IMAGE" && need_services=0

if [ "$need_node" = 1 ]; then
  rootfs node "" customize_node
  import_image "$CACHE/node-$RECIPE.tar" "$NODE_IMAGE" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV NODE_VERSION=20' \
    'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    'CMD ["node"]'
else
  log "image present: $NODE_IMAGE"
fi

if [ "$need_services" = 1 ]; then
  rootfs services "redis-server,haproxy,prometheus" customize_services
  tar="$CACHE/services-$RECIPE.tar"
  # Upstream's redis image turns protected mode off (it is reached over the container network).
  import_image "$tar" "$REDIS_IMAGE" 'CMD ["redis-server", "--protected-mode", "no"]' 'EXPOSE 6379'
  import_image "$tar" "$HAPROXY_IMAGE" 'CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]' 'STOPSIGNAL SIGUSR1'
  import_image "$tar" "$PROMETHEUS_IMAGE" 'USER nobody' 'WORKDIR /prometheus' 'ENTRYPOINT ["/usr/bin/prometheus"]' \
    'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]' 'EXPOSE 9090'
else
  log "images present: $REDIS_IMAGE $HAPROXY_IMAGE $PROMETHEUS_IMAGE"
fi
log "done"
