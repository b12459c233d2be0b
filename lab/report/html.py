"""`vpclab run --html FILE` and `vpclab trace --html FILE`: one self-contained HTML page per run,
readable offline (inline CSS, inline SVG, no script, nothing fetched). Per scenario and step: the
topology picture (lab.report.graph, drawn by lab.report.render) with the predicted and the
observed path on it, both paths' hops with their translations, what the service saw, where and
why the packet stopped (StopReason), the DNS answers, the failed expectations, and the step's
packets as small pcap files next to the report when the run was kept (lab.report.pcap_slices).

Every string that reaches the page came from a topology, a scenario or a command's output and is
untrusted: the Jinja2 environment escapes by default, and the one piece of markup inserted as it
is, the SVG from Graphviz, is first parsed and cut down to the drawing elements (`safe_svg`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from lab.errors import LabError
from lab.model.topology import Topology
from lab.plan.types import Plan
from lab.report.graph import topology_dot
from lab.report.render import render
from lab.results import CommandResult

if TYPE_CHECKING:  # named only: importing the runner would load the realizer
    from lab.report.pcap_slices import Slice
    from lab.scenario.observe import Trace
    from lab.scenario.runner import ScenarioResult, StepResult

SVG_NS = "http://www.w3.org/2000/svg"
# What Graphviz's SVG is made of; anything else (script, foreignObject, a, image, style) is dropped.
SVG_ELEMENTS = frozenset({"svg", "g", "title", "path", "polygon", "polyline", "ellipse", "text", "line", "rect", "circle"})
OUTPUT_CHARS = 20_000  # of a command's output shown; the rest is cut, and the page says so


@dataclass(frozen=True)
class StepView:
    """A step as the page shows it: plain data for the template (which escapes every string)."""

    number: int
    name: str
    line: int | None
    action: str
    source: str | None
    passed: bool
    seconds: float
    failures: Sequence[str]
    trace: Trace | None = None  # a traffic step's
    command: CommandResult | None = None  # a command step's
    picture: Markup | None = None
    picture_error: str | None = None
    slices: Sequence[Slice] = ()
    slices_note: str = ""  # why a traced step has no pcap here
    output: str = ""
    output_cut: bool = False


@dataclass(frozen=True)
class ScenarioView:
    number: int
    name: str
    file: str
    passed: bool
    seconds: float
    run_dir: str | None
    steps: Sequence[StepView]


@dataclass(frozen=True)
class Report:
    title: str
    scenarios: Sequence[ScenarioView]
    captures_note: str
    generated: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.scenarios)

    @property
    def steps(self) -> list[StepView]:
        return [step for scenario in self.scenarios for step in scenario.steps]


def environment() -> Environment:
    """Templates from the package (lab/report/templates), escaping on for every template whatever
    its name, and an undefined name an error rather than an empty string."""
    env = Environment(loader=PackageLoader("lab.report", "templates"), autoescape=True, undefined=StrictUndefined)
    env.filters["hops"] = lambda hops: " -> ".join(h.node for h in hops)
    return env


def html_page(report: Report) -> str:
    env = environment()
    css = env.loader.get_source(env, "report.css")[0] if env.loader else ""
    return env.get_template("report.html.j2").render(report=report, css=Markup(css))


SliceFinder = Callable[[int, int, "Trace"], tuple[Sequence["Slice"], str]]


def run_report(results: Sequence[ScenarioResult], slices: SliceFinder | None = None) -> Report:
    """The report of `vpclab run`. `slices(scenario number, step number, trace)` gives a traced
    step's pcap slices, or none and why (lab.report.pcap_slices.SliceWriter)."""
    views = [scenario_view(i, r, slices) for i, r in enumerate(results, start=1)]
    kept = any(r.run_dir for r in results)
    note = "" if kept else NOT_KEPT
    return Report(f"vpclab run: {len(results)} scenario{'s' * (len(results) != 1)}", views, note)


