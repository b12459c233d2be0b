"""What S3 refuses when a policy is attached to a bucket, beyond the shared grammar: a resource that
is not that bucket or its objects, an action that applies to no resource of its statement
(MalformedPolicy: "Policy has invalid resource", "Action does not apply to any resource(s) in statement")."""

from __future__ import annotations

import pytest

from lab.model.bucket_policy import check_bucket_policy
from lab.model.policy import MalformedPolicy, parse_policy


def check(action, resource, bucket: str = "lab-bucket") -> None:
    statement = {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": resource}
    check_bucket_policy(parse_policy({"Version": "2012-10-17", "Statement": [statement]}, "policy"), bucket)


@pytest.mark.parametrize(
    "action, resource",
    [
        ("s3:GetObject", "arn:aws:s3:::lab-bucket/*"),
        ("s3:ListBucket", "arn:aws:s3:::lab-bucket"),
        (["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::lab-bucket", "arn:aws:s3:::lab-bucket/*"]),
        ("s3:*", "arn:aws:s3:::lab-bucket"),  # a wildcard matches bucket actions too
        ("s3:Get*", "arn:aws:s3:::lab-bucket"),
        ("s3:GetObject", "arn:aws:s3:::lab-*"),  # may extend into a key
        ("s3:GetObject", "*"),
        ("s3:ListBucket", "arn:aws:s3:::*"),
    ],
)
def test_s3_accepts(action, resource):
    check(action, resource)


@pytest.mark.parametrize(
    "action, resource, text",
    [
        ("s3:GetObject", "arn:aws:s3:::other-bucket/*", "Policy has invalid resource"),
        ("s3:GetObject", "arn:aws:iam::111122223333:root", "Policy has invalid resource"),
        ("s3:GetObject", ["arn:aws:s3:::lab-bucket/*", "arn:aws:s3:::lab-bucket2"], "Policy has invalid resource"),
        ("s3:GetObject", "arn:aws:s3:::lab-bucket", "Action does not apply to any resource(s) in statement"),
        ("s3:ListBucket", "arn:aws:s3:::lab-bucket/*", "Action does not apply to any resource(s) in statement"),
        ("s3:ListAllMyBuckets", "arn:aws:s3:::lab-bucket", "Action does not apply to any resource(s) in statement"),
    ],
)
def test_s3_refuses(action, resource, text):
    with pytest.raises(MalformedPolicy) as caught:
        check(action, resource)
    assert caught.value.code == "MalformedPolicy" and text in str(caught.value)
    assert caught.value.path[:2] == ("Statement", 0)
