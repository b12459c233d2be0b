"""Signatures verified as AWS verifies them (lab.services.sigv4), checked against botocore's signer,
which every SDK and the AWS CLI share: what it signs is accepted, whatever the key's characters;
anything else gets S3's or DynamoDB's own error, and no data.

SigV4: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html;
S3's header and query forms: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
and sigv4-query-string-auth.html (X-Amz-Expires at most 604800, "Request has expired"); the error
codes: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList (a request
time more than 15 minutes off is RequestTimeTooSkewed; Signature Version 2 in a region that takes
only SigV4 is InvalidRequest "Please use AWS4-HMAC-SHA256"); DynamoDB's:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from botocore.credentials import Credentials

from fronts import DDB_HOST, OBJECTS, dynamodb_fronts, s3_fronts, stored_items, stored_objects
from lab.model import ids
from signing import call, environ, key_path, sign, signed_environ

HOST = "lab-bucket.s3.ap-northeast-2.amazonaws.com"
URL = f"https://{HOST}/hello.txt"
HELLO = OBJECTS["lab-bucket"]["hello.txt"].encode()
KEYS = [
    "a b.txt",
    "ü/€ 😀.txt",
    "a+b=c&d.txt",
    "~user/x~",
    "a//b",
    "../x",
    "./y/./z/..",
    "dir/",
    "%41",
    "semi;colon,comma",
    "q?mark#hash",
    "star*'()!$@:",
    "tab\there",
    "ends with space ",
]


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def error_of(response) -> dict[str, str]:
    """An S3 error document's elements (Code, Message, ...), with the status as 'Status'."""
    root = ET.fromstring(response.data)
    return {"Status": response.status_code, **{child.tag: child.text or "" for child in root}}


@pytest.fixture
def s3(tmp_path):
    return s3_fronts(tmp_path, bucket_policies={}).internet


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("style", ["virtual", "path"])
def test_what_botocore_signs_in_a_header_or_a_presigned_url_is_accepted(s3, key, style):
    url = (
        f"https://{HOST}/{key_path(key)}"
        if style == "virtual"
        else f"https://s3.ap-northeast-2.amazonaws.com/lab-bucket/{key_path(key)}"
    )
    body = f"data of {key}".encode()
    put = call(s3, signed_environ("PUT", url, body))
    assert put.status_code == 200, put.data
    assert stored_objects()["lab-bucket"][key] == body
    presigned = call(s3, signed_environ("GET", url, how="query"))
    assert (presigned.status_code, presigned.data) == (200, body)
    head = call(s3, signed_environ("HEAD", url))
    assert (head.status_code, head.headers["Content-Length"]) == (200, str(len(body)))


def test_signed_query_parameters_are_accepted(s3):
    query = "delimiter=%2F&list-type=2&prefix=" + quote("ü", safe="")
    listed = call(s3, signed_environ("GET", f"https://{HOST}/?{query}"))
    assert listed.status_code == 200 and b"<Prefix>\xc3\xbc</Prefix>" in listed.data
    renamed = call(s3, signed_environ("GET", f"{URL}?response-content-type=text%2Fx-lab", how="query"))
    assert (renamed.status_code, renamed.headers["Content-Type"], renamed.data) == (200, "text/x-lab", HELLO)


def test_a_chunked_upload_is_verified_against_its_whole_body(s3):
    put = call(s3, signed_environ("PUT", f"https://{HOST}/chunked.txt", b"in two chunks", chunked=True))
    assert put.status_code == 200 and stored_objects()["lab-bucket"]["chunked.txt"] == b"in two chunks"


def refused(app, env: dict) -> dict[str, str]:
    response = call(app, env)
    assert HELLO not in response.data
    return error_of(response)


def tampered(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict | None = None,
    *,
    send_url: str | None = None,
    send_body: bytes | None = None,
    change: dict | None = None,
    drop: str | None = None,
    **signing,
) -> dict:
    """A request signed by botocore, then changed on the way: another URL, body or header values."""
    signed_url, signed_headers = sign(method, url, body, headers, **signing)
    sent = {k: v for k, v in {**signed_headers, **(change or {})}.items() if k != drop}
    return environ(method, send_url or signed_url, body if send_body is None else send_body, sent)


