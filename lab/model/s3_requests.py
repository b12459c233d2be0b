"""How S3 authorizes a request, as data: the IAM action and resource a request is checked as, and
the condition keys S3 fills. Pure, so the service front (lab.services.authorize) and the static
explanation (lab.analysis.explain) decide with the same rules.

Which keys S3 sees (aws-behaviour.md section 1; https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):
through an endpoint aws:SourceVpce (the vpce id), aws:SourceVpc (its VPC) and aws:VpcSourceIp (the
private address) and no aws:SourceIp; from the internet only aws:SourceIp (the public address S3
saw). Always aws:SecureTransport, and for a signed request the caller, the account's root user.
"""
from __future__ import annotations

from urllib.parse import parse_qs

from lab.model.ids import ACCOUNT_ID

ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"

# Operations -> actions: https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
# (HeadObject is authorized as s3:GetObject, HeadBucket and ListObjects(V2) as s3:ListBucket).
OBJECT_ACTIONS = {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject", "POST": "s3:PutObject",
                  "DELETE": "s3:DeleteObject"}
BUCKET_ACTIONS = {"GET": "s3:ListBucket", "HEAD": "s3:ListBucket", "PUT": "s3:CreateBucket",
                  "POST": "s3:PutObject", "DELETE": "s3:DeleteBucket"}
# (method, bucket or object, query parameter) -> action, for the subresources a lab user may touch;
# any other subresource is authorized as the plain operation on its bucket or object.
SUBRESOURCE_ACTIONS = {
    ("GET", "bucket", "location"): "s3:GetBucketLocation",
    ("GET", "bucket", "versions"): "s3:ListBucketVersions",
    ("GET", "bucket", "uploads"): "s3:ListBucketMultipartUploads",
    ("GET", "bucket", "policy"): "s3:GetBucketPolicy",
    ("PUT", "bucket", "policy"): "s3:PutBucketPolicy",
    ("DELETE", "bucket", "policy"): "s3:DeleteBucketPolicy",
    ("GET", "bucket", "acl"): "s3:GetBucketAcl",
    ("PUT", "bucket", "acl"): "s3:PutBucketAcl",
    ("GET", "bucket", "tagging"): "s3:GetBucketTagging",
    ("PUT", "bucket", "tagging"): "s3:PutBucketTagging",
    ("GET", "bucket", "versioning"): "s3:GetBucketVersioning",
    ("PUT", "bucket", "versioning"): "s3:PutBucketVersioning",
    ("POST", "bucket", "delete"): "s3:DeleteObject",  # DeleteObjects
    ("GET", "object", "acl"): "s3:GetObjectAcl",
    ("PUT", "object", "acl"): "s3:PutObjectAcl",
    ("GET", "object", "tagging"): "s3:GetObjectTagging",
    ("PUT", "object", "tagging"): "s3:PutObjectTagging",
    ("GET", "object", "versionId"): "s3:GetObjectVersion",
    ("HEAD", "object", "versionId"): "s3:GetObjectVersion",
    ("DELETE", "object", "versionId"): "s3:DeleteObjectVersion",
    ("GET", "object", "uploadId"): "s3:ListMultipartUploadParts",
    ("DELETE", "object", "uploadId"): "s3:AbortMultipartUpload",
}


def s3_action(method: str, bucket: str | None, key: str | None, query: str) -> tuple[str | None, str]:
    """The IAM action and the resource ARN S3 authorizes a request as; no action for a method S3
    does not authorize (an OPTIONS preflight, say).

    ListBuckets acts on no resource, so only `"Resource": "*"` covers it. DeleteObjects is checked
    per key by S3; the lab, which does not read the request body, checks it on `bucket/*`.
    """
    if bucket is None:
        return ("s3:ListAllMyBuckets" if method == "GET" else None), "*"
    level, arn = ("object", f"arn:aws:s3:::{bucket}/{key}") if key else ("bucket", f"arn:aws:s3:::{bucket}")
    params = parse_qs(query, keep_blank_values=True)
    for (m, lvl, param), action in SUBRESOURCE_ACTIONS.items():
        if (m, lvl) == (method, level) and param in params:
            return action, (f"{arn}/*" if action == "s3:DeleteObject" else arn)
    return (OBJECT_ACTIONS if key else BUCKET_ACTIONS).get(method), arn


def request_context(https: bool, is_signed: bool, source_ip: str, vpce_id: str | None,
                    vpc_id: str | None) -> dict[str, str]:
    """The condition keys of one request, lower-cased (IAM ignores their case)."""
    keys = {"aws:SecureTransport": "true" if https else "false"}
    if is_signed:
        keys |= {"aws:PrincipalArn": ROOT, "aws:PrincipalAccount": ACCOUNT_ID}
    if vpce_id:
        keys |= {"aws:SourceVpce": vpce_id, "aws:SourceVpc": vpc_id, "aws:VpcSourceIp": source_ip}
    else:
        keys["aws:SourceIp"] = source_ip
    return {k.lower(): v for k, v in keys.items()}
