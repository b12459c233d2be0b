"""Endpoint and bucket policies, enforced on every S3 request before moto sees it.

moto cannot do this: it has no request context (no aws:SourceVpce, aws:SourceIp, ...) and treats
conditions as matched, and it checks bucket policies on object operations only (measurements.md
section 10). The front knows what S3 knows: the ingress a request came by (internet or a vpce id),
the client's address, the scheme, whether it was signed. `Authorizer` sits between the request log
and moto, evaluates with `lab.services.policy`, and answers a denial itself, with S3's AccessDenied
document, so a denied request never reaches moto and no data leaves with the answer.

Which keys S3 sees (aws-behaviour.md section 1; https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):
through an endpoint aws:SourceVpce (the vpce id), aws:SourceVpc (its VPC) and aws:VpcSourceIp (the
private address) and no aws:SourceIp; from the internet only aws:SourceIp (the public address S3
saw: the instance's public IP or the NAT gateway's Elastic IP). Always aws:SecureTransport, and for
a signed request the caller, the account's root user: aws:PrincipalArn, aws:PrincipalAccount.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from urllib.parse import parse_qs

from lab.model.ids import ACCOUNT_ID
from lab.services.access import ACCESS_KEY, VERDICT_KEY, Access, Verdict
from lab.services.config import Ingress
from lab.model.policy import PolicyDocument, Request, Scope, decide
from lab.services.s3errors import access_denied

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


def signed(environ: dict) -> bool:
    """Signed in a header (SigV4/SigV2) or in the query string (a presigned URL)."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    return "HTTP_AUTHORIZATION" in environ or "X-Amz-Credential" in query or "AWSAccessKeyId" in query


def context(access: Access, ingress: Ingress, is_signed: bool) -> dict[str, str]:
    keys = {"aws:SecureTransport": "true" if access.scheme == "https" else "false"}
    if is_signed:
        keys |= {"aws:PrincipalArn": ROOT, "aws:PrincipalAccount": ACCOUNT_ID}
    if ingress.vpce_id:
        keys |= {"aws:SourceVpce": ingress.vpce_id, "aws:SourceVpc": ingress.vpc_id,
                 "aws:VpcSourceIp": access.source_ip}
    else:
        keys["aws:SourceIp"] = access.source_ip
    return {k.lower(): v for k, v in keys.items()}


def s3_request(environ: dict, access: Access, ingress: Ingress) -> Request | None:
    action, resource = s3_action(access.method, access.bucket, access.key, environ.get("QUERY_STRING", ""))
    if action is None:
        return None
    is_signed = signed(environ)
    return Request(ROOT if is_signed else None, action, resource, context(access, ingress, is_signed))


class Authorizer:
    """WSGI middleware for one ingress: S3's policy decision, recorded in the environ for the log."""

    def __init__(self, app: Callable, ingress: Ingress, bucket_policies: Mapping[str, PolicyDocument]):
        self.app, self.ingress, self.bucket_policies = app, ingress, bucket_policies
        self.endpoint = Scope(f"endpoint policy of {ingress.vpce_id}", ingress.policy) if ingress.vpce_id else None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        access: Access = environ[ACCESS_KEY]
        request = s3_request(environ, access, self.ingress)
        if request is None:
            return self.app(environ, start_response)
        policy = self.bucket_policies.get(access.bucket or "")
        bucket = Scope(f"bucket policy of {access.bucket}", policy) if policy else None
        denied_by = decide(request, self.endpoint, bucket)
        environ[VERDICT_KEY] = Verdict(request.action, "deny" if denied_by else "allow", denied_by)
        if denied_by:
            return access_denied(environ, start_response)
        return self.app(environ, start_response)
