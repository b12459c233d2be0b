"""docs/result.schema.json is the documented contract of vpclab's JSON results: real output of the
pure verbs, and traces and scenario results built from real predictions, validate against it; the
schema's outcomes are the Outcome enum's, and output that breaks the contract is caught.
(tests/integration/test_cli_lab.py and test_scenarios.py validate real packet-level output.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.cli.main import main
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.results import RESULT_SCHEMA_VERSION, CommandResult, Outcome
from lab.scenario.loader import load_scenario
from lab.scenario.observe import Trace
from lab.scenario.runner import ScenarioResult, StepResult
from result_schema import SCHEMA, problems

REPO = Path(__file__).resolve().parents[2]
S3 = "lab-bucket.s3.ap-northeast-2.amazonaws.com"
# Sources whose predictions end ok, not reachable (timeout), dns-failure and denied.
PREDICTIONS = [
    ("topologies/public-private.yaml", "app1", S3),
    ("topologies/public-private.yaml", "db1", S3),
    ("topologies/public-private.yaml", "app1", "nowhere.s3.example.com"),
    ("topologies/gateway-endpoint-policies.yaml", "app1", "other-bucket.s3.ap-northeast-2.amazonaws.com"),
    ("topologies/public-private.yaml", "internet-client", "app1"),
]


@pytest.fixture(autouse=True)
def at_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_the_schema_speaks_the_outcome_enum_and_version():
    assert SCHEMA["$defs"]["outcome"]["enum"] == [o.value for o in Outcome]
    assert SCHEMA["$defs"]["trace"]["properties"]["schema_version"] == {"const": RESULT_SCHEMA_VERSION}
    assert SCHEMA["$defs"]["scenario"]["properties"]["schema_version"] == {"const": RESULT_SCHEMA_VERSION}


@pytest.mark.parametrize("topology, source, target", PREDICTIONS)
def test_explain_json_is_a_prediction_of_the_schema(capsys, topology, source, target):
    assert main(["explain", topology, "--from", source, "--to", target, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert problems(data, "prediction") == []
    assert data["outcome"] in {o.value for o in Outcome}


def a_trace(outcome: Outcome = Outcome.DNS_FAILURE) -> Trace:
    """What trace() builds when the probe could not resolve the name (no packet, no observed path)."""
    topology = load_topology("topologies/public-private.yaml")
    predicted = explain(topology, compile_plan(topology), "app1", S3)
    return Trace(
        "app1",
        S3,
        443,
        outcome,
        {"target": S3, "outcome": outcome, "error": "Name does not resolve"},
        None,
        predicted,
        ["predicted outcome ok, observed dns-failure"],
    )


def test_a_trace_validates():
    assert problems(a_trace().to_dict("/tmp/run")) == []


def test_a_run_of_trace_and_command_steps_validates():
    scenario = load_scenario("scenarios/public-and-nat-paths.yaml")
    by_action = {s.action: s for s in scenario.steps}
    steps = [
        StepResult(
            by_action["trace"],
            a_trace(),
            ("expected outcome ok, observed dns-failure",),
            ("front s3-ap-northeast-2 is not running",),
        ),
        StepResult(by_action["dns"], CommandResult(Outcome.OK, 0, "52.219.60.10\n", ("52.219.60.10",))),
        StepResult(by_action["s3"], CommandResult(Outcome.TIMEOUT, None, "timed out")),
    ]
    assert problems([ScenarioResult(scenario, steps, None).to_dict()]) == []


def test_a_change_step_validates_without_a_node_and_not_with_one():
    """The demo's act 2 disassociates, then associates, a gateway endpoint: steps of no node."""
    scenario = load_scenario("lab/data/demo/act2.yaml")
    change = StepResult(scenario.steps[0], CommandResult(Outcome.OK, 0, ""))
    data = ScenarioResult(scenario, [change], None).to_dict()
    assert data["steps"][0]["disassociate"] == "s3-gw private" and problems([data]) == []
    data["steps"][0]["from"] = "app1"
    assert problems([data]) != []


def test_output_that_breaks_the_contract_is_caught():
    data = a_trace().to_dict(None)
    data["outcome"] = "dropped"  # a word of no client
    data["predicted"]["path"][0]["hops"] = 1
    del data["service_saw"]
    found = problems(data, "trace")
    assert any(p.startswith("outcome: 'dropped' is not one of") for p in found), found
    assert any("'hops' was unexpected" in p for p in found), found
    assert any("'service_saw' is a required property" in p for p in found), found
