"""Bypass attempts against the S3 front, part one: how a request names its bucket and key (Host
forms, method case, paths with encoded slashes, dots and double slashes, the mock's own API, IAM)
and how it is signed or sent (HEAD, presigned URLs, chunked bodies, forms, preflights). Each runs
over the real moto app seeded as topologies/gateway-endpoint-policies.yaml: lab-bucket,
other-bucket, vpce-only-bucket (Deny unless aws:SourceVpce is s3-gw's), and s3-gw's endpoint policy
(GetObject, PutObject, ListBucket on lab-bucket only); each asserts S3's status and code and reads
moto's own state afterwards: no data leaked, nothing changed but what the policies allow.
Part two (what a request does): test_s3_front_action_bypasses.py.

S3's answers: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList;
addressing: https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest
from moto.iam.models import iam_backends

from bypass import HELLO, INSIDE, LAB, OTHER, REPORT, SECRET, VPCE_ONLY, code, leaks, policy, s3
from fronts import S3_HOST, s3_fronts, stored_objects
from signing import call, environ, sign, signed_environ


@pytest.fixture
def lab(tmp_path):
    return s3_fronts(tmp_path)


HOST_VARIANTS = [  # (Host, path, the bucket S3 reads, its answer to the internet)
    (f"{VPCE_ONLY}.", "/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    (VPCE_ONLY.upper(), "/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    (f"{VPCE_ONLY}:443", "/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    ("vpce-only-bucket.s3.dualstack.ap-northeast-2.amazonaws.com", "/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    ("vpce-only-bucket.s3.amazonaws.com", "/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    (f"{S3_HOST}.", "/vpce-only-bucket/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    ("52.219.60.10", "/vpce-only-bucket/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    (f"www.{VPCE_ONLY}", "/secret.txt", "www.vpce-only-bucket", (404, "NoSuchBucket")),
    (
        "vpce-only-bucket.s3-website.ap-northeast-2.amazonaws.com",
        "/secret.txt",
        "vpce-only-bucket.s3-website.ap-northeast-2.amazonaws.com",
        (404, "NoSuchBucket"),
    ),  # a CNAME's whole name
    (
        "vpce-only-bucket.s3-ap-northeast-2.amazonaws.com",
        "/secret.txt",
        "vpce-only-bucket.s3-ap-northeast-2.amazonaws.com",
        (404, "NoSuchBucket"),
    ),
    ("vpce-only-bucket.example.com", "/secret.txt", "vpce-only-bucket.example.com", (404, "NoSuchBucket")),
    (f"{VPCE_ONLY}.", "/", "vpce-only-bucket", (403, "AccessDenied")),
    (f"www.{VPCE_ONLY}", "/", "www.vpce-only-bucket", (404, "NoSuchBucket")),
    ("vpce-only-bucket.example.com", "/", "vpce-only-bucket.example.com", (404, "NoSuchBucket")),
]


@pytest.mark.parametrize("host, path, bucket, expected", HOST_VARIANTS)
def test_no_host_form_reads_a_bucket_its_policy_denies(lab, host, path, bucket, expected):
    response = s3(lab.internet, "GET", f"https://{host}{path}")
    assert code(response) == expected and not leaks(response)
    (line,) = lab.logged()  # moto was asked about exactly the bucket the front checked
    assert line["bucket"] == bucket


@pytest.mark.parametrize(
    "host",
    [
        LAB,
        f"{LAB}.",
        LAB.upper(),
        f"www.{LAB}",
        "lab-bucket.example.com",
        f"lab-bucket.{OTHER}",
        "lab-bucket.s3-website.ap-northeast-2.amazonaws.com",
    ],
)
def test_a_put_through_the_endpoint_lands_in_the_bucket_it_was_checked_for_or_nowhere(lab, host):
    response = s3(lab.endpoint, "PUT", f"https://{host}/pwned.txt", b"pwned")
    after = stored_objects()
    assert {b: set(keys) for b, keys in after.items() if b != "lab-bucket"} == {
        "other-bucket": {"report.txt"},
        "vpce-only-bucket": {"secret.txt"},
    }
    written = response.status_code == 200
    assert written == (host.lower().removesuffix(".") == LAB.lower())
    assert ("pwned.txt" in after["lab-bucket"]) == written


@pytest.mark.parametrize("method", ["get", "Get", "put", "delete", "head", "PATCH", "TRACE", "COPY"])
def test_a_method_s3_does_not_have_is_method_not_allowed(lab, method):
    before = stored_objects()
    for app, host in ((lab.internet, VPCE_ONLY), (lab.endpoint, OTHER)):
        response = call(app, signed_environ(method, f"https://{host}/secret.txt", b"overwritten"))
        assert code(response) == (405, "MethodNotAllowed") and not leaks(response)
        assert ET.fromstring(response.data).findtext("Method") == method
    assert stored_objects() == before


@pytest.mark.parametrize(
    "method, host, path, expected",
    [
        ("POST", S3_HOST, "/moto-api/reset", (405, "MethodNotAllowed")),
        ("POST", LAB, "/moto-api/reset", (405, "MethodNotAllowed")),
        ("POST", "52.219.60.10", "/moto-api/reset", (405, "MethodNotAllowed")),
        ("GET", S3_HOST, "/moto-api/data.json", (404, "NoSuchBucket")),
        ("GET", LAB, "/moto-api/data.json", (404, "NoSuchKey")),
        ("POST", S3_HOST, "/moto-api/recorder/upload-recording", (405, "MethodNotAllowed")),
        ("GET", S3_HOST, "/moto-api/recorder/download-recording", (404, "NoSuchBucket")),
        ("POST", S3_HOST, "/moto-api/state-manager/set-transition", (405, "MethodNotAllowed")),
        ("GET", S3_HOST, "/moto-api/", (404, "NoSuchBucket")),
    ],
)
def test_the_mocks_management_api_is_not_there(lab, method, host, path, expected):
    before = stored_objects()
    for signed in (True, False):
        env = (signed_environ if signed else environ)(method, f"https://{host}{path}", b"{}" * (method == "POST"))
        response = call(lab.internet, env)
        assert code(response) == (expected if signed or expected[0] == 405 else (403, "AccessDenied"))
        assert b'"s3"' not in response.data and not leaks(response)
    assert stored_objects() == before  # reset did not empty moto
    listed = s3(lab.internet, "GET", f"https://{VPCE_ONLY}/", client=INSIDE)
    assert code(listed) == (403, "AccessDenied")  # and the bucket policy still rules


def test_the_s3_front_answers_no_iam(lab):
    form = b"Action=CreateUser&UserName=mallory&Version=2010-05-08"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert code(s3(lab.internet, "POST", f"https://{S3_HOST}/", form, headers)) == (405, "MethodNotAllowed")
    as_iam = s3(
        lab.internet, "POST", f"https://{S3_HOST}/", form, {**headers, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}, service="iam"
    )
    assert code(as_iam) == (405, "MethodNotAllowed")  # S3 has no POST on the service, whoever signed it
    assert all(not backend.users for account in iam_backends.values() for backend in account.values())


@pytest.mark.parametrize(
    "app, url, expected",
    [
        ("internet", f"https://{S3_HOST}/lab-bucket/..%2Fvpce-only-bucket%2Fsecret.txt", (404, "NoSuchKey")),
        ("internet", f"https://{S3_HOST}/lab-bucket/../vpce-only-bucket/secret.txt", (404, "NoSuchKey")),
        ("internet", f"https://{LAB}/../vpce-only-bucket/secret.txt", (404, "NoSuchKey")),
        ("internet", f"https://{LAB}/%2E%2E/%2E%2E/vpce-only-bucket/secret.txt", (404, "NoSuchKey")),
        ("internet", f"https://{S3_HOST}/vpce-only-bucket%2Fsecret.txt", (403, "AccessDenied")),
        ("internet", f"https://{S3_HOST}/vpce-only-bucket/./secret.txt", (403, "AccessDenied")),
        ("internet", f"https://{S3_HOST}/vpce-only-bucket//secret.txt", (403, "AccessDenied")),
        ("endpoint", f"https://{S3_HOST}/lab-bucket/..%2Fother-bucket%2Freport.txt", (404, "NoSuchKey")),
        ("endpoint", f"https://{S3_HOST}/lab-bucket/../other-bucket/report.txt", (404, "NoSuchKey")),
        ("endpoint", f"https://{S3_HOST}/other-bucket%2Freport.txt", (403, "AccessDenied")),
        ("endpoint", f"https://{S3_HOST}//other-bucket/report.txt", (400, "InvalidBucketName")),
        ("endpoint", f"https://{S3_HOST}//", (400, "InvalidBucketName")),
        ("endpoint", f"https://{LAB}//hello.txt", (404, "NoSuchKey")),
        ("endpoint", f"https://{LAB}/%2Fhello.txt", (404, "NoSuchKey")),
    ],
)
def test_encoded_slashes_dots_and_double_slashes_are_parts_of_the_key(lab, app, url, expected):
    response = s3(getattr(lab, app), "GET", url)
    assert code(response) == expected and not leaks(response)


def test_a_double_slash_is_no_list_of_buckets_past_the_endpoint_policy(tmp_path):
    """`//bucket/key` once read as an object action on "*" that moto served as ListBuckets."""
    any_object = policy([{"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}])
    lab = s3_fronts(tmp_path, endpoint_policy=any_object)
    for method in ("GET", "PUT"):
        response = s3(lab.endpoint, method, f"https://{S3_HOST}//vpce-only-bucket/secret.txt", b"x" * (method == "PUT"))
        assert code(response) == (400, "InvalidBucketName") and b"<Bucket>" not in response.data
    assert s3(lab.endpoint, "GET", f"https://{S3_HOST}/").status_code == 403  # no ListAllMyBuckets there


@pytest.mark.parametrize(
    "key", ["../vpce-only-bucket/pwned", "..%2Fvpce-only-bucket%2Fpwned", "%2E%2E/x", "a//b", "/lead", "trail/", "./.", "%252F"]
)
def test_a_put_with_dots_or_slashes_writes_that_very_key_in_lab_bucket(lab, key):
    response = s3(lab.endpoint, "PUT", f"https://{S3_HOST}/lab-bucket/{key}", b"dots")
    assert response.status_code == 200
    after = stored_objects()
    assert after["lab-bucket"][unquote(key)] == b"dots"
    assert after["vpce-only-bucket"] == {"secret.txt": SECRET} and after["other-bucket"] == {"report.txt": REPORT}


def test_head_says_nothing_of_a_denied_object(lab):
    for url in (f"https://{VPCE_ONLY}/secret.txt", f"https://{VPCE_ONLY}/", f"https://{VPCE_ONLY}/nokey"):
        response = s3(lab.internet, "HEAD", url)
        assert (response.status_code, response.data, response.headers.get("ETag")) == (403, b"", None)
        assert response.headers["Content-Length"] == "0"
    allowed = s3(lab.endpoint, "HEAD", f"https://{LAB}/hello.txt")
    assert (allowed.status_code, allowed.data, allowed.headers["Content-Length"]) == (200, b"", str(len(HELLO)))


def test_presigned_urls_are_checked_like_any_request(lab):
    assert code(s3(lab.internet, "GET", f"https://{VPCE_ONLY}/secret.txt", how="query")) == (403, "AccessDenied")
    assert s3(lab.endpoint, "GET", f"https://{LAB}/hello.txt", how="query").data == HELLO
    put = s3(lab.endpoint, "PUT", f"https://{OTHER}/p.txt", b"p", how="query")
    assert code(put) == (403, "AccessDenied") and "p.txt" not in stored_objects()["other-bucket"]
    assert s3(lab.endpoint, "PUT", f"https://{LAB}/p.txt", b"p", how="query").status_code == 200
    assert stored_objects()["lab-bucket"]["p.txt"] == b"p"
    url, _ = sign("GET", f"https://{LAB}/hello.txt", how="query")
    moved = call(lab.internet, environ("GET", url.replace("/hello.txt?", "/p.txt?")))
    assert code(moved) == (403, "SignatureDoesNotMatch")


@pytest.mark.parametrize("host, status", [(OTHER, 403), (VPCE_ONLY, 403), (LAB, 200)])
def test_a_chunked_body_is_checked_like_any_other(lab, host, status):
    response = call(
        lab.endpoint, signed_environ("PUT", f"https://{host}/chunked.txt", b"chunk one, chunk two", chunked=True, client=INSIDE)
    )
    assert response.status_code == status
    stored = {b: keys.get("chunked.txt") for b, keys in stored_objects().items()}
    assert stored == {b: (b"chunk one, chunk two" if status == 200 and f"{b}." in host else None) for b in stored}


def test_a_chunked_body_that_is_not_the_signed_one_is_refused(lab):
    url, headers = sign("PUT", f"https://{LAB}/chunked.txt", b"signed body")
    response = call(lab.endpoint, environ("PUT", url, b"other body!", headers, chunked=True, client=INSIDE))
    assert code(response) == (400, "XAmzContentSHA256Mismatch") and "chunked.txt" not in stored_objects()["lab-bucket"]


def test_a_browser_form_upload_is_not_implemented_and_stores_nothing(lab):
    form = (
        b'--x\r\nContent-Disposition: form-data; name="key"\r\n\r\nform.txt\r\n--x\r\n'
        b'Content-Disposition: form-data; name="file"; filename="f"\r\n\r\nposted\r\n--x--\r\n'
    )
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    for app, host in ((lab.endpoint, OTHER), (lab.internet, VPCE_ONLY), (lab.endpoint, LAB)):
        response = call(app, environ("POST", f"https://{host}/", form, headers, client=INSIDE))
        assert code(response) == (501, "NotImplemented")
    assert all("form.txt" not in keys for keys in stored_objects().values())


def test_a_cors_preflight_returns_no_data(lab):
    preflight = call(
        lab.internet,
        environ(
            "OPTIONS",
            f"https://{VPCE_ONLY}/secret.txt",
            headers={"Origin": "https://example.com", "Access-Control-Request-Method": "GET"},
        ),
    )
    assert SECRET not in preflight.data and not leaks(preflight)


def test_a_body_moto_cannot_parse_is_s3s_internal_error_not_a_traceback(lab):
    """moto's app runs in debug mode and raises on a CreateBucketConfiguration that is no XML; the
    client gets S3's error document, and nothing is created."""
    response = s3(lab.internet, "PUT", f"https://{S3_HOST}/new-bucket", b"not xml")
    assert code(response) == (500, "InternalError") and b"Traceback" not in response.data
    assert "new-bucket" not in stored_objects()
