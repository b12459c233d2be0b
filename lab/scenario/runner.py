"""Run a scenario: one lab per file, every step's real traffic, every expectation checked against
what the packets showed; the lab is always torn down. A step whose observed path disagrees with the
static prediction fails too: that is a bug in vpclab, and it is reported as one."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from lab.analysis.explain import explain
from lab.analysis.flowlogs import save_flow_logs
from lab.errors import BadInput
from lab.plan.changes import associate, change_targets, decide_connection
from lab.plan.compile import compile_plan
from lab.plan.security_changes import change_permission
from lab.plan.types import Plan
from lab.realize.controller import Controller
from lab.realize.lab import Lab
from lab.results import RESULT_SCHEMA_VERSION, CommandResult, Outcome
from lab.scenario.expect import as_observed, check, with_flow_log
from lab.scenario.loader import (
    CHANGES,
    CONNECTION_CHANGES,
    SECURITY_CHANGES,
    TARGET_CHANGES,
    Scenario,
    Step,
    http_url,
    load_scenario,
)
from lab.scenario.observe import Trace, trace

COMMAND_TIMEOUT = 30


@dataclass(frozen=True)
class StepResult:
    """A step's traffic (a Trace) or command (a CommandResult), and every expectation it failed."""

    step: Step
    observed: Trace | CommandResult
    failures: tuple[str, ...] = ()
    stopped_services: tuple[str, ...] = ()  # what had died in the lab when the step failed
    seconds: float = field(default=0.0, compare=False)  # how long it ran (reports, JUnit; not in the JSON)

    @property
    def passed(self) -> bool:
        return not self.failures

    def observed_dict(self) -> dict:
        """What was observed as docs/result.schema.json describes it."""
        return self.observed.to_dict(None) if isinstance(self.observed, Trace) else asdict(self.observed)

    def to_dict(self) -> dict:
        return (
            {"name": self.step.name, "line": self.step.line}
            | ({"from": self.step.source} if self.step.source is not None else {})
            | {
                self.step.action: self.step.argument,
                "passed": self.passed,
                "failures": list(self.failures),
                "observed": self.observed_dict(),
            }
            | ({"stopped_services": list(self.stopped_services)} if self.stopped_services else {})
        )


@dataclass
class ScenarioResult:
    scenario: Scenario
    steps: list[StepResult]
    run_dir: str | None
    plan: Plan | None = None  # as the lab was built (a report names its public IPs' owners)
    seconds: float = 0.0  # the whole scenario: building, steps, teardown (reports, JUnit; not in the JSON)

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.steps)

    def to_dict(self) -> dict:
        """`vpclab run --json`: one of these per scenario file (docs/result.schema.json)."""
        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "scenario": self.scenario.name,
            "file": self.scenario.file,
            "passed": self.passed,
            "run_dir": self.run_dir,
            "steps": [s.to_dict() for s in self.steps],
        }


class RunObserver:
    """What a caller hears while a scenario runs, as it happens: the seam through which `vpclab run`
    and `vpclab demo` show progress and each step when it finishes (the runner itself never
    prints). Every method does nothing here; a caller overrides those it wants."""

    def building(self, scenario: Scenario, plan: Plan) -> None:
        """The lab of `plan` is being built (seconds: namespaces, links, services)."""

    def step_started(self, step: Step) -> None:
        """The lab is up and `step` has started."""

    def step_finished(self, result: StepResult) -> None:
        """`result.step` has finished, passed or failed."""

    def tearing_down(self, scenario: Scenario) -> None:
        """The last step has finished; the lab is being removed."""


def run_scenario(
    scenario: Scenario | Path | str, keep: Path | None = None, observer: RunObserver | None = None
) -> ScenarioResult:
    """One lab for the scenario (a loaded one, or a file), every step run and checked, torn down;
    `observer` hears of each stage as it happens."""
    started, observer = time.monotonic(), observer or RunObserver()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    plan = compile_plan(scenario.topology)
    observer.building(scenario, plan)
    with Lab(plan, keep) as lab, Controller(lab, scenario.topology) as controller:  # without keep, a temporary run directory
        results = run_steps(scenario, controller, observer)
        observer.tearing_down(scenario)
    if keep:
        save_flow_logs(lab.run_dir)  # the captures and drop counters are complete once the lab is down
    return ScenarioResult(scenario, results, str(keep) if keep else None, plan, time.monotonic() - started)


