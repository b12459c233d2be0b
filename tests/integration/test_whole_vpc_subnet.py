"""A subnet whose CIDR is its VPC's own comes up and carries traffic (AWS allows it; vpclab's router
used to fail at start with `route ... File exists`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.realize.lab import Lab
from lab.scenario.observe import trace

WHOLE_VPC = Path(__file__).resolve().parents[1] / "data" / "whole-vpc-subnet.yaml"
TARGET = "lab-bucket.s3.ap-northeast-2.amazonaws.com"
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(120)]


def test_a_lab_whose_subnet_is_the_whole_vpc_starts_and_routes(tmp_path):
    topology = load_topology(WHOLE_VPC)
    plan = compile_plan(topology)
    with Lab(plan, tmp_path / "run") as lab:
        to_s3 = trace(lab, explain(topology, plan, "app1", TARGET), "app1", TARGET, 443)
        assert to_s3.agrees, to_s3.to_dict(None)
        assert [h["kind"] for h in to_s3.to_dict(None)["path"]] == ["instance", "vpc-router", "gateway-endpoint", "service"]
        neighbour = trace(lab, explain(topology, plan, "app1", "app2", 22), "app1", "app2", 22)
        assert neighbour.outcome == "refused"  # reached app2 (nothing listens on 22): the local route works
