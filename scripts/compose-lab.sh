#!/usr/bin/env bash
# The compose lab end to end, on this machine's Docker engine (docker-compose.yml):
#   1. images: local bases (deploy/docker/make-local-images.sh), then ingest-node:lab and ingest-lab:lab;
#   2. up; the receiver gets the stream (10.149.0.2, 232.1.1.1) through FRR from one of the three nodes;
#   3. the node that carries it is killed (SIGKILL);
#   4. the stream comes back, from another node; the gap the receiver saw is printed;
#   5. down (containers, networks and volumes removed), and dockerd stopped if this script started it.
# Needs root, docker.io and debootstrap (scripts/install-deploy-deps.sh with COMPOSE_LAB=1). Run by
# scripts/check-deploy.sh only with COMPOSE_LAB=1. Exit 0 when the stream came back.
set -euo pipefail
cd "$(dirname "$0")/.."

docker=${DOCKER:-/usr/bin/docker}
compose=(docker-compose -p ingestlab -f docker-compose.yml)
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
log_dir=$(mktemp -d /tmp/ingest-compose-lab-XXXXXX)
started_dockerd=""

say() { echo "compose-lab: $*"; }

cleanup() {
  local rc=$?
  "${compose[@]}" logs --no-color >"$log_dir/compose.log" 2>&1 || true
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null || true
    wait "$started_dockerd" 2>/dev/null || true
  fi
  say "logs in $log_dir"
  exit $rc
}
trap cleanup EXIT

# 0. An engine: the running one, or dockerd started here (no iptables: the lab's networks are internal anyway).
if ! "$docker" info >/dev/null 2>&1; then
  say "starting dockerd"
  dockerd --iptables=false --ip-masq=false >"$log_dir/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 60); do "$docker" info >/dev/null 2>&1 && break; sleep 0.5; done
  "$docker" info >/dev/null 2>&1 || { say "dockerd did not start:"; tail -20 "$log_dir/dockerd.log"; exit 1; }
fi

# 1. Images. BuildKit builds only the stages a target needs; --network host lets the restore and apt reach the
# registries (the default bridge has no way out without iptables).
DOCKER=$docker deploy/docker/make-local-images.sh
for target in node lab; do
  say "building ingest-$target:lab"
  start=$(date +%s)
  DOCKER_BUILDKIT=1 "$docker" build --network host -q --target "$target" \
    --build-arg SDK_IMAGE=ingest-sdk:10.0 --build-arg BASE_IMAGE=ingest-base:bookworm \
    -f deploy/docker/Dockerfile -t "ingest-$target:lab" . >"$log_dir/build-$target.log" 2>&1 ||
    { tail -30 "$log_dir/build-$target.log"; exit 1; }
  say "ingest-$target:lab built in $(($(date +%s) - start)) s"
done

# 2. Up.
"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
"${compose[@]}" up -d --no-build 2>&1 | sed 's/^/  /'
t0=$(date +%s%N)

# The interface order docker-compose.yml relies on: each node's PIM listener on eth1 must have found its
# b-downstream address (its log line "pim.accepting: Joins on eth1 addressed to 10.146.0.1N").
for n in 1 2 3; do
  for _ in $(seq 120); do
    "${compose[@]}" logs --no-color "node$n" 2>/dev/null | grep -q "pim.accepting: Joins on eth1 addressed to 10.146.0.1$n" && break
    sleep 1
  done
  if ! "${compose[@]}" logs --no-color "node$n" 2>/dev/null | grep -q "pim.accepting: Joins on eth1 addressed to 10.146.0.1$n"; then
    say "node$n: no PIM listener on eth1 with 10.146.0.1$n (interface order, or the node did not start):"
    "${compose[@]}" logs --no-color --tail 20 "node$n" 2>&1 | sed 's/^/  /'
    exit 1
  fi
done
say "every node's PIM listener is on eth1 (b-downstream), as the network names order it"

# Bridges with multicast snooping may hold back (S,G) traffic nobody reported for; plain switches do not.
for net in a-cluster b-downstream c-upstream d-receivers e-sources; do
  id=$("$docker" network inspect -f '{{.Id}}' "ingestlab_$net" 2>/dev/null | cut -c1-12)
  [ -n "$id" ] && [ -w "/sys/class/net/br-$id/bridge/multicast_snooping" ] && echo 0 >"/sys/class/net/br-$id/bridge/multicast_snooping"
done

receiver_lines() { "${compose[@]}" logs --no-color receiver 2>/dev/null | sed 's/^[^{]*//' | grep '^{' || true; }
received() { receiver_lines | grep '"event":"status"' | tail -1 | jq -r '.received // 0' 2>/dev/null || echo 0; }

wait_for_packets() { # $1 = more than this many received, $2 = seconds
  local deadline=$(($(date +%s) + $2))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ "$(received)" -gt "$1" ] && return 0
    sleep 1
  done
  return 1
}

say "waiting for the receiver's first packets"
if ! wait_for_packets 0 180; then
  say "the receiver got nothing within 180 s"
  for n in 1 2 3; do "${compose[@]}" exec -T "node$n" curl -s --max-time 3 http://127.0.0.1:9110/status >"$log_dir/node$n.status.json" 2>&1 || true; done
  exit 1
fi
say "stream up $(( ($(date +%s%N) - t0) / 1000000 )) ms after 'up' returned; received $(received)"

# 3. The node that carries the stream: the one whose /status shows the source hosted here.
carrier=""
for n in 1 2 3; do
  status=$("${compose[@]}" exec -T "node$n" curl -s --max-time 3 http://127.0.0.1:9110/status 2>/dev/null || true)
  echo "$status" >"$log_dir/node$n.before.json"
  if echo "$status" | jq -e '[.sources[]? | select(.source == "10.149.0.2" and ((.node // "") | test("node'"$n"'")))] | length > 0' >/dev/null 2>&1; then
    carrier=node$n
  fi
done
if [ -z "$carrier" ]; then
  # Fall back to the relay's view: which node's upstream address holds the tunnel.
  tunnel=$("${compose[@]}" logs --no-color relay 2>/dev/null | sed 's/^[^{]*//' | grep '"event":"tunnel-up"' | tail -1 | jq -r .gateway)
  carrier=node${tunnel#10.147.0.1}
  carrier=${carrier%%:*}
fi
say "the stream comes through $carrier; killing it"
before=$(received)
"${compose[@]}" kill -s SIGKILL "$carrier" >/dev/null 2>&1
killed_at=$(date +%s%N)

# 4. The stream comes back from another node.
if ! wait_for_packets $((before + 50)) 60; then
  say "the stream did not come back within 60 s of the kill"
  exit 1
fi
back_ms=$(( ($(date +%s%N) - killed_at) / 1000000 ))
gap=$(receiver_lines | grep '"event":"gap"' | tail -1 | jq -r '.gapMs // empty')
say "stream back ${back_ms} ms after the kill (seen by polling); the receiver's longest recent gap: ${gap:-none} ms"
for n in 1 2 3; do
  [ "node$n" = "$carrier" ] && continue
  "${compose[@]}" exec -T "node$n" curl -s --max-time 3 http://127.0.0.1:9110/status >"$log_dir/node$n.after.json" 2>/dev/null || true
done
say "ok"
