"""What the verbs of both command modules share: the topology argument's help, loading a topology
with its warnings on stderr, and loading then planning before any lab is built. Both `commands` and
`lab_commands` import from here, never from each other."""

from __future__ import annotations

import sys

from lab.model.loader import load_topology
from lab.model.topology import Topology
from lab.model.validate import problems
from lab.plan.compile import compile_plan
from lab.plan.types import Plan

TOPOLOGY = "a topology file (YAML; see docs/topology-format.md)"


def load_warned(file: str) -> Topology:
    """Load a topology and say on stderr what AWS would accept but cannot work, or is not emulated."""
    topology = load_topology(file)
    for warning in problems(topology):
        print(warning, file=sys.stderr)
    return topology


def planned(file: str) -> tuple[Topology, Plan]:
    """Load and plan first: a mistake is reported before anything is built."""
    topology = load_warned(file)
    return topology, compile_plan(topology)
