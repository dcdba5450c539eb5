#!/usr/bin/env bash
# deploy/systemd/ingest-node.service under a real systemd, on a machine whose PID 1 is not systemd: a Debian 12
# rootfs (debootstrap) booted with `systemd-nspawn -b`, the node published as the unit's header says (framework-
# dependent, ReadyToRun; the host's /usr/share/dotnet bound read-only into the container), the unit and an
# environment file for a one-node cluster installed and enabled. Then:
#   1. the unit is active and /ready answers (an Up member);
#   2. capabilities and sandbox as the kernel sees them: `systemctl show` and the main process's /proc status
#      (CapAmb/CapEff/CapBnd = CAP_NET_RAW + CAP_NET_ADMIN only, NoNewPrivs 1, Seccomp 2, a dynamic uid, / read-only);
#   3. the node's PIM Hellos on its interface, seen from the other end of the veth (the raw socket works);
#   4. SIGKILL of the main process: Restart=on-failure starts a new one (NRestarts 1) and /ready answers again;
#   5. `systemctl stop`: the graceful stop's time and result;
#   6. teardown: the container powered off, its namespaces and cgroups removed.
# The container's network is its own namespace (icsd-node, with eth1 = 198.51.100.11/24 veth'd to icsd-lan), so
# nothing of the host's interfaces is touched. Needs root, systemd-container, debootstrap and the .NET SDK.
# Usage: scripts/systemd-lab.sh [published-node-dir]   (default: publish into the work directory)
# Work directory: $SYSTEMD_LAB_DIR (default /var/tmp/ingest-systemd-lab; the rootfs is kept there for the next run).
set -euo pipefail
cd "$(dirname "$0")/.."

work=${SYSTEMD_LAB_DIR:-/var/tmp/ingest-systemd-lab}
rootfs=$work/rootfs
node_dir=${1:-}
machine=icsd
ns=icsd-node
lan=icsd-lan
run_started=$(date +%s)
nspawn_pid=""
mkdir -p "$work"
log=$work/console.log

say() { echo "systemd-lab: $*"; }
# Inside the container: every namespace of its PID 1 (the container's systemd).
in_ct() { nsenter -t "$leader" -a "$@"; }

cleanup() {
  local rc=$?
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    # SIGTERM to systemd-nspawn: it asks the container's systemd to power off (SIGRTMIN+3).
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$nspawn_pid" 2>/dev/null && kill -KILL "$nspawn_pid" 2>/dev/null || true
    wait "$nspawn_pid" 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
  ip netns del "$lan" 2>/dev/null || true
  # --keep-unit makes nspawn move itself to /supervisor and the container to /payload of the systemd and unified
  # hierarchies; remove what is left empty.
  for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
    for d in payload supervisor; do
      [ -d "$h/$d" ] && find "$h/$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
  done
  say "console log $log; $(($(date +%s) - run_started)) s in all (exit $rc)"
  exit $rc
}
trap cleanup EXIT

# 1. The rootfs: Debian 12 minbase with systemd (kept between runs).
if [ ! -x "$rootfs/lib/systemd/systemd" ]; then
  say "debootstrap bookworm into $rootfs"
  mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libcap2-bin,curl,ca-certificates,libssl3,zlib1g,libstdc++6,iproute2,procps \
    bookworm "$rootfs" "${mirror:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
fi
echo "$machine" >"$rootfs/etc/hostname"

# 2. The node, as the unit's header publishes it.
if [ -z "$node_dir" ]; then
  node_dir=$work/node
  say "publishing the node (framework-dependent, ReadyToRun) into $node_dir"
  dotnet publish src/IngestCluster.Node -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -o "$node_dir" >"$work/publish.log" 2>&1 || { tail -20 "$work/publish.log"; exit 1; }
fi
rm -rf "$rootfs/opt/ingest-cluster"
cp -a "$node_dir" "$rootfs/opt/ingest-cluster"
ln -sf /usr/share/dotnet/dotnet "$rootfs/usr/bin/dotnet"
mkdir -p "$rootfs/usr/share/dotnet"

