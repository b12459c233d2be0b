"""Scenario results for the tests of the run's reports (text, JUnit): real predictions of
scenarios/public-and-nat-paths.yaml's topology, each step's observed path the predicted one (what
a passing lab records), and one step failed, as a broken lab would have it."""

from __future__ import annotations

from pathlib import Path

from lab.analysis.explain import explain
from lab.analysis.paths import ObservedPath
from lab.plan.compile import compile_plan
from lab.results import CommandResult, Outcome
from lab.scenario.loader import load_scenario
from lab.scenario.observe import Trace
from lab.scenario.runner import ScenarioResult, StepResult

REPO = Path(__file__).resolve().parents[1]
SCENARIO = "scenarios/public-and-nat-paths.yaml"
FAILURE = "expected outcome timeout, observed ok"


def traced(scenario, plan, step) -> Trace:
    """The step's trace as a lab that agrees with its prediction would observe it."""
    predicted = explain(scenario.topology, plan, step.node, step.argument, step.port or 443)
    path = ObservedPath(
        step.node, {}, predicted.outcome, list(predicted.path), None, None, (), False, [], predicted.explanation,
        predicted.service_saw,
    )  # fmt: skip
    probe = {"target": step.argument, "outcome": predicted.outcome, "http_status": 200 if predicted.reachable else None}
    return Trace(step.node, step.argument, step.port or 443, predicted.outcome, probe, path, predicted)


def scenario_result(failed_step: int | None = None, seconds: float = 4.25) -> ScenarioResult:
    """Every step of the scenario: traces as predicted, commands done; step `failed_step` (0-based)
    carries FAILURE."""
    scenario = load_scenario(REPO / SCENARIO)
    plan = compile_plan(scenario.topology)
    steps = []
    for number, step in enumerate(scenario.steps):
        observed = traced(scenario, plan, step) if step.action == "trace" else CommandResult(Outcome.OK, 0, "hello\n")
        failures = (FAILURE,) if number == failed_step else ()
        steps.append(StepResult(step, observed, failures, seconds=0.5 + number))
    return ScenarioResult(scenario, steps, None, plan, seconds)
