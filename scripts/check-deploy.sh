#!/usr/bin/env bash
# Offline checks of the deployment files, run by .ci/run before ./test.sh (about 20-40 s):
#   1. deploy/systemd/ingest-node.service: `systemd-analyze verify` (any warning fails) and its exposure score;
#   2. docker-compose.yml: `docker-compose config` (docker-compose 1.29 from Debian; no engine needed);
#   3. deploy/k8s/*.yaml: every document against the Kubernetes API schemas, strictly (unknown fields fail),
#      with tools/k8s-validate (kubernetes-models and the TypeScript compiler, from npm; no cluster, no network
#      once installed); the Multus attachment (a CRD) for a name and a CNI config that parses;
#   4. deploy/lab/netns-lab.sh, scripts/compose-lab.sh and scripts/systemd-lab.sh: `bash -n`.
# With COMPOSE_LAB=1 it then runs scripts/compose-lab.sh (the compose lab end to end on a local Docker engine; about
# 2 min with cached images, 10-16 min when it builds them), with SYSTEMD_LAB=1 scripts/systemd-lab.sh (the unit
# under systemd-nspawn -b; about 1 min once its rootfs exists).
# Ends with a line "deploy checks: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/install-deploy-deps.sh || exit 1

passed=0
failed=0
check() {
  local name=$1
  shift
  local out
  if out=$("$@" 2>&1); then
    echo "check-deploy: ok   $name"
    passed=$((passed + 1))
  else
    echo "check-deploy: FAIL $name"
    printf '%s\n' "$out" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
}

# systemd-analyze verify exits 0 on unknown keys and bad values; it only prints them. Any output is a failure.
verify_unit() {
  local out
  out=$(systemd-analyze verify "$1" 2>&1) || { printf '%s\n' "$out"; return 1; }
  if [ -n "$out" ]; then
    printf '%s\n' "$out"
    return 1
  fi
  # The exposure score (0 = locked down, 10 = unprotected); fail above 3 so the sandbox cannot quietly erode.
  local score
  score=$(systemd-analyze security --offline=yes "$1" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "exposure $score"
  [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'
}

compose_config() {
  [ -f docker-compose.yml ] || { echo "no docker-compose.yml"; return 1; }
  docker-compose -f docker-compose.yml config -q
}

k8s_validate() {
  local dir=tools/k8s-validate
  if [ ! -d "$dir/node_modules/kubernetes-models" ] || [ ! -d "$dir/node_modules/typescript" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || return 1
  fi
  node "$dir/validate.mjs" deploy/k8s/*.yaml deploy/k8s/multus/*.yaml
}

check "systemd unit (verify, exposure <= 3)" verify_unit deploy/systemd/ingest-node.service
if [ -f docker-compose.yml ]; then
  check "docker-compose.yml (docker-compose config)" compose_config
fi
check "kubernetes manifests (schemas, strict)" k8s_validate
for script in deploy/lab/netns-lab.sh scripts/compose-lab.sh scripts/systemd-lab.sh; do
  if [ -f "$script" ]; then
    check "$script (bash -n)" bash -n "$script"
  fi
done
if [ "${COMPOSE_LAB:-0}" = "1" ]; then
  check "compose lab end to end (scripts/compose-lab.sh)" scripts/compose-lab.sh
fi
if [ "${SYSTEMD_LAB:-0}" = "1" ]; then
  check "systemd unit under systemd-nspawn (scripts/systemd-lab.sh)" scripts/systemd-lab.sh
fi

echo "deploy checks: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
