"""Property tests (hypothesis): whatever a topology or a policy says, vpclab answers with its own clean
error or a result, never another exception (a traceback is a defect, DESIGN.md section 7).

Topologies are generated three ways: any YAML text, any structure under the topology's own keys,
and the shipped topologies with one part replaced by anything. Those that load are planned too.
Policies: any JSON text, any structure under the policy grammar's keys; those that parse are
evaluated against a request.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from lab.errors import LabError
from lab.model.loader import VPC_KEYS, load_topology
from lab.model.policy import OPERATORS, STATEMENT_KEYS, MalformedPolicy, Request, Scope, decide, parse_policy
from lab.model.policy_text import PolicyTextError, read_policy
from lab.plan.compile import compile_plan

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [YAML(typ="safe").load(p.read_text()) for p in sorted((REPO / "topologies").glob("*.yaml"))]
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.sampled_from(
    (
        "vpcs",
        "services",
        "region",
        "s3",
        "dynamodb",
        "buckets",
        "tables",
        "objects",
        "policy",
        "type",
        "service",
        "az",
        "subnet",
        "target",
        "destination",
        "rule",
        "port",
        "ports",
        "protocol",
        "action",
        "peer_vpc",
        "private_ip",
        "<<",
        "app",
        "a",
    )
    + VPC_KEYS
)
ODD_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.sampled_from(
        [
            "10.0.0.0/16",
            "10.0.1.0/24",
            "0.0.0.0/0",
            "10.0.0.1/16",
            "pl:s3",
            "pl-78a54011",
            "igw",
            "a",
            "ap-northeast-2",
            "gateway",
            "interface",
            "s3",
            "dynamodb",
            "tcp",
            "allow",
            "1024-65535",
            "",
            " ",
            "NaN",
            ".inf",
            "~",
            "0x10",
            "1_000",
            "\x00",
            "\n",
            "é",
            "a" * 300,
        ]
    ),
    st.text(max_size=12),
)


def structures(leaves=ODD_SCALARS):
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.one_of(KEYS, st.text(max_size=6)), inner, max_size=5)
        ),
        max_leaves=40,
    )


def only_clean_errors(text: str) -> None:
    """Load and plan `text`; anything but a LabError (TopologyError, PlanError) fails the test."""
    try:
        compile_plan(load_topology(str(REPO / "topologies" / "generated.yaml"), text))
    except LabError:
        pass


@SETTINGS
@given(st.text(alphabet=" \n\t:-[]{},#&*!|>'\"%@`?aZ09./", max_size=200))
def test_any_yaml_text(text):
    only_clean_errors(text)


@SETTINGS
@given(structures())
def test_any_structure(data):
    only_clean_errors(json.dumps(data, allow_nan=True))


@st.composite
def mutated_topology(draw):
    """A shipped topology with the value at one place (found by walking it) replaced by anything."""
    data = json.loads(json.dumps(draw(st.sampled_from(SHIPPED))))
    node = data
    for _ in range(draw(st.integers(min_value=0, max_value=7))):
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if not children or not isinstance(node, (dict, list)):
            break
        key, child = draw(st.sampled_from(children))
        if not isinstance(child, (dict, list)) or draw(st.booleans()):
            node[key] = draw(structures())
            return data
        node = child
    return data


@SETTINGS
@given(mutated_topology())
def test_a_shipped_topology_with_one_part_replaced(data):
    only_clean_errors(json.dumps(data, allow_nan=True))


@pytest.mark.parametrize("depth", [31, 32, 33, 3000])
@pytest.mark.parametrize("opener", ["[", "{a: ", "- "])
def test_any_nesting_depth(depth, opener):
    """Flow lists, flow mappings and block lists nested around the limit and far past it."""
    closer = {"[": "]", "{a: ": "}", "- ": ""}[opener]
    if closer:
        only_clean_errors(f"vpcs:\n  app: {{cidr: 10.0.0.0/16, description: {opener * depth}x{closer * depth}}}\n")
    else:
        only_clean_errors("vpcs:\n" + "".join(f"{'  ' * i}- \n" for i in range(depth)))


POLICY_KEYS = st.sampled_from(
    (
        "Version",
        "Id",
        "Statement",
        "AWS",
        "aws:SourceVpce",
        "aws:SourceIp",
        "s3:prefix",
        "ForAnyValue:StringLike",
        "ForAllValues:StringEquals",
        "StringLikeIfExists",
        "Null",
    )
    + STATEMENT_KEYS
    + tuple(OPERATORS)
)
POLICY_SCALARS = st.one_of(
    ODD_SCALARS,
    st.sampled_from(
        [
            "Allow",
            "Deny",
            "*",
            "s3:*",
            "s3:Get*",
            "arn:aws:s3:::b/*",
            "arn:aws:s3:::*:*",
            "2012-10-17",
            "true",
            "10.0.0.0/8",
            "vpce-1a2b3c4d",
            "arn:aws:iam::111122223333:root",
            "111122223333",
        ]
    ),
)


@st.composite
def policy_documents(draw):
    statement = st.dictionaries(st.sampled_from(STATEMENT_KEYS), structures(POLICY_SCALARS), max_size=6)
    document = draw(st.dictionaries(POLICY_KEYS, structures(POLICY_SCALARS), max_size=3))
    if draw(st.booleans()):
        document["Statement"] = draw(st.lists(statement, max_size=3))
    return document


@settings(max_examples=200, deadline=None)
@given(policy_documents(), st.sampled_from([None, "arn:aws:iam::111122223333:root"]))
def test_any_policy_document_parses_cleanly_and_evaluates(document, principal):
    try:
        policy = parse_policy(document, "policy")
    except MalformedPolicy:
        return
    request = Request(
        principal, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:sourcevpce": "vpce-1a2b3c4d", "aws:sourceip": "10.0.0.5"}
    )
    decide(request, Scope("endpoint policy", policy), Scope("bucket policy", policy))


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.text(alphabet='{}[]:,"\\ \nNaIfuetrl0123456789.eE+-', max_size=120),
        policy_documents().map(lambda d: json.dumps(d, allow_nan=True)),
    )
)
def test_any_policy_text(text):
    try:
        parse_policy(read_policy(text, "bucket"), "policy")
    except (PolicyTextError, MalformedPolicy):
        pass