# The unit exactly as shipped; the environment file: the shipped one with this lab's addresses.
install -m 0644 deploy/systemd/ingest-node.service "$rootfs/etc/systemd/system/ingest-node.service"
install -d -m 0755 "$rootfs/etc/ingest-cluster"
sed -e 's/192\.0\.2\.11/198.51.100.11/g' \
    -e '/^INGEST_Cluster__SeedNodes__[12]=/d' \
    -e 's/^INGEST_Persistence__Provider=.*/INGEST_Persistence__Provider=sqlite/' \
    -e '/^INGEST_Persistence__ConnectionString=/d' \
    -e 's/^INGEST_Demand__Pim__Interfaces__0__ClusterAddress=.*/INGEST_Demand__Pim__Interfaces__0__ClusterAddress=198.51.100.10/' \
    deploy/systemd/ingest-node.env >"$rootfs/etc/ingest-cluster/ingest-node.env"
chmod 0640 "$rootfs/etc/ingest-cluster/ingest-node.env"
mkdir -p "$rootfs/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/ingest-node.service "$rootfs/etc/systemd/system/multi-user.target.wants/ingest-node.service"
# No getty on the console (nothing reads it), no apt timers.
rm -f "$rootfs"/etc/systemd/system/getty.target.wants/* "$rootfs"/etc/systemd/system/timers.target.wants/apt-*

# 3. The network: the container's own namespace; eth1 (the downstream LAN) is a veth whose peer is in icsd-lan.
ip netns del "$ns" 2>/dev/null || true
ip netns del "$lan" 2>/dev/null || true
ip netns add "$ns"
ip netns add "$lan"
ip -n "$ns" link set lo up
ip -n "$lan" link set lo up
ip -n "$ns" link add eth1 type veth peer name lan0 netns "$lan"
ip -n "$ns" addr add 198.51.100.11/24 dev eth1
ip -n "$lan" addr add 198.51.100.1/24 dev lan0
ip -n "$ns" link set eth1 up
ip -n "$lan" link set lan0 up

# 4. Boot. --register=no and --keep-unit: there is no systemd on the host to register with or to ask for a scope.
# nspawn keeps CAP_NET_ADMIN only with a private network it made itself; the unit's bounding set needs it.
say "booting $rootfs with systemd-nspawn -b"
systemd-nspawn -D "$rootfs" -M "$machine" --register=no --keep-unit --network-namespace-path="/run/netns/$ns" \
  --capability=CAP_NET_ADMIN --bind-ro=/usr/share/dotnet --console=read-only -b >"$log" 2>&1 &
nspawn_pid=$!
leader=""
for _ in $(seq 100); do
  leader=$(pgrep -P "$nspawn_pid" -x systemd || true)
  [ -n "$leader" ] && break
  sleep 0.2
done
[ -n "$leader" ] || { say "no systemd in the container"; tail -20 "$log"; exit 1; }
state=""
for _ in $(seq 120); do
  state=$(in_ct systemctl is-system-running 2>/dev/null || true)
  case $state in running|degraded) break ;; esac
  sleep 1
done
say "container systemd (host PID $leader): $state; $(in_ct systemctl --version | head -1)"
[ "$state" = degraded ] && in_ct systemctl --failed --no-legend --no-pager | sed 's/^/  failed: /'

# 5. The unit and /ready.
ready() { ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:9110/ready 2>/dev/null || true; }
wait_ready() {
  for _ in $(seq "$1"); do [ "$(ready)" = 200 ] && return 0; sleep 0.5; done
  return 1
}
if ! wait_ready 240; then
  say "/ready did not answer 200 within 120 s"
  in_ct systemctl status ingest-node --no-pager -l 2>&1 | tail -30
  exit 1
fi
t_ready=$(date +%s%3N)
say "ingest-node: $(in_ct systemctl is-active ingest-node); /ready: $(ip netns exec "$ns" curl -s --max-time 2 -w ' (HTTP %{http_code})' http://127.0.0.1:9110/ready)"
in_ct systemctl show ingest-node -p MainPID -p ActiveEnterTimestamp -p ExecMainStartTimestamp -p NRestarts | sed 's/^/  /'

main_pid() { in_ct systemctl show -p MainPID --value ingest-node; }
pid=$(main_pid)
proc_facts() {
  in_ct grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters):' "/proc/$1/status" | sed 's/^/  /'
  in_ct sh -c "capsh --decode=\$(sed -n 's/^CapAmb:\t//p' /proc/$1/status)" | sed 's/^/  CapAmb decoded: /'
  in_ct sh -c "capsh --decode=\$(sed -n 's/^CapBnd:\t//p' /proc/$1/status)" | sed 's/^/  CapBnd decoded: /'
  echo "  / in the service's mount namespace: $(in_ct awk '$5 == "/" { print $6 }' "/proc/$1/mountinfo" | head -1)"
  echo "  /home in the service's mount namespace: $(in_ct awk '$5 == "/home" { print $6, $9 }' "/proc/$1/mountinfo" | head -1)"
  echo "  state directory: $(in_ct ls -ld /var/lib/ingest-cluster /var/lib/private/ingest-cluster 2>&1 | awk '{ print $1, $3, $NF }' | tr '\n' ' ')"
  echo "  $(in_ct grep 'Max open files' "/proc/$1/limits" | sed 's/  */ /g')"
}
say "main process $pid (PID in the container):"
proc_facts "$pid"
say "systemctl show (capabilities and sandbox):"
in_ct systemctl show ingest-node -p User -p DynamicUser -p AmbientCapabilities -p CapabilityBoundingSet -p NoNewPrivileges \
  -p ProtectSystem -p ProtectHome -p PrivateTmp -p PrivateDevices -p ProtectKernelTunables -p ProtectControlGroups \
  -p RestrictAddressFamilies -p SystemCallErrorNumber -p MemoryDenyWriteExecute -p LimitNOFILE -p Restart -p RestartUSec | sed 's/^/  /'