@pytest.mark.parametrize(
    "env, expected",
    [
        (
            lambda: signed_environ("GET", URL, credentials=Credentials(ids.ACCESS_KEY_ID, "not-the-secret")),
            (403, "SignatureDoesNotMatch"),
        ),
        (lambda: tampered("GET", URL, send_url=f"https://{HOST}/other.txt"), (403, "SignatureDoesNotMatch")),
        (lambda: tampered("GET", URL, send_url=f"https://{HOST}/Hello.txt"), (403, "SignatureDoesNotMatch")),
        (
            lambda: tampered("GET", f"https://{HOST}/?list-type=2&prefix=a", send_url=f"https://{HOST}/?list-type=2&prefix=h"),
            (403, "SignatureDoesNotMatch"),
        ),
        (lambda: tampered("GET", URL, send_url=URL + "?versionId=null"), (403, "SignatureDoesNotMatch")),
        (
            lambda: tampered("GET", URL, headers={"x-amz-meta-owner": "alice"}, change={"x-amz-meta-owner": "mallory"}),
            (403, "SignatureDoesNotMatch"),
        ),
        (
            lambda: tampered("GET", URL, headers={"x-amz-meta-owner": "alice"}, drop="x-amz-meta-owner"),
            (403, "SignatureDoesNotMatch"),
        ),
        (
            lambda: tampered("GET", URL, change={"Host": "vpce-only-bucket.s3.ap-northeast-2.amazonaws.com"}),
            (403, "SignatureDoesNotMatch"),
        ),
        (lambda: tampered("PUT", URL, b"original", send_body=b"tampered"), (400, "XAmzContentSHA256Mismatch")),
        (
            lambda: tampered(
                "GET", URL, how="query", send_url=None, change={"Host": "other-bucket.s3.ap-northeast-2.amazonaws.com"}
            ),
            (403, "SignatureDoesNotMatch"),
        ),
        (lambda: tampered("GET", URL, drop="X-Amz-Content-SHA256"), (400, "InvalidRequest")),
        (
            lambda: environ(
                "GET",
                URL,
                headers={
                    "Authorization": "AWS4-HMAC-SHA256 Credential="
                    + ids.ACCESS_KEY_ID
                    + "/20250101/ap-northeast-2/s3/aws4_request, SignedHeaders=host, Signature="
                    + "0" * 64,
                    "X-Amz-Date": now().strftime("%Y%m%dT%H%M%SZ"),
                    "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD",
                },
            ),
            (400, "AuthorizationHeaderMalformed"),
        ),  # the credential's date is not X-Amz-Date's
    ],
)
def test_a_signature_that_does_not_match_the_request_is_refused(s3, env, expected):
    got = refused(s3, env())
    assert (got["Status"], got["Code"]) == expected
    assert set(stored_objects()["lab-bucket"]) == {"hello.txt"}


def test_a_wrong_signature_says_so_and_shows_the_canonical_request(s3):
    got = refused(s3, signed_environ("GET", URL, credentials=Credentials(ids.ACCESS_KEY_ID, "not-the-secret")))
    assert got["Message"].startswith("The request signature we calculated does not match the signature you provided.")
    assert got["CanonicalRequest"].startswith("GET\n/hello.txt\n\nhost:" + HOST)


def fake_authorization(signature: str, key: str = ids.ACCESS_KEY_ID) -> dict:
    stamp = now().strftime("%Y%m%dT%H%M%SZ")
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{stamp[:8]}/ap-northeast-2/s3/aws4_request, "
        f"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}",
        "X-Amz-Date": stamp,
        "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD",
    }