NOT_KEPT = (
    "The captures went with each lab (the run was not kept): run again with --keep DIR to keep "
    "them, and this report then links every traced step's packets as small pcap files next to it."
)


def scenario_view(number: int, result: ScenarioResult, slices: SliceFinder | None) -> ScenarioView:
    topology, plan = result.scenario.topology, result.plan
    steps = [step_view(number, i, s, topology, plan, slices) for i, s in enumerate(result.steps, start=1)]
    return ScenarioView(number, result.scenario.name, result.scenario.file, result.passed, result.seconds, result.run_dir, steps)


def step_view(
    scenario: int, number: int, result: StepResult, topology: Topology, plan: Plan | None, slices: SliceFinder | None
) -> StepView:
    step, observed = result.step, result.observed
    base = StepView(number, step.name, step.line, step.action, step.source, result.passed, result.seconds, result.failures)
    if isinstance(observed, CommandResult):
        text = observed.output
        return replace(base, command=observed, output=text[:OUTPUT_CHARS], output_cut=len(text) > OUTPUT_CHARS)
    picture, error = picture_of(topology, plan, observed, f"s{scenario}-{number}")
    found, note = slices(scenario, number, observed) if slices else ((), NOT_KEPT)
    return replace(base, trace=observed, picture=picture, picture_error=error or None, slices=found, slices_note=note)


def trace_report(topology: Topology, plan: Plan, trace: Trace, run_dir: str | None, slices: SliceFinder | None) -> Report:
    """The report of `vpclab trace`: one step, the trace, failed when the packets disagree with the prediction."""
    title = f"vpclab trace --from {trace.source} --to {trace.target} --port {trace.port}"
    picture, error = picture_of(topology, plan, trace, "s1-1")
    found, note = slices(1, 1, trace) if slices else ((), NOT_KEPT)
    failures = tuple(f"the observed path disagrees with the prediction: {d}" for d in trace.disagreements)
    step = StepView(1, title, None, "trace", trace.source, trace.agrees, 0.0, failures, trace=trace)
    step = replace(step, picture=picture, picture_error=error or None, slices=found, slices_note=note)
    scenario = ScenarioView(1, title, plan.source, trace.agrees, 0.0, run_dir, [step])
    return Report(title, [scenario], "" if run_dir else NOT_KEPT)


def picture_of(topology: Topology, plan: Plan | None, trace: Trace, prefix: str) -> tuple[Markup | None, str]:
    """The step's picture as safe inline SVG, or why there is none (the page still shows the rest)."""
    if plan is None:
        return None, "no plan: the lab was not built"
    try:
        dot = topology_dot(topology, plan, trace.predicted, trace.observed)
        return safe_svg(render(dot, "svg"), prefix), ""
    except (LabError, ET.ParseError, KeyError) as exc:
        return None, f"the picture could not be drawn: {exc}"


def safe_svg(svg: bytes, prefix: str) -> Markup:
    """Graphviz's SVG cut down to drawing: only the elements it draws with, no event handler, no
    link, no style sheet; every id prefixed with `prefix` so that the pictures of one page do not
    share ids. Graphviz escapes label text itself; this guards against what it passes through."""
    root = ET.fromstring(svg)
    prune(root, prefix)
    root.set("xmlns", SVG_NS)  # names were made local: ET.register_namespace is global to the process
    return Markup(ET.tostring(root, encoding="unicode"))


def prune(element: ET.Element, prefix: str) -> None:
    element.tag = local(element.tag)
    for child in list(element):
        if local(child.tag) not in SVG_ELEMENTS:
            element.remove(child)
        else:
            prune(child, prefix)
    for name in list(element.attrib):
        if local(name).lower().startswith("on") or local(name) in ("href", "style") or name.startswith("{"):
            del element.attrib[name]
    if "id" in element.attrib:
        element.attrib["id"] = f"{prefix}-{element.attrib['id']}"


def local(tag: str) -> str:
    """An XML name without its {namespace}."""
    return tag.rsplit("}", 1)[-1]