say "exposure (systemd-analyze security, inside the container): $(in_ct systemd-analyze security ingest-node --no-pager 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: //p')"

# 6. The raw socket at work: a PIM Hello on eth1, seen from the LAN side.
hello=$(ip netns exec "$lan" timeout 40 tcpdump -c 1 -nli lan0 -vv 'ip proto 103' 2>/dev/null | tr '\n' ' ' | sed 's/  */ /g' || true)
say "PIM from the node on eth1: ${hello:-none within 40 s}"

# 7. SIGKILL: the restart policy.
say "SIGKILL to the main process $pid"
killed=$(date +%s%3N)
in_ct kill -KILL "$pid"
new=""
for _ in $(seq 100); do
  new=$(main_pid)
  [ -n "$new" ] && [ "$new" != 0 ] && [ "$new" != "$pid" ] && break
  sleep 0.1
done
started_again=$(date +%s%3N)
if ! wait_ready 240; then
  say "/ready did not come back within 120 s of the kill"
  in_ct systemctl status ingest-node --no-pager -l 2>&1 | tail -30
  exit 1
fi
back=$(date +%s%3N)
say "new main process ${new:-?} $((started_again - killed)) ms after the kill (RestartSec=3s), /ready 200 again $((back - killed)) ms after it"
in_ct systemctl show ingest-node -p NRestarts -p ExecMainStatus -p Result -p MainPID | sed 's/^/  /'
in_ct journalctl -u ingest-node --no-pager -o short-monotonic 2>/dev/null | grep -E 'Main process exited|Scheduled restart|Started|Stopped|Consumed' | tail -5 | sed 's/^/  journal: /'
proc_facts "$new" | grep -E 'CapAmb|Uid|NoNewPrivs' || true

# 8. A graceful stop.
stop_start=$(date +%s%3N)
in_ct systemctl stop ingest-node
say "systemctl stop took $(( $(date +%s%3N) - stop_start )) ms; $(in_ct systemctl show ingest-node -p Result -p ExecMainStatus -p ActiveState | tr '\n' ' ')"
in_ct journalctl -u ingest-node --no-pager -o cat 2>/dev/null | grep -iE 'leaving|Exiting|shutdown|stopp' | tail -4 | sed 's/^/  journal: /' || true
say "ok"
