"""Endpoint and bucket policies, enforced on every S3 request (and endpoint policies on every
DynamoDB call that comes through an endpoint) before moto sees it.

moto cannot do this: it has no request context (no aws:SourceVpce, aws:SourceIp, ...) and treats
conditions as matched, and it checks bucket policies on object operations only (measurements.md
section 10). The front knows what S3 knows: the ingress a request came by (internet or a vpce id),
the client's address, the scheme, whether it was signed. `Authorizer` sits between the request log
and moto, evaluates with `lab.model.policy`, and answers a denial itself, with S3's AccessDenied
document, so a denied request never reaches moto and no data leaves with the answer.

Which action, resource and condition keys S3 uses for a request: lab.model.s3_requests.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import parse_qs

from lab.model.ids import ACCOUNT_ID
from lab.model.policy import PolicyDocument, Request, Scope, decide
from lab.model.s3_requests import ROOT, request_context, s3_action
from lab.services.access import ACCESS_KEY, VERDICT_KEY, Access, Verdict
from lab.services.config import Ingress
from lab.services.s3errors import access_denied, error_xml


def signed(environ: dict) -> bool:
    """Signed in a header (SigV4/SigV2) or in the query string (a presigned URL)."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    return "HTTP_AUTHORIZATION" in environ or "X-Amz-Credential" in query or "AWSAccessKeyId" in query


def context(access: Access, ingress: Ingress, is_signed: bool) -> dict[str, str]:
    return request_context(access.scheme == "https", is_signed, access.source_ip, ingress.vpce_id,
                           ingress.vpc_id)


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
        owner_override = request.principal == ROOT and request.action in BUCKET_POLICY_ACTIONS
        bucket = Scope(f"bucket policy of {access.bucket}", policy) if policy and not owner_override else None
        denied_by = decide(request, self.endpoint, bucket)
        environ[VERDICT_KEY] = Verdict(request.action, "deny" if denied_by else "allow", denied_by)
        if denied_by:
            return access_denied(environ, start_response)
        if request.action in BUCKET_POLICY_ACTIONS and access.bucket:
            return bucket_policy(environ, start_response, request.action, access.bucket, policy)
        return self.app(environ, start_response)


# The bucket owner's root user may always get, put and delete the bucket policy, even when the
# policy denies it; only an endpoint policy (or an SCP) can stop it, so owners cannot lock
# themselves out (S3 API reference: GetBucketPolicy, PutBucketPolicy, DeleteBucketPolicy).
BUCKET_POLICY_ACTIONS = ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy")


def bucket_policy(environ: dict, start_response: Callable, action: str, bucket: str,
                  policy: PolicyDocument | None) -> Iterable[bytes]:
    """The front answers for bucket policies itself: moto never holds them (it would enforce them
    with its conditions taken as matched). GetBucketPolicy returns the topology's document, or S3's
    NoSuchBucketPolicy. Put and Delete are refused: the lab's static explanation and every
    prediction read the topology's policies, so a policy changed behind their back would make the
    lab contradict itself. Set it in the topology (services.s3.buckets.<name>.policy) instead."""
    if action == "s3:GetBucketPolicy" and policy is not None:
        return answer(start_response, "200 OK", "application/json", json.dumps(policy.document).encode())
    if action == "s3:GetBucketPolicy":
        return answer(start_response, "404 Not Found", "application/xml", error_xml(
            "NoSuchBucketPolicy", "The bucket policy does not exist", BucketName=bucket))
    return answer(start_response, "501 Not Implemented", "application/xml", error_xml(
        "NotImplemented", f"vpclab takes bucket policies from the topology only (services.s3.buckets.{bucket}.policy); "
        "change it there and start the lab again"))


def answer(start_response: Callable, status: str, content_type: str, body: bytes) -> Iterable[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def dynamodb_request(environ: dict, access: Access, ingress: Ingress, region: str) -> Request | None:
    """DynamoDB's JSON API names the operation in X-Amz-Target and the table in the body."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if not target.startswith("DynamoDB_") or not signed(environ):
        return None  # not an API call (or unsigned, which DynamoDB itself refuses): moto answers
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
    try:
        table = json.loads(body or b"{}").get("TableName")
    except (ValueError, AttributeError):
        table = None
    resource = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{table}" if table else "*"
    return Request(ROOT, f"dynamodb:{target.split('.', 1)[1]}", resource, context(access, ingress, True))


class DynamoDbAuthorizer:
    """WSGI middleware for one endpoint ingress of DynamoDB: its endpoint policy must allow the call
    (DynamoDB's resource-based policies are not modelled). A denial is DynamoDB's AccessDeniedException."""

    def __init__(self, app: Callable, ingress: Ingress, region: str):
        self.app, self.ingress, self.region = app, ingress, region
        self.endpoint = Scope(f"endpoint policy of {ingress.vpce_id}", ingress.policy)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = dynamodb_request(environ, environ[ACCESS_KEY], self.ingress, self.region)
        if request is None:
            return self.app(environ, start_response)
        denied_by = decide(request, self.endpoint, None)
        environ[VERDICT_KEY] = Verdict(request.action, "deny" if denied_by else "allow", denied_by)
        if not denied_by:
            return self.app(environ, start_response)
        body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException",
                           "Message": f"User: {ROOT} is not authorized to perform: {request.action} on resource: "
                                      f"{request.resource} because no VPC endpoint policy allows the "
                                      f"{request.action} action"}).encode()
        return answer(start_response, "400 Bad Request", "application/x-amz-json-1.0", body)
