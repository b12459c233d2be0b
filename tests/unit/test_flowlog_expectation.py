"""The scenario expectation `flow_log: {action, traffic_path, eni}` (lab.scenario.loader): what it
accepts, and the file, line and code of what it refuses."""

from __future__ import annotations

import pytest
from synthetic_captures import TOPOLOGY

from lab.errors import TopologyError
from lab.scenario.loader import load_scenario


def scenario_step(tmp_path, flow_log: str):
    text = (
        f"topology: {TOPOLOGY}\nsteps:\n  - from: web1\n    trace: app1\n    port: 22\n    expect:\n      flow_log: {flow_log}\n"
    )
    (tmp_path / "s.yaml").write_text(text)
    return load_scenario(tmp_path / "s.yaml").steps[0]


def test_scenario_flow_log_expectation_is_parsed(tmp_path):
    step = scenario_step(tmp_path, "{action: REJECT, traffic_path: 1, eni: app1}")
    assert step.expect["flow_log"] == {"action": "REJECT", "traffic_path": 1, "eni": "app1"}


@pytest.mark.parametrize(
    ("flow_log", "message"),
    [
        ("{action: DROP}", "flow_log action must be ACCEPT or REJECT"),
        ("{traffic_path: 9}", "traffic_path is a number from 1 to 8"),
        ("{eni: app-router}", "flow_log eni 'app-router' is no ENI of the lab"),
        ("{direction: egress}", "direction"),
    ],
)
def test_scenario_flow_log_expectation_refuses_bad_values(tmp_path, flow_log, message):
    with pytest.raises(TopologyError, match=message) as caught:
        scenario_step(tmp_path, flow_log)
    assert "s.yaml:7: " in str(caught.value)  # the flow_log line
