#!/usr/bin/env bash
# The one test command: builds the solution and runs every test project, from unit tests to the
# network-namespace integration tests with FRR and bind9. Needs root (namespaces, raw sockets) and installs
# the Debian packages it needs when they are missing. Ends with a line "tests: N passed, N failed, N skipped"; a test skips only when the kernel lacks a feature it
# needs (multicast routing for FRR pimd), and the reasons are listed above that line.
set -uo pipefail
cd "$(dirname "$0")"

scripts/install-test-deps.sh || exit 1
if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: the integration tests need root (network namespaces, raw sockets): run it with sudo" >&2
  exit 1
fi

dotnet build IngestCluster.sln -c Release -nologo -clp:ErrorsOnly || exit 1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test IngestCluster.sln -c Release --no-build -nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
echo
if [ "$skipped" -ne 0 ]; then
  # A test skips only for a kernel feature this machine lacks (tests/IngestCluster.IntegrationTests/RequiresKernel.cs).
  echo "skipped:"
  grep -E '^\s+Skipped ' "$log" | sed -E 's/^\s+Skipped /  /'
  if [ ! -e /proc/net/ip_mr_vif ]; then
    echo "  why: this kernel ($(uname -r)) has no multicast routing (CONFIG_IP_MROUTE), which FRR pimd needs to join and forward"
  fi
fi
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
