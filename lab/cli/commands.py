"""The verbs: each `add_*` registers its arguments and the function that runs it."""
from __future__ import annotations

import argparse
import sys

from lab.model.loader import load_topology
from lab.model.validate import problems

TOPOLOGY = "a topology file (YAML; see docs/topology-format.md)"


def add_validate(verbs) -> None:
    p = verbs.add_parser("validate", help="check topology files against AWS's rules (no root needed)")
    p.add_argument("files", nargs="+", metavar="FILE", help=TOPOLOGY)
    p.set_defaults(run=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from lab.errors import TopologyError

    status = 0
    for file in args.files:
        try:
            topology = load_topology(file)
        except TopologyError as exc:
            print(exc, file=sys.stderr)
            status = 2
            continue
        for warning in problems(topology):
            print(warning, file=sys.stderr)
        print(f"{file}: valid ({len(topology.vpcs)} VPC, {len(topology.instances)} instances)")
    return status


VERBS = [add_validate]
