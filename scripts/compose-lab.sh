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
had_docker0=x
run_started=$(date +%s)

say() { echo "compose-lab: $*"; }

cleanup() {
  local rc=$?
  "${compose[@]}" logs --no-color >"$log_dir/compose.log" 2>&1 || true
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null || true
    wait "$started_dockerd" 2>/dev/null || true
    # dockerd leaves its default bridge behind; remove it when it was not there before.
    [ -z "$had_docker0" ] && ip link show docker0 >/dev/null 2>&1 && ip link del docker0 2>/dev/null || true
  fi
  say "logs in $log_dir; $(($(date +%s) - run_started)) s in all (exit $rc)"
  exit $rc
}
trap cleanup EXIT

# 0. An engine: the running one, or dockerd started here (no iptables: the lab's networks are internal anyway).
if ! "$docker" info >/dev/null 2>&1; then
  say "starting dockerd"
  had_docker0=$(ip -o link show docker0 2>/dev/null || true)
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
say "images ready $(($(date +%s) - run_started)) s after the start"
"${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
"${compose[@]}" up -d --no-build 2>&1 | sed 's/^/  /'
t0=$(date +%s%N)

# Container ids, once: `docker logs` (the Go client) is much quicker than `docker-compose logs` (Python, ~1 s a call),
# and the stream is polled every 200 ms below.
cid() { "${compose[@]}" ps -q "$1"; }
declare -A cids
for service in node1 node2 node3 router relay receiver; do cids[$service]=$(cid "$service"); done
logs() { "$docker" logs "${cids[$1]}" 2>&1; }
# (No `grep -q` or `head` at the end of a pipe: under pipefail the writer's SIGPIPE would fail the pipe.)
has_line() { local out; out=$(logs "$1"); grep -qE "$2" <<<"$out"; }
status_of() { "$docker" exec "${cids[$1]}" curl -s --max-time 3 http://127.0.0.1:9110/status 2>/dev/null || true; }

# The interface order docker-compose.yml relies on: each node's PIM listener on eth1 must have found its
# b-downstream address (its log line "pim.started: eth1 (index N), GenID G, accepting Joins to 10.146.0.10, 10.146.0.1N",
# the cluster address first, then its own).
for n in 1 2 3; do
  pattern="pim\.started: eth1 .*accepting Joins to .*10\.146\.0\.1$n([^0-9]|\$)"
  for _ in $(seq 120); do
    has_line "node$n" "$pattern" && break
    sleep 1
  done
  if ! has_line "node$n" "$pattern"; then
    say "node$n: no PIM listener on eth1 with 10.146.0.1$n (interface order, or the node did not start):"
    logs "node$n" | tail -20 | sed 's/^/  /'
    exit 1
  fi
  say "node$n: $(logs "node$n" | grep -oE 'pim\.started: eth1 .*accepting Joins to [0-9., ]*' | sed -n 1p)"
done
say "every node's PIM listener is on eth1 (b-downstream), as the network names order it"

# Bridges with multicast snooping may hold back (S,G) traffic nobody reported for; plain switches do not.
for net in a-cluster b-downstream c-upstream d-receivers e-sources; do
  id=$("$docker" network inspect -f '{{.Id}}' "ingestlab_$net" 2>/dev/null | cut -c1-12)
  [ -n "$id" ] && [ -w "/sys/class/net/br-$id/bridge/multicast_snooping" ] && echo 0 >"/sys/class/net/br-$id/bridge/multicast_snooping"
done

receiver_lines() { logs receiver | sed 's/^[^{]*//' | grep '^{' || true; }
last_status() { receiver_lines | { grep '"event":"status"' || true; } | tail -1; }
received() { last_status | jq -r '.received // 0' 2>/dev/null || echo 0; }

wait_for_packets() { # $1 = more than this many received, $2 = seconds; polls every 200 ms
  local deadline=$(($(date +%s) + $2))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ "$(received)" -gt "$1" ] && return 0
    sleep 0.2
  done
  return 1
}

say "waiting for the receiver's first packets"
if ! wait_for_packets 0 180; then
  say "the receiver got nothing within 180 s; the router's first lines and the receiver's last status:"
  logs router | sed -n 1,5p | sed 's/^/  router: /'
  last_status | sed 's/^/  receiver: /'
  for n in 1 2 3; do status_of "node$n" >"$log_dir/node$n.status.json"; done
  exit 1
