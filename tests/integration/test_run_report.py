"""A real `vpclab run --junit` (DESIGN section 1: the teacher's and CI's report): the steps as
they finished, the summary across files, and a JUnit file that the common schema accepts and that
counts every step of every file, a failed expectation and the observed paths in it; and the
runner's observer hearing every stage of a real lab in order."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from junit_schema import junit_problems
from lab.cli.main import main
from lab.scenario.loader import load_scenario
from lab.scenario.runner import RunObserver, run_scenario

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(180)]
SMALL = "scenarios/no-inbound.yaml"  # three steps from the internet, one lab


@pytest.fixture(autouse=True)
def at_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def wrong_scenario(tmp_path: Path) -> Path:
    """One step whose expectation is wrong: S3 through the NAT gateway works, it is not denied."""
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(
        f"name: a wrong expectation\ntopology: {REPO / 'topologies/public-private.yaml'}\n"
        "steps:\n  - name: S3 through the NAT gateway is denied (it is not)\n    from: app1\n"
        "    trace: lab-bucket.s3.ap-northeast-2.amazonaws.com\n    expect: {outcome: denied}\n"
    )
    return scenario


def test_run_writes_a_junit_file_that_validates_and_counts_every_step(capsys, tmp_path):
    wrong, junit = wrong_scenario(tmp_path), tmp_path / "junit.xml"
    assert main(["run", SMALL, str(wrong), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    steps = len(load_scenario(SMALL).steps)
    text = junit.read_text()
    assert junit_problems(text) == []
    root = ET.fromstring(text)
    assert (root.get("tests"), root.get("failures")) == (str(steps + 1), "1")
    small, failed = root.findall("testsuite")
    assert [c.get("name") for c in small.findall("testcase")] == [s.name for s in load_scenario(SMALL).steps]
    assert all(c.find("failure") is None for c in small.findall("testcase"))
    assert all("observed: internet-client -> internet" in c.findtext("system-out") for c in small.findall("testcase"))
    assert "app-nat-a saw source 203.0.113.10" in small.findall("testcase")[1].findtext("system-out")  # not "the service"
    (case,) = failed.findall("testcase")
    assert case.find("failure").get("message") == "expected outcome denied, observed ok"
    assert "observed: app1 -> app-router -> app-nat-a" in case.findtext("system-out")
    # what the terminal showed: piped here, so plain text, each file's verdict and the summary
    assert "\x1b[" not in out and "  ... " not in out
    assert f"scenario no way in from the internet: passed ({steps} steps, " in out
    assert "scenario a wrong expectation: FAILED (1 step, 1 failed, " in out
    assert f"2 scenarios: 1 passed, 1 failed; {steps + 1} steps: {steps} passed, 1 failed; " in out


class Heard(RunObserver):
    def __init__(self):
        self.events: list[str] = []

    def building(self, scenario, plan):
        self.events.append(f"building {len(plan.nodes)} nodes")

    def step_started(self, step):
        self.events.append(f"started {step.line}")

    def step_finished(self, result):
        self.events.append(f"finished {result.step.line} {'passed' if result.passed else 'failed'}")

    def tearing_down(self, scenario):
        self.events.append("tearing down")


def test_the_observer_hears_each_stage_of_a_real_lab_in_order():
    heard = Heard()
    result = run_scenario(SMALL, observer=heard)
    lines = [s.line for s in result.scenario.steps]
    assert heard.events == (
        [f"building {len(result.plan.nodes)} nodes"]
        + [e for line in lines for e in (f"started {line}", f"finished {line} passed")]
        + ["tearing down"]
    )
    assert all(s.seconds > 0 for s in result.steps) and result.seconds > sum(s.seconds for s in result.steps)
