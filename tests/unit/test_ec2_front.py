"""The EC2 front (lab.services.ec2_front) over real boto3 clients, in process: botocore builds and
signs each request as for AWS (tests/api_clients.py), the front reads it, checks its signature and
the endpoint's policy, and asks the lab's controller (lab.realize.controller, over a lab double
holding a shipped topology's plan) over the control socket."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, assume, given, settings
from test_ec2_protocol import calls

from api_clients import client
from lab.model.ids import ACCOUNT_ID
from lab.model.loader import load_topology
from lab.model.policy import parse_policy
from lab.plan.compile import compile_plan
from lab.realize.controller import Controller
from lab.services.access import RequestLog
from lab.services.config import Ingress
from lab.services.control import SOCKET_NAME
from lab.services.ec2_front import BY_GROUP_NAME, Ec2Front, jsonable
from lab.services.ec2_query import model
from lab.services.process import JsonLines
from signing import call, signed_environ

REPO = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"
VPCE, VPC = "vpce-0a1b2c3d4e5f60718", "vpc-0a1b2c3d4e5f60718"
INTERNET = Ingress("internet", 1, 2)
URL = f"https://ec2.{REGION}.amazonaws.com/"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


class HeldLab:
    """What the controller needs of a lab to answer: its plan and run directory (no kernel here)."""

    def __init__(self, plan, run_dir: Path):
        self.plan, self.run_dir = plan, run_dir

    def apply(self, plan):  # a change the controller makes is taken as made (no kernel here)
        self.plan = plan


class Recording(Controller):
    """The lab's controller, recording each request the front sends it."""

    def __init__(self, lab, topology):
        super().__init__(lab, topology)
        self.asked: list[dict] = []

    def answer(self, request: dict) -> dict:
        self.asked.append(request)
        return super().answer(request)


@pytest.fixture
def controller(tmp_path):
    topology = load_topology(REPO / "topologies" / "gateway-endpoint.yaml")
    with Recording(HeldLab(compile_plan(topology), tmp_path), topology) as live:
        yield live


def front(tmp_path, ingress: Ingress = INTERNET, region: str = REGION):
    return RequestLog(Ec2Front(tmp_path / SOCKET_NAME, ingress, region), "ec2", ingress, JsonLines(tmp_path / "requests.jsonl"))


def ec2(tmp_path, ingress: Ingress = INTERNET, **credentials):
    return client(front(tmp_path, ingress), "ec2", REGION, credentials or None)


def endpoint(*statements: dict) -> Ingress:
    document = {"Version": "2012-10-17", "Statement": [{"Principal": "*", "Resource": "*", **s} for s in statements]}
    return Ingress(VPCE, 3, 4, VPC, parse_policy(document, "endpoint policy"))


def error_of(caught) -> tuple[str, int]:
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_describe_vpcs_by_name_tag_through_the_controller(tmp_path, controller):
    found = ec2(tmp_path).describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["app"]}])["Vpcs"]
    assert [v["VpcId"] for v in found] == [controller.plan.vpc_id("app")]
    (asked,) = controller.asked
    assert asked == {
        "action": "DescribeVpcs",
        "params": {"Filters": [{"Name": "tag:Name", "Values": ["app"]}]},
        "region": REGION,
        "account": ACCOUNT_ID,
        "source": {"ip": "203.0.113.9", "vpce": None},
    }
    logged = json.loads((tmp_path / "requests.jsonl").read_text())
    assert (logged["service"], logged["status"], logged["action"], logged["decision"]) == (
        "ec2",
        200,
        "ec2:DescribeVpcs",
        "allow",
    )


def test_route_tables_and_endpoints_read_back_by_boto3(tmp_path, controller):
    plan = controller.plan
    tables = ec2(tmp_path).describe_route_tables(RouteTableIds=[plan.route_table("app", "private").aws_id])["RouteTables"]
    assert {r.get("GatewayId") for r in tables[0]["Routes"]} >= {"local", plan.vpce_id("app", "s3-gw")}
    endpoints = ec2(tmp_path).describe_vpc_endpoints()["VpcEndpoints"]
    assert {e["VpcEndpointId"] for e in endpoints} == {plan.vpce_id("app", "s3-gw"), plan.vpce_id("app", "ddb-gw")}


