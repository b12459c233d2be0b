"""Every shipped topology compiles to exactly the plan recorded in tests/golden/<name>.json.

A golden plan is the whole decision record of a lab (addresses, routes, rules, rulesets, DNS records),
so any change to what the planner decides shows up here as a diff a reviewer reads before accepting
it. After an intended change, rewrite the files and review them like code:

    VPCLAB_UPDATE_GOLDEN=1 python -m pytest tests/unit/test_golden_plans.py

Topologies are loaded by a path relative to the repository root, as a user types it, because the
plan records its source file.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.serialize import plan_to_dict

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path("tests/golden")
TOPOLOGIES = sorted(p.stem for p in (REPO / "topologies").glob("*.yaml"))
UPDATE = os.environ.get("VPCLAB_UPDATE_GOLDEN") == "1"


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    monkeypatch.chdir(REPO)


def render(data: dict) -> str:
    return json.dumps(data, indent=2) + "\n"


def test_there_are_shipped_topologies():
    assert TOPOLOGIES, "topologies/*.yaml is empty: nothing to pin down"


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_plan_matches_golden(name):
    actual = plan_to_dict(compile_plan(load_topology(f"topologies/{name}.yaml")))
    golden = GOLDEN / f"{name}.json"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(render(actual), encoding="utf-8")
        pytest.skip(f"VPCLAB_UPDATE_GOLDEN=1: rewrote {golden}; review the diff before committing")
    assert golden.exists(), f"{golden} is missing; create it with VPCLAB_UPDATE_GOLDEN=1 and review it"
    expected = json.loads(golden.read_text(encoding="utf-8"))
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                render(expected).splitlines(True), render(actual).splitlines(True), f"{golden} (golden)", "compiled now", n=2
            )
        )
        pytest.fail(
            f"the plan of topologies/{name}.yaml differs from its golden file; if the change is "
            f"intended, rerun with VPCLAB_UPDATE_GOLDEN=1 and review the diff:\n{diff}",
            pytrace=False,
        )


def test_every_golden_file_has_a_topology():
    """A golden left behind by a renamed or removed topology would silently test nothing."""
    stale = sorted(p.name for p in (REPO / GOLDEN).glob("*.json") if p.stem not in TOPOLOGIES)
    assert stale == []
