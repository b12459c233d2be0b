"""The plan as the one source of names, ids and relations: the allocation it carries, the look-ups
the layers above use, and the eni- ids of network interfaces."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.allocation import EndpointKey, NatKey
from lab.plan.compile import compile_plan
from lab.plan.serialize import plan_to_dict
from topologies import nat_vpc

REPO = Path(__file__).resolve().parents[2]
# A gateway endpoint `s3` and an interface endpoint `s3-if`: the ENI node app-s3-if-a starts with
# `app-s3-`, the prefix a name-guessing look-up took for endpoint s3's.
ENDPOINTS = """
s3: {type: gateway, service: s3, route_tables: [private]}
s3-if: {type: interface, service: s3, subnets: [private-a], private_dns: false}
"""


@pytest.fixture(scope="module")
def lab():
    topology = load_topology("inline.yaml", nat_vpc(endpoints=ENDPOINTS))
    return topology, compile_plan(topology)


def test_the_plan_looks_up_each_component_by_its_model_name(lab):
    _, plan = lab
    assert plan.router("app").aws_id == names.vpc_id("app")
    assert plan.internet_gateway("app").kind == "internet-gateway"
    nat = plan.nat_gateway("app", "nat-a")
    assert (nat.kind, nat.aws_id) == ("nat-gateway", names.nat_id("app", "nat-a"))
    assert plan.eni_address(nat.name) == plan.allocation.nat_ips[NatKey("app", "nat-a")]
    assert plan.gateway_endpoint("app", "s3").aws_id == plan.vpce_id("app", "s3")
    assert plan.route_table("app", "private").name == "private"
    assert plan.route_table("app", None).aws_id == names.route_table_id("app", names.MAIN_TABLE_NAME)


def test_every_eni_has_an_id_of_its_own(lab):
    _, plan = lab
    enis = {n: plan.eni_id(n) for n in ("app1", "app-nat-a", "app-s3-if-a")}
    assert all(e.startswith("eni-") for e in enis.values()) and len(set(enis.values())) == 3
    assert enis["app1"] != plan.node("app1").aws_id  # the instance is i-..., its interface eni-...
    assert enis["app-s3-if-a"] == plan.node("app-s3-if-a").aws_id  # an endpoint's node is its ENI


def test_front_and_ingress_of_an_endpoint(lab):
    _, plan = lab
    vpce = plan.vpce_id("app", "s3-if")
    front, ingress = plan.front_of("app-s3-if-a")
    assert (front.node, ingress.label, ingress.vpc_id) == ("s3-ap-northeast-2", vpce, names.vpc_id("app"))
    assert plan.endpoint_ingress(vpce) == (front, ingress)
    with pytest.raises(KeyError):
        plan.endpoint_ingress("vpce-0000000000000000")
    with pytest.raises(KeyError):
        plan.front_of("app1")
    assert plan.allocation.vpce_ids[EndpointKey("app", "s3-if")] == vpce


def test_the_allocation_is_frozen_and_not_part_of_the_plan_json(lab):
    _, plan = lab
    with pytest.raises(TypeError):
        plan.allocation.instance_ips["app1"] = None  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.allocation.vpce_ids = {}  # type: ignore[misc]
    assert "allocation" not in plan_to_dict(plan)


def test_explain_names_the_endpoint_whose_eni_it_reached_not_one_with_a_like_name(lab):
    """An interface endpoint's vpce is its ingress's, not guessed from a node-name prefix (which
    took gateway endpoint s3's for s3-if's ENI, app-s3-if-a)."""
    topology, plan = lab
    eni_ip = str(plan.eni_address("app-s3-if-a"))
    result = explain(topology, plan, "app1", eni_ip)
    assert result.path[-2].node == "app-s3-if-a"
    assert result.service_saw.vpce_id == plan.vpce_id("app", "s3-if") != plan.vpce_id("app", "s3")


def test_no_name_or_id_is_assembled_outside_the_naming_module():
    """`git grep` finds no aws_id( call and no node name built from a VPC's name (`<vpc>-router`,
    `<vpc>-<nat>`, ...) outside lab/plan/names.py."""
    pattern = r"aws_id\(|f\"\{[a-z_.]*\}-(router|igw)\"|f\"\{[a-z_]*vpc(\.name)?\}-\{"
    found = subprocess.run(
        ["git", "grep", "-nE", pattern, "--", "lab"], cwd=REPO, capture_output=True, text=True
    ).stdout.splitlines()
    assert [line for line in found if not line.startswith("lab/plan/names.py:")] == []
