#!/usr/bin/env bash
# Makes the two base images deploy/docker/Dockerfile needs, locally, where no image registry is reachable:
#   ingest-base:bookworm  Debian 12 minbase from debootstrap, with what a self-contained .NET program and the
#                         health check need (libssl3, ca-certificates, zlib, libstdc++, curl, libcap2-bin), and
#                         the CA certificates this host added locally (/usr/local/share/ca-certificates), so that
#                         a build behind the same TLS-inspecting proxy can restore packages;
#   ingest-sdk:10.0       that base plus this machine's .NET SDK (/usr/share/dotnet), for the build stage.
# Packages come from the Debian mirror apt is already set up with. Needs root, debootstrap and a Docker engine.
# Usage: deploy/docker/make-local-images.sh [--force]
set -euo pipefail

docker=${DOCKER:-docker}
force=${1:-}
dotnet_root=${DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")}

have() { "$docker" image inspect "$1" >/dev/null 2>&1; }

if [ "$force" = "--force" ] || ! have ingest-rootfs:bookworm; then
  mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
  [ -n "$mirror" ] || { echo "make-local-images: no Debian mirror found in apt's sources" >&2; exit 1; }
  rootfs=$(mktemp -d /tmp/ingest-rootfs-XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  echo "make-local-images: debootstrap bookworm (minbase) into $rootfs"
  debootstrap --variant=minbase \
    --include=ca-certificates,curl,libssl3,zlib1g,libstdc++6,libcap2-bin \
    bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  # Smaller: no apt lists, no docs, no man pages.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar -C "$rootfs" -c . | "$docker" import -c 'CMD ["/bin/bash"]' - ingest-rootfs:bookworm
fi

if [ "$force" = "--force" ] || ! have ingest-base:bookworm; then
  cas=$(mktemp -d)
  cp /usr/local/share/ca-certificates/*.crt "$cas"/ 2>/dev/null || true
  printf 'FROM ingest-rootfs:bookworm\nCOPY . /usr/local/share/ca-certificates/\nRUN update-ca-certificates >/dev/null\n' |
    DOCKER_BUILDKIT=0 "$docker" build -q -t ingest-base:bookworm -f - "$cas" 2>&1 | grep -v -i deprecat || true
  rm -rf "$cas"
  have ingest-base:bookworm
fi

if [ "$force" = "--force" ] || ! have ingest-sdk:10.0; then
  echo "make-local-images: ingest-sdk:10.0 from $dotnet_root"
  printf 'FROM ingest-base:bookworm\nCOPY . /usr/share/dotnet/\nRUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet\nENV DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1\n' |
    DOCKER_BUILDKIT=0 "$docker" build -q -t ingest-sdk:10.0 -f - "$dotnet_root" 2>&1 | grep -v -i deprecat || true
  have ingest-sdk:10.0
fi
"$docker" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^ingest-(rootfs|base|sdk):'
