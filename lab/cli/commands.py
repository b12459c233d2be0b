"""The verbs: each `add_*` registers its arguments and the function that runs it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab.cli.common import TOPOLOGY, load_warned, planned
from lab.cli.demo import add_demo
from lab.cli.output import add_path_arguments, port, print_json
from lab.errors import BadArgument, TopologyError
from lab.report.render import FORMATS


def add_validate(verbs) -> None:
    p = verbs.add_parser("validate", help="check topology files against AWS's rules (no root needed)")
    p.add_argument("files", nargs="+", metavar="FILE", help=TOPOLOGY)
    p.set_defaults(run=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    status = 0
    for file in args.files:
        try:
            topology = load_warned(file)
        except TopologyError as exc:
            print(exc, file=sys.stderr)
            status = exc.exit_code
            continue
        print(f"{file}: valid (VPCs: {len(topology.vpcs)}, instances: {len(topology.instances)})")
    return status


def add_plan(verbs) -> None:
    p = verbs.add_parser("plan", help="show the nodes, links, addresses and routes a lab would get (no root needed)")
    p.add_argument("file", metavar="FILE", help=TOPOLOGY)
    p.add_argument("--json", action="store_true", help="the whole plan as JSON")
    p.set_defaults(run=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    from lab.plan.serialize import plan_to_dict
    from lab.report.text import plan_text

    _, plan = planned(args.file)
    if args.json:
        print_json(plan_to_dict(plan))
    else:
        print(plan_text(plan))
    return 0


def add_explain(verbs) -> None:
    p = verbs.add_parser(
        "explain", help="predict the path from an instance to a target, like Reachability Analyzer (no packets, no root)"
    )
    p.add_argument("file", metavar="FILE", help=TOPOLOGY)
    add_path_arguments(
        p, "the source instance", "a node name, an IPv4 address, or a host name resolved by the source VPC's resolver"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    from lab.analysis.explain import explain
    from lab.report.text import explanation_text

    topology, plan = planned(args.file)
    result = explain(topology, plan, args.source, args.target, args.port)
    if args.json:
        print_json(result.to_dict())
    else:
        print(explanation_text(result))
    return 0


def add_graph(verbs) -> None:
    p = verbs.add_parser("graph", help="draw the topology as AWS diagrams it, with a predicted path if asked (Graphviz; no root)")
    p.add_argument("file", metavar="FILE", help=TOPOLOGY)
    p.add_argument("--path", nargs=2, metavar=("SRC", "TARGET"), help="draw the path vpclab explain predicts from SRC to TARGET")
    p.add_argument("--port", type=port, default=443, help="the path's destination TCP port (default 443)")
    p.add_argument("--format", choices=FORMATS, help="svg, png or dot (default: -o's suffix, else svg)")
    p.add_argument("-o", "--output", metavar="OUT", help="write the picture here (default: standard output)")
    p.set_defaults(run=run_graph)


def run_graph(args: argparse.Namespace) -> int:
    from lab.analysis.explain import explain
    from lab.model.dns_names import target_problem
    from lab.report.graph import topology_dot
    from lab.report.render import render

    fmt = args.format or graph_format(args.output)
    if fmt == "png" and not args.output and sys.stdout.isatty():
        raise BadArgument("--format png writes binary data: give -o FILE.png, or pipe it")
    topology, plan = planned(args.file)
    predicted = None
    if args.path:
        source, to = args.path
        problem = target_problem(to)
        if problem:
            raise BadArgument(f"--path {source} {to}: {problem}")
        predicted = explain(topology, plan, source, to, args.port)
    picture = render(topology_dot(topology, plan, predicted), fmt)
    if args.output:
        Path(args.output).write_bytes(picture)
    else:
        sys.stdout.buffer.write(picture)
        sys.stdout.flush()
    return 0


def graph_format(output: str | None) -> str:
    """The format -o's suffix names (`.gv` is Graphviz's own for DOT text), else svg."""
    suffix = Path(output).suffix.lstrip(".").lower() if output else ""
    return {"gv": "dot"}.get(suffix, suffix) if suffix in FORMATS + ("gv",) else "svg"


VERBS = [add_validate, add_plan, add_explain, add_graph, add_demo]  # add_demo: lab.cli.demo
