#!/usr/bin/env bash
# The one test command: builds the solution and runs every test project, from unit tests to the
# network-namespace integration tests with FRR and bind9. Needs root (namespaces, raw sockets) and installs
# the Debian packages it needs when they are missing. Ends with a line "tests: N passed, N failed".
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
echo
echo "tests: ${passed} passed, ${failed} failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
