"""Endpoint and bucket policies, evaluated by the S3 front for every action a request needs, before
moto sees it; the front answers a denial itself with S3's AccessDenied, so no data leaves.

moto cannot do this: it has no request context (no aws:SourceVpce, aws:SourceIp, ...) and treats
conditions as matched, and it checks bucket policies on object operations only (measurements.md
section 10). The front knows what S3 knows: the ingress a request came by (internet or a vpce id),
the client's address, the scheme, whether and how it was signed (and verified), and S3's own
condition keys the request carries (s3:prefix, s3:x-amz-acl, s3:authType, ...). Evaluation:
lab.model.policy; actions, resources and condition keys: lab.model.s3_requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from urllib.parse import parse_qsl

from lab.model.policy import PolicyDocument, Request, Scope, decide
from lab.model.s3_operations import extra_actions
from lab.model.s3_requests import ROOT, S3Refusal, request_context, request_keys
from lab.services.access import ACCESS_KEY, VERDICT_KEY, Access, Verdict
from lab.services.body import buffered_body
from lab.services.config import Ingress
from lab.services.s3_backend import first_values
from lab.services.s3_xml import document_tags, header_tags

__all__ = ["ROOT", "S3Policies", "context", "is_bucket_policy_action", "answer"]

ACCESS_DENIED = S3Refusal(403, "AccessDenied", "Access Denied")

# The bucket owner's root user may always get, put and delete the bucket policy, even when the
# policy denies it; only an endpoint policy (or an SCP) can stop it, so owners cannot lock
# themselves out (S3 API reference: GetBucketPolicy, PutBucketPolicy, DeleteBucketPolicy).
BUCKET_POLICY_ACTIONS = ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy")


def is_bucket_policy_action(action: str | None) -> bool:
    return action in BUCKET_POLICY_ACTIONS


def context(access: Access, ingress: Ingress, is_signed: bool, region: str) -> dict[str, str]:
    """The global condition keys, and aws:RequestedRegion: the region of the front that was called."""
    return request_context(access.scheme == "https", is_signed, access.source_ip, ingress.vpce_id, ingress.vpc_id) | {
        "aws:requestedregion": region
    }


def s3_context(environ: dict, action: str, is_signed: bool, resource: str) -> dict[str, str]:
    """S3's own condition keys of the request in `environ` (lab.model.s3_requests.request_keys)."""
    params = first_values(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
    auth = ("REST-HEADER" if "HTTP_AUTHORIZATION" in environ else "REST-QUERY-STRING") if is_signed else None
    tags = header_tags(headers.get("x-amz-tagging", ""))
    if action in ("s3:PutObjectTagging", "s3:PutObjectVersionTagging") and "tagging" in params:
        tags = document_tags(buffered_body(environ))  # PutObjectTagging's body, not a tagged upload's data
    return request_keys(action, params, headers, auth, tags, on_bucket=resource != "*")


# The actions S3 fills s3:ExistingObjectTag/<key> for: an existing object's reads and its tag and
# ACL changes, "not supported" for PutObject and DeleteObject (tagging-and-policies.html).
EXISTING_TAG = "s3:existingobjecttag/"
EXISTING_TAG_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectAcl",
        "s3:GetObjectVersionAcl",
        "s3:PutObjectAcl",
        "s3:PutObjectVersionAcl",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectVersionTagging",
    }
)


def tests_existing_tags(*scopes: Scope | None) -> bool:
    return any(
        c.key.startswith(EXISTING_TAG)
        for scope in scopes
        if scope
        for statement in scope.policy.statements
        for c in statement.conditions
    )


class S3Policies:
    """The policies that apply at one ingress: its endpoint's (if any) and every bucket's.
    `object_tags(bucket, key, version)` reads an object's tags, for policies that test them."""

    def __init__(
        self,
        ingress: Ingress,
        region: str,
        bucket_policies: Mapping[str, PolicyDocument],
        object_tags: Callable[[str, str, str | None], list[tuple[str, str]]] = lambda b, k, v: [],
    ):
        self.ingress, self.region, self.bucket_policies, self.object_tags = ingress, region, bucket_policies, object_tags
        self.endpoint = ingress.endpoint_scope

    def bucket_policy(self, bucket: str | None) -> PolicyDocument | None:
        return self.bucket_policies.get(bucket or "")

    def denial(self, environ: dict, principal: str | None, action: str, bucket: str | None, resource: str) -> str | None:
        """Why `action` on `resource` is denied, or None if both policies allow it."""
        policy = self.bucket_policy(bucket)
        owner_override = principal == ROOT and action in BUCKET_POLICY_ACTIONS
        scope = Scope(f"bucket policy of {bucket}", policy) if policy and not owner_override else None
        signed = principal is not None
        keys = context(environ[ACCESS_KEY], self.ingress, signed, self.region) | s3_context(environ, action, signed, resource)
        if bucket and action in EXISTING_TAG_ACTIONS and "/" in resource and tests_existing_tags(self.endpoint, scope):
            key = resource.split("/", 1)[1]
            version = first_values(parse_qsl(environ.get("QUERY_STRING", ""))).get("versionId")
            keys |= {f"{EXISTING_TAG}{k}".lower(): v for k, v in self.object_tags(bucket, key, version)}
        return decide(Request(principal, action, resource, keys), self.endpoint, scope)

    def check(self, environ: dict, call) -> S3Refusal | None:
        """Every action `call` needs (CopyObject also reads its source), recorded in the environ for the
        request log; S3's AccessDenied if any is denied."""
        needs = [
            (action, call.target.bucket, call.target.arn)
            for action in [call.op.action_for(call.params), *extra_actions(call.op, call.headers)]
        ]
        if call.copy_source is not None:
            source, version = call.copy_source
            needs.append(("s3:GetObjectVersion" if version else "s3:GetObject", source.bucket, source.arn))
        for action, bucket, resource in needs:
            denied_by = self.denial(environ, call.principal, action, bucket, resource)
            if denied_by:
                environ[VERDICT_KEY] = Verdict(action, "deny", denied_by)
                return ACCESS_DENIED
        environ[VERDICT_KEY] = Verdict(needs[0][0], "allow", None)
        return None


def answer(start_response: Callable, status: str, content_type: str, body: bytes) -> Iterable[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
