"""CORS preflights (OPTIONS), answered by the S3 front from the bucket's CORS configuration, as S3
answers them (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTOPTIONSobject.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors-troubleshooting.html): Origin and
Access-Control-Request-Method are required; a bucket without CORS is 403 "CORS is not enabled for
this bucket"; the first rule that allows the origin, the method and every requested header
answers 200 with the Access-Control-* headers, none 403 "This CORS request is not allowed".

A preflight is not authorized by IAM and carries no data, so it never reaches moto as a request:
the front reads the bucket's configuration from moto (GetBucketCors) and answers itself.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable

from lab.model.s3_requests import S3Refusal, S3Target
from lab.model.wildcard import Wildcard
from lab.services.s3_lookups import backend_get
from lab.services.s3_xml import local

NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
    "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
    "whitelisted by the resource's CORS spec."
)


def forbidden(message: str, method: str, target: S3Target) -> S3Refusal:
    return S3Refusal(403, "AccessForbidden", message, {"Method": method, "ResourceType": target.level.upper()})


def cors_rules(backend: Callable, region: str, bucket: str) -> list[dict[str, list[str]]] | None:
    """The bucket's CORS rules as moto holds them (each element name -> its values); None without any."""
    status, body = backend_get(backend, region, f"/{bucket}", "cors")
    if status != 200:
        return None
    rules = [rule for rule in ET.fromstring(body) if local(rule.tag) == "CORSRule"]
    return [
        {
            name: [(c.text or "").strip() for c in rule if local(c.tag) == name]
            for name in ("AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader", "MaxAgeSeconds")
        }
        for rule in rules
    ] or None


def allows(rule: dict[str, list[str]], origin: str, method: str, headers: list[str]) -> bool:
    """S3's match: one '*' wildcard in an allowed origin or header, header names case-insensitive."""
    allowed_headers = [Wildcard(h.lower()) for h in rule["AllowedHeader"]]
    return (
        any(Wildcard(o).fullmatch(origin) for o in rule["AllowedOrigin"])
        and method in rule["AllowedMethod"]
        and all(any(h.fullmatch(header.lower()) for h in allowed_headers) for header in headers)
    )


def answer_headers(rule: dict[str, list[str]], origin: str, headers: list[str]) -> list[tuple[str, str]]:
    answer = [
        ("Access-Control-Allow-Origin", "*" if rule["AllowedOrigin"] == ["*"] else origin),
        ("Access-Control-Allow-Methods", ", ".join(rule["AllowedMethod"])),
        ("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
    ]
    answer += [("Access-Control-Allow-Headers", ", ".join(headers))] if headers else []
    answer += [("Access-Control-Expose-Headers", ", ".join(rule["ExposeHeader"]))] if rule["ExposeHeader"] else []
    answer += [("Access-Control-Max-Age", rule["MaxAgeSeconds"][0])] if rule["MaxAgeSeconds"] else []
    return answer


def preflight(environ: dict, start_response: Callable, target: S3Target, backend: Callable, region: str) -> Iterable[bytes]:
    origin, method = environ.get("HTTP_ORIGIN"), environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
    if not origin or not method:
        raise S3Refusal(400, "BadRequest", "Insufficient information. Origin request header needed.")
    rules = cors_rules(backend, region, target.bucket) if target.bucket else None
    if rules is None:
        raise forbidden("CORSResponse: CORS is not enabled for this bucket.", method, target)
    headers = [h.strip() for h in environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").split(",") if h.strip()]
    rule = next((r for r in rules if allows(r, origin, method, headers)), None)
    if rule is None:
        raise forbidden(NOT_ALLOWED, method, target)
    start_response("200 OK", answer_headers(rule, origin, headers) + [("Content-Length", "0")])
    return [b""]