def run_steps(scenario: Scenario, controller: Controller, observer: RunObserver | None = None) -> list[StepResult]:
    """Every step in order; a change step (associate, disassociate; a security-group rule; accept or
    reject an endpoint connection; register or deregister an NLB's target), or an `aws ec2 ...` a
    `run` step makes inside the lab, changes
    the running lab, and the steps after it are predicted and run against the live model and plan."""
    results, observer = [], observer or RunObserver()
    for step in scenario.steps:
        observer.step_started(step)
        started = time.monotonic()
        scenario = replace(scenario, topology=controller.topology)  # as the calls so far left it
        if (how := model_change(step)) is not None:
            controller.change(how)
            result = StepResult(step, CommandResult(Outcome.OK, 0, ""))
        else:
            result = run_step(scenario, controller.plan, controller.lab, step)
        results.append(replace(result, seconds=time.monotonic() - started))
        observer.step_finished(results[-1])
    return results


def model_change(step: Step):
    """What a change step does to the model (a function of it), or None for a step of traffic."""
    if step.action in SECURITY_CHANGES:
        return lambda t: change_permission(t, step.action, step.argument)
    if step.action in CONNECTION_CHANGES:
        return lambda t: decide_connection(t, step.action, step.argument)
    if step.action in TARGET_CHANGES:
        return lambda t: change_targets(t, step.action, step.argument)
    if step.action in CHANGES:
        endpoint, table = step.argument.split()
        return lambda t: associate(t, endpoint, table, on=step.action == "associate")
    return None


def run_step(scenario: Scenario, plan, lab, step: Step) -> StepResult:
    """A failed step whose service has died says so first: the client's own words ("Could not
    connect") would blame the network."""
    observed = ACTIONS[step.action](scenario, plan, lab, step)
    seen = as_observed(observed)
    if "flow_log" in step.expect:
        seen = with_flow_log(seen, observed, lab.run_dir)
    failures = check(step.expect, seen, plan)
    if isinstance(observed, Trace):
        failures += [f"vpclab bug: the packets disagree with the prediction: {d}" for d in observed.disagreements]
    stopped = tuple(lab.stopped_services()) if failures else ()
    failures = [f"the lab is broken: {line}" for line in stopped] + failures
    return StepResult(step, observed, tuple(failures), stopped)


def do_trace(scenario, plan, lab, step: Step) -> Trace:
    port, target, http_path = step.port or 443, step.argument, None
    if step.action == "http":
        url = http_url(step.argument)
        if url is None:  # load_scenario refuses such a step; one built in code is told the same
            raise BadInput(f"step '{step.name}': http takes a URL such as https://HOST/PATH, not '{step.argument}'")
        target, port, http_path = url
    signed = step.action == "trace"  # `http` is curl: unsigned, as S3 sees a browser or curl
    predicted = explain(scenario.topology, plan, step.node, target, port, http_path or "/", signed)
    return trace(lab, predicted, step.node, target, port, http_path, signed)


def run_in_node(lab, step: Step, argv: list[str]) -> CommandResult:
    proc = lab.node(step.node).popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=lab.node_env(step.node)
    )
    lab.own(proc.pid, f"step '{step.name}' in {step.node}")
    try:
        output, _ = proc.communicate(timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        return CommandResult(Outcome.TIMEOUT, None, output)
    return CommandResult(Outcome.OK if proc.returncode == 0 else Outcome.ERROR, proc.returncode, output)


def do_s3(scenario, plan, lab, step: Step) -> CommandResult:
    """The AWS CLI itself, as a learner would type it at the prompt."""
    op, _, what = step.argument.partition(" ")
    uri = f"s3://{what.strip()}"
    argv = {
        "ls": ["aws", "s3", "ls", uri],
        "get": ["aws", "s3", "cp", uri, "-"],
        "put": ["bash", "-c", f"echo 'written by {step.node}' | aws s3 cp - {uri}"],
    }[op]
    result = run_in_node(lab, step, argv)
    if result.outcome == Outcome.ERROR and ("AccessDenied" in result.output or "403" in result.output):
        return replace(result, outcome=Outcome.DENIED)
    if result.outcome == Outcome.ERROR and ("Connect timeout" in result.output or "timed out" in result.output):
        return replace(result, outcome=Outcome.TIMEOUT)
    return result


def do_dns(scenario, plan, lab, step: Step) -> CommandResult:
    result = run_in_node(lab, step, ["dig", "+short", "+time=1", "+tries=2", step.argument])
    answers = tuple(line for line in result.output.split() if line.count(".") == 3 and line[0].isdigit())
    return replace(result, dns_answer=answers, outcome=Outcome.OK if answers else Outcome.DNS_FAILURE)


def do_run(scenario, plan, lab, step: Step) -> CommandResult:
    return run_in_node(lab, step, ["bash", "-c", step.argument])


ACTIONS: dict[str, Callable[..., Trace | CommandResult]] = {
    "trace": do_trace,
    "http": do_trace,
    "s3": do_s3,
    "dns": do_dns,
    "run": do_run,
}
