"""`vpclab run --junit FILE`: scenario results as JUnit XML, the report CI systems read (Jenkins,
GitLab, GitHub Actions' test reporters). One <testsuite> per scenario file, one <testcase> per
step; a failed step carries a <failure> whose message is the first expectation it failed (the
text lists them all), and every traffic step's <system-out> is the path its packets took.

The shape is the one of the Jenkins xUnit plugin's junit-10.xsd, the schema most JUnit consumers
accept (tests/data/junit.xsd restates its rules, and the tests validate real output against it):
testsuite needs name, tests, failures and errors; times are decimal seconds; the <testsuites>
root carries totals but no `skipped`. Built with the standard library's ElementTree, which
escapes what a step's output may contain (docs/dependencies.md says why no library)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from lab.report.text import hop_line
from lab.results import CommandResult

if TYPE_CHECKING:  # named only: importing the runner would load the realizer
    from lab.scenario.runner import ScenarioResult, StepResult

FAILURE_TYPE = "ExpectationFailed"  # lab.errors' name for a scenario step that did not go as expected
# Characters XML 1.0 cannot carry even escaped (https://www.w3.org/TR/xml/#charsets): a command's
# output may hold a terminal's escape codes or a NUL, which ElementTree would write as they are.
NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_xml(results: list[ScenarioResult]) -> str:
    """The whole run as one JUnit document (UTF-8 text with its XML declaration)."""
    root = ET.Element("testsuites", name="vpclab run")
    for result in results:
        root.append(testsuite(result))
    steps = [s for r in results for s in r.steps]
    root.attrib |= counts(steps) | {"time": time_of(sum(r.seconds for r in results))}
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def testsuite(result: ScenarioResult) -> ET.Element:
    suite = ET.Element("testsuite", name=xml_text(result.scenario.name), file=result.scenario.file)
    suite.attrib |= counts(result.steps) | {"skipped": "0", "time": time_of(result.seconds)}
    for step in result.steps:
        suite.append(testcase(result, step))
    return suite


def testcase(result: ScenarioResult, step: StepResult) -> ET.Element:
    case = ET.Element(
        "testcase", name=xml_text(step.step.name), classname=xml_text(result.scenario.name), time=time_of(step.seconds)
    )
    if step.failures:
        failure = ET.SubElement(case, "failure", message=xml_text(step.failures[0]), type=FAILURE_TYPE)
        failure.text = xml_text("\n".join(step.failures))
    where = f"{result.scenario.file}:{step.step.line}"  # the schema's testcase has no file or line attribute
    ET.SubElement(case, "system-out").text = xml_text(f"{where}\n{system_out(step)}")
    return case


def system_out(step: StepResult) -> str:
    """What was observed: a traffic step's path, outcome and what the service saw; a command
    step's outcome, exit status and output."""
    observed = step.observed
    if isinstance(observed, CommandResult):
        return f"{observed.outcome} (exit {observed.exit})\n{observed.output}".rstrip()
    path = observed.observed.path if observed.observed else []
    lines = [f"observed: {hop_line(path) or '(no packet captured)'}  [{observed.outcome}]"]
    saw = observed.observed.service_saw if observed.observed else None
    if saw and path[-1].kind == "service":
        lines.append(f"the service saw source {saw.source_ip} via {saw.via}")
    elif saw:  # the packet reached a node that is no service (an instance, a NAT gateway): as vpclab trace says it
        lines.append(f"{path[-1].node} saw source {saw.source_ip}")
    stop = observed.observed.explanation if observed.observed else None
    if stop:
        lines.append(f"stopped at {stop.node or stop.component}: {stop.because()}")
    return "\n".join(lines)


def counts(steps: list[StepResult]) -> dict[str, str]:
    """A failed expectation is a JUnit failure; vpclab reports no errors (a lab that cannot be built
    stops the run with exit 3 instead)."""
    return {"tests": str(len(steps)), "failures": str(sum(not s.passed for s in steps)), "errors": "0"}


def xml_text(text: str) -> str:
    """`text` with every character XML cannot carry replaced by U+FFFD (the replacement character)."""
    return NOT_XML.sub("\ufffd", text)


def time_of(value: float) -> str:
    return f"{value:.3f}"
