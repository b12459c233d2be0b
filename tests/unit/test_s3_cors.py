"""CORS preflights are answered by the front from the bucket's CORS rules, as S3 answers them
(RESTOPTIONSobject.html, cors-troubleshooting.html), and never reach moto: an OPTIONS of the
service listed every bucket with no signature and no policy."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fronts import s3_fronts
from signing import REGION, call, environ, signed_environ

LAB = f"lab-bucket.s3.{REGION}.amazonaws.com"
CORS = (
    b"<CORSConfiguration><CORSRule><AllowedOrigin>https://*.example.com</AllowedOrigin>"
    b"<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader>"
    b"<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>300</MaxAgeSeconds></CORSRule></CORSConfiguration>"
)


def preflight(
    app, url: str, origin: str | None = "https://app.example.com", method: str | None = "GET", headers: str | None = None
):
    sent = {
        k: v
        for k, v in (("Origin", origin), ("Access-Control-Request-Method", method), ("Access-Control-Request-Headers", headers))
        if v is not None
    }
    return call(app, environ("OPTIONS", url, headers=sent))


def code(response) -> tuple[int, str, str]:
    error = ET.fromstring(response.data)
    return response.status_code, error.findtext("Code"), error.findtext("Message")


def test_the_service_and_a_bucket_without_cors_refuse_and_list_nothing(tmp_path):
    fronts = s3_fronts(tmp_path)
    for url in (f"https://s3.{REGION}.amazonaws.com/", f"https://{LAB}/hello.txt"):
        response = preflight(fronts.endpoint, url)
        assert code(response) == (403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.")
        assert b"<Bucket>" not in response.data and b"hello from S3" not in response.data
    assert code(preflight(fronts.endpoint, f"https://{LAB}/hello.txt", origin=None))[:2] == (400, "BadRequest")


@pytest.mark.parametrize(
    "origin, method, headers, allowed",
    [
        ("https://app.example.com", "GET", None, True),
        ("https://app.example.com", "PUT", "X-Amz-Meta-Owner, x-amz-acl", True),
        ("https://app.example.com", "DELETE", None, False),
        ("https://evil.example.org", "GET", None, False),
        ("https://app.example.com", "GET", "authorization", False),
    ],
)
def test_a_preflight_follows_the_buckets_rules(tmp_path, origin, method, headers, allowed):
    fronts = s3_fronts(tmp_path)
    assert call(fronts.internet, signed_environ("PUT", f"https://{LAB}/?cors", CORS)).status_code == 200
    response = preflight(fronts.internet, f"https://{LAB}/hello.txt", origin, method, headers)
    if not allowed:
        assert code(response)[:2] == (403, "AccessForbidden")
        return
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Methods"] == "GET, PUT"
    assert response.headers["Access-Control-Max-Age"] == "300"
    assert response.headers.get("Access-Control-Allow-Headers") == headers


def test_moto_adds_no_cors_headers_of_its_own(tmp_path):
    """moto's app allowed any origin on every answer; S3 sends CORS headers only as a bucket's rules say."""
    fronts = s3_fronts(tmp_path)
    got = call(fronts.internet, signed_environ("GET", f"https://{LAB}/hello.txt", headers={"Origin": "http://evil.example"}))
    assert got.status_code == 200 and "Access-Control-Allow-Origin" not in got.headers
