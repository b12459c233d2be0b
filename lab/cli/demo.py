"""`vpclab demo`: the chapter's figures, one act (a scenario shipped in lab/data/demo) after
another, in the chapter's order, in Korean or English (lab.cli.language), each step shown as it
finishes (lab.cli.live, words from lab.report.demo). With `--step` a teacher talks over each figure:
the demo waits after its last step, its lab still up (to show with `vpclab exec` meanwhile), for
Enter (the next figure) or q (stop: the lab is removed by the runner as always, the run directory
kept)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from lab.cli.language import LANGUAGES, choose_language
from lab.cli.live import LiveRun, is_terminal, palette_for
from lab.errors import BadArgument, ExpectationFailed
from lab.report.demo import DemoText
from lab.scenario.loader import Scenario, Step
from lab.signals import terminated_cleanly

DEMO_RUN_DIR = "/tmp/vpclab-demo"
DEMO_ACTS = sorted((Path(__file__).resolve().parents[1] / "data" / "demo").glob("act*.yaml"))


class Stopped(Exception):
    """The teacher typed q (or ended the input) at a pause: raised from the observer, so the
    runner's `with Lab` removes the figure's lab on the way out."""


def add_demo(verbs) -> None:
    p = verbs.add_parser(
        "demo",
        help="the chapter's figures in real packets, in its order: subnets, a gateway endpoint, DynamoDB, "
        "an interface endpoint, an endpoint service, security groups, same Region only, one VPC only, "
        "endpoint policies (root)",
    )
    p.add_argument(
        "--keep",
        metavar="DIR",
        default=DEMO_RUN_DIR,
        help=f"where the captures and logs stay (default {DEMO_RUN_DIR}; a previous demo's "
        "runs there are replaced, nothing else is touched)",
    )
    p.add_argument(
        "--step", action="store_true", help="pause after each figure, its lab still up: Enter goes on, q stops (needs a terminal)"
    )
    p.add_argument("--lang", choices=LANGUAGES, help="ko or en (default: Korean, unless the locale names English)")
    p.set_defaults(run=run_demo)


class DemoRun(LiveRun):
    """LiveRun in the demo's words, its progress line too; with `pause_in`, it waits after each
    figure but the last, before the runner removes its lab."""

    def __init__(self, text: DemoText, keep: str, pause_in: TextIO | None, stream: TextIO | None = None, acts: int = 0):
        stream = stream or sys.stdout  # the caller's at this moment, not the one there was at import
        super().__init__(stream, lambda s, _: text.heading(s), text.step, is_terminal(stream), text.paint)
        self.text, self.keep, self.pause_in = text, keep, pause_in
        self.acts, self.shown_acts = acts or len(DEMO_ACTS), 0

    def building(self, scenario: Scenario, plan) -> None:
        self.text.learn(plan)  # its public IPs' owners and its services, by which the steps name them
        self.shown_acts += 1
        self.write(self.text.heading(scenario), self.text.word("building", name=scenario.caption(self.text.language)))

    def step_started(self, step: Step) -> None:
        self.write(None, step.caption(self.text.language))

    def tearing_down(self, scenario: Scenario) -> None:
        if self.pause_in is not None and self.shown_acts < self.acts:
            self.pause()
        self.write(None, self.text.word("removing"))

    def pause(self) -> None:
        """Wait for a line: empty (Enter) goes on; q, quit or the end of the input stops."""
        assert self.pause_in is not None
        self.write(None)
        print(self.text.word("pause", keep=self.keep), end="", file=self.stream, flush=True)
        answer = self.pause_in.readline()
        print(file=self.stream)
        if not answer or answer.strip().lower() in ("q", "quit"):
            raise Stopped


def run_demo(args: argparse.Namespace) -> int:
    """Every act in its own run directory under --keep, then the summary across the acts."""
    from lab.realize.guard import require_root
    from lab.scenario.runner import run_scenario

    if args.step and not is_terminal(sys.stdin):
        raise BadArgument(
            "--step waits for Enter between figures, and standard input is not a terminal: "
            "run it in a terminal, or leave out --step to show every figure in one go"
        )
    require_root()
    text = DemoText(choose_language(args.lang), palette_for(sys.stdout))
    print(text.word("intro"))
    results = []
    try:
        with terminated_cleanly(), DemoRun(text, args.keep, sys.stdin if args.step else None) as live:
            for number, act in enumerate(DEMO_ACTS, start=1):
                results.append(run_scenario(act, Path(args.keep) / f"act{number}", live))
    except Stopped:
        print(text.word("stopped", number=len(results) + 1, total=len(DEMO_ACTS), keep=args.keep))
        return 0
    print(text.summary(results))
    print(text.word("captures", keep=args.keep))
    if not all(r.passed for r in results):
        raise ExpectationFailed("the demo's captured paths disagree with AWS's rules or its scenarios (shown above)")
    return 0
