"""The front's policy check: which action and resource an S3 request is, which condition keys it
carries, and the middleware that answers a denial itself, before moto and without its data.

Operations -> actions: https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from lab.services.access import RequestLog
from lab.services.authorize import Authorizer, s3_action
from lab.services.config import Ingress
from lab.model.policy import DEFAULT_ENDPOINT_POLICY, parse_policy
from lab.services.process import JsonLines

VPCE = "vpce-0a1b2c3d4e5f60718"
HOST = "lab-bucket.s3.ap-northeast-2.amazonaws.com"


@pytest.mark.parametrize("method, bucket, key, query, expected", [
    ("GET", None, None, "", ("s3:ListAllMyBuckets", "*")),
    ("GET", "b", None, "list-type=2&prefix=&delimiter=%2F", ("s3:ListBucket", "arn:aws:s3:::b")),
    ("HEAD", "b", None, "", ("s3:ListBucket", "arn:aws:s3:::b")),  # HeadBucket
    ("PUT", "b", None, "", ("s3:CreateBucket", "arn:aws:s3:::b")),
    ("DELETE", "b", None, "", ("s3:DeleteBucket", "arn:aws:s3:::b")),
    ("GET", "b", None, "location", ("s3:GetBucketLocation", "arn:aws:s3:::b")),
    ("PUT", "b", None, "policy", ("s3:PutBucketPolicy", "arn:aws:s3:::b")),
    ("POST", "b", None, "delete", ("s3:DeleteObject", "arn:aws:s3:::b/*")),  # DeleteObjects
    ("GET", "b", "dir/k.txt", "", ("s3:GetObject", "arn:aws:s3:::b/dir/k.txt")),
    ("HEAD", "b", "k", "", ("s3:GetObject", "arn:aws:s3:::b/k")),  # HeadObject
    ("PUT", "b", "k", "", ("s3:PutObject", "arn:aws:s3:::b/k")),
    ("DELETE", "b", "k", "", ("s3:DeleteObject", "arn:aws:s3:::b/k")),
    ("GET", "b", "k", "versionId=3", ("s3:GetObjectVersion", "arn:aws:s3:::b/k")),
    ("DELETE", "b", "k", "uploadId=7", ("s3:AbortMultipartUpload", "arn:aws:s3:::b/k")),
    ("OPTIONS", "b", "k", "", (None, "arn:aws:s3:::b/k")),  # a CORS preflight: not authorized by IAM
])
def test_s3_requests_as_iam_actions_and_resources(method, bucket, key, query, expected):
    assert s3_action(method, bucket, key, query) == expected


def moto_stand_in(environ, start_response):
    """Answers 200 with a secret, so a test sees whether a request got through."""
    return Response("the object's data")(environ, start_response)


def front(tmp_path, ingress: Ingress, bucket_policies: dict | None = None) -> Client:
    policies = {b: parse_policy(p, b) for b, p in (bucket_policies or {}).items()}
    log = JsonLines(tmp_path / "requests.jsonl")
    return Client(RequestLog(Authorizer(moto_stand_in, ingress, policies), "s3", ingress, log))


def logged(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]


SIGNED = {"Host": HOST, "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/ap-northeast-2/s3/aws4_request"}
ONLY_LAB_BUCKET = {"Statement": [{"Sid": "Access-to-specific-bucket-only", "Effect": "Allow", "Principal": "*",
                                  "Action": ["s3:GetObject", "s3:ListBucket"],
                                  "Resource": ["arn:aws:s3:::lab-bucket", "arn:aws:s3:::lab-bucket/*"]}]}
ONLY_VIA_VPCE = {"Statement": [{"Sid": "DenyUnlessFromOurEndpoint", "Effect": "Deny", "Principal": "*",
                                "Action": "s3:*", "Resource": ["arn:aws:s3:::lab-bucket", "arn:aws:s3:::lab-bucket/*"],
                                "Condition": {"StringNotEquals": {"aws:SourceVpce": VPCE}}}]}


def test_a_denial_is_s3s_access_denied_and_never_reaches_moto(tmp_path):
    client = front(tmp_path, Ingress("internet", 1, 2), {"lab-bucket": ONLY_VIA_VPCE})
    response = client.get("/hello.txt", headers=SIGNED, environ_base={"REMOTE_ADDR": "3.35.1.10"})
    assert response.status_code == 403 and response.content_type == "application/xml"
    error = ET.fromstring(response.data)
    assert (error.findtext("Code"), error.findtext("Message")) == ("AccessDenied", "Access Denied")
    assert b"the object's data" not in response.data
    head = client.head("/hello.txt", headers=SIGNED)
    assert (head.status_code, head.data) == (403, b"")  # HEAD answers carry no body
    (line, _) = logged(tmp_path)
    assert (line["status"], line["action"], line["decision"], line["denied_by"]) == (
        403, "s3:GetObject", "deny",
        "bucket policy of lab-bucket: explicit Deny in statement 'DenyUnlessFromOurEndpoint'")


def test_through_the_endpoint_both_policies_decide(tmp_path):
    ingress = Ingress(VPCE, 1, 2, "vpc-0a1b2c3d4e5f60718", parse_policy(ONLY_LAB_BUCKET, "endpoint"))
    client = front(tmp_path, ingress, {"lab-bucket": ONLY_VIA_VPCE})
    allowed = client.get("/hello.txt", headers=SIGNED, environ_base={"REMOTE_ADDR": "10.0.2.15"})
    assert (allowed.status_code, allowed.data) == (200, b"the object's data")
    other = client.get("/?list-type=2", headers={**SIGNED, "Host": "other-bucket.s3.ap-northeast-2.amazonaws.com"})
    assert other.status_code == 403
    written = client.put("/new.txt", headers=SIGNED, data=b"x")  # the endpoint policy allows no PutObject
    assert written.status_code == 403
    assert [(r["bucket"], r["action"], r["decision"], r["denied_by"]) for r in logged(tmp_path)] == [
        ("lab-bucket", "s3:GetObject", "allow", None),
        ("other-bucket", "s3:ListBucket", "deny",
         f"endpoint policy of {VPCE}: no statement allows s3:ListBucket on arn:aws:s3:::other-bucket"),
        ("lab-bucket", "s3:PutObject", "deny",
         f"endpoint policy of {VPCE}: no statement allows s3:PutObject on arn:aws:s3:::lab-bucket/new.txt")]


def test_without_policies_everything_reaches_moto(tmp_path):
    ingress = Ingress(VPCE, 1, 2, "vpc-0a1b2c3d4e5f60718", parse_policy(DEFAULT_ENDPOINT_POLICY, "default"))
    client = front(tmp_path, ingress)
    assert client.get("/", headers={**SIGNED, "Host": "s3.ap-northeast-2.amazonaws.com"}).status_code == 200
    assert client.delete("/k", headers=SIGNED).status_code == 200
    assert client.open("/k", method="OPTIONS", headers={"Host": HOST}).status_code == 200
    assert [(r["action"], r["decision"]) for r in logged(tmp_path)] == [
        ("s3:ListAllMyBuckets", "allow"), ("s3:DeleteObject", "allow"), (None, None)]


def test_condition_keys_follow_the_ingress(tmp_path):
    """Through an endpoint S3 sees the private address as aws:VpcSourceIp and no aws:SourceIp."""
    def by_address(key: str) -> dict:
        return {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
                               "Condition": {"IpAddress": {key: "10.0.2.0/24"}}}]}
    vpce = Ingress(VPCE, 1, 2, "vpc-0a1b2c3d4e5f60718", parse_policy(DEFAULT_ENDPOINT_POLICY, "default"))
    for ingress, key, status in ((vpce, "aws:VpcSourceIp", 403), (vpce, "aws:SourceIp", 200),
                                 (Ingress("internet", 1, 2), "aws:SourceIp", 403),
                                 (Ingress("internet", 1, 2), "aws:VpcSourceIp", 200)):
        client = front(tmp_path, ingress, {"lab-bucket": by_address(key)})
        response = client.get("/k", headers=SIGNED, environ_base={"REMOTE_ADDR": "10.0.2.15"})
        assert response.status_code == status, (ingress.name, key)


def test_the_front_answers_for_bucket_policies_and_moto_never_holds_one(tmp_path):
    """GetBucketPolicy returns the topology's document (moto never receives it: it would enforce it
    with every condition taken as matched); Put and Delete are refused with a reason."""
    client = front(tmp_path, Ingress("internet", 1, 2), {"lab-bucket": ONLY_LAB_BUCKET})
    got = client.get("/?policy", headers=SIGNED)
    assert (got.status_code, got.content_type, json.loads(got.data)) == (200, "application/json", ONLY_LAB_BUCKET)
    none = client.get("/?policy", headers={**SIGNED, "Host": "other-bucket.s3.ap-northeast-2.amazonaws.com"})
    error = ET.fromstring(none.data)
    assert (none.status_code, error.findtext("Code"), error.findtext("BucketName")) == (
        404, "NoSuchBucketPolicy", "other-bucket")
    for method in ("PUT", "DELETE"):
        refused = client.open("/?policy", method=method, headers=SIGNED, data=json.dumps(ONLY_VIA_VPCE))
        error = ET.fromstring(refused.data)
        assert (refused.status_code, error.findtext("Code")) == (501, "NotImplemented")
        assert "services.s3.buckets.lab-bucket.policy" in error.findtext("Message")
    assert b"the object's data" not in got.data + none.data  # none of them reached moto
    assert client.get("/hello.txt", headers=SIGNED).status_code == 200  # the topology's policy still rules


def test_a_policy_change_denied_by_the_endpoint_policy_is_access_denied(tmp_path):
    ingress = Ingress(VPCE, 1, 2, "vpc-0a1b2c3d4e5f60718", parse_policy(ONLY_LAB_BUCKET, "endpoint"))
    refused = front(tmp_path, ingress).put("/?policy", headers=SIGNED, data="{}")
    assert refused.status_code == 403


def test_the_bucket_owner_can_always_read_its_bucket_policy_unless_the_endpoint_policy_forbids(tmp_path):
    """Even a bucket policy that denies everything but the endpoint does not lock the owner out of
    the policy itself (S3 API reference, GetBucketPolicy); an endpoint policy still can."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    outside = front(tmp_path / "a", Ingress("internet", 1, 2), {"lab-bucket": ONLY_VIA_VPCE})
    assert outside.get("/?policy", headers=SIGNED).status_code == 200
    assert outside.get("/hello.txt", headers=SIGNED).status_code == 403  # the policy still denies the rest
    assert outside.get("/?policy", headers={"Host": HOST}).status_code == 403  # anonymous: not the owner
    endpoint = Ingress(VPCE, 1, 2, "vpc-0a1b2c3d4e5f60718", parse_policy(ONLY_LAB_BUCKET, "endpoint"))
    assert front(tmp_path / "b", endpoint, {"lab-bucket": ONLY_VIA_VPCE}).get("/?policy", headers=SIGNED).status_code == 403
