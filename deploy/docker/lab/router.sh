#!/bin/bash
# The compose lab's downstream PIM router: FRR 8.4 zebra, staticd and pimd started directly (no watchfrr, no
# systemd), as docs/lab.md does in namespaces. eth0 faces the ingest nodes (network b-downstream), eth1 the
# receivers (d-receivers); docker-compose.yml names the networks so that this order holds.
set -euo pipefail
cluster_address=${CLUSTER_ADDRESS:?}
sources=${SOURCE_PREFIX:?}
run=/run/frr-lab
mkdir -p "$run" /var/log/frr-lab
chown frr:frr "$run" /var/log/frr-lab
cat >"$run/zebra.conf" <<CONF
hostname compose-router
ip nht resolve-via-default
CONF
cat >"$run/staticd.conf" <<CONF
ip route $sources $cluster_address
CONF
cat >"$run/pimd.conf" <<CONF
interface eth0
 ip pim
!
interface eth1
 ip pim
 ip igmp
!
CONF
chown frr:frr "$run"/*.conf
for d in zebra staticd pimd; do
  /usr/lib/frr/$d -d -f "$run/$d.conf" -i "$run/$d.pid" -z "$run/zserv.api" --vty_socket "$run" -P 0 \
    --log file:/var/log/frr-lab/$d.log
  sleep 1
done
echo "router: zebra, staticd and pimd up; sources $sources via $cluster_address"
# Stay in the foreground; on SIGTERM stop the daemons by their PIDs.
trap 'for d in pimd staticd zebra; do kill "$(cat "$run/$d.pid")" 2>/dev/null || true; done; exit 0' TERM INT
tail -F /var/log/frr-lab/pimd.log &
wait
