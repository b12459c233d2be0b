"""The EC2 API inside a real lab, used with the real AWS CLI from lab instances: app1 reaches
ec2.ap-northeast-2.amazonaws.com over its NAT gateway and the internet; iso1, in an isolated subnet
of another VPC, through an interface endpoint to com.amazonaws.ap-northeast-2.ec2 (private DNS)
whose policy allows only the Describe calls. Every answer's ids are the plan's; the front's log
says which way each call came; a signature EC2 cannot verify is EC2's AuthFailure. The lab's own
controller (lab.realize.controller) answers on the run directory's socket.
(tests/data/ec2-api/lab.yaml)
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.compile import compile_plan
from lab.realize.controller import Controller
from lab.realize.lab import Lab
from lab.scenario.observe import trace

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(300)]

TOPOLOGY = Path(__file__).resolve().parents[1] / "data" / "ec2-api" / "lab.yaml"
REGION = "ap-northeast-2"


@pytest.fixture(scope="module")
def topology():
    return load_topology(str(TOPOLOGY))


@pytest.fixture(scope="module")
def lab(topology, tmp_path_factory):
    with Lab(compile_plan(topology), tmp_path_factory.mktemp("ec2-api") / "run") as running, Controller(running, topology):
        yield running


def aws(lab, node: str, *words: str, env: str = "") -> tuple[int, str]:
    """The AWS CLI at `node` (its JSON answer, or its error line), and its exit status."""
    line = f'{env} aws --output json {" ".join(shlex.quote(w) for w in words)} 2>&1; echo "exit=$?"'
    out = lab.node(node).cmd(line).strip()
    text, _, status = out.rpartition("exit=")
    return int(status), text.strip()


def logged(lab) -> list[dict]:
    path = lab.run_dir / "services" / f"ec2-{REGION}-requests.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ec2(lab, node: str, *words: str) -> dict:
    status, out = aws(lab, node, "ec2", *words)
    assert status == 0, out
    return json.loads(out)


@pytest.mark.parametrize(
    ("source", "target", "ingress"),
    [
        ("iso1", "ec2.ap-northeast-2.amazonaws.com", "vpce"),  # the interface endpoint, by private DNS
        ("app1", "ec2.ap-northeast-2.amazonaws.com", "internet"),  # the NAT gateway
        ("app1", "ec2.us-east-1.amazonaws.com", "internet"),  # another region's EC2 API
    ],
)
def test_trace_agrees_with_explain(topology, lab, source, target, ingress):
    result = trace(lab, explain(topology, lab.plan, source, target), source, target, 443)
    assert result.agrees, result.disagreements
    expected = lab.plan.vpce_id("iso", "ec2-if") if ingress == "vpce" else ingress
    assert result.outcome == "ok" and result.observed.service_saw.ingress == expected, result.probe


@pytest.mark.parametrize("node", ["app1", "iso1"])
def test_describe_vpcs_by_name_tag(lab, node):
    found = ec2(lab, node, "describe-vpcs", "--filters", "Name=tag:Name,Values=iso")["Vpcs"]
    assert [(v["VpcId"], v["CidrBlock"]) for v in found] == [(lab.plan.vpc_id("iso"), "10.2.0.0/16")]


def test_over_nat_the_front_sees_the_nat_gateways_public_ip(lab):
    before = len(logged(lab))
    tables = ec2(
        lab,
        "app1",
        "describe-route-tables",
        "--filters",
        f"Name=association.subnet-id,Values={names.subnet_id('web', 'private-a')}",
    )
    (table,) = tables["RouteTables"]
    assert table["RouteTableId"] == lab.plan.route_table("web", "private").aws_id
    assert {r.get("NatGatewayId") for r in table["Routes"]} == {None, lab.plan.nat_gateway("web", "nat-a").aws_id}
    (seen,) = logged(lab)[before:]
    nat = next(p for p in lab.plan.public_ips if p.vpc == "web" and p.owner == "nat-a")
    assert (seen["ingress"], seen["source_ip"], seen["action"], seen["status"]) == (
        "internet",
        str(nat.address),
        "ec2:DescribeRouteTables",
        200,
    )


def test_through_the_interface_endpoint(lab):
    before = len(logged(lab))
    endpoints = ec2(lab, "iso1", "describe-vpc-endpoints", "--filters", "Name=vpc-endpoint-type,Values=Interface")["VpcEndpoints"]
    vpce = lab.plan.vpce_id("iso", "ec2-if")
    assert [(e["VpcEndpointId"], e["ServiceName"]) for e in endpoints] == [(vpce, f"com.amazonaws.{REGION}.ec2")]
    (seen,) = logged(lab)[before:]
    assert (seen["ingress"], seen["vpce_id"], seen["action"], seen["status"]) == (vpce, vpce, "ec2:DescribeVpcEndpoints", 200)


def test_an_instance_finds_itself_and_the_endpoints_eni(lab):
    (reservation,) = ec2(lab, "iso1", "describe-instances", "--filters", "Name=tag:Name,Values=iso1")["Reservations"]
    (me,) = reservation["Instances"]
    address = lab.node("iso1").cmd("ip -4 -o addr show dev eth0").split()[3].split("/")[0]
    assert (me["InstanceId"], me["PrivateIpAddress"]) == (lab.plan.node("iso1").aws_id, address)
    enis = ec2(lab, "iso1", "describe-network-interfaces", "--filters", "Name=interface-type,Values=vpc_endpoint")
    (eni,) = enis["NetworkInterfaces"]
    resolved = lab.node("iso1").cmd(f"getent hosts ec2.{REGION}.amazonaws.com").split()[0]
    assert eni["PrivateIpAddress"] == resolved  # private DNS answers the ENI's address
    assert eni["Description"] == f"VPC Endpoint Interface {lab.plan.vpce_id('iso', 'ec2-if')}"


def test_another_regions_ec2_api_has_none_of_the_labs_vpcs_but_its_own_prefix_lists(lab):
    assert ec2(lab, "app1", "describe-vpcs", "--region", "us-east-1") == {"Vpcs": []}
    lists = ec2(lab, "app1", "describe-prefix-lists", "--region", "us-east-1")["PrefixLists"]
    assert {p["PrefixListName"] for p in lists} == {"com.amazonaws.us-east-1.s3", "com.amazonaws.us-east-1.dynamodb"}
    status, out = aws(lab, "app1", "ec2", "describe-vpcs", "--region", "us-east-1", "--vpc-ids", lab.plan.vpc_id("web"))
    assert status != 0 and "(InvalidVpcID.NotFound)" in out, out


def test_security_groups_and_acls_by_filter_through_the_endpoint(lab):
    (group,) = ec2(lab, "iso1", "describe-security-groups", "--filters", "Name=vpc-id,Values=" + lab.plan.vpc_id("iso"))[
        "SecurityGroups"
    ]
    assert (group["GroupName"], group["GroupId"]) == ("default", names.security_group_id("iso", names.DEFAULT_SECURITY_GROUP))
    acls = ec2(lab, "iso1", "describe-network-acls", "--filters", "Name=default,Values=true")["NetworkAcls"]
    assert {a["VpcId"] for a in acls} == {lab.plan.vpc_id("web"), lab.plan.vpc_id("iso")}


def test_the_endpoint_policy_allows_only_describe_calls(lab):
    rtb = lab.plan.route_table("iso", "isolated").aws_id
    status, out = aws(
        lab,
        "iso1",
        "ec2",
        "create-route",
        "--route-table-id",
        rtb,
        "--destination-cidr-block",
        "0.0.0.0/0",
        "--gateway-id",
        "igw-0123456789abcdef0",
    )
    assert status != 0 and "(UnauthorizedOperation)" in out, out
    status, out = aws(
        lab,
        "app1",
        "ec2",
        "create-route",
        "--route-table-id",
        rtb,
        "--destination-cidr-block",
        "0.0.0.0/0",
        "--gateway-id",
        "igw-0123456789abcdef0",
    )
    assert status != 0 and "(UnauthorizedOperation)" not in out, out  # no endpoint on app1's way: the controller answers


@pytest.mark.parametrize("node", ["app1", "iso1"])
def test_a_signature_ec2_cannot_verify_is_auth_failure(lab, node):
    status, out = aws(lab, node, "ec2", "describe-vpcs", env="AWS_SECRET_ACCESS_KEY=not-the-lab-secret")
    assert status != 0
    expected = "An error occurred (AuthFailure) when calling the DescribeVpcs operation: "
    assert expected + "AWS was not able to validate the provided access credentials" in out


def test_the_fronts_own_ports_are_closed_to_a_client(lab):
    """Only 80 and 443, redirected by the network, reach the EC2 front: a client that dials an
    ingress's local port (to pass as the endpoint, say) is reset, and nothing reaches the controller."""
    front = lab.plan.service_front("ec2", REGION)
    before = len(logged(lab))
    for ingress in front.ingresses:
        for port in (ingress.http_port, ingress.https_port):
            out = lab.node("app1").cmd(f"curl -sS -m 5 -o /dev/null https://ec2.{REGION}.amazonaws.com:{port}/; echo exit=$?")
            assert out.strip().endswith("exit=7"), (port, out)  # connection refused: a reset
    assert logged(lab)[before:] == []
