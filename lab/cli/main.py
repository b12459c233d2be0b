"""vpclab's command line: parse, call, print. Library code never prints or exits; this module
turns every LabError into one line on stderr and an exit code (2 for bad input), and shows a
traceback only with --debug.
"""
from __future__ import annotations

import argparse
import logging
import sys

from lab import __version__
from lab.cli import commands, lab_commands
from lab.errors import LabError, TopologyError

EXIT_BAD_INPUT, EXIT_INTERNAL = 2, 70


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vpclab", description="AWS VPC endpoints, made real with "
                                     "Linux network namespaces.")
    parser.add_argument("--version", action="version", version=f"vpclab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for register in commands.VERBS + lab_commands.VERBS:
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
    except BrokenPipeError:  # `vpclab inspect ... | head`: the reader has what it wanted
        sys.stderr.close()
        return 0
    except Exception as exc:  # a bug in vpclab: say so in one line, keep the traceback for --debug
        if args.debug:
            raise
        print(f"vpclab: internal error: {type(exc).__name__}: {exc} (run with --debug for the "
              "traceback, and please report it)", file=sys.stderr)
        return EXIT_INTERNAL


def entry_point() -> None:
    sys.exit(main())
