#!/usr/bin/env bash
# Install everything (scripts/provision.sh), then run the whole test suite as root.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -k explain
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/provision.sh"
cd "$repo"
exec "${VPCLAB_VENV:-/opt/vpclab/venv}/bin/python" -m pytest "$@"
