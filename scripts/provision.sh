#!/usr/bin/env bash
# The one install path for vpclab: a fresh Debian 12 or Ubuntu 24.04 machine as root,
# the Vagrant VM and CI all come through here. Idempotent; quick when already done.
#
#   scripts/provision.sh            install OS packages, the virtualenv and vpclab itself
#
# Environment: VPCLAB_VENV (default /opt/vpclab/venv).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${VPCLAB_VENV:-/opt/vpclab/venv}

# Why each package is here: docs/dependencies.md. --no-install-recommends keeps Open vSwitch
# (a Mininet recommendation) off the machine: vpclab uses Linux bridges only.
# dnsmasq-base, not dnsmasq: the full package starts a resolver in the root namespace.
apt_packages=(
  mininet iproute2 iputils-ping traceroute nftables tcpdump tshark iperf3 curl dnsutils dnsmasq-base
  ethtool procps graphviz
  ca-certificates python3 python3-venv python3-setuptools
)
# Chromium, for the HTML report's browser test: Debian ships it as a deb; Ubuntu 24.04 only as a
# snap (its deb is a stub that installs the snap, which containers and CI cannot run), so there
# the test skips and says why.
if [ "$(. /etc/os-release && echo "${ID:-}")" = debian ]; then
  apt_packages+=(chromium)
fi

log() { printf 'provision: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "run me as root (sudo $0): I install OS packages and $venv"
  exit 1
fi

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing OS packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark's wireshark-common asks whether non-root users may capture: no (vpclab captures as root
  # with tcpdump; tshark only reads files), answered here so no run ever waits on the question.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's Mininet is built for the system interpreter, so the venv is made from /usr/bin/python3
# (never the python3 first on PATH, which may be pyenv's) and sees the system site-packages.
if [ ! -x "$venv/bin/python" ]; then
  log "creating virtualenv $venv"
  mkdir -p "$(dirname "$venv")"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi

# Pinned versions live in constraints.txt: with --system-site-packages an unpinned
# 'pip install scapy' would silently keep Debian's older copy. The stamp makes a re-run quick.
stamp="$venv/.vpclab-provisioned"
want=$(cat "$repo/setup.py" "$repo/pyproject.toml" "$repo/constraints.txt" | sha256sum | cut -c1-16)" $repo"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing vpclab and its pinned dependencies into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$repo/constraints.txt" setuptools
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$repo/constraints.txt" \
    -e "$repo[test]"
  echo "$want" > "$stamp"
fi

# Python 3.12 (Ubuntu 24.04) has no distutils, which Mininet 2.3.0 imports; the venv's own
# setuptools provides the shim. Fail here, clearly, rather than in the middle of a lab.
if ! "$venv/bin/python" -c 'import mininet.node' 2>/dev/null; then
  log "the virtualenv cannot import Mininet: $("$venv/bin/python" -c 'import mininet.node' 2>&1 | tail -n 1)"
  exit 1
fi
ln -sf "$venv/bin/vpclab" /usr/local/bin/vpclab
log "ready: $("$venv/bin/vpclab" --version)"
