"""The shipped scenarios are the integration tests of the packet-level lab: every behaviour the lab
claims (paths, what S3 saw, where packets die) is checked here from real captures, and each file is
also a runnable example: `vpclab run scenarios/<file>` (as root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.scenario.runner import run_scenario
from result_schema import problems

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="scenarios build real labs: run as root")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenario_passes(path, monkeypatch):
    monkeypatch.chdir(REPO)
    result = run_scenario(path.relative_to(REPO))
    failures = [f"{s.step.name} (line {s.step.line}): {f}" for s in result.steps for f in s.failures]
    assert result.passed, "\n".join(failures)
    assert len(result.steps) == len(result.scenario.steps)
    assert problems([result.to_dict()]) == []  # what `vpclab run --json` prints follows docs/result.schema.json


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 3
