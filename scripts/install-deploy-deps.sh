#!/usr/bin/env bash
# Installs the Debian packages scripts/check-deploy.sh uses, when any is missing (the same way as
# install-test-deps.sh, kept apart so that the shared script stays as it is):
#   systemd (systemd-analyze verify for the unit), docker-compose (1.29: `docker-compose config` validates the
#   compose file without an engine), nodejs and npm (the Kubernetes manifest validator in tools/k8s-validate).
# With COMPOSE_LAB=1 it also installs what scripts/compose-lab.sh needs: docker.io (the engine) and debootstrap
# (a local base image; no image registry is reachable here). With SYSTEMD_LAB=1: systemd-container (systemd-nspawn),
# debootstrap, iproute2, curl and tcpdump for scripts/systemd-lab.sh.
# Needs root for apt-get. Idempotent: it does nothing when all of them are there.
set -euo pipefail

packages=(systemd docker-compose nodejs npm)
if [ "${COMPOSE_LAB:-0}" = "1" ]; then
  packages+=(docker.io debootstrap iproute2 curl jq)
fi
if [ "${SYSTEMD_LAB:-0}" = "1" ]; then
  packages+=(systemd-container debootstrap iproute2 curl tcpdump)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come with the nodejs package (as on this machine kind) rather than as its own package.
if [[ " ${missing[*]} " == *" npm "* ]] && command -v npm >/dev/null; then
  missing=("${missing[@]/npm/}")
  read -r -a missing <<<"${missing[*]}"
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deploy-deps: missing Debian packages: ${missing[*]}; run this script as root" >&2
  exit 1
fi
echo "install-deploy-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
