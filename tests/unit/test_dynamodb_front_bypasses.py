"""Bypass attempts against the DynamoDB front, over the real moto app with table orders and ddb-gw's
read-only endpoint policy (topologies/gateway-endpoint-policies.yaml, policies/orders-read-only.json:
GetItem, Query, Scan, DescribeTable on orders). Each asserts DynamoDB's error and reads moto's table.

X-Amz-Target is matched exactly (`DynamoDB_20120810.<Operation>`; anything else is
UnknownOperationException); batch, transaction and PartiQL calls need the per-item action on every
table they name: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/api-permissions-reference.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html.
"""

from __future__ import annotations

import gzip
import json

import pytest

from dynamodb_calls import INSIDE, kind, send
from fronts import DDB_HOST, dynamodb_fronts, stored_items
from lab.model.policy import parse_policy
from signing import call, signed_environ

ITEM = {"id": {"S": "o-1"}, "total": {"N": "42"}}
NEW = {"id": {"S": "o-2"}}


@pytest.fixture
def ddb(tmp_path):
    fronts = dynamodb_fronts(tmp_path)
    assert send(fronts.internet, "PutItem", {"TableName": "orders", "Item": ITEM})[0] == 200
    return fronts


@pytest.mark.parametrize(
    "prefix, operation",
    [
        ("dynamodb_20120810.", "PutItem"),
        ("DYNAMODB_20120810.", "PutItem"),
        ("DynamoDB_20120810.", "putitem"),
        ("DynamoDB_20111205.", "PutItem"),
        ("DynamoDBStreams_20120810.", "PutItem"),
        ("", "PutItem"),
        ("x.DynamoDB_20120810.", "PutItem"),
        ("DynamoDB_20120810.", "PutItem.GetItem"),
        ("DynamoDB_20120810.", ""),
    ],
)
def test_a_target_dynamodb_does_not_know_is_unknown_operation(ddb, prefix, operation):
    for app in (ddb.endpoint, ddb.internet):
        answer = send(app, operation, {"TableName": "orders", "Item": NEW}, prefix=prefix)
        assert kind(answer) == (400, "UnknownOperationException")
    assert stored_items("orders") == [ITEM]


WRITES = [
    ("PutItem", {"TableName": "orders", "Item": NEW}),
    (
        "UpdateItem",
        {
            "TableName": "orders",
            "Key": {"id": {"S": "o-1"}},
            "UpdateExpression": "SET total = :z",
            "ExpressionAttributeValues": {":z": {"N": "0"}},
        },
    ),
    ("DeleteItem", {"TableName": "orders", "Key": {"id": {"S": "o-1"}}}),
    (
        "BatchWriteItem",
        {"RequestItems": {"orders": [{"PutRequest": {"Item": NEW}}, {"DeleteRequest": {"Key": {"id": {"S": "o-1"}}}}]}},
    ),
    ("TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "orders", "Item": NEW}}]}),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {
                    "ConditionCheck": {
                        "TableName": "orders",
                        "Key": {"id": {"S": "o-1"}},
                        "ConditionExpression": "attribute_exists(id)",
                    }
                },
                {"Delete": {"TableName": "orders", "Key": {"id": {"S": "o-1"}}}},
            ]
        },
    ),
    ("ExecuteStatement", {"Statement": "INSERT INTO orders VALUE {'id': 'o-2'}"}),
    ("ExecuteStatement", {"Statement": "UPDATE \"orders\" SET total = 0 WHERE id = 'o-1'"}),
    ("ExecuteStatement", {"Statement": "DELETE FROM orders WHERE id = 'o-1'"}),
    ("ExecuteStatement", {"Statement": "select * from orders"}),  # PartiQLSelect is not GetItem
    (
        "BatchExecuteStatement",
        {
            "Statements": [
                {"Statement": "SELECT * FROM orders WHERE id = 'o-1'"},
                {"Statement": "DELETE FROM orders WHERE id = 'o-1'"},
            ]
        },
    ),
    ("ExecuteTransaction", {"TransactStatements": [{"Statement": "INSERT INTO \"orders\" VALUE {'id': 'o-2'}"}]}),
    ("BatchGetItem", {"RequestItems": {"orders": {"Keys": [{"id": {"S": "o-1"}}]}}}),  # not in the policy
    (
        "Query",
        {
            "TableName": "orders",
            "IndexName": "by-total",
            "KeyConditionExpression": "total = :t",
            "ExpressionAttributeValues": {":t": {"N": "42"}},
        },
    ),  # an index is a resource of its own
    ("DeleteTable", {"TableName": "orders"}),
    ("UpdateTable", {"TableName": "orders", "BillingMode": "PROVISIONED"}),
]


