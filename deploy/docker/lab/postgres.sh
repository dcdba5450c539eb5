#!/bin/bash
# The compose lab's PostgreSQL 15 (Debian's), for the nodes' shared journal: a fresh cluster in /var/lib/pg-lab,
# user and database "ingest" (password "ingest"), password login from the cluster network.
set -euo pipefail
data=/var/lib/pg-lab
bin=/usr/lib/postgresql/15/bin
install -d -o postgres -g postgres "$data" /run/postgresql
if [ ! -s "$data/PG_VERSION" ]; then
  su postgres -s /bin/sh -c "echo postgres > /tmp/pw && $bin/initdb -D $data -A scram-sha-256 --pwfile=/tmp/pw -U postgres >/dev/null && rm /tmp/pw"
  echo "host all all ${ALLOW_NETWORK:-0.0.0.0/0} scram-sha-256" >>"$data/pg_hba.conf"
  su postgres -s /bin/sh -c "$bin/pg_ctl -D $data -o '-c listen_addresses=127.0.0.1' -w start" >/dev/null
  PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -qc "CREATE USER ingest PASSWORD 'ingest'" -c "CREATE DATABASE ingest OWNER ingest"
  su postgres -s /bin/sh -c "$bin/pg_ctl -D $data -w stop" >/dev/null
fi
echo "postgres: starting on *:5432"
exec su postgres -s /bin/sh -c "exec $bin/postgres -D $data -c listen_addresses='*'"
