"""The S3 front's policy check: which action and resource an S3 request is, which condition keys it
carries, and that the front answers a denial itself, before moto and without its data.

Operations -> actions: https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
(DeleteObjects is authorized key by key, lab.services.s3_delete: here it is the bucket's request).
"""

from __future__ import annotations

import json
import socket
import threading
import xml.etree.ElementTree as ET

import pytest
from moto.s3.models import s3_backends

from fronts import OBJECTS, S3_VPCE, s3_fronts, stored_objects
from lab.model.policy import DEFAULT_ENDPOINT_POLICY, parse_policy
from lab.model.s3_requests import s3_action
from lab.services.control import read_line
from signing import call, environ, signed_environ

HOST = "lab-bucket.s3.ap-northeast-2.amazonaws.com"
OTHER = "other-bucket.s3.ap-northeast-2.amazonaws.com"
HELLO = OBJECTS["lab-bucket"]["hello.txt"].encode()
INSIDE = ("10.0.2.15", 41234)


@pytest.mark.parametrize(
    "method, bucket, key, query, expected",
    [
        ("GET", None, None, "", ("s3:ListAllMyBuckets", "*")),
        ("GET", "b", None, "list-type=2&prefix=&delimiter=%2F", ("s3:ListBucket", "arn:aws:s3:::b")),
        ("HEAD", "b", None, "", ("s3:ListBucket", "arn:aws:s3:::b")),  # HeadBucket
        ("PUT", "new-bucket", None, "", ("s3:CreateBucket", "arn:aws:s3:::new-bucket")),
        ("PUT", "192.168.1.1", None, "", (None, "arn:aws:s3:::192.168.1.1")),  # InvalidBucketName, before IAM
        ("DELETE", "b", None, "", ("s3:DeleteBucket", "arn:aws:s3:::b")),
        ("GET", "b", None, "location", ("s3:GetBucketLocation", "arn:aws:s3:::b")),
        ("PUT", "b", None, "policy", ("s3:PutBucketPolicy", "arn:aws:s3:::b")),
        ("POST", "b", None, "delete", ("s3:DeleteObject", "arn:aws:s3:::b")),  # DeleteObjects: each key on its own
        ("GET", "b", "dir/k.txt", "", ("s3:GetObject", "arn:aws:s3:::b/dir/k.txt")),
        ("HEAD", "b", "k", "", ("s3:GetObject", "arn:aws:s3:::b/k")),  # HeadObject
        ("PUT", "b", "k", "", ("s3:PutObject", "arn:aws:s3:::b/k")),
        ("DELETE", "b", "k", "", ("s3:DeleteObject", "arn:aws:s3:::b/k")),
        ("GET", "b", "k", "versionId=3", ("s3:GetObjectVersion", "arn:aws:s3:::b/k")),
        ("DELETE", "b", "k", "versionId=3", ("s3:DeleteObjectVersion", "arn:aws:s3:::b/k")),
        ("DELETE", "b", "k", "uploadId=7", ("s3:AbortMultipartUpload", "arn:aws:s3:::b/k")),
        ("GET", "b", "k", "acl", ("s3:GetObjectAcl", "arn:aws:s3:::b/k")),
        ("PUT", "b", None, "tagging", ("s3:PutBucketTagging", "arn:aws:s3:::b")),
        ("GET", "b", "k", "x-id=GetObject&unknown", ("s3:GetObject", "arn:aws:s3:::b/k")),  # unknown markers ignored
        ("OPTIONS", "b", "k", "", (None, "arn:aws:s3:::b/k")),  # a CORS preflight: not authorized by IAM
        ("PATCH", "b", "k", "", (None, "arn:aws:s3:::b/k")),  # S3 has no such method: refused before policies
    ],
)
def test_s3_requests_as_iam_actions_and_resources(method, bucket, key, query, expected):
    assert s3_action(method, bucket, key, query) == expected


def policy(document: dict):
    return parse_policy(document, "test")


