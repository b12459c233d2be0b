"""The verbs: each `add_*` registers its arguments and the function that runs it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab.cli.common import TOPOLOGY, load_warned, planned
from lab.cli.output import add_path_arguments, port, print_json
from lab.errors import BadArgument, ExpectationFailed, TopologyError
from lab.report.render import FORMATS
from lab.signals import terminated_cleanly


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


VERBS = [add_validate, add_plan, add_explain, add_graph]


def add_demo(verbs) -> None:
    p = verbs.add_parser(
        "demo",
        help="the chapter's figures in real packets: public/private/isolated subnets, "
        "then S3 without and with a gateway endpoint (root)",
    )
    p.add_argument(
        "--keep",
        metavar="DIR",
        default=DEMO_RUN_DIR,
        help=f"where the captures and logs stay (default {DEMO_RUN_DIR}; a previous demo's "
        "runs there are replaced, nothing else is touched)",
    )
    p.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """The demo's acts are scenarios shipped in the package (lab/data/demo), run by the one
    scenario runner, each in a run directory of its own under --keep; each step is shown as it
    finishes (lab.cli.live), then the summary across the acts."""
    from lab.cli.live import LiveRun, is_terminal, palette_for
    from lab.realize.guard import require_root
    from lab.report.text import demo_heading, demo_step, public_ip_owners, run_summary
    from lab.scenario.runner import run_scenario

    require_root()
    print(
        "vpclab demo: the chapter's figures, built from Linux namespaces. Every request is a real HTTPS\n"
        "request to S3; every path shown is the one the captured packets took, next to what AWS's rules predict.\n"
    )
    paint, owners = palette_for(sys.stdout), {}

    def heading(scenario, plan) -> str:
        owners.update(public_ip_owners(plan))  # the act's plan names where S3 saw each request from
        return demo_heading(scenario, paint)

    results = []
    with (
        terminated_cleanly(),
        LiveRun(sys.stdout, heading, lambda r: demo_step(owners, r, paint), is_terminal(sys.stdout), paint) as live,
    ):
        for number, act in enumerate(DEMO_ACTS, start=1):
            results.append(run_scenario(act, Path(args.keep) / f"act{number}", live))
    print(run_summary(results, paint))
    print(
        f"captures: {args.keep}/act*/captures (one pcap per node, Wireshark reads them); "
        f"every flow: vpclab inspect {args.keep}/act1"
    )
    if not all(r.passed for r in results):
        raise ExpectationFailed("the demo's captured paths disagree with AWS's rules or its scenarios (shown above)")
    return 0


DEMO_RUN_DIR = "/tmp/vpclab-demo"
DEMO_ACTS = sorted((Path(__file__).resolve().parents[1] / "data" / "demo").glob("act*.yaml"))
VERBS.append(add_demo)
