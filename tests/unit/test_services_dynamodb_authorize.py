"""DynamoDB calls through an endpoint are checked against its endpoint policy: the action comes from
X-Amz-Target, the table from the JSON body, which moto must still be able to read afterwards.
Errors as DynamoDB answers them: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
"""
from __future__ import annotations

import json

from fronts import DDB_HOST, dynamodb_fronts, stored_items
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
        fronts.endpoint.ingress.name, "dynamodb:GetItem", "allow")


def test_a_call_the_endpoint_policy_does_not_allow_is_denied_as_dynamodb_denies_it(tmp_path):
    fronts = dynamodb_fronts(tmp_path)
    status, error = answer(fronts.endpoint, request("PutItem", ORDER))
    assert status == 400 and error["__type"] == "com.amazon.coral.service#AccessDeniedException"
    assert error["Message"].endswith("on resource: arn:aws:dynamodb:ap-northeast-2:111122223333:table/orders "
                                     "because no VPC endpoint policy allows the dynamodb:PutItem action")
    assert stored_items("orders") == []  # moto never saw it


def test_another_table_is_denied_and_unsigned_calls_are_refused_as_dynamodb_refuses_them(tmp_path):
    fronts = dynamodb_fronts(tmp_path)
    status, error = answer(fronts.endpoint, request("GetItem", {"TableName": "invoices", "Key": {"id": {"S": "1"}}}))
    assert (status, error["__type"]) == (400, "com.amazon.coral.service#AccessDeniedException")
    for app in (fronts.internet, fronts.endpoint):
        status, error = answer(app, request("PutItem", ORDER, signed=False))
        assert (status, error["__type"]) == (400, "com.amazon.coral.service#MissingAuthenticationTokenException")
    assert stored_items("orders") == []