# The headers are made when the test runs: a stamp made at collection goes stale in a long suite.
@pytest.mark.parametrize(
    "headers, expected",
    [
        (lambda: fake_authorization("0" * 64), (403, "SignatureDoesNotMatch", {})),
        (lambda: fake_authorization("0" * 64, key="x"), (403, "InvalidAccessKeyId", {"AWSAccessKeyId": "x"})),
        (lambda: fake_authorization("0"), (400, "AuthorizationHeaderMalformed", {})),  # no signature of 64 hex digits
        (lambda: {**fake_authorization("0"), "Authorization": ""}, (400, "AuthorizationHeaderMalformed", {})),
        (lambda: {**fake_authorization("0"), "Authorization": "AWS4-HMAC-SHA256"}, (400, "AuthorizationHeaderMalformed", {})),
        (lambda: {**fake_authorization("0"), "Authorization": "Bearer x"}, (400, "AuthorizationHeaderMalformed", {})),
    ],
)
def test_a_made_up_authorization_header_is_never_the_account(s3, headers, expected):
    """What the issue found accepted as the root user: 'Signature=0', an empty header."""
    got = refused(s3, environ("GET", URL, headers=headers()))
    status, code, facts = expected
    assert (got["Status"], got["Code"]) == (status, code)
    assert facts.items() <= got.items()


def test_an_unknown_access_key_is_invalid_access_key_id(s3):
    stranger = Credentials("AKIAI44QH8DHBEXAMPLE", ids.SECRET_ACCESS_KEY)
    for how in ("header", "query"):
        got = refused(s3, signed_environ("GET", URL, how=how, credentials=stranger))
        assert (got["Status"], got["Code"], got["AWSAccessKeyId"]) == (403, "InvalidAccessKeyId", "AKIAI44QH8DHBEXAMPLE")


def test_a_presigned_url_past_its_expiry_is_access_denied(s3):
    got = refused(s3, signed_environ("GET", URL, how="query", expires=3600, at=now() - timedelta(hours=2)))
    assert (got["Status"], got["Code"], got["Message"]) == (403, "AccessDenied", "Request has expired")
    assert got["Expires"] < got["ServerTime"]
    fresh = call(s3, signed_environ("GET", URL, how="query", expires=3600, at=now() - timedelta(minutes=50)))
    assert (fresh.status_code, fresh.data) == (200, HELLO)  # a presigned URL is good for its whole X-Amz-Expires


def test_a_presigned_url_valid_for_more_than_seven_days_is_refused(s3):
    got = refused(s3, signed_environ("GET", URL, how="query", expires=604801))
    assert (got["Status"], got["Code"]) == (400, "AuthorizationQueryParametersError")
    assert "604800" in got["Message"]
    week = call(s3, signed_environ("GET", URL, how="query", expires=604800))
    assert week.status_code == 200


def test_a_request_time_more_than_15_minutes_off_is_too_skewed(s3):
    for off in (timedelta(minutes=-16), timedelta(minutes=16)):
        got = refused(s3, signed_environ("GET", URL, at=now() + off))
        assert (got["Status"], got["Code"], got["MaxAllowedSkewMilliseconds"]) == (403, "RequestTimeTooSkewed", "900000")
    assert call(s3, signed_environ("GET", URL, at=now() - timedelta(minutes=14))).status_code == 200


def test_a_signature_for_another_region_names_the_right_one(s3):
    header = refused(s3, signed_environ("GET", URL, region="us-east-1"))
    assert (header["Status"], header["Code"], header["Region"]) == (400, "AuthorizationHeaderMalformed", "ap-northeast-2")
    assert "the region 'us-east-1' is wrong; expecting 'ap-northeast-2'" in header["Message"]
    query = refused(s3, signed_environ("GET", URL, region="us-east-1", how="query"))
    assert (query["Status"], query["Code"], query["Region"]) == (400, "AuthorizationQueryParametersError", "ap-northeast-2")


def test_a_signature_for_another_service_is_malformed_where_it_was_given(s3):
    """A presigned URL's mistakes are AuthorizationQueryParametersError, a header's AuthorizationHeaderMalformed."""
    query = refused(s3, signed_environ("GET", URL, service="dynamodb", how="query"))
    assert (query["Status"], query["Code"]) == (400, "AuthorizationQueryParametersError")
    assert query["Message"].startswith("Error parsing the X-Amz-Credential parameter; incorrect service 'dynamodb'")
    header = refused(s3, signed_environ("GET", URL, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}, service="dynamodb"))
    assert (header["Status"], header["Code"]) == (400, "AuthorizationHeaderMalformed")
    url, _ = sign("GET", URL, how="query")
    stale = url.replace("X-Amz-Date=" + url.split("X-Amz-Date=")[1][:8], "X-Amz-Date=20200101")
    dated = refused(s3, environ("GET", stale))
    assert (dated["Status"], dated["Code"]) == (400, "AuthorizationQueryParametersError")


