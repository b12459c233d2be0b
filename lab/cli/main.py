"""vpclab's command line: parse, call, print. Library code never prints or exits; this module
turns every LabError into one line on stderr and an exit code (2 for bad input), and shows a
traceback only with --debug.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from lab import __version__
from lab.errors import LabError, TopologyError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vpclab", description="AWS VPC endpoints, made real with "
                                     "Linux network namespaces.")
    parser.add_argument("--version", action="version", version=f"vpclab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    from lab.cli import commands  # one function per verb, registered with its arguments

    for register in commands.VERBS:
        register(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="vpclab: %(levelname)s: %(message)s")
    try:
        return args.run(args)
    except TopologyError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except LabError as exc:
        if args.debug:
            raise
        print(f"vpclab: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


def print_json(data: object) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def entry_point() -> None:
    sys.exit(main())
