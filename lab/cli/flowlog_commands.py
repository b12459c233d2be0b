"""`vpclab flowlogs RUN_DIR`: the VPC Flow Logs of a kept run, read from its captures (no root)."""

from __future__ import annotations

import argparse

from lab.analysis.flowlog_fields import DEFAULT_FORMAT
from lab.analysis.flowlogs import INTERVALS


def add_flowlogs(verbs) -> None:
    p = verbs.add_parser(
        "flowlogs",
        help="VPC Flow Log records of a kept run directory, per ENI, as AWS writes them (no root)",
        description="Flow log records derived from a run's captures and drop counters; docs/flow-logs.md "
        "says how each field is derived and where the lab cannot be exact.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--format",
        default=DEFAULT_FORMAT,
        metavar="FORMAT",
        help="fields as CreateFlowLogs' LogFormat takes them, e.g. '${version} ${srcaddr} ${traffic-path}' "
        "(default: the version 2 default format)",
    )
    p.add_argument("--eni", metavar="ID", help="only this network interface (an eni- id, or its node's name)")
    p.add_argument(
        "--interval",
        type=int,
        choices=INTERVALS,
        default=600,
        help="maximum aggregation interval, s (default 600, as AWS)",
    )
    p.set_defaults(run=run_flowlogs)


def run_flowlogs(args: argparse.Namespace) -> int:
    from lab.analysis.flowlog_enis import enis_of
    from lab.analysis.flowlog_fields import parse_format
    from lab.analysis.flowlogs import flow_records, render
    from lab.analysis.run import load_run
    from lab.errors import BadArgument

    parse_format(args.format)  # a bad format is said before the captures are read
    run = load_run(args.run_dir)
    if args.eni is not None and not any(args.eni in (e.eni_id, e.node) for e in enis_of(run)):
        known = ", ".join(f"{e.eni_id} ({e.node})" for e in enis_of(run))
        raise BadArgument(f"InvalidNetworkInterfaceID.NotFound: --eni {args.eni} is no ENI of this run (ENIs: {known})")
    for line in render(run, flow_records(run, args.interval, args.eni), args.format):
        print(line)
    return 0


VERBS = [add_flowlogs]
