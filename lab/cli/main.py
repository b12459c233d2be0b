"""vpclab's command line: parse, call, print. Library code never prints or exits; this module
turns every LabError into one line on stderr and the exit code its class chooses (lab.errors):

    0   done, and it all went as expected
    1   ExpectationFailed: it ran, but a scenario step failed or the packets disagree with the prediction
    2   BadInput: a topology, scenario or argument is wrong (the line says where and how to fix it)
    3   EnvironmentFailure: not root, or the kernel or a tool (ip, nft, tcpdump) failed; names the step
    70  a bug in vpclab: an unexpected exception, one line; the traceback with --debug

With --debug every error's traceback goes to stderr too; the exit code stays the same.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from lab import __version__
from lab.cli import commands, exercise_commands, flowlog_commands, lab_commands, labs
from lab.errors import EXIT_BUG, LabError, TopologyError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vpclab", description="AWS VPC endpoints, made real with Linux network namespaces.")
    parser.add_argument("--version", action="version", version=f"vpclab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for register in commands.VERBS + lab_commands.VERBS + flowlog_commands.VERBS + labs.VERBS + exercise_commands.VERBS:
        register(verbs)
    return parser


def main(argv: list[str] | None = None, prompt: type | None = None) -> int:
    """`prompt`: what `vpclab up` runs while its lab is up, a class taking (topology, plan, lab)
    with a cmdloop(); None is the interactive LabPrompt. A test passes its own instead of patching."""
    args = build_parser().parse_args(argv)
    args.prompt = prompt
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="vpclab: %(levelname)s: %(message)s")
    try:
        return args.run(args)
    except LabError as exc:
        return report(exc, args.debug, str(exc) if isinstance(exc, TopologyError) else f"vpclab: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `vpclab inspect ... | head`: the reader has what it wanted
        sys.stderr.close()
        return 0
    except Exception as exc:  # a bug in vpclab: say so in one line, keep the traceback for --debug
        return report(
            exc,
            args.debug,
            f"vpclab: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback, and please report it)",
            EXIT_BUG,
        )


def report(exc: BaseException, debug: bool, line: str, code: int) -> int:
    """The error's one line on stderr (a TopologyError's lines are located already), after its
    traceback when debugging; then its exit code."""
    if debug:
        traceback.print_exception(exc)
    print(line, file=sys.stderr)
    return code


def entry_point() -> None:
    sys.exit(main())
