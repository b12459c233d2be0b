"""The verbs that build real labs (root): up, trace, run, clean; and those that read what they
kept (no root): inspect, runs."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path

from lab.cli.common import TOPOLOGY, planned
from lab.cli.output import add_path_arguments, print_json
from lab.errors import EXIT_ENVIRONMENT, BadArgument, ExpectationFailed, TopologyError
from lab.signals import terminated_cleanly


@contextmanager
def running_lab(plan, keep: str | None):
    """Build; always tear down; keep the run directory only when asked (without --keep the lab
    makes a temporary one, recorded before it exists, and removes it with itself)."""
    from lab.analysis.flowlogs import save_flow_logs
    from lab.realize.lab import Lab

    lab = None
    try:
        with terminated_cleanly(), Lab(plan, keep) as lab:
            yield lab
    finally:
        if keep and lab is not None:  # a kept run holds its flow logs (flowlogs.txt)
            save_flow_logs(lab.run_dir)


def add_trace(verbs) -> None:
    p = verbs.add_parser("trace", help="build the lab, send real traffic, show the path from captures (root)")
    p.add_argument("file", metavar="FILE", help=TOPOLOGY)
    add_path_arguments(
        p, "the source: an instance, or internet-client", "a node name, an IPv4 address or a host name (resolved inside the lab)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--keep", metavar="DIR", help="keep captures, logs and the plan in DIR")
    p.add_argument("--html", metavar="FILE", help="also write the trace as an HTML page (the path drawn on the topology)")
    p.set_defaults(run=run_trace)


def run_trace(args: argparse.Namespace) -> int:
    from lab.analysis.explain import explain
    from lab.report.text import trace_text
    from lab.scenario.observe import trace

    topology, plan = planned(args.file)
    predicted = explain(topology, plan, args.source, args.target, args.port)
    if args.html:
        writable(args.html, "--html")
    remember_kept(args.keep, plan.source, "trace", f"{args.source} -> {args.target} port {args.port}")
    with running_lab(plan, args.keep) as lab:
        result = trace(lab, predicted, args.source, args.target, args.port)
    if args.html:
        write_trace_html(args.html, topology, plan, result, args.keep)
    if args.json:
        print_json(result.to_dict(args.keep))
    else:
        print(trace_text(result, args.keep))
    if not result.agrees:
        raise ExpectationFailed(f"the observed path disagrees with the prediction: {'; '.join(result.disagreements)}")
    return 0


def add_up(verbs) -> None:
    p = verbs.add_parser("up", help="build the lab and open a prompt inside it (root)")
    p.add_argument("file", metavar="FILE", help=TOPOLOGY)
    p.add_argument("--keep", metavar="DIR", help="keep captures, logs and the plan in DIR")
    p.set_defaults(run=run_up)


def run_up(args: argparse.Namespace) -> int:
    """`args.prompt` (main's `prompt`) is what runs while the lab is up: LabPrompt unless a caller,
    such as a test, passes another class taking (topology, plan, lab) and having cmdloop()."""
    prompt = args.prompt
    if prompt is None:
        from lab.cli.prompt import LabPrompt as prompt

    topology, plan = planned(args.file)
    remember_kept(args.keep, plan.source, "up", "the vpclab prompt")
    shown = None  # the run directory, once the prompt's greeting has named it
    try:
        with running_lab(plan, args.keep) as lab:
            shown = lab.run_dir
            prompt(topology, plan, lab).cmdloop()
    finally:
        if shown is not None:
            print(farewell(str(shown), args.keep))
    return 0


def farewell(run_dir: str, keep: str | None) -> str:
    """What became of the run directory the prompt showed: kept, removed with the lab, or (a
    teardown that failed half-way) still there although it was not to be kept."""
    if keep:
        return f"vpclab: the lab is removed; its captures, logs and plan are kept in {run_dir} (vpclab inspect {run_dir})"
    if Path(run_dir).exists():
        return (
            f"vpclab: the run directory {run_dir} is still there although it was not to be kept "
            "(the teardown did not finish): run vpclab clean, or delete it"
        )
    return (
        f"vpclab: the lab is removed, and its run directory {run_dir} (captures, logs) with it; "
        "to keep them, start it with --keep DIR"
    )


def remember_kept(keep: str | None, topology: str, command: str, what: str) -> None:
    """A run kept with --keep joins `vpclab runs`' list (`topology`: its file)."""
    if keep:
        from lab.realize.runs import kept, remember

        remember(kept(keep, topology, command, what))


def add_clean(verbs) -> None:
    p = verbs.add_parser("clean", help="remove labs left behind by a vpclab that was killed (root)")
    p.add_argument("--all", action="store_true", help="also stop labs whose vpclab is still running")
    p.set_defaults(run=run_clean)


def run_clean(args: argparse.Namespace) -> int:
    from lab.realize.cleanup import clean
    from lab.realize.guard import require_root

    require_root()
    cleaned = clean(include_running=args.all)
    for state in cleaned.removed:
        print(f"removed lab {state.tag} ({len(state.nodes)} nodes; run directory {state.run_dir})")
    for skipped in cleaned.skipped:
        print(
            f"vpclab: skipped {skipped.path}: {skipped.reason}; the other labs were cleaned. Check that "
            "nothing of that lab still runs, then delete the file",
            file=sys.stderr,
        )
    if not cleaned.removed and not cleaned.skipped:
        print("no leftover lab")
    return EXIT_ENVIRONMENT if cleaned.skipped else 0  # a state file on this machine vpclab cannot read


def add_inspect(verbs) -> None:
    p = verbs.add_parser("inspect", help="paths of every flow in a kept run directory (no root)")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--flow", metavar="WHAT", help="only flows from/to this node, address or port")
    p.add_argument(
        "--packet",
        metavar="FRAME",
        help="show one frame of captures/run.pcapng in detail (numbered from 1, as Wireshark and the listing do)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    from lab.analysis.inspect import inspect_run, packet_detail
    from lab.report.text import inspect_text

    if args.packet is not None:
        if not args.packet.isdigit():
            raise BadArgument(f"--packet {args.packet}: FRAME is a frame number of captures/run.pcapng (1, 2, ...)")
        print(packet_detail(args.run_dir, int(args.packet)))
        return 0
    data = inspect_run(args.run_dir, args.flow)
    if args.json:
        print_json(data.to_dict())
    else:
        print(inspect_text(data))
    return 0


def add_runs(verbs) -> None:
    p = verbs.add_parser("runs", help="the run directories kept with --keep: topology, age, what ran (no root)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_runs)


def run_runs(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from lab.realize.runs import age, kept_runs

    runs, dropped = kept_runs()
    if args.json:
        print_json([asdict(r) for r in runs])
        return 0
    for line in dropped:
        print(f"vpclab: {line}", file=sys.stderr)
    if not runs:
        print("no kept run (vpclab run, trace and up keep one with --keep DIR)")
    for r in runs:
        print(f"{r.run_dir}  {r.topology}  {age(r.started)} ago  vpclab {r.command}: {r.what}")
    return 0


VERBS = [add_up, add_trace, add_clean, add_inspect, add_runs]


def add_run(verbs) -> None:
    p = verbs.add_parser("run", help="run scenario files: a lab each, real traffic, expectations checked (root)")
    p.add_argument("files", nargs="+", metavar="SCENARIO", help="a scenario file (see docs/scenario-format.md)")
    p.add_argument("--json", action="store_true", help="the results as JSON (docs/result.schema.json), printed at the end")
    p.add_argument(
        "--junit", metavar="FILE", help="also write the results as JUnit XML: a testsuite per file, a testcase per step"
    )
    p.add_argument(
        "--html", metavar="FILE", help="also write an HTML report: every step's path drawn on the topology, its hops and stops"
    )
    p.add_argument("--keep", metavar="DIR", help="keep each run's captures in DIR/<scenario name>")
    p.set_defaults(run=run_scenarios)


def run_scenarios(args: argparse.Namespace) -> int:
    """Each step is printed as it finishes, then the summary across files; with --json, the JSON
    alone at the end. --junit is written even when a lab fails to build, with the files run so far."""
    from lab.cli.live import LiveRun, is_terminal, palette_for
    from lab.report.text import run_summary, scenario_end, scenario_heading, step_text
    from lab.scenario.runner import run_scenario

    scenarios = load_scenarios(args.files)
    for option in ("junit", "html"):
        if getattr(args, option):
            writable(getattr(args, option), f"--{option}")
    paint = palette_for(sys.stdout)
    heading, step = (lambda s, _: scenario_heading(s, paint)), (lambda r: step_text(r, paint))
    observer = None if args.json else LiveRun(sys.stdout, heading, step, is_terminal(sys.stdout), paint)
    results: list = []
    try:
        with terminated_cleanly(), observer or nullcontext():
            for file, scenario in zip(args.files, scenarios):
                keep = Path(args.keep) / Path(file).stem if args.keep else None
                remember_kept(str(keep) if keep else None, scenario.topology.file, "run", scenario.name)
                results.append(run_scenario(scenario, keep, observer))
                if observer:
                    print(scenario_end(results[-1], paint))
    finally:
        if args.junit and results:
            write_junit(args.junit, results)
        if args.html and results:
            write_html(args.html, results, args.files)
    if args.json:
        print_json([r.to_dict() for r in results])
    else:
        print(run_summary(results, paint))
    failed = [file for file, r in zip(args.files, results) if not r.passed]
    if failed:
        raise ExpectationFailed(f"{len(failed)} of {len(results)} scenarios failed: {', '.join(failed)}")
    return 0


def writable(path: str, option: str) -> None:
    """Refuse an output file that cannot be written before any lab is built, not after the run."""
    parent = Path(path).resolve().parent
    if Path(path).is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise BadArgument(f"{option} {path}: cannot write there (is the directory there, and writable?)")


def write_junit(path: str, results: list) -> None:
    from lab.report.junit import junit_xml

    Path(path).write_text(junit_xml(results), encoding="utf-8")


def write_html(path: str, results: list, files: list[str]) -> None:
    """The report, and beside it each kept run's traced steps' packets (lab.report.pcap_slices)."""
    from lab.report.html import html_page, run_report
    from lab.report.pcap_slices import SliceWriter

    numbers = range(1, len(results) + 1)
    slices = SliceWriter(
        Path(path), {i: r.run_dir for i, r in zip(numbers, results)}, {i: Path(f).stem for i, f in zip(numbers, files)}
    )
    Path(path).write_text(html_page(run_report(results, slices)), encoding="utf-8")


def write_trace_html(path: str, topology, plan, result, keep: str | None) -> None:
    from lab.report.html import html_page, trace_report
    from lab.report.pcap_slices import SliceWriter

    slices = SliceWriter(Path(path), {1: keep}, {1: Path(plan.source).stem})
    Path(path).write_text(html_page(trace_report(topology, plan, result, keep, slices)), encoding="utf-8")


def load_scenarios(files: list[str]) -> list:
    """Every file loaded, checked and planned (load_scenario plans, to check step targets) before
    any lab is built: one bad file stops the run with the problems of all of them, rather than
    after the labs of the files before it."""
    from lab.scenario.loader import load_scenario

    scenarios, problems = [], []
    for file in files:
        try:
            scenarios.append(load_scenario(file))
        except TopologyError as exc:
            problems += exc.problems
    if problems:
        raise TopologyError(problems)
    return scenarios


VERBS.append(add_run)