fi
joined_at=$(receiver_lines | jq -r 'select(.event == "joined") | .time' | sed -n 1p)
first_at=$(receiver_lines | jq -r 'select(.event == "status" and .received > 0) | .time' | sed -n 1p)
say "stream up: receiver joined at $joined_at, its first status with packets at $first_at" \
  "($(( $(date -d "$first_at" +%s%3N) - $(date -d "$joined_at" +%s%3N) )) ms later; statuses are 1 s apart, and the nodes start meanwhile)"
say "receiver: $(last_status | jq -c '{received, lost}')"
sleep 5
say "5 s later, receiver: $(last_status | jq -c '{received, receivedSinceLastStatus, lost}')"

# 3. The node that carries the stream: the one whose /status shows the source hosted here.
carrier=""
for n in 1 2 3; do
  status=$(status_of "node$n")
  echo "$status" >"$log_dir/node$n.before.json"
  if echo "$status" | jq -e '[.sources[]? | select(.source == "10.149.0.2" and ((.node // "") | test("node'"$n"'")))] | length > 0' >/dev/null 2>&1; then
    carrier=node$n
  fi
done
if [ -z "$carrier" ]; then
  # Fall back to the relay's view: which node's upstream address holds the tunnel.
  tunnel=$(logs relay | sed 's/^[^{]*//' | { grep '"event":"tunnel-up"' || true; } | tail -1 | jq -r .gateway)
  carrier=node${tunnel#10.147.0.1}
  carrier=${carrier%%:*}
fi
say "the stream comes through $carrier ($(jq -c '[.sources[] | {source, state, relay}]' "$log_dir/$carrier.before.json" 2>/dev/null)); SIGKILL"
before=$(received)
say "before the kill, receiver: $(last_status | jq -c '{received, lost}')"
killed_at_ms=$(date +%s%3N)
"$docker" kill -s KILL "${cids[$carrier]}" >/dev/null

# 4. The stream comes back from another node. The receiver reports every pause of 250 ms or more when the next
# packet arrives ("gap", from packet arrival times); the outage is the one that spans the kill (it began no later
# than 500 ms after it, and ended after it). Its count of packets must then grow by 50 more (half a second's worth).
outage() {
  # (No gap yet is no line: grep's status 1 must not end the script under set -e and pipefail.)
  receiver_lines | { grep '"event":"gap"' || true; } |
    jq -c --argjson k "$killed_at_ms" 'select(.resumedAtUnixMs > $k and (.resumedAtUnixMs - .gapMs) <= ($k + 500))' | sed -n 1p
}
gap=""
deadline=$(($(date +%s) + 60))
while [ -z "$gap" ] && [ "$(date +%s)" -lt "$deadline" ]; do
  sleep 0.2
  gap=$(outage)
done
if [ -z "$gap" ]; then
  say "the stream did not come back within 60 s of the kill; receiver: $(last_status | jq -c '{received, receivedSinceLastStatus, lost}')"
  exit 1
fi
at_gap=$(received)
if ! wait_for_packets $((at_gap + 50)) 30; then
  say "packets came back ($gap) but the stream did not go on; receiver: $(last_status | jq -c '{received, receivedSinceLastStatus, lost}')"
  exit 1
fi
say "receiver gap: $gap"
say "stream back $(( $(jq -r .resumedAtUnixMs <<<"$gap") - killed_at_ms )) ms after the kill (its first packet after it); outage at the receiver $(jq -r .gapMs <<<"$gap") ms, $(jq -r .missing <<<"$gap") packets missing"
sleep 3
say "after, receiver: $(last_status | jq -c '{received, receivedSinceLastStatus, lost}')"
for n in 1 2 3; do
  [ "node$n" = "$carrier" ] && continue
  status_of "node$n" >"$log_dir/node$n.after.json"
  jq -r --arg n "node$n" '.sources[]? | "compose-lab: \($n)'"'"'s /status: \(.source) \(.state) on \(.node) via \(.relay)"' "$log_dir/node$n.after.json" 2>/dev/null || true
done
say "ok"