@pytest.mark.parametrize("how", ["v2", "v2-query"])
def test_signature_version_2_is_refused_as_in_every_region_since_2014(s3, how):
    got = refused(s3, signed_environ("GET", URL, how=how))
    assert (got["Status"], got["Code"]) == (400, "InvalidRequest")
    assert got["Message"].endswith("Please use AWS4-HMAC-SHA256.")


def test_refusals_of_head_requests_carry_no_body(s3):
    response = call(s3, signed_environ("HEAD", URL, credentials=Credentials(ids.ACCESS_KEY_ID, "not-the-secret")))
    assert (response.status_code, response.data) == (403, b"")


def dynamodb(target: str, body: dict, **signing) -> dict:
    headers = {"X-Amz-Target": f"DynamoDB_20120810.{target}", "Content-Type": "application/x-amz-json-1.0"}
    return signed_environ("POST", f"https://{DDB_HOST}/", json.dumps(body).encode(), headers, service="dynamodb", **signing)


ORDER = {"TableName": "orders", "Item": {"id": {"S": "o-1 ü"}}}


def test_dynamodb_accepts_what_botocore_signs(tmp_path):
    front = dynamodb_fronts(tmp_path).internet
    assert call(front, dynamodb("PutItem", ORDER)).status_code == 200
    assert stored_items("orders") == [ORDER["Item"]]


@pytest.mark.parametrize(
    "change, kind",
    [
        ({"credentials": Credentials(ids.ACCESS_KEY_ID, "not-the-secret")}, "InvalidSignatureException"),
        ({"credentials": Credentials("AKIAI44QH8DHBEXAMPLE", ids.SECRET_ACCESS_KEY)}, "UnrecognizedClientException"),
        ({"region": "us-east-1"}, "InvalidSignatureException"),
        ({"at": now() - timedelta(minutes=20)}, "InvalidSignatureException"),
    ],
)
def test_dynamodb_refuses_other_signatures_with_its_own_errors(tmp_path, change, kind):
    front = dynamodb_fronts(tmp_path).internet
    response = call(front, dynamodb("PutItem", ORDER, **change))
    assert (response.status_code, json.loads(response.data)["__type"]) == (400, f"com.amazon.coral.service#{kind}")
    assert stored_items("orders") == []


def test_dynamodb_verifies_the_body_it_signed(tmp_path):
    front = dynamodb_fronts(tmp_path).internet
    url, headers = sign(
        "POST",
        f"https://{DDB_HOST}/",
        json.dumps(ORDER).encode(),
        {"X-Amz-Target": "DynamoDB_20120810.PutItem"},
        service="dynamodb",
    )
    other = json.dumps({**ORDER, "Item": {"id": {"S": "forged"}}}).encode()
    response = call(front, environ("POST", url, other, {**headers, "Content-Length": str(len(other))}))
    assert json.loads(response.data)["__type"] == "com.amazon.coral.service#InvalidSignatureException"
    assert stored_items("orders") == []


def test_an_unsigned_amz_header_cannot_turn_a_presigned_url_into_another_request(s3):
    """A presigned PUT plus an x-amz-copy-source of someone else's object would be a CopyObject."""
    url, headers = sign("PUT", f"https://{HOST}/upload.txt", how="query")
    got = refused(s3, environ("PUT", url, b"", {**headers, "x-amz-copy-source": "other-bucket/report.txt"}))
    assert (got["Status"], got["Code"], got["HeadersNotSigned"]) == (403, "AccessDenied", "x-amz-copy-source")
    assert got["Message"] == "There were headers present in the request which were not signed"
