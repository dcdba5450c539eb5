#!/usr/bin/env bash
# The three-node cluster lab in network namespaces, without Docker: the same ClusterTopology the failover tests
# build (src/IngestCluster.Lab/Topology), run by `IngestCluster.Lab netns-lab up` and kept running until `down`.
#
#   deploy/lab/netns-lab.sh up [--sources N] [--rate PPS] [--limit 100Mbps]   build it; waits until 3 members are up
#   deploy/lab/netns-lab.sh join S G | leave S G     a receiver in icnl-rcv joins (S,G) with IGMPv3 / leaves it
#   deploy/lab/netns-lab.sh status                   nodes, members (a node's admin API), sources, receivers
#   deploy/lab/netns-lab.sh kill-node N              SIGKILL node N (1-3) by its recorded PID
#   deploy/lab/netns-lab.sh logs N|NAME [-f]         tail node N's log (or relay, dorms, named-rly, source-0, ...)
#   deploy/lab/netns-lab.sh down                     stop everything and delete every icnl-* namespace (idempotent)
#
# Root on Linux with iproute2, FRR, bind9, curl, jq, bc and the .NET 10 SDK (scripts/install-test-deps.sh), and a Release
# build (`dotnet build IngestCluster.sln -c Release`). Addresses are all in 10.170.0.0/16 inside the namespaces;
# the host's interfaces and routes are never touched. docs/lab.md describes the lab; docs/troubleshooting.md walks it.
#
# Environment: NETNS_LAB_DIR (state, default /run/ingest-netns-lab), NETNS_LAB_PREFIX (default icnl-),
# INGEST_LAB_DLL and INGEST_NODE_DLL (default: the Release builds in this repository).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${NETNS_LAB_DIR:-/run/ingest-netns-lab}"
PREFIX="${NETNS_LAB_PREFIX:-icnl-}"
LAB_DLL="${INGEST_LAB_DLL:-$ROOT/src/IngestCluster.Lab/bin/Release/net10.0/IngestCluster.Lab.dll}"
NODE_DLL="${INGEST_NODE_DLL:-$ROOT/src/IngestCluster.Node/bin/Release/net10.0/IngestCluster.Node.dll}"
UP_TIMEOUT="${NETNS_LAB_UP_TIMEOUT:-240}"

die() { echo "netns-lab: $*" >&2; exit 1; }
usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }

need_root() { [ "$(id -u)" = 0 ] || die "needs root (network namespaces)"; }

# The PID of the running `up`, or nothing: only when the recorded PID is still that program.
up_pid() {
  local pid
  pid="$(cat "$DIR/up.pid" 2>/dev/null || true)"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "netns-lab up" && echo "$pid"
  return 0
}

lab_namespaces() { ip netns list | awk '{print $1}' | grep "^${PREFIX}" || true; }

request() { dotnet "$LAB_DLL" netns-lab request --dir "$DIR" "$@"; }

cmd_up() {
  need_root
  [ -f "$LAB_DLL" ] || die "no $LAB_DLL: build first (dotnet build IngestCluster.sln -c Release)"
  [ -f "$NODE_DLL" ] || die "no $NODE_DLL: build first"
  [ -z "$(up_pid)" ] || die "already up (pid $(up_pid)); \`$0 down\` first"
  [ -z "$(lab_namespaces)" ] || die "namespaces left over: $(lab_namespaces | tr '\n' ' ')— run \`$0 down\`"
  mkdir -p "$DIR"
  rm -f "$DIR"/node*.pid "$DIR"/node*.log "$DIR/state.json"
  local start; start=$(date +%s.%N)
  INGEST_LAB_NODE="$NODE_DLL" setsid dotnet "$LAB_DLL" netns-lab up --dir "$DIR" --prefix "$PREFIX" "$@" \
    > "$DIR/up.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$DIR/up.pid"
  local deadline=$(( $(date +%s) + UP_TIMEOUT ))
  until grep -q '"event":"ready"' "$DIR/up.log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "netns-lab: up exited before the lab was ready:" >&2
      tail -n 20 "$DIR/up.log" >&2
      cmd_down >&2
      exit 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "netns-lab: not ready within ${UP_TIMEOUT}s; tearing down" >&2
      tail -n 20 "$DIR/up.log" >&2
      cmd_down >&2
      exit 1
    fi
    sleep 0.5
  done
  printf 'netns-lab: up in %.1f s (pid %s, state in %s, logs in %s/logs)\n' \
    "$(echo "$(date +%s.%N) - $start" | bc)" "$pid" "$DIR" "$DIR"
  jq -r '"sources: " + ([.sources[] | "(" + .source + "," + .group + ")"] | join(" "))' "$DIR/state.json"
}

