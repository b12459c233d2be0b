"""Changing a running lab as AWS allows: (dis)associating a gateway endpoint with a route table
flips the path at once, and a TCP connection opened on the old path is cut (AWS: "When you add or
remove a route, all existing connections from the subnet ... to the endpoint are dropped";
https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html) — proved with packets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from labsafety import hold_connection, use_held

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.plan.changes import associate
from lab.plan.compile import compile_plan
from lab.realize.controller import Controller
from lab.realize.lab import Lab
from lab.scenario.observe import trace

REPO = Path(__file__).resolve().parents[2]
TARGET = "lab-bucket.s3.ap-northeast-2.amazonaws.com"
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(120)]


def kinds(result) -> list[str]:
    return [h["kind"] for h in result.to_dict(None)["path"]]


def test_associating_the_endpoint_flips_the_path_and_cuts_open_connections(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    topology = load_topology("topologies/gateway-endpoint.yaml")
    with Lab(compile_plan(topology), tmp_path / "run") as lab:
        live = Controller(lab, topology)
        topology, plan = live.change(lambda t: associate(t, "s3-gw", "private", on=False))
        before = trace(lab, explain(topology, plan, "app1", TARGET), "app1", TARGET, 443)
        assert before.agrees and "nat-gateway" in kinds(before) and "gateway-endpoint" not in kinds(before)

        held = hold_connection(lab, "app1", TARGET)
        topology, plan = live.change(lambda t: associate(t, "s3-gw", "private", on=True))
        out = use_held(held)
        # The old connection did not survive the route change: its request went the new way, where
        # S3 has no such connection, so no answer came (a reset, or an end of stream, or silence).
        assert out.split()[0] in ("RESET", "ANSWER", "TIMEOUT") and "HTTP/1.1" not in out, out

        after = trace(lab, explain(topology, plan, "app1", TARGET), "app1", TARGET, 443)
        assert after.agrees and kinds(after) == ["instance", "vpc-router", "gateway-endpoint", "service"]
        assert after.observed.service_saw.source_ip == str(plan.node("app1").addresses()[0])
    # tcpdump's own account of the evidence: what it kept, and that it lost nothing
    stats = json.loads((tmp_path / "run" / "captures" / "stats.json").read_text())
    assert stats["app1"]["captured"] > 0 and all(s.get("dropped by kernel") == 0 for s in stats.values())


def test_a_change_that_aws_would_refuse_is_refused(tmp_path, monkeypatch):
    from lab.errors import LabError

    monkeypatch.chdir(REPO)
    topology = load_topology("topologies/gateway-endpoint.yaml")
    with Lab(compile_plan(topology), tmp_path / "run") as lab:
        live = Controller(lab, topology)
        with pytest.raises(LabError, match="already associated"):
            live.change(lambda t: associate(t, "s3-gw", "private", on=True))
        with pytest.raises(LabError, match="no such endpoint"):
            live.change(lambda t: associate(t, "nope", "private", on=True))
        assert live.topology is topology and lab.plan is live.plan  # a refused change leaves the lab as it was