def test_the_controllers_errors_are_ec2s(tmp_path, controller):
    with pytest.raises(ClientError) as caught:
        ec2(tmp_path).describe_route_tables(RouteTableIds=["rtb-0123456789abcdef0"])
    assert error_of(caught) == ("InvalidRouteTableID.NotFound", 400)
    assert "rtb-0123456789abcdef0" in caught.value.response["Error"]["Message"]


def test_no_controller_is_unavailable_and_says_so(tmp_path):
    with pytest.raises(ClientError) as caught:
        client_without_retries(tmp_path).describe_vpcs()
    assert error_of(caught) == ("Unavailable", 503)
    assert "controller" in caught.value.response["Error"]["Message"]


def client_without_retries(tmp_path):
    made = ec2(tmp_path)
    made.meta.events.unregister("needs-retry.ec2", unique_id="retry-config-ec2")
    return made


@pytest.mark.parametrize(
    "credentials",
    [
        {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "not-the-lab-secret"},
        {"aws_access_key_id": "AKIAI44QH8DHBEXAMPLE", "aws_secret_access_key": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"},
    ],
    ids=["wrong-secret", "unknown-key"],
)
def test_a_signature_ec2_cannot_verify_is_auth_failure(tmp_path, controller, credentials):
    with pytest.raises(ClientError) as caught:
        ec2(tmp_path, **credentials).describe_vpcs()
    assert error_of(caught) == ("AuthFailure", 401)
    assert caught.value.response["Error"]["Message"] == "AWS was not able to validate the provided access credentials"
    assert controller.asked == []


def raw(tmp_path, body: bytes, how: str | None = "header", ingress: Ingress = INTERNET, url: str = URL):
    env = signed_environ("POST", url, body, FORM, service="ec2", how=how)
    return call(front(tmp_path, ingress), env)


@pytest.mark.parametrize(
    ("body", "how", "code", "status"),
    [
        (b"Action=DescribeVpcs&Version=2016-11-15", None, "MissingParameter", 400),
        (b"Action=DescribeVpcz&Version=2016-11-15", "header", "InvalidAction", 400),
        (b"Version=2016-11-15", "header", "MissingAction", 400),
        (b"Action=DescribeVpcs&Version=2016-11-15&Vpcs.1=vpc-1", "header", "UnknownParameter", 400),
        (b"Action=DescribeVpcs&Version=2016-11-15&VpcId.1=a&VpcId.1=b", "header", "InvalidParameterValue", 400),
        (b"Action=DescribeVpcs&Version=2014-01-01", "header", "InvalidParameterValue", 400),
        (
            b"Action=CreateVpcEndpoint&Version=2016-11-15&ServiceName=com.amazonaws.ap-northeast-2.s3",
            "header",
            "MissingParameter",
            400,
        ),
        (b"Action=DescribeVpcs&Version=2016-11-15&DryRun=true", "header", "DryRunOperation", 412),
        (b"Action=DescribeVpcs&Version=2016-11-15&action=CreateRoute", "header", "UnknownParameter", 400),
        (b"Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupName=web", "header", "VPCIdNotSpecified", 400),
    ],
)
def test_requests_ec2_refuses_in_its_own_words(tmp_path, controller, body, how, code, status):
    answer = raw(tmp_path, body, how)
    assert answer.status_code == status
    text = answer.get_data(as_text=True)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>') and f"<Code>{code}</Code>" in text
    assert controller.asked == []


def test_a_call_the_controller_does_not_emulate_is_its_answer(tmp_path, controller):
    answer = raw(tmp_path, b"Action=DescribeImages&Version=2016-11-15")
    assert answer.status_code == 400 and "<Code>UnsupportedOperation</Code>" in answer.get_data(as_text=True)


def test_an_endpoint_policy_decides_ec2_calls(tmp_path, controller):
    allowed = endpoint({"Effect": "Allow", "Action": "ec2:Describe*"})
    assert ec2(tmp_path, allowed).describe_vpcs()["Vpcs"]
    assert controller.asked[-1]["source"] == {"ip": "203.0.113.9", "vpce": VPCE}
    with pytest.raises(ClientError) as caught:
        ec2(tmp_path, allowed).create_route(
            RouteTableId="rtb-0123456789abcdef0", DestinationCidrBlock="0.0.0.0/0", GatewayId="igw-1"
        )
    assert error_of(caught) == ("UnauthorizedOperation", 403)
    denied = endpoint({"Effect": "Allow", "Action": "*"}, {"Effect": "Deny", "Action": "ec2:DescribeRouteTables"})
    with pytest.raises(ClientError) as caught:
        ec2(tmp_path, denied).describe_route_tables()
    assert error_of(caught) == ("UnauthorizedOperation", 403)
    assert [a["action"] for a in controller.asked] == ["DescribeVpcs"]


def test_a_policy_on_one_route_table_arn(tmp_path, controller):
    rtb = controller.plan.route_table("app", "private").aws_id
    arn = f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:route-table/{rtb}"
    policy = endpoint({"Effect": "Allow", "Action": "ec2:CreateRoute", "Resource": arn})
    with pytest.raises(ClientError) as caught:  # allowed by the policy: the controller answers
        ec2(tmp_path, policy).create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId="igw-1")
    assert error_of(caught)[0] != "UnauthorizedOperation" and controller.asked[-1]["action"] == "CreateRoute"
    with pytest.raises(ClientError) as caught:
        ec2(tmp_path, policy).create_route(
            RouteTableId="rtb-0fedcba9876543210", DestinationCidrBlock="0.0.0.0/0", GatewayId="igw-1"
        )
    assert error_of(caught) == ("UnauthorizedOperation", 403)


