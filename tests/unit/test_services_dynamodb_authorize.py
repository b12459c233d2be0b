"""DynamoDB calls through an endpoint are checked against its endpoint policy: the action comes from
X-Amz-Target, the table from the JSON body, which moto must still be able to read afterwards."""
from __future__ import annotations

import io
import json

from lab.model.policy import parse_policy
from lab.services.access import ACCESS_KEY, Access
from lab.services.authorize import DynamoDbAuthorizer
from lab.services.config import Ingress

READ_ONLY = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["dynamodb:GetItem"],
                            "Resource": "arn:aws:dynamodb:ap-northeast-2:111122223333:table/orders"}]}
VPCE = "vpce-0123456789abcdef0"


def call(target: str, table: str, signed: bool = True):
    body = json.dumps({"TableName": table}).encode()
    environ = {"HTTP_X_AMZ_TARGET": f"DynamoDB_20120810.{target}", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body), "REQUEST_METHOD": "POST",
               ACCESS_KEY: Access(0.0, "dynamodb", VPCE, VPCE, "10.0.2.4", 40000, "https", "POST",
                                  "dynamodb.ap-northeast-2.amazonaws.com", "/")}
    if signed:
        environ["HTTP_AUTHORIZATION"] = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/..."
    seen, answer = {}, {}

    def app(env, start_response):
        seen["body"] = env["wsgi.input"].read()
        start_response("200 OK", [])
        return [b"{}"]

    ingress = Ingress(VPCE, 8001, 8401, "vpc-0123456789abcdef0", parse_policy(READ_ONLY, "test"))
    out = DynamoDbAuthorizer(app, ingress, "ap-northeast-2")(environ, lambda line, headers: answer.update(line=line))
    return answer["line"], b"".join(out), seen.get("body")


def test_an_allowed_call_reaches_moto_with_its_body_intact():
    line, _, body = call("GetItem", "orders")
    assert line == "200 OK" and json.loads(body) == {"TableName": "orders"}


def test_a_call_the_endpoint_policy_does_not_allow_is_denied_as_dynamodb_denies_it():
    line, out, body = call("PutItem", "orders")
    assert line == "400 Bad Request" and body is None
    error = json.loads(out)
    assert error["__type"] == "com.amazon.coral.service#AccessDeniedException"
    assert error["Message"].endswith("on resource: arn:aws:dynamodb:ap-northeast-2:111122223333:table/orders "
                                     "because no VPC endpoint policy allows the dynamodb:PutItem action")


def test_another_table_is_denied_and_unsigned_calls_are_left_to_dynamodb():
    assert call("GetItem", "invoices")[0] == "400 Bad Request"
    assert call("PutItem", "orders", signed=False)[0] == "200 OK"
