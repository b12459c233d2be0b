"""Shared pieces of the bypass corpus (tests/unit/test_s3_front_*bypasses.py): the protected data of
topologies/gateway-endpoint-policies.yaml (tests/fronts.py), its hosts, and helpers that sign a
request, read S3's error code and tell whether an answer leaked anything."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fronts import OBJECTS, S3_HOST
from lab.model.policy import parse_policy
from signing import CLIENT, call, signed_environ

SECRET = OBJECTS["vpce-only-bucket"]["secret.txt"].encode()
HELLO = OBJECTS["lab-bucket"]["hello.txt"].encode()
REPORT = OBJECTS["other-bucket"]["report.txt"].encode()
LAB, OTHER, VPCE_ONLY = (f"{b}.{S3_HOST}" for b in ("lab-bucket", "other-bucket", "vpce-only-bucket"))
XMLNS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
INSIDE = ("10.0.2.4", 40000)  # app1, behind s3-gw


def code(response) -> tuple[int, str | None]:
    """(status, S3's error code) of an answer; None for an answer without a body."""
    return response.status_code, ET.fromstring(response.data).findtext("Code") if response.data else None


def leaks(response) -> bool:
    """The answer holds a protected object's data, or lists objects or buckets."""
    return any(part in response.data for part in (SECRET, REPORT, b"<Contents>", b"<Buckets>"))


def s3(app, method: str, url: str, body: bytes = b"", headers: dict | None = None, **signing):
    """A request botocore signs, from app1 (10.0.2.4) through the endpoint, else from the internet."""
    signing.setdefault("client", INSIDE if app.ingress.vpce_id else CLIENT)
    return call(app, signed_environ(method, url, body, headers, **signing))


def policy(statements: list[dict]):
    return parse_policy({"Version": "2012-10-17", "Statement": statements}, "test")
