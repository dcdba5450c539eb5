#!/usr/bin/env bash
# Installs the Debian packages the tests use, when any is missing:
#   tshark (codec cross-check), frr (the downstream PIM router), bind9 (DRIAD records), iproute2 (namespaces),
#   tcpdump and libpcap (observing), curl and jq (reading the node's status in the lab), postgresql (the shared
#   journal; tests run their own server, the package's own cluster is left alone), chromium (the status page test
#   drives Debian's browser headless through Playwright, which downloads none here).
# Needs root for apt-get. Idempotent: it does nothing when all of them are there.
set -euo pipefail

# nsd: bind9 refuses the 22-byte AMTRELAY record Akamai publishes (a type-3 name without its root label);
# the test of that record serves it with NSD.
packages=(tshark frr bind9 bind9-dnsutils nsd iproute2 tcpdump libpcap0.8 curl jq procps postgresql util-linux chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing Debian packages: ${missing[*]}; run this script as root" >&2
  exit 1
fi
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no, without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
