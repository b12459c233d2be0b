"""What the security-group and network-ACL integration tests share: topologies/security-groups.yaml
up as a real lab, and a probe whose fate is judged from the captures and drop counters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.realize.lab import Lab
from lab.results import StopReason
from lab.scenario.observe import drop_counters, observe, probe

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Seen:
    outcome: str  # the client's: 'refused' means the SYN arrived and the host answered with a reset
    reason: StopReason | None  # the observed explanation (from captures and counters)
    path: tuple[str, ...]


def security_lab(run_dir: Path) -> Lab:
    plan = compile_plan(load_topology(str(REPO / "topologies/security-groups.yaml")))
    return Lab(plan, run_dir)


def send(lab: Lab, source: str, target: str, port: int) -> Seen:
    before = drop_counters(lab)
    result = probe(lab, source, target, port, None)
    observed = observe(lab, source, result, before)
    assert observed is not None, result
    return Seen(result["outcome"], observed.explanation, tuple(h.node for h in observed.path))