@pytest.mark.parametrize("operation, body", WRITES, ids=[f"{op}-{n}" for n, (op, _) in enumerate(WRITES)])
def test_a_read_only_endpoint_denies_every_other_call_per_table(ddb, operation, body):
    status, error = send(ddb.endpoint, operation, body)
    assert (status, error["__type"]) == (400, "com.amazon.coral.service#AccessDeniedException")
    assert "arn:aws:dynamodb:ap-northeast-2:111122223333:table/orders" in error["Message"]
    assert stored_items("orders") == [ITEM]
    assert ddb.logged()[-1]["decision"] == "deny"


def test_a_batch_naming_an_allowed_and_a_denied_table_is_denied_whole(tmp_path):
    both = parse_policy(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "dynamodb:*",
                    "Resource": "arn:aws:dynamodb:ap-northeast-2:111122223333:table/scratch",
                },
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "dynamodb:GetItem",
                    "Resource": "arn:aws:dynamodb:ap-northeast-2:111122223333:table/orders",
                },
            ]
        },
        "t",
    )
    fronts = dynamodb_fronts(tmp_path, endpoint_policy=both)
    batch = {"RequestItems": {"scratch": [{"PutRequest": {"Item": NEW}}], "orders": [{"PutRequest": {"Item": NEW}}]}}
    assert kind(send(fronts.endpoint, "BatchWriteItem", batch)) == (400, "AccessDeniedException")
    transact = {"TransactItems": [{"Put": {"TableName": "scratch", "Item": NEW}}, {"Put": {"TableName": "orders", "Item": NEW}}]}
    assert kind(send(fronts.endpoint, "TransactWriteItems", transact)) == (400, "AccessDeniedException")
    assert stored_items("orders") == []


def test_reads_the_policy_allows_are_served(ddb):
    status, got = send(ddb.endpoint, "GetItem", {"TableName": "orders", "Key": {"id": {"S": "o-1"}}})
    assert (status, got["Item"]) == (200, ITEM)
    assert send(ddb.endpoint, "Scan", {"TableName": "orders"})[1]["Items"] == [ITEM]
    transact = send(
        ddb.endpoint, "TransactGetItems", {"TransactItems": [{"Get": {"TableName": "orders", "Key": {"id": {"S": "o-1"}}}}]}
    )  # needs GetItem only
    assert transact[0] == 200 and transact[1]["Responses"] == [{"Item": ITEM}]


def test_the_table_a_body_names_twice_is_the_one_moto_reads(ddb):
    """JSON with a key twice: the front and moto both take the last value, so the check is on orders."""
    body = b'{"TableName": "scratch", "TableName": "orders", "Item": {"id": {"S": "o-2"}}}'
    assert kind(send(ddb.endpoint, "PutItem", body)) == (400, "AccessDeniedException")
    assert stored_items("orders") == [ITEM]


@pytest.mark.parametrize(
    "body, headers, expected",
    [
        (
            gzip.compress(json.dumps({"TableName": "orders", "Item": NEW}).encode()),
            {"Content-Encoding": "gzip"},
            "SerializationException",
        ),  # moto would have unzipped it; the front checks only what it can read
        (b"[]", {}, "SerializationException"),
        (b"not json", {}, "SerializationException"),
        (b'{"TableName": ["orders"], "Item": {}}', {}, "SerializationException"),  # a list where a name goes
    ],
)
def test_a_body_the_front_cannot_read_never_reaches_moto(ddb, body, headers, expected):
    assert kind(send(ddb.endpoint, "PutItem", body, headers)) == (400, expected)
    assert stored_items("orders") == [ITEM]


def test_an_unsigned_call_is_missing_its_authentication_token(ddb):
    for app in (ddb.endpoint, ddb.internet):
        answer = send(app, "PutItem", {"TableName": "orders", "Item": NEW}, signed=False)
        assert kind(answer) == (400, "MissingAuthenticationTokenException")
    assert stored_items("orders") == [ITEM]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "post", "GET"])
def test_only_post_reaches_an_operation(ddb, method):
    body = json.dumps({"TableName": "orders", "Item": NEW}).encode() if method != "GET" else b""
    env = signed_environ(
        method,
        f"https://{DDB_HOST}/?Action=PutItem",
        body,
        {"X-Amz-Target": "DynamoDB_20120810.PutItem"},
        service="dynamodb",
        client=INSIDE,
    )
    response = call(ddb.endpoint, env)
    if method == "GET":  # GET / is the endpoint's health check, as DynamoDB's is
        assert (response.status_code, response.data) == (200, b"healthy: dynamodb.ap-northeast-2.amazonaws.com ")
    else:
        assert response.status_code == 400 and b"UnknownOperationException" in response.data
    assert stored_items("orders") == [ITEM]