ONLY_LAB_BUCKET = {
    "Statement": [
        {
            "Sid": "Access-to-specific-bucket-only",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::lab-bucket", "arn:aws:s3:::lab-bucket/*"],
        }
    ]
}
ONLY_VIA_VPCE = {
    "Statement": [
        {
            "Sid": "DenyUnlessFromOurEndpoint",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::lab-bucket", "arn:aws:s3:::lab-bucket/*"],
            "Condition": {"StringNotEquals": {"aws:SourceVpce": S3_VPCE}},
        }
    ]
}


def test_a_denial_is_s3s_access_denied_and_never_reaches_moto(tmp_path):
    fronts = s3_fronts(tmp_path, bucket_policies={"lab-bucket": policy(ONLY_VIA_VPCE)})
    response = call(fronts.internet, signed_environ("GET", f"https://{HOST}/hello.txt"))
    assert response.status_code == 403 and response.content_type == "application/xml"
    error = ET.fromstring(response.data)
    assert (error.findtext("Code"), error.findtext("Message")) == ("AccessDenied", "Access Denied")
    assert HELLO not in response.data
    head = call(fronts.internet, signed_environ("HEAD", f"https://{HOST}/hello.txt"))
    assert (head.status_code, head.data, head.headers.get("ETag")) == (403, b"", None)  # nothing of moto's
    (line, _) = fronts.logged()
    assert (line["status"], line["action"], line["decision"], line["denied_by"]) == (
        403,
        "s3:GetObject",
        "deny",
        "bucket policy of lab-bucket: explicit Deny in statement 'DenyUnlessFromOurEndpoint'",
    )


def test_through_the_endpoint_both_policies_decide(tmp_path):
    fronts = s3_fronts(tmp_path, bucket_policies={"lab-bucket": policy(ONLY_VIA_VPCE)}, endpoint_policy=policy(ONLY_LAB_BUCKET))
    allowed = call(fronts.endpoint, signed_environ("GET", f"https://{HOST}/hello.txt", client=INSIDE))
    assert (allowed.status_code, allowed.data) == (200, HELLO)
    other = call(fronts.endpoint, signed_environ("GET", f"https://{OTHER}/?list-type=2", client=INSIDE))
    assert other.status_code == 403 and b"report.txt" not in other.data
    written = call(fronts.endpoint, signed_environ("PUT", f"https://{HOST}/new.txt", b"x", client=INSIDE))
    assert written.status_code == 403 and "new.txt" not in stored_objects()["lab-bucket"]  # no PutObject allowed
    assert [(r["bucket"], r["action"], r["decision"], r["denied_by"]) for r in fronts.logged()] == [
        ("lab-bucket", "s3:GetObject", "allow", None),
        (
            "other-bucket",
            "s3:ListBucket",
            "deny",
            f"endpoint policy of {S3_VPCE}: no statement allows s3:ListBucket on arn:aws:s3:::other-bucket",
        ),
        (
            "lab-bucket",
            "s3:PutObject",
            "deny",
            f"endpoint policy of {S3_VPCE}: no statement allows s3:PutObject on arn:aws:s3:::lab-bucket/new.txt",
        ),
    ]


def test_without_policies_everything_reaches_moto(tmp_path):
    fronts = s3_fronts(tmp_path, bucket_policies={}, endpoint_policy=policy(DEFAULT_ENDPOINT_POLICY))
    listed = call(fronts.endpoint, signed_environ("GET", "https://s3.ap-northeast-2.amazonaws.com/"))
    assert listed.status_code == 200 and b"<Name>vpce-only-bucket</Name>" in listed.data
    assert call(fronts.endpoint, signed_environ("DELETE", f"https://{HOST}/hello.txt")).status_code == 204
    assert "hello.txt" not in stored_objects()["lab-bucket"]
    preflight = call(
        fronts.endpoint,
        environ(
            "OPTIONS",
            f"https://{HOST}/hello.txt",
            headers={"Origin": "https://example.com", "Access-Control-Request-Method": "GET"},
        ),
    )
    assert preflight.status_code == 403 and b"CORS is not enabled for this bucket" in preflight.data  # no data
    assert [(r["action"], r["decision"]) for r in fronts.logged()] == [
        ("s3:ListAllMyBuckets", "allow"),
        ("s3:DeleteObject", "allow"),
        (None, None),
    ]


@pytest.mark.parametrize(
    "through_endpoint, key, status",
    [
        (True, "aws:VpcSourceIp", 403),
        (True, "aws:SourceIp", 200),  # through an endpoint: no aws:SourceIp
        (False, "aws:SourceIp", 403),
        (False, "aws:VpcSourceIp", 200),
    ],
)
def test_condition_keys_follow_the_ingress(tmp_path, through_endpoint, key, status):
    """Through an endpoint S3 sees the private address as aws:VpcSourceIp and no aws:SourceIp."""
    by_address = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"IpAddress": {key: "10.0.2.0/24"}},
            }
        ]
    }
    fronts = s3_fronts(
        tmp_path, bucket_policies={"lab-bucket": policy(by_address)}, endpoint_policy=policy(DEFAULT_ENDPOINT_POLICY)
    )
    app = fronts.endpoint if through_endpoint else fronts.internet
    response = call(app, signed_environ("GET", f"https://{HOST}/hello.txt", client=INSIDE))
    assert (response.status_code, HELLO in response.data) == (status, status == 200)


def test_the_front_answers_for_bucket_policies_and_moto_never_holds_one(tmp_path):
    """GetBucketPolicy returns the topology's document (moto never receives it: it would enforce it
    with every condition taken as matched); without a lab controller to take them, Put and Delete
    are refused with a reason."""
    fronts = s3_fronts(tmp_path, bucket_policies={"lab-bucket": policy(ONLY_LAB_BUCKET)})
    got = call(fronts.internet, signed_environ("GET", f"https://{HOST}/?policy"))
    assert (got.status_code, got.content_type, json.loads(got.data)) == (200, "application/json", ONLY_LAB_BUCKET)
    none = call(fronts.internet, signed_environ("GET", f"https://{OTHER}/?policy"))
    error = ET.fromstring(none.data)
    assert (none.status_code, error.findtext("Code"), error.findtext("BucketName")) == (404, "NoSuchBucketPolicy", "other-bucket")
    for method in ("PUT", "DELETE"):
        body = json.dumps(ONLY_VIA_VPCE).encode() if method == "PUT" else b""
        refused = call(fronts.internet, signed_environ(method, f"https://{HOST}/?policy", body))
        error = ET.fromstring(refused.data)
        assert (refused.status_code, error.findtext("Code")) == (501, "NotImplemented")
        assert "no controller" in error.findtext("Message")
    assert all(
        b.policy is None for account in s3_backends.values() for backend in account.values() for b in backend.buckets.values()
    )  # moto never got one
    assert call(fronts.internet, signed_environ("GET", f"https://{HOST}/hello.txt")).status_code == 200


class FakeController:
    """A lab controller's socket that records each request and gives one answer to all."""

    def __init__(self, path, answer: dict):
        self.path, self.answer, self.requests = path, answer, []
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(4)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                self.requests.append(json.loads(read_line(conn)))
                conn.sendall(json.dumps(self.answer).encode() + b"\n")


def test_a_put_or_deleted_bucket_policy_goes_to_the_labs_controller_after_authorization(tmp_path):
    controller = FakeController(tmp_path / "control.sock", {"result": {}})
    fronts = s3_fronts(tmp_path, control=controller.path)
    body = json.dumps(ONLY_VIA_VPCE).encode()
    put = call(fronts.internet, signed_environ("PUT", f"https://{HOST}/?policy", body))
    assert (put.status_code, put.data) == (204, b"")
    deleted = call(fronts.internet, signed_environ("DELETE", f"https://{HOST}/?policy"))
    assert deleted.status_code == 204
    sent = [(r["service"], r["action"], r["params"]) for r in controller.requests]
    assert sent == [
        ("s3", "PutBucketPolicy", {"Bucket": "lab-bucket", "Policy": body.decode()}),
        ("s3", "DeleteBucketPolicy", {"Bucket": "lab-bucket"}),
    ]
    controller.server.close()


def test_the_controllers_refusal_is_worded_as_s3_words_it(tmp_path):
    refusal = {"error": {"code": "MalformedPolicy", "message": "Policy has invalid resource", "status": 400}}
    controller = FakeController(tmp_path / "control.sock", refusal)
    refused = call(s3_fronts(tmp_path, control=controller.path).internet, signed_environ("PUT", f"https://{HOST}/?policy", b"{}"))
    error = ET.fromstring(refused.data)
    assert (refused.status_code, error.findtext("Code"), error.findtext("BucketName")) == (400, "MalformedPolicy", "lab-bucket")
    assert error.findtext("Message") == "Policy has invalid resource"
    controller.server.close()


def test_a_policy_change_denied_by_the_endpoint_policy_is_access_denied(tmp_path):
    fronts = s3_fronts(tmp_path, endpoint_policy=policy(ONLY_LAB_BUCKET))
    refused = call(fronts.endpoint, signed_environ("PUT", f"https://{HOST}/?policy", b"{}", client=INSIDE))
    assert (refused.status_code, ET.fromstring(refused.data).findtext("Code")) == (403, "AccessDenied")


def test_the_bucket_owner_can_always_read_its_bucket_policy_unless_the_endpoint_policy_forbids(tmp_path):
    """Even a bucket policy that denies everything but the endpoint does not lock the owner out of
    the policy itself (S3 API reference, GetBucketPolicy); an endpoint policy still can."""
    fronts = s3_fronts(tmp_path, bucket_policies={"lab-bucket": policy(ONLY_VIA_VPCE)}, endpoint_policy=policy(ONLY_LAB_BUCKET))
    assert call(fronts.internet, signed_environ("GET", f"https://{HOST}/?policy")).status_code == 200
    assert call(fronts.internet, signed_environ("GET", f"https://{HOST}/hello.txt")).status_code == 403
    assert call(fronts.internet, environ("GET", f"https://{HOST}/?policy")).status_code == 403  # anonymous: not the owner
    assert call(fronts.endpoint, signed_environ("GET", f"https://{HOST}/?policy", client=INSIDE)).status_code == 403


def deny_when(action: str, resource: str, operator: str, key: str, value: str) -> dict:
    return {
        "Statement": [
            {
                "Sid": "Guard",
                "Effect": "Deny",
                "Principal": "*",
                "Action": action,
                "Resource": resource,
                "Condition": {operator: {key: value}},
            }
        ]
    }


@pytest.mark.parametrize(
    "guard, denied, allowed",
    [
        # S3's own condition keys are filled from the request: a Deny on one of them applies
        (
            deny_when("s3:ListBucket", "arn:aws:s3:::lab-bucket", "StringLike", "s3:prefix", "private/*"),
            ("GET", "/?list-type=2&prefix=private%2F", b"", {}),
            ("GET", "/?list-type=2&prefix=public%2F", b"", {}),
        ),
        (
            deny_when("s3:*", "arn:aws:s3:::lab-bucket/*", "StringEquals", "s3:authType", "REST-QUERY-STRING"),
            ("GET", "/hello.txt", b"", {"how": "query"}),
            ("GET", "/hello.txt", b"", {}),
        ),
        (
            deny_when(
                "s3:PutObject", "arn:aws:s3:::lab-bucket/*", "StringNotEquals", "s3:x-amz-acl", "bucket-owner-full-control"
            ),
            ("PUT", "/k", b"x", {}),
            ("PUT", "/k", b"x", {"headers": {"x-amz-acl": "bucket-owner-full-control"}}),
        ),
        (
            deny_when("s3:PutObject", "arn:aws:s3:::lab-bucket/*", "StringEquals", "s3:x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("PUT", "/k", b"x", {"how": "query"}),
            ("PUT", "/k", b"x", {}),
        ),  # a presigned URL's payload is unsigned
        (
            deny_when("s3:PutObject*", "arn:aws:s3:::lab-bucket/*", "StringEquals", "s3:RequestObjectTag/class", "secret"),
            ("PUT", "/k", b"x", {"headers": {"x-amz-tagging": "class=secret"}}),
            ("PUT", "/k", b"x", {"headers": {"x-amz-tagging": "class=public"}}),
        ),
        (
            deny_when("s3:PutObjectTagging", "arn:aws:s3:::lab-bucket/*", "StringEquals", "s3:RequestObjectTag/class", "secret"),
            (
                "PUT",
                "/hello.txt?tagging",
                b"<Tagging><TagSet><Tag><Key>class</Key><Value>secret</Value></Tag></TagSet></Tagging>",
                {},
            ),
            (
                "PUT",
                "/hello.txt?tagging",
                b"<Tagging><TagSet><Tag><Key>class</Key><Value>open</Value></Tag></TagSet></Tagging>",
                {},
            ),
        ),
        (
            deny_when("s3:GetObject*", "arn:aws:s3:::lab-bucket/*", "StringLike", "aws:UserAgent", "*curl*"),
            ("GET", "/hello.txt", b"", {"headers": {"User-Agent": "curl/7.88.1"}}),
            ("GET", "/hello.txt", b"", {"headers": {"User-Agent": "aws-cli/2.15"}}),
        ),
        (
            deny_when("s3:GetObject", "arn:aws:s3:::lab-bucket/*", "StringEquals", "s3:ResourceAccount", "111122223333"),
            ("GET", "/hello.txt", b"", {}),
            ("GET", "/?list-type=2", b"", {}),
        ),  # the lab's buckets are its account's
        (
            deny_when("s3:GetObjectVersion", "arn:aws:s3:::lab-bucket/*", "StringEquals", "s3:VersionId", "null"),
            ("GET", "/hello.txt?versionId=null", b"", {}),
            ("GET", "/hello.txt", b"", {}),
        ),
    ],
)
def test_s3_condition_keys_come_from_the_request(tmp_path, guard, denied, allowed):
    """A Deny conditioned on a key the front left out would never apply (the policy silently fails open)."""
    fronts = s3_fronts(tmp_path, bucket_policies={"lab-bucket": policy(guard)})
    for (method, path, body, signing), status in ((denied, 403), (allowed, 200)):
        response = call(fronts.internet, signed_environ(method, f"https://{HOST}{path}", body, **signing))
        assert response.status_code == status, (path, signing, response.data)
    assert fronts.logged()[0]["denied_by"] == "bucket policy of lab-bucket: explicit Deny in statement 'Guard'"


def test_an_endpoint_policy_that_allows_the_accounts_own_buckets_allows_them(tmp_path):
    """AWS's example endpoint policy: only buckets of this account (s3:ResourceAccount)
    (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html#edit-vpc-endpoint-policy-s3)."""
    own = {
        "Statement": [
            {
                "Sid": "AccessToSpecificAccountOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"s3:ResourceAccount": "111122223333"}},
            }
        ]
    }
    fronts = s3_fronts(tmp_path, endpoint_policy=policy(own))
    got = call(fronts.endpoint, signed_environ("GET", f"https://{HOST}/hello.txt", client=INSIDE))
    assert (got.status_code, got.data) == (200, HELLO)
    other = call(fronts.endpoint, signed_environ("GET", f"https://{OTHER}/report.txt", client=INSIDE))
    assert other.status_code == 200  # every bucket of the lab is its account's


def test_a_policy_on_an_objects_existing_tags_reads_them_from_moto(tmp_path):
    """s3:ExistingObjectTag/<key> (tagging-and-policies.html): a Deny on classification=secret stops
    reading a tagged object, copying it out, and changing its tags; untagged objects are served."""
    guard = deny_when("s3:*", "arn:aws:s3:::lab-bucket/*", "StringEquals", "s3:ExistingObjectTag/classification", "secret")
    fronts = s3_fronts(tmp_path, bucket_policies={"lab-bucket": policy(guard)})
    put = call(
        fronts.internet,
        signed_environ("PUT", f"https://{HOST}/tagged.txt", b"classified", headers={"x-amz-tagging": "classification=secret"}),
    )
    assert put.status_code == 200  # PutObject does not see existing tags
    for method, path, headers in (
        ("GET", "/tagged.txt", {}),
        ("HEAD", "/tagged.txt", {}),
        ("GET", "/tagged.txt?tagging", {}),
        ("DELETE", "/tagged.txt?tagging", {}),
        ("PUT", "/copy.txt", {"x-amz-copy-source": "lab-bucket/tagged.txt"}),
    ):
        response = call(fronts.internet, signed_environ(method, f"https://{HOST}{path}", headers=headers))
        assert response.status_code == 403 and b"classified" not in response.data, (method, path)
    assert call(fronts.internet, signed_environ("GET", f"https://{HOST}/hello.txt")).data == HELLO
    assert set(stored_objects()["lab-bucket"]) == {"hello.txt", "tagged.txt"}


def test_aws_requested_region_is_the_fronts(tmp_path):
    """aws:RequestedRegion is the region of the endpoint called: the front's."""
    elsewhere = deny_when("s3:*", "*", "StringNotEquals", "aws:RequestedRegion", "ap-northeast-2")
    fronts = s3_fronts(tmp_path, bucket_policies={"lab-bucket": policy(elsewhere)})
    assert call(fronts.internet, signed_environ("GET", f"https://{HOST}/hello.txt")).data == HELLO
    (tmp_path / "b").mkdir()
    not_here = deny_when("s3:*", "*", "StringEquals", "aws:RequestedRegion", "ap-northeast-2")
    fronts = s3_fronts(tmp_path / "b", bucket_policies={"lab-bucket": policy(not_here)})
    assert call(fronts.internet, signed_environ("GET", f"https://{HOST}/hello.txt")).status_code == 403
