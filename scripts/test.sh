#!/usr/bin/env bash
# Install everything (scripts/provision.sh), then lint, type-check and run the whole test suite as root.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -k explain
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/provision.sh"
cd "$repo"
venv=${VPCLAB_VENV:-/opt/vpclab/venv}
# Lint and types first (pyproject.toml configures both): a finding fails the run before any lab is built.
"$venv/bin/ruff" check lab tests benchmarks scripts setup.py
"$venv/bin/ruff" format --check lab tests benchmarks scripts setup.py
"$venv/bin/mypy"
exec "$venv/bin/python" -m pytest "$@"