cmd_down() {
  need_root
  local pid; pid="$(up_pid)"
  if [ -n "$pid" ]; then
    # A clean stop: `up` stops every process it started (by PID) and deletes its namespaces.
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "netns-lab: up (pid $pid) did not stop within 60 s; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  # Whatever is left (after a crash or SIGKILL of up): every process inside our namespaces, then the namespaces.
  local ns p left=0
  for ns in $(lab_namespaces); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do
      kill -KILL "$p" 2>/dev/null && left=$((left + 1)) || true
    done
  done
  for ns in $(lab_namespaces); do
    for _ in $(seq 1 20); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.1; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -f "$DIR/up.pid" "$DIR"/node*.pid "$DIR"/control/* 2>/dev/null || true
  [ -n "$(lab_namespaces)" ] && die "namespaces still there: $(lab_namespaces | tr '\n' ' ')"
  echo "netns-lab: down (stray processes killed: $left; no ${PREFIX}* namespace left)"
}

cmd_status() {
  [ -n "$(up_pid)" ] || { echo "netns-lab: not up (namespaces: $(lab_namespaces | tr '\n' ' '))"; exit 1; }
  jq -r '"phase " + .phase + ", up pid " + (.upPid|tostring) + (if .upSeconds then ", up in " + (.upSeconds|tostring) + " s" else "" end)' "$DIR/state.json"
  request status
}

cmd_kill_node() {
  need_root
  local n="${1:-}"
  [[ "$n" =~ ^[123]$ ]] || die "kill-node needs 1, 2 or 3"
  local pid; pid="$(cat "$DIR/node$n.pid" 2>/dev/null || true)"
  [ -n "$pid" ] || die "no recorded PID for node $n"
  # Only the process that is really node n: in its namespace, running the node program.
  alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
  alive "$pid" || die "node $n (pid $pid) is not running"
  [ "$(ip netns identify "$pid" 2>/dev/null)" = "${PREFIX}n$n" ] || die "pid $pid is not running in ${PREFIX}n$n"
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "IngestCluster.Node" || die "pid $pid is not an ingest node"
  kill -KILL "$pid"
  for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && die "node $n (pid $pid) still running 5 s after SIGKILL"
  echo "netns-lab: node $n (pid $pid) killed with SIGKILL at $(date -u +%H:%M:%S.%3N)"
}

cmd_logs() {
  local what="${1:-}"; shift || true
  [ -n "$what" ] || die "logs needs a node number or a process name"
  local file
  if [[ "$what" =~ ^[123]$ ]]; then file="$DIR/node$what.log"; else file="$DIR/logs/$what.log"; fi
  [ -e "$file" ] || die "no log $file (names: $(cd "$DIR/logs" 2>/dev/null && ls -- *.log | sed 's/\.log$//' | tr '\n' ' '))"
  if [ "${1:-}" = "-f" ]; then exec tail -n 40 -F "$file"; else tail -n "${NETNS_LAB_LOG_LINES:-40}" "$file"; fi
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  join|leave) [ $# -eq 3 ] || die "$1 needs S G"; request "$1" "$2" "$3" ;;
  kill-node) cmd_kill_node "${2:-}" ;;
  logs) shift; cmd_logs "$@" ;;
  *) usage ;;
esac
