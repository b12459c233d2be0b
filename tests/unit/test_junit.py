"""`vpclab run --junit FILE` (lab.report.junit): a document the common JUnit schema accepts, one
testsuite per scenario and one testcase per step, every step counted, a failure carrying the
expectation that failed, and the observed path in system-out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from junit_schema import junit_problems
from lab.cli.main import main
from lab.report.junit import junit_xml
from lab.report.text import hop_line
from lab.results import CommandResult, Outcome
from run_results import FAILURE, REPO, scenario_result


def test_a_run_validates_and_counts_every_step():
    results = [scenario_result(failed_step=2), scenario_result()]
    text = junit_xml(results)
    assert junit_problems(text) == []
    root = ET.fromstring(text)
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == ("testsuites", "12", "1", "0")
    suites = root.findall("testsuite")
    assert len(suites) == 2
    for suite, result in zip(suites, results):
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases] == [s.step.name for s in result.steps]
        assert suite.get("tests") == str(len(result.steps)) == str(len(cases))
        assert suite.get("failures") == str(sum(not s.passed for s in result.steps))
        assert suite.get("name") == result.scenario.name and suite.get("file") == result.scenario.file


def test_a_failed_step_carries_its_expectation_and_every_step_its_observation():
    result = scenario_result(failed_step=2)
    cases = ET.fromstring(junit_xml([result])).findall("testsuite/testcase")
    failure = cases[2].find("failure")
    assert failure is not None and failure.get("message") == FAILURE and failure.text == FAILURE
    assert failure.get("type") == "ExpectationFailed"
    assert [c.find("failure") for c in cases[:2] + cases[3:]] == [None] * 5
    nat = result.steps[1].observed.observed.path
    out = cases[1].findtext("system-out")
    assert out.splitlines()[0] == f"{result.scenario.file}:{result.steps[1].step.line}"
    assert f"observed: {hop_line(nat)}  [ok]" in out and "saw source 13.124.153.222 via the internet" in out
    assert "stopped at app-router: route table isolated" in cases[2].findtext("system-out")
    assert cases[4].findtext("system-out").endswith("ok (exit 0)\nhello")


def test_every_failed_expectation_is_in_the_failure_text():
    result = scenario_result()
    result.steps[0] = replace(result.steps[0], failures=("first", "second"))
    failure = ET.fromstring(junit_xml([result])).find("testsuite/testcase/failure")
    assert failure.get("message") == "first" and failure.text == "first\nsecond"


def test_output_that_xml_cannot_carry_is_replaced_not_written():
    """A command's output may hold a terminal's escape codes or a NUL: XML 1.0 has no way to write them."""
    result = scenario_result()
    noisy = CommandResult(Outcome.ERROR, 1, "\x1b[31merror\x1b[0m\x00 <&> done")
    result.steps[3] = replace(result.steps[3], observed=noisy, failures=("exit \x07 1",))
    text = junit_xml([result])
    assert junit_problems(text) == []
    case = ET.fromstring(text).findall("testsuite/testcase")[3]
    assert "\ufffd[31merror\ufffd[0m\ufffd <&> done" in case.findtext("system-out")
    assert case.find("failure").get("message") == "exit \ufffd 1"


def test_the_schema_refuses_what_jenkins_refuses():
    """The check can fail: a suite without its counts, a testcase with an attribute the schema does
    not know, a `skipped` total on the root."""
    text = junit_xml([scenario_result()])
    root = ET.fromstring(text)
    del root.find("testsuite").attrib["tests"]
    assert any("tests" in p for p in junit_problems(ET.tostring(root, encoding="unicode")))
    root = ET.fromstring(text)
    root.find("testsuite/testcase").set("line", "6")
    assert any("line" in p for p in junit_problems(ET.tostring(root, encoding="unicode")))
    root = ET.fromstring(text)
    root.set("skipped", "0")
    assert any("skipped" in p for p in junit_problems(ET.tostring(root, encoding="unicode")))


@pytest.mark.parametrize("where", ["missing/j.xml", "."])
def test_a_junit_file_that_cannot_be_written_is_refused_before_any_lab(capsys, monkeypatch, tmp_path, where):
    """Before any lab is built (so no root is needed to see it): a run's results are not lost at its end."""
    monkeypatch.chdir(REPO)
    path = tmp_path / where
    assert main(["run", "scenarios/no-inbound.yaml", "--junit", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"vpclab: --junit {path}: cannot write there (is the directory there, and writable?)\n"
