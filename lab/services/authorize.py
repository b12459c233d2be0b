"""Endpoint and bucket policies, enforced on every S3 request before moto sees it.

moto cannot do this: it has no request context (no aws:SourceVpce, aws:SourceIp, ...) and treats
conditions as matched, and it checks bucket policies on object operations only (measurements.md
section 10). The front knows what S3 knows: the ingress a request came by (internet or a vpce id),
the client's address, the scheme, whether it was signed. `Authorizer` sits between the request log
and moto, evaluates with `lab.model.policy`, and answers a denial itself, with S3's AccessDenied
document, so a denied request never reaches moto and no data leaves with the answer.

Which action, resource and condition keys S3 uses for a request: lab.model.s3_requests.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from urllib.parse import parse_qs

from lab.model.policy import PolicyDocument, Request, Scope, decide
from lab.model.s3_requests import ROOT, request_context, s3_action
from lab.services.access import ACCESS_KEY, VERDICT_KEY, Access, Verdict
from lab.services.config import Ingress
from lab.services.s3errors import access_denied


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
        bucket = Scope(f"bucket policy of {access.bucket}", policy) if policy else None
        denied_by = decide(request, self.endpoint, bucket)
        environ[VERDICT_KEY] = Verdict(request.action, "deny" if denied_by else "allow", denied_by)
        if denied_by:
            return access_denied(environ, start_response)
        return self.app(environ, start_response)
