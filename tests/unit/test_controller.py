"""The lab's controller without a kernel: a lab double records the plans it is asked to run, and the
control socket is exercised the way the EC2 front uses it (lab.services.control.ask)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lab.errors import StateConflict
from lab.model.ids import ACCOUNT_ID
from lab.model.loader import load_topology
from lab.plan.changes import associate
from lab.plan.compile import compile_plan
from lab.realize.controller import Controller
from lab.services.control import SOCKET_NAME, ControllerUnavailable, ask

REPO = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"


class RecordingLab:
    def __init__(self, plan, run_dir: Path):
        self.plan, self.run_dir, self.applied = plan, run_dir, []

    def apply(self, plan):
        self.applied.append(plan)
        self.plan = plan


@pytest.fixture
def controller(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    topology = load_topology("topologies/gateway-endpoint.yaml")
    with Controller(RecordingLab(compile_plan(topology), tmp_path), topology) as live:
        yield live


def call(live: Controller, action: str, params: dict | None = None) -> dict:
    return ask(live.path, {"action": action, "params": params or {}, "region": REGION, "account": ACCOUNT_ID})


def test_a_describe_call_reads_the_live_model(controller):
    answer = call(controller, "DescribeVpcs", {"Filters": [{"Name": "tag:Name", "Values": ["app"]}]})
    assert [v["VpcId"] for v in answer["result"]["Vpcs"]] == [controller.plan.vpc_id("app")]
    assert controller.lab.applied == []


def test_a_change_is_compiled_keeping_what_exists_and_applied(controller):
    before = controller.plan
    topology, plan = controller.change(lambda t: associate(t, "s3-gw", "public", True))
    assert controller.lab.applied == [plan] and controller.topology is topology
    assert "public" in topology.vpcs["app"].endpoints["s3-gw"].route_tables
    assert {n: x.interfaces for n, x in plan.nodes.items()} == {n: x.interfaces for n, x in before.nodes.items()}


def test_a_refused_change_leaves_the_lab_as_it_was(controller):
    topology = controller.topology
    with pytest.raises(StateConflict):
        controller.change(lambda t: associate(t, "s3-gw", "private", True))
    assert controller.topology is topology and controller.lab.applied == []


def test_an_action_the_lab_does_not_emulate_is_unsupported_operation(controller):
    error = call(controller, "RunInstances", {"ImageId": "ami-12345678"})["error"]
    assert error["code"] == "UnsupportedOperation" and "DescribeVpcs" in error["message"]


@pytest.mark.parametrize("request_", [{"params": {}}, {"action": "DescribeVpcs", "region": REGION}, {"action": None}])
def test_a_malformed_request_is_answered_not_crashed_on(controller, request_):
    assert ask(controller.path, request_)["error"]["code"] == "InvalidRequest"
    assert "result" in call(controller, "DescribeVpcs")  # still serving


def test_bytes_that_are_not_a_request_get_no_answer_and_the_socket_keeps_serving(controller):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(controller.path))
        sock.sendall(b"\xff\xfe not json\n")
        assert sock.recv(100) == b""
    assert "result" in call(controller, "DescribeVpcs")


def test_the_socket_is_the_run_directorys_own_and_goes_with_the_controller(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    topology = load_topology("topologies/gateway-endpoint.yaml")
    with Controller(RecordingLab(compile_plan(topology), tmp_path), topology) as live:
        assert live.path == tmp_path / SOCKET_NAME and oct(live.path.stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / SOCKET_NAME).exists()
    with pytest.raises(ControllerUnavailable):
        ask(tmp_path / SOCKET_NAME, {"action": "DescribeVpcs"})
