"""DynamoDB calls through an endpoint are checked against its endpoint policy: the action comes from
X-Amz-Target, the table from the JSON body, which moto must still be able to read afterwards.
Errors as DynamoDB answers them: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
"""

from __future__ import annotations

import json

import pytest

from fronts import DDB_HOST, dynamodb_fronts, stored_items
from lab.model.policy import parse_policy
from lab.services.dynamodb_front import DynamoDbError, partiql
from signing import call, environ, signed_environ

INSIDE = ("10.0.2.4", 40000)


def request(target: str, body: dict, signed: bool = True) -> dict:
    url, data = f"https://{DDB_HOST}/", json.dumps(body).encode()
    headers = {"X-Amz-Target": f"DynamoDB_20120810.{target}", "Content-Type": "application/x-amz-json-1.0"}
    if signed:
        return signed_environ("POST", url, data, headers, service="dynamodb", client=INSIDE)
    return environ("POST", url, data, headers, client=INSIDE)


def answer(app, env: dict) -> tuple[int, dict]:
    response = call(app, env)
    return response.status_code, json.loads(response.data)


ORDER = {"TableName": "orders", "Item": {"id": {"S": "o-1"}, "total": {"N": "42"}}}


def test_an_allowed_call_reaches_moto_with_its_body_intact(tmp_path):
    fronts = dynamodb_fronts(tmp_path)
    assert answer(fronts.internet, request("PutItem", ORDER))[0] == 200
    status, got = answer(fronts.endpoint, request("GetItem", {"TableName": "orders", "Key": {"id": {"S": "o-1"}}}))
    assert (status, got) == (200, {"Item": ORDER["Item"]})  # moto read the key from the body the front had read
    assert [(r["ingress"], r["action"], r["decision"]) for r in fronts.logged()][-1] == (
        fronts.endpoint.ingress.name,
        "dynamodb:GetItem",
        "allow",
    )


def test_a_call_the_endpoint_policy_does_not_allow_is_denied_as_dynamodb_denies_it(tmp_path):
    fronts = dynamodb_fronts(tmp_path)
    status, error = answer(fronts.endpoint, request("PutItem", ORDER))
    assert status == 400 and error["__type"] == "com.amazon.coral.service#AccessDeniedException"
    assert error["Message"].endswith(
        "on resource: arn:aws:dynamodb:ap-northeast-2:111122223333:table/orders "
        "because no VPC endpoint policy allows the dynamodb:PutItem action"
    )
    assert stored_items("orders") == []  # moto never saw it


def test_another_table_is_denied_and_unsigned_calls_are_refused_as_dynamodb_refuses_them(tmp_path):
    fronts = dynamodb_fronts(tmp_path)
    status, error = answer(fronts.endpoint, request("GetItem", {"TableName": "invoices", "Key": {"id": {"S": "1"}}}))
    assert (status, error["__type"]) == (400, "com.amazon.coral.service#AccessDeniedException")
    for app in (fronts.internet, fronts.endpoint):
        status, error = answer(app, request("PutItem", ORDER, signed=False))
        assert (status, error["__type"]) == (400, "com.amazon.coral.service#MissingAuthenticationTokenException")
    assert stored_items("orders") == []


@pytest.mark.parametrize(
    "statement, expected",
    [
        ("SELECT * FROM orders WHERE id = '1'", ("dynamodb:PartiQLSelect", "orders")),
        ('select "x FROM other", note from "orders"', ("dynamodb:PartiQLSelect", "orders")),
        ("UPDATE \"orders\" SET note = 'x FROM other' WHERE id = '1'", ("dynamodb:PartiQLUpdate", "orders")),
        (" update orders set a = 1", ("dynamodb:PartiQLUpdate", "orders")),
        ("INSERT INTO \"or\"\"ders\" VALUE {'id': 'INTO other'}", ("dynamodb:PartiQLInsert", 'or"ders')),
        ("DELETE FROM orders WHERE id = 'FROM other'", ("dynamodb:PartiQLDelete", "orders")),
        ("SELECT * -- FROM other\n FROM orders", ("dynamodb:PartiQLSelect", "orders")),
        ('SELECT * /* FROM other */ FROM "orders"."by-date"', ("dynamodb:PartiQLSelect", "orders")),
    ],
)
def test_a_partiql_statement_names_the_table_after_its_own_keyword(statement, expected):
    """Not a FROM inside a string, a quoted name or a comment: the table DynamoDB will act on."""
    assert partiql(statement) == expected


@pytest.mark.parametrize(
    "statement",
    [
        "EXISTS(SELECT * FROM orders)",
        "SELECT *",
        "DELETE orders",
        "UPDATE",
        "INSERT x INTO orders",
        "SELECT * FROM (orders)",
        "",
        42,
        "SELECT * FROM orders " + " " * 8192,
        "SELECT " + "/* " * 2700,
    ],
)
def test_a_statement_without_a_table_is_a_validation_error(statement):
    with pytest.raises(DynamoDbError) as refused:
        partiql(statement)
    assert refused.value.kind == "ValidationException"


def test_a_partiql_update_of_a_table_the_endpoint_policy_denies_is_denied(tmp_path):
    """The issue's shape: a string holding 'FROM other' once made the front check table other, and
    moto updated orders."""
    other_only = parse_policy(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "dynamodb:PartiQL*",
                    "Resource": "arn:aws:dynamodb:ap-northeast-2:111122223333:table/other",
                }
            ]
        },
        "t",
    )
    fronts = dynamodb_fronts(tmp_path, endpoint_policy=other_only)
    answer(fronts.internet, request("PutItem", ORDER))
    status, error = answer(
        fronts.endpoint,
        request("ExecuteStatement", {"Statement": "UPDATE \"orders\" SET note = 'x FROM other' WHERE id = 'o-1'"}),
    )
    assert (status, error["__type"]) == (400, "com.amazon.coral.service#AccessDeniedException")
    assert stored_items("orders") == [ORDER["Item"]]


def test_aws_requested_region_is_the_fronts(tmp_path):
    """An endpoint policy kept to its own region (aws:RequestedRegion) allows calls to it."""
    here = parse_policy(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "dynamodb:*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:RequestedRegion": "ap-northeast-2"}},
                }
            ]
        },
        "t",
    )
    fronts = dynamodb_fronts(tmp_path, endpoint_policy=here)
    assert answer(fronts.endpoint, request("PutItem", ORDER))[0] == 200
    assert stored_items("orders") == [ORDER["Item"]]
