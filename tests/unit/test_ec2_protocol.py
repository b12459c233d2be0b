"""EC2's Query protocol both ways, checked against botocore itself: whatever botocore's EC2
serializer writes for an operation's input, lab.services.ec2_query reads back exactly; whatever
lab.services.ec2_xml writes for an output, botocore's EC2 parser reads back exactly. Inputs and
outputs are drawn from botocore's own EC2 model (hypothesis), plus the calls the book uses, and
EC2's errors for input it refuses.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.services.catalog import ApiError
from lab.services.ec2_query import API_VERSION, model, parse
from lab.services.ec2_xml import XMLNS, error, response

TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_./:*&<>'\"=+%éㄱ", max_size=12)
OPERATIONS = sorted(model().operation_names)


def wire(operation: str, params: dict) -> list[tuple[str, str]]:
    """What botocore sends for `params`, read back as the front reads a form body."""
    body = create_serializer("ec2", include_validation=False).serialize_to_request(params, model().operation_model(operation))[
        "body"
    ]
    pairs = parse_qsl(urlencode(body), keep_blank_values=True)
    assert pairs[:2] == [("Action", operation), ("Version", API_VERSION)]
    return pairs[2:]


def values(shape, depth: int = 0):
    """Any value of `shape` that botocore sends as it is (no empty list or structure: EC2 drops them)."""
    kind = shape.type_name
    if kind == "structure":
        names = [n for n, m in shape.members.items() if depth < 3 or m.type_name not in ("structure", "list", "map")]
        if not names:
            return st.nothing()
        required = [n for n in shape.required_members if n in names]
        return st.fixed_dictionaries(
            {n: values(shape.members[n], depth + 1) for n in required},
            optional={n: values(shape.members[n], depth + 1) for n in names if n not in required},
        ).filter(bool)
    if kind == "list":
        return st.lists(values(shape.member, depth + 1), min_size=1, max_size=2)
    if kind == "map":
        return st.dictionaries(TEXT.filter(bool), values(shape.value, depth + 1), min_size=1, max_size=2)
    if kind in ("integer", "long"):
        return st.integers(-(2**31), 2**31 - 1)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)).map(
            lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC)
        )
    if kind == "blob":
        return st.binary(max_size=8)
    return TEXT


@st.composite
def calls(draw, side: str):
    operation = draw(st.sampled_from(OPERATIONS))
    shape = getattr(model().operation_model(operation), f"{side}_shape")
    if shape is None or not shape.members:
        return operation, {}
    return operation, draw(values(shape) | st.just({}) if not shape.required_members else values(shape))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(calls("input"))
def test_every_input_botocore_sends_is_read_back_exactly(call):
    operation, params = call
    assert parse(operation, wire(operation, params)) == params


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(calls("output"))
def test_every_output_is_read_back_by_botocore_exactly(call):
    operation, output = call
    parsed = read_answer(operation, response(operation, output, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE"))
    assert parsed.pop("ResponseMetadata")["RequestId"] == "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE"
    assert parsed == output


def read_answer(operation: str, body: bytes, status: int = 200) -> dict:
    shape = model().operation_model(operation).output_shape
    return create_parser("ec2").parse({"body": body, "headers": {}, "status_code": status}, shape)


# -- the calls of the book, as the AWS CLI sends them ------------------------------------------------


BOOK = [
    ("DescribeVpcs", {"Filters": [{"Name": "tag:Name", "Values": ["app"]}]}),
    ("DescribeRouteTables", {"RouteTableIds": ["rtb-0123456789abcdef0", "rtb-0fedcba9876543210"]}),
    ("DescribeVpcEndpoints", {"Filters": [{"Name": "vpc-endpoint-type", "Values": ["Gateway", "Interface"]}], "MaxResults": 5}),
    (
        "CreateVpcEndpoint",
        {
            "VpcId": "vpc-0123456789abcdef0",
            "ServiceName": "com.amazonaws.ap-northeast-2.s3",
            "VpcEndpointType": "Gateway",
            "RouteTableIds": ["rtb-0123456789abcdef0"],
            "PolicyDocument": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*"}]}',
            "DryRun": False,
        },
    ),
    (
        "AuthorizeSecurityGroupIngress",
        {
            "GroupId": "sg-0123456789abcdef0",
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "VPC"}],
                }
            ],
        },
    ),
    (
        "CreateNetworkAclEntry",
        {
            "NetworkAclId": "acl-0123456789abcdef0",
            "RuleNumber": 100,
            "Protocol": "6",
            "RuleAction": "allow",
            "Egress": True,
            "CidrBlock": "0.0.0.0/0",
            "PortRange": {"From": 443, "To": 443},
        },
    ),
]


@pytest.mark.parametrize(("operation", "params"), BOOK, ids=[b[0] for b in BOOK])
def test_the_books_calls_read_back(operation, params):
    pairs = wire(operation, params)
    assert parse(operation, pairs) == params


def test_the_wire_form_is_ec2s():
    pairs = dict(wire(*BOOK[0]))
    assert pairs == {"Filter.1.Name": "tag:Name", "Filter.1.Value.1": "app"}
    assert ("RouteTableId.2", "rtb-0fedcba9876543210") in wire(*BOOK[1])


def test_list_elements_are_taken_in_index_order_not_wire_order():
    pairs = [("RouteTableId.2", "rtb-b"), ("RouteTableId.1", "rtb-a"), ("RouteTableId.10", "rtb-c")]
    assert parse("DescribeRouteTables", pairs) == {"RouteTableIds": ["rtb-a", "rtb-b", "rtb-c"]}


@pytest.mark.parametrize(
    ("operation", "pairs", "code", "words"),
    [
        ("DescribeVpcs", [("Vpcs.1", "vpc-1")], "UnknownParameter", "Vpcs.1"),
        ("DescribeVpcs", [("Filter.1.Nmae", "x")], "UnknownParameter", "Filter.1.Nmae"),
        ("DescribeVpcs", [("VpcId", "vpc-1")], "InvalidParameterValue", "VpcId.1"),
        ("DescribeVpcs", [("VpcId.x", "vpc-1")], "UnknownParameter", "VpcId.x"),
        ("DescribeVpcs", [("VpcId.0", "vpc-1")], "UnknownParameter", "VpcId.0"),
        ("DescribeVpcs", [("MaxResults", "five")], "InvalidParameterValue", "MaxResults"),
        ("DescribeVpcs", [("DryRun", "yes")], "InvalidParameterValue", "DryRun"),
        ("DescribeVpcs", [("VpcId.1", "a"), ("VpcId.1", "b")], "InvalidParameterValue", "more than once"),
        ("DescribeVpcs", [("VpcId..1", "a")], "UnknownParameter", "VpcId..1"),
        ("DescribeVpcs", [("Filter.1", "x")], "InvalidParameterValue", "Filter.1"),
        ("DescribeVpcs", [("Filter.1.Name.1", "x")], "UnknownParameter", "Filter.1.Name.1"),
        ("CreateVpcEndpoint", [("ServiceName", "com.amazonaws.ap-northeast-2.s3")], "MissingParameter", "VpcId"),
        (
            "CreateNetworkAclEntry",
            [("NetworkAclId", "acl-1"), ("RuleNumber", "1"), ("Protocol", "6"), ("RuleAction", "allow")],
            "MissingParameter",
            "Egress",
        ),
    ],
)
def test_input_ec2_refuses(operation, pairs, code, words):
    with pytest.raises(ApiError) as caught:
        parse(operation, pairs)
    assert caught.value.code == code and words in caught.value.message


def test_errors_are_ec2s_document_and_botocore_reads_them():
    body = error("InvalidVpcID.NotFound", "The vpc ID 'vpc-1' does not exist", "req-1")
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>')
    parsed = read_answer("DescribeVpcs", body, 400)
    assert parsed["Error"] == {"Code": "InvalidVpcID.NotFound", "Message": "The vpc ID 'vpc-1' does not exist"}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


def test_answers_carry_ec2s_namespace_item_lists_and_location_names():
    body = response(
        "DescribeVpcs", {"Vpcs": [{"VpcId": "vpc-1", "IsDefault": False, "Tags": [{"Key": "Name", "Value": "a&b"}]}]}, "r"
    ).decode()
    assert f'<DescribeVpcsResponse xmlns="{XMLNS}"><requestId>r</requestId><vpcSet><item>' in body
    assert (
        "<isDefault>false</isDefault>" in body and "<tagSet><item><key>Name</key><value>a&amp;b</value></item></tagSet>" in body
    )
