"""ACLs are disabled on every bucket S3 makes today (Object Ownership: bucket owner enforced): only
the owner's own ACL may be sent, and sending it needs the ACL action as well
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fronts import s3_fronts, stored_objects
from lab.model.policy import parse_policy
from signing import REGION, call, signed_environ

LAB = f"lab-bucket.s3.{REGION}.amazonaws.com"


def code(response) -> tuple[int, str | None]:
    return response.status_code, (ET.fromstring(response.data).findtext("Code") if response.data else None)


@pytest.mark.parametrize(
    "method, url, headers, answer",
    [
        ("PUT", f"https://{LAB}/a.txt", {"x-amz-acl": "public-read"}, "AccessControlListNotSupported"),
        (
            "PUT",
            f"https://{LAB}/a.txt",
            {"x-amz-grant-read": "uri=http://acs.amazonaws.com/groups/global/AllUsers"},
            "AccessControlListNotSupported",
        ),
        ("POST", f"https://{LAB}/a.txt?uploads", {"x-amz-acl": "public-read"}, "AccessControlListNotSupported"),
        ("PUT", f"https://{LAB}/hello.txt?acl", {"x-amz-acl": "public-read"}, "AccessControlListNotSupported"),
        (
            "PUT",
            f"https://new-bucket.s3.{REGION}.amazonaws.com/",
            {"x-amz-acl": "public-read"},
            "InvalidBucketAclWithObjectOwnership",
        ),
    ],
)
def test_an_acl_that_grants_anyone_else_is_refused(tmp_path, method, url, headers, answer):
    fronts = s3_fronts(tmp_path)
    assert code(call(fronts.internet, signed_environ(method, url, b"x" if method == "PUT" else b"", headers))) == (400, answer)
    assert "a.txt" not in stored_objects()["lab-bucket"] and "new-bucket" not in stored_objects()


def test_the_owners_own_acl_is_accepted_but_needs_the_acl_action(tmp_path):
    put_only = parse_policy(
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}]}, "endpoint"
    )
    fronts = s3_fronts(tmp_path, endpoint_policy=put_only)
    owner_acl = {"x-amz-acl": "bucket-owner-full-control"}
    assert call(fronts.internet, signed_environ("PUT", f"https://{LAB}/a.txt", b"x", owner_acl)).status_code == 200
    through_endpoint = call(fronts.endpoint, signed_environ("PUT", f"https://{LAB}/b.txt", b"x", owner_acl))
    assert code(through_endpoint) == (403, "AccessDenied") and "b.txt" not in stored_objects()["lab-bucket"]
    assert fronts.logged()[-1]["action"] == "s3:PutObjectAcl"
