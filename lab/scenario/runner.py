"""Run a scenario: one lab per file, every step's real traffic, every expectation checked against
what the packets showed; the lab is always torn down. A step whose observed path disagrees with the
static prediction fails too: that is a bug in vpclab, and it is reported as one."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from lab.analysis.explain import explain
from lab.errors import BadInput
from lab.plan.compile import compile_plan
from lab.realize.lab import Lab
from lab.scenario.expect import check
from lab.scenario.loader import Scenario, Step, http_url, load_scenario
from lab.scenario.observe import trace

COMMAND_TIMEOUT = 30


@dataclass
class StepResult:
    step: Step
    observed: dict
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        return {"name": self.step.name, "line": self.step.line, "from": self.step.source,
                self.step.action: self.step.argument, "passed": self.passed,
                "failures": self.failures, "observed": self.observed}


@dataclass
class ScenarioResult:
    scenario: Scenario
    steps: list[StepResult]
    run_dir: str | None

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.steps)

    def to_dict(self) -> dict:
        return {"scenario": self.scenario.name, "file": self.scenario.file, "passed": self.passed,
                "run_dir": self.run_dir, "steps": [s.to_dict() for s in self.steps]}


def run_scenario(scenario: Scenario | Path | str, keep: Path | None = None) -> ScenarioResult:
    """One lab for the scenario (a loaded one, or a file), every step run and checked, torn down."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    plan = compile_plan(scenario.topology)
    with Lab(plan, keep) as lab:  # without keep, a temporary run directory that goes with the lab
        results = [run_step(scenario, plan, lab, step) for step in scenario.steps]
    return ScenarioResult(scenario, results, str(keep) if keep else None)


def run_step(scenario: Scenario, plan, lab, step: Step) -> StepResult:
    """A failed step whose service has died says so first: the client's own words ("Could not
    connect") would blame the network."""
    observed = ACTIONS[step.action](scenario, plan, lab, step)
    failures = check(step.expect, observed, plan)
    if observed.get("disagreements"):
        failures += [f"vpclab bug: the packets disagree with the prediction: {d}" for d in observed["disagreements"]]
    if failures and (stopped := lab.stopped_services()):
        observed["stopped_services"] = stopped
        failures = [f"the lab is broken: {line}" for line in stopped] + failures
    return StepResult(step, observed, failures)


def do_trace(scenario, plan, lab, step: Step) -> dict:
    port, target, http_path = step.port or 443, step.argument, None
    if step.action == "http":
        url = http_url(step.argument)
        if url is None:  # load_scenario refuses such a step; one built in code is told the same
            raise BadInput(f"step '{step.name}': http takes a URL such as https://HOST/PATH, not '{step.argument}'")
        target, port, http_path = url
    signed = step.action == "trace"  # `http` is curl: unsigned, as S3 sees a browser or curl
    predicted = explain(scenario.topology, plan, step.source, target, port, http_path or "/", signed)
    return trace(lab, predicted, step.source, target, port, http_path, signed).to_dict(None)


def run_in_node(lab, step: Step, argv: list[str]) -> dict:
    proc = lab.node(step.source).popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       env=lab.node_env(step.source))
    lab.own(proc.pid, f"step '{step.name}' in {step.source}")
    try:
        output, _ = proc.communicate(timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        return {"outcome": "timeout", "exit": None, "output": output}
    return {"outcome": "ok" if proc.returncode == 0 else "error", "exit": proc.returncode, "output": output}


def do_s3(scenario, plan, lab, step: Step) -> dict:
    """The AWS CLI itself, as a learner would type it at the prompt."""
    op, _, what = step.argument.partition(" ")
    uri = f"s3://{what.strip()}"
    argv = {"ls": ["aws", "s3", "ls", uri], "get": ["aws", "s3", "cp", uri, "-"],
            "put": ["bash", "-c", f"echo 'written by {step.source}' | aws s3 cp - {uri}"]}[op]
    result = run_in_node(lab, step, argv)
    if result["outcome"] == "error" and ("AccessDenied" in result["output"] or "403" in result["output"]):
        result["outcome"] = "denied"
    elif result["outcome"] == "error" and ("Connect timeout" in result["output"] or "timed out" in result["output"]):
        result["outcome"] = "timeout"
    return result


def do_dns(scenario, plan, lab, step: Step) -> dict:
    result = run_in_node(lab, step, ["dig", "+short", "+time=1", "+tries=2", step.argument])
    answers = [line for line in result["output"].split() if line.count(".") == 3 and line[0].isdigit()]
    return result | {"dns_answer": answers, "outcome": "ok" if answers else "dns-failure"}


def do_run(scenario, plan, lab, step: Step) -> dict:
    return run_in_node(lab, step, ["bash", "-c", step.argument])


ACTIONS = {"trace": do_trace, "http": do_trace, "s3": do_s3, "dns": do_dns, "run": do_run}
