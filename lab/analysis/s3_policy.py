"""The policy decision S3 would make for the request a trace sends: a GET over HTTP(S), signed with
the lab's credentials like any AWS client's (or unsigned, like curl's), checked against the
endpoint's policy when it came through one and the bucket's policy, with the same rules the lab's
S3 front enforces (lab.model.policy)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from urllib.parse import parse_qsl

from lab.model import regions
from lab.model.policy import DEFAULT_ENDPOINT_POLICY, PolicyDocument, Request, Scope, decide, parse_policy
from lab.model.s3_requests import ROOT, S3Refusal, parse_target, request_context, request_keys, s3_action
from lab.model.topology import Topology
from lab.plan.types import Ingress
from lab.results import AuthorizedRequest
from lab.services.probe import USER_AGENT

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()  # a signed GET's x-amz-content-sha256


@lru_cache(maxsize=64)
def _parsed(document: str) -> PolicyDocument:
    return parse_policy(json.loads(document), "policy")


def parsed(document: dict) -> PolicyDocument:
    return _parsed(json.dumps(document, sort_keys=True))


def probe_keys(t: Topology, host: str | None, bucket: str | None, action: str, query: str, signed: bool) -> dict[str, str]:
    """The keys the front fills from what the probe sends (lab.services.probe): its User-Agent, the
    payload hash and SigV4 of a signed GET, the query's parameters, the region of the front it reaches."""
    service = regions.service_for_hostname(host or "")
    region = t.buckets[bucket].region if bucket in t.buckets else service.region if service else t.region
    headers = {"user-agent": USER_AGENT} | ({"x-amz-content-sha256": EMPTY_SHA256} if signed else {})
    params = dict(parse_qsl(query, keep_blank_values=True))
    keys = request_keys(action, params, headers, "REST-HEADER" if signed else None, [], on_bucket=bucket is not None)
    return keys | {"aws:requestedregion": region}


def denial(
    t: Topology, host: str | None, path: str, https: bool, source_ip: str, ingress: Ingress | None, signed: bool
) -> tuple[AuthorizedRequest, str | None]:
    """(the request as S3 authorizes it, why it is denied or None). `ingress`: the plan's way into
    the front the request came through when it came through an endpoint; None from the internet."""
    raw_path, _, query = path.partition("?")
    try:
        target = parse_target(host or "", raw_path)
    except S3Refusal:  # a name S3 refuses: the front answers before any policy, so none denies it
        return AuthorizedRequest("GET", path, signed, None, None), None
    bucket, key = target.bucket, target.key
    action, resource = s3_action("GET", bucket, key, query)
    if action is None:  # S3 refuses the request before any policy
        return AuthorizedRequest("GET", path, signed, None, resource), None
    vpce, vpc_id = (ingress.label, ingress.vpc_id) if ingress else (None, None)
    endpoint_scope = endpoint_policy(ingress) if ingress else None
    policy = t.buckets[bucket].policy if bucket is not None and bucket in t.buckets else None
    bucket_scope = Scope(f"bucket policy of {bucket}", parsed(policy.document)) if policy else None
    request = Request(
        ROOT if signed else None,
        action,
        resource,
        request_context(https, signed, source_ip, vpce, vpc_id) | probe_keys(t, host, bucket, action, query, signed),
    )
    return AuthorizedRequest("GET", path, signed, action, resource), decide(request, endpoint_scope, bucket_scope)


def endpoint_policy(ingress: Ingress) -> Scope:
    """The endpoint's policy, or AWS's default full-access one when it has none."""
    document = ingress.policy.document if ingress.policy else DEFAULT_ENDPOINT_POLICY
    return Scope(f"endpoint policy of {ingress.label}", parsed(document))