def test_parameters_in_the_query_and_the_body_are_refused(tmp_path, controller):
    """One place for the parameters: the query's Action must not name another call than the body's."""
    answer = raw(tmp_path, b"Action=DescribeVpcs&Version=2016-11-15", url=URL + "?Action=CreateRoute&RouteTableId=rtb-1")
    assert answer.status_code == 400 and "<Code>MalformedQueryString</Code>" in answer.get_data(as_text=True)
    assert controller.asked == []


def test_a_signature_for_another_service_or_region_is_auth_failure(tmp_path, controller):
    for signing in ({"service": "s3"}, {"region": "us-east-1"}):
        env = signed_environ("POST", URL, b"Action=DescribeVpcs&Version=2016-11-15", FORM, **{"service": "ec2", **signing})
        answer = call(front(tmp_path), env)
        assert answer.status_code == 401 and "<Code>AuthFailure</Code>" in answer.get_data(as_text=True), signing
    assert controller.asked == []


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
@given(calls("input"))
def test_the_controller_gets_exactly_the_call_the_client_signed(tmp_path, controller, call_):
    """Whatever botocore sends for any EC2 operation, the front hands the controller that call:
    the operation and its input as botocore's model shapes it (timestamps and blobs in their wire
    forms), nothing more and nothing less."""
    operation, params = call_
    assume(params.get("DryRun") is not True and not (operation in BY_GROUP_NAME and "GroupName" in params))
    body = create_serializer("ec2", include_validation=False).serialize_to_request(params, model().operation_model(operation))[
        "body"
    ]
    before = len(controller.asked)
    call(front(tmp_path), signed_environ("POST", URL, urlencode(body).encode(), FORM, service="ec2"))
    assert controller.asked[before:] and controller.asked[-1]["action"] == operation
    assert controller.asked[-1]["params"] == jsonable(params)
