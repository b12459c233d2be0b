"""Writing results to stdout (diagnostics go to stderr through logging)."""

from __future__ import annotations

import json
import sys


def print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def port(text: str) -> int:
    """A TCP port, 1-65535 (an argparse type, also used at the lab prompt)."""
    import argparse

    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return int(text)


def target(text: str) -> str:
    """A traffic target: a node, an IPv4 address or a DNS host name (an argparse type, also used at
    the lab prompt), checked before any probe starts."""
    import argparse

    from lab.model.dns_names import target_problem

    problem = target_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def add_path_arguments(parser, source_help: str, target_help: str) -> None:
    """--from, --to and --port, as explain and trace take them."""
    parser.add_argument("--from", dest="source", required=True, metavar="INSTANCE", help=source_help)
    parser.add_argument("--to", dest="target", required=True, metavar="TARGET", type=target, help=target_help)
    parser.add_argument("--port", type=port, default=443, help="destination TCP port (default 443)")
