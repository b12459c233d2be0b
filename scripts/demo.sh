#!/usr/bin/env bash
# Install everything (scripts/provision.sh), then run the main demo.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/provision.sh"
cd "$repo"
exec "${VPCLAB_VENV:-/opt/vpclab/venv}/bin/vpclab" demo "$@"
