"""Request bodies, as S3 reads them and as moto gets them (lab.services.s3_chunked, .s3_backend):

- the declared x-amz-content-sha256 is checked first, the signature over it next, the body last, so
  an unknown key or a bad signature costs no read of the body;
- a hex digest is compared in any case, anything but S3's documented values is InvalidArgument;
- aws-chunked bodies (signed chunks, signed or unsigned trailers) are decoded and verified in the
  front, capped at body.MAX_BODY, and moto gets a plain body and none of the streaming headers;
- moto gets only the operation's own headers, no body for an operation that has none, and never
  reads a body as a form: a JSON or form body names no version, upload or subresource.

https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html,
sigv4-streaming.html, sigv4-streaming-trailers.html.
"""

from __future__ import annotations

import base64
import io
import json
import tracemalloc
import xml.etree.ElementTree as ET
import zlib
from unittest import mock
from urllib.parse import urlencode, urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum
from moto.s3.models import s3_backends

from bypass import code
from fronts import s3_fronts, stored_objects
from lab.model.policy import parse_policy
from lab.model.s3_operations import identify
from lab.model.s3_requests import S3Target
from lab.services import s3_chunked, sigv4
from lab.services.s3_backend import rewrite
from signing import LAB_CREDENTIALS, REGION, call, environ, signed_environ

LAB = f"https://lab-bucket.s3.{REGION}.amazonaws.com"
VERSIONING = (
    b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>'
)


class Declared(S3SigV4Auth):
    """botocore's S3 signer, with a payload value of the test's choice in x-amz-content-sha256."""

    def __init__(self, value: str):
        super().__init__(LAB_CREDENTIALS, "s3", REGION)
        self.value = value

    def payload(self, request):
        return self.value


def declared_environ(method: str, url: str, body: bytes, value: str, headers: dict | None = None) -> dict:
    request = AWSRequest(method=method, url=url, data=body, headers={"Host": urlsplit(url).netloc, **(headers or {})})
    Declared(value).add_auth(request)
    prepared = request.prepare()
    return environ(method, prepared.url, body, dict(prepared.headers))


class Counted(io.BytesIO):
    """A request body that counts what the front read of it."""

    taken = 0

    def read(self, size=-1):
        data = super().read(size)
        self.taken += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.taken += len(data)
        return data


def test_an_unknown_key_or_a_bad_signature_reads_no_body(tmp_path):
    fronts = s3_fronts(tmp_path)
    for change in ({"AKIA": "AKIB"}, {"Signature=": "Signature=0"}):
        env = signed_environ("PUT", f"{LAB}/big.bin", b"\0" * 4096)
        old, new = next(iter(change.items()))
        env["HTTP_AUTHORIZATION"] = env["HTTP_AUTHORIZATION"].replace(old, new, 1)
        env["wsgi.input"] = body = Counted(b"\0" * 4096)
        assert code(call(fronts.internet, env))[1] in (
            "InvalidAccessKeyId",
            "AuthorizationHeaderMalformed",
            "SignatureDoesNotMatch",
        )
        assert body.taken == 0
    assert "big.bin" not in stored_objects()["lab-bucket"]


def test_any_other_payload_value_is_invalid_argument(tmp_path):
    fronts = s3_fronts(tmp_path)
    response = call(fronts.internet, declared_environ("PUT", f"{LAB}/g.txt", b"REAL", "anything"))
    assert code(response) == (400, "InvalidArgument")
    assert ET.fromstring(response.data).findtext("Message") == (
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value."
    )
    assert b"<ArgumentName>x-amz-content-sha256</ArgumentName><ArgumentValue>anything</ArgumentValue>" in response.data
    assert "g.txt" not in stored_objects()["lab-bucket"]


def test_a_hex_digest_is_compared_in_any_case(tmp_path):
    fronts = s3_fronts(tmp_path)
    other = s3_chunked.hashlib.sha256(b"OTHER").hexdigest().upper()
    assert code(call(fronts.internet, declared_environ("PUT", f"{LAB}/g.txt", b"REAL", other))) == (
        400,
        "XAmzContentSHA256Mismatch",
    )
    assert "g.txt" not in stored_objects()["lab-bucket"]
    right = s3_chunked.hashlib.sha256(b"REAL").hexdigest().upper()
    assert call(fronts.internet, declared_environ("PUT", f"{LAB}/g.txt", b"REAL", right)).status_code == 200
    assert stored_objects()["lab-bucket"]["g.txt"] == b"REAL"


def versions(key: str) -> list:
    (bucket,) = [b.buckets["lab-bucket"] for a in s3_backends.values() for b in a.values() if "lab-bucket" in b.buckets]
    return [getattr(v, "value", "delete marker") for v in bucket.keys.getlist(key)]


@pytest.mark.parametrize(
    "content_type, encode",
    [
        ("application/json", lambda v: json.dumps({"versionId": v})),
        ("application/x-www-form-urlencoded", lambda v: f"versionId={v}"),
    ],
)
def test_a_body_names_no_version_to_delete(tmp_path, content_type, encode):
    """moto's _get_param reads a form's fields and falls back to a JSON body; S3 ignores a
    DeleteObject's body and writes a delete marker."""
    deny = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObjectVersion", "Resource": "arn:aws:s3:::lab-bucket/*"}
            ],
        },
        "p",
    )
    fronts = s3_fronts(tmp_path, bucket_policies={"lab-bucket": deny})
    assert call(fronts.internet, signed_environ("PUT", f"{LAB}/?versioning", VERSIONING)).status_code == 200
    v1 = call(fronts.internet, signed_environ("PUT", f"{LAB}/doc.txt", b"v1")).headers["x-amz-version-id"]
    deleted = call(
        fronts.internet, signed_environ("DELETE", f"{LAB}/doc.txt", encode(v1).encode(), {"Content-Type": content_type})
    )
    assert deleted.status_code == 204 and deleted.headers.get("x-amz-delete-marker") == "true"
    assert versions("doc.txt") == [b"v1", "delete marker"]


def test_a_form_body_is_an_objects_data_not_a_subresource(tmp_path):
    """werkzeug parses a form body, and moto took its fields for the request's parameters and its
    'file' field for the body: the object held another body than the one sent and authorized."""
    deny = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObjectTagging", "Resource": "arn:aws:s3:::lab-bucket/*"}
            ],
        },
        "p",
    )
    fronts = s3_fronts(tmp_path, bucket_policies={"lab-bucket": deny})
    tagging = "<Tagging><TagSet><Tag><Key>owner</Key><Value>mallory</Value></Tag></TagSet></Tagging>"
    form = urlencode({"tagging": "", "key": "x", "file": tagging}).encode()
    put = call(
        fronts.internet, signed_environ("PUT", f"{LAB}/hello.txt", form, {"Content-Type": "application/x-www-form-urlencoded"})
    )
    assert put.status_code == 200
    assert stored_objects()["lab-bucket"]["hello.txt"] == form
    tags = call(fronts.internet, signed_environ("GET", f"{LAB}/hello.txt?tagging"))
    assert b"mallory" not in tags.data


def test_moto_gets_only_the_operations_headers_and_body():
    env = environ(
        "DELETE",
        f"{LAB}/doc.txt",
        b'{"versionId": "1"}',
        {
            "Content-Type": "application/json",
            "versionId": "1",
            "x-amz-decoded-content-length": "314572800",
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-bypass-governance-retention": "true",
            "X-Amz-Date": "x",
        },
    )
    rewrite(env, identify("DELETE", "object", (), ()), S3Target("lab-bucket", "doc.txt"), [], REGION, None)
    headers = {k: v for k, v in env.items() if k.startswith("HTTP_") or k.startswith("CONTENT_")}
    assert set(headers) == {
        "HTTP_HOST",
        "HTTP_AUTHORIZATION",
        "HTTP_X_AMZ_CONTENT_SHA256",
        "CONTENT_LENGTH",
        "HTTP_X_AMZ_BYPASS_GOVERNANCE_RETENTION",
    }
    assert (env["CONTENT_LENGTH"], env["wsgi.input"].read()) == ("0", b"")
    put = environ(
        "PUT",
        f"{LAB}/doc.txt",
        b"data",
        {"Content-Type": "text/plain", "Content-Encoding": "gzip,aws-chunked", "x-amz-meta-owner": "alice", "Range": "bytes=0-1"},
    )
    rewrite(put, identify("PUT", "object", (), ()), S3Target("lab-bucket", "doc.txt"), [], REGION, None)
    assert (put["CONTENT_TYPE"], put["HTTP_CONTENT_ENCODING"], put["HTTP_X_AMZ_META_OWNER"]) == ("text/plain", "gzip", "alice")
    assert "HTTP_RANGE" not in put and put["wsgi.input"].read() == b"data"


@pytest.mark.parametrize("method, signed", [("GET", True), ("OPTIONS", False)])
def test_a_streaming_declaration_without_a_body_allocates_nothing(tmp_path, method, signed):
    """moto allocated x-amz-decoded-content-length bytes for any request that declared a stream,
    an anonymous preflight included."""
    fronts = s3_fronts(tmp_path)
    headers = {"x-amz-decoded-content-length": str(300 * 1024 * 1024)}
    env = (
        declared_environ(method, f"{LAB}/hello.txt", b"", s3_chunked.SIGNED_CHUNKS, headers)
        if signed
        else environ(method, f"{LAB}/hello.txt", b"", {**headers, "x-amz-content-sha256": s3_chunked.SIGNED_CHUNKS})
    )
    tracemalloc.start()
    try:
        response = call(fronts.internet, env)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code < 500 and peak < 20 * 1024 * 1024


def signed_chunks(env: dict, parts: list[bytes], trailer: dict[str, str] | None = None) -> bytes:
    """`parts` as an aws-chunked body signed from the request's own signature (and a signed trailer)."""
    signed = sigv4.claimed(env)
    previous, out = signed.signature, b""
    for part in [*parts, b""]:
        previous = sigv4.chunk_signature(signed, previous, part)
        out += b"%x;chunk-signature=%s\r\n%s" % (len(part), previous.encode(), part) + (b"\r\n" if part else b"")
    if trailer is None:
        return out + b"\r\n"
    lines = "".join(f"{k}:{v}\n" for k, v in trailer.items())
    signature = sigv4.chunk_signature(signed, previous, lines.encode(), trailer=True)
    return out + lines.replace("\n", "\r\n").encode() + f"x-amz-trailer-signature:{signature}\r\n\r\n".encode()


def streaming_put(
    value: str,
    parts: list[bytes],
    *,
    trailer: dict[str, str] | None = None,
    tamper: bytes | None = None,
    length: str | None = "",
    trailer_header: str | None = None,
) -> dict:
    """A signed PUT of `parts` in aws-chunked coding; `length`: x-amz-decoded-content-length ('': the
    right one, None: none); `trailer_header`: x-amz-trailer (default: the trailer's names)."""
    data = b"".join(parts)
    headers = {"Content-Encoding": "aws-chunked"}
    if length is not None:
        headers["x-amz-decoded-content-length"] = length or str(len(data))
    if trailer or trailer_header:
        headers["x-amz-trailer"] = trailer_header or ",".join(trailer or ())
    env = declared_environ("PUT", f"{LAB}/streamed.bin", b"", value, headers)
    body = signed_chunks(env, parts, trailer) if value != s3_chunked.UNSIGNED_TRAILER else unsigned_chunks(parts, trailer)
    body = body.replace(parts[0], tamper) if tamper else body
    env.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
    return env


def unsigned_chunks(parts: list[bytes], trailer: dict[str, str] | None) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n"
    return body + "".join(f"{k}:{v}\r\n" for k, v in (trailer or {}).items()).encode() + b"\r\n"


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


PARTS = [b"a" * 8192, b"b" * 100]


@pytest.mark.parametrize(
    "value, trailer",
    [
        (s3_chunked.SIGNED_CHUNKS, None),
        (s3_chunked.SIGNED_CHUNKS_TRAILER, {"x-amz-checksum-crc32": crc32(b"".join(PARTS))}),
        (s3_chunked.UNSIGNED_TRAILER, {"x-amz-checksum-crc32": crc32(b"".join(PARTS))}),
    ],
)
def test_an_aws_chunked_upload_is_decoded_and_verified_in_the_front(tmp_path, value, trailer):
    fronts = s3_fronts(tmp_path)
    put = call(fronts.internet, streaming_put(value, PARTS, trailer=trailer))
    assert put.status_code == 200, put.data
    assert stored_objects()["lab-bucket"]["streamed.bin"] == b"".join(PARTS)
    head = call(fronts.internet, signed_environ("HEAD", f"{LAB}/streamed.bin"))
    assert "aws-chunked" not in head.headers.get("Content-Encoding", "")


@pytest.mark.parametrize(
    "value, trailer, expected",
    [
        (s3_chunked.SIGNED_CHUNKS, None, (403, "SignatureDoesNotMatch")),
        (s3_chunked.SIGNED_CHUNKS_TRAILER, {"x-amz-checksum-crc32": crc32(b"".join(PARTS))}, (403, "SignatureDoesNotMatch")),
        (s3_chunked.UNSIGNED_TRAILER, {"x-amz-checksum-crc32": crc32(b"".join(PARTS))}, (400, "BadDigest")),
    ],
)
def test_a_chunk_changed_on_the_way_is_refused_and_stores_nothing(tmp_path, value, trailer, expected):
    fronts = s3_fronts(tmp_path)
    put = call(fronts.internet, streaming_put(value, PARTS, trailer=trailer, tamper=b"A" + b"a" * 8191))
    assert code(put) == expected
    assert "streamed.bin" not in stored_objects()["lab-bucket"]


def test_a_signed_trailer_that_was_changed_is_refused(tmp_path):
    fronts = s3_fronts(tmp_path)
    env = streaming_put(s3_chunked.SIGNED_CHUNKS_TRAILER, PARTS, trailer={"x-amz-checksum-crc32": crc32(b"x")})
    body = env["wsgi.input"].getvalue().replace(crc32(b"x").encode(), crc32(b"".join(PARTS)).encode())
    env["wsgi.input"] = io.BytesIO(body)
    assert code(call(fronts.internet, env)) == (403, "SignatureDoesNotMatch")
    assert "streamed.bin" not in stored_objects()["lab-bucket"]


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(s3_chunked.hashlib.sha256(data).digest()).decode()


@pytest.mark.parametrize(
    "declared, trailer, expected",
    [
        ("x-amz-checksum-sha256", {"x-amz-checksum-sha256": sha256_b64(b"".join(PARTS))}, (200, None)),
        ("x-amz-checksum-sha256", {"x-amz-checksum-sha256": sha256_b64(b"other")}, (400, "BadDigest")),
        ("x-amz-checksum-crc32", {"x-amz-checksum-sha256": sha256_b64(b"".join(PARTS))}, (400, "MalformedTrailerError")),
        ("x-amz-checksum-crc32", {}, (400, "MalformedTrailerError")),
        ("x-amz-meta-owner", {"x-amz-meta-owner": "mallory"}, (400, "MalformedTrailerError")),
    ],
)
def test_the_trailer_is_the_declared_checksum_of_the_body(tmp_path, declared, trailer, expected):
    fronts = s3_fronts(tmp_path)
    env = streaming_put(s3_chunked.UNSIGNED_TRAILER, PARTS, trailer=trailer, trailer_header=declared)
    assert code(call(fronts.internet, env)) == expected
    assert ("streamed.bin" in stored_objects()["lab-bucket"]) == (expected[0] == 200)


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"Content-MD5": base64.b64encode(s3_chunked.hashlib.md5(b"data").digest()).decode()}, (200, None)),
        ({"Content-MD5": base64.b64encode(s3_chunked.hashlib.md5(b"other").digest()).decode()}, (400, "BadDigest")),
        ({"Content-MD5": "not base64!"}, (400, "InvalidDigest")),
        ({"x-amz-checksum-crc32": crc32(b"data")}, (200, None)),
        ({"x-amz-checksum-crc32": crc32(b"other")}, (400, "BadDigest")),
    ],
)
def test_a_plain_bodys_digests_are_checked(tmp_path, headers, expected):
    """moto stores whatever checksum it is given; S3 compares it with the body."""
    fronts = s3_fronts(tmp_path)
    assert code(call(fronts.internet, signed_environ("PUT", f"{LAB}/digested.txt", b"data", headers))) == expected
    assert ("digested.txt" in stored_objects()["lab-bucket"]) == (expected[0] == 200)


def test_a_body_that_ends_before_its_length_is_incomplete(tmp_path):
    fronts = s3_fronts(tmp_path)
    env = streaming_put(s3_chunked.UNSIGNED_TRAILER, PARTS, trailer={"x-amz-checksum-crc32": crc32(b"".join(PARTS))})
    env["CONTENT_LENGTH"] = str(len(env["wsgi.input"].getvalue()) + 100)
    env["wsgi.input"] = io.BytesIO(env["wsgi.input"].getvalue()[:5000])
    assert code(call(fronts.internet, env)) == (400, "IncompleteBody")
    assert "streamed.bin" not in stored_objects()["lab-bucket"]


def test_botocores_own_unsigned_trailer_encoding_is_read(tmp_path):
    """The body exactly as botocore's AwsChunkedWrapper writes it for the AWS CLI (CRC32 trailer)."""
    fronts = s3_fronts(tmp_path)
    data = bytes(range(256)) * 40
    encoded = AwsChunkedWrapper(io.BytesIO(data), Crc32Checksum, "x-amz-checksum-crc32", chunk_size=4096).read()
    env = declared_environ(
        "PUT",
        f"{LAB}/cli.bin",
        b"",
        s3_chunked.UNSIGNED_TRAILER,
        {
            "Content-Encoding": "aws-chunked",
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-decoded-content-length": str(len(data)),
            "x-amz-sdk-checksum-algorithm": "CRC32",
        },
    )
    env.update({"wsgi.input": io.BytesIO(encoded), "CONTENT_LENGTH": str(len(encoded))})
    put = call(fronts.internet, env)
    assert put.status_code == 200, put.data
    assert put.headers["x-amz-checksum-crc32"] == crc32(data)
    assert stored_objects()["lab-bucket"]["cli.bin"] == data


def test_a_decoded_length_over_the_limit_is_refused_before_reading(tmp_path):
    fronts = s3_fronts(tmp_path)
    env = streaming_put(
        s3_chunked.UNSIGNED_TRAILER, [b"x"], trailer={"x-amz-checksum-crc32": crc32(b"x")}, length=str(s3_chunked.MAX_BODY + 1)
    )
    env["wsgi.input"] = body = Counted(env["wsgi.input"].getvalue())
    assert code(call(fronts.internet, env)) == (400, "EntityTooLarge") and body.taken == 0
    with mock.patch.object(s3_chunked, "MAX_BODY", 8000):
        undeclared = streaming_put(s3_chunked.UNSIGNED_TRAILER, PARTS, length=None)
        assert code(call(fronts.internet, undeclared)) == (400, "EntityTooLarge")
    assert "streamed.bin" not in stored_objects()["lab-bucket"]


def test_chunk_signatures_are_the_ones_aws_documents():
    """The example of https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html: 64 KB then
    1 KB of 'a', seed signature 4f232c43..., in us-east-1 on 2013-05-24 with the documented example key."""
    signed = sigv4.Signed(
        "AKIAIOSFODNN7EXAMPLE",
        "20130524",
        "us-east-1",
        "s3",
        "20130524T000000Z",
        ("host",),
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        False,
    )
    expected = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ]
    with mock.patch.dict(sigv4.KEYS, {"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}):
        previous, got = signed.signature, []
        for part in (b"a" * 65536, b"a" * 1024, b""):
            previous = sigv4.chunk_signature(signed, previous, part)
            got.append(previous)
    assert got == expected


class Empty:
    def stream(self, **_):
        yield b""


def as_boto3_sends(method: str, operation: str, **params) -> dict:
    """The environ of the request boto3 (this botocore) sends for an S3 call over HTTPS, as werkzeug's
    server would deliver it: PutObject goes aws-chunked with a CRC32 trailer, as the AWS CLI's uploads do."""
    client = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=f"https://s3.{REGION}.amazonaws.com",
        aws_access_key_id=LAB_CREDENTIALS.access_key,
        aws_secret_access_key=LAB_CREDENTIALS.secret_key,
    )
    sent = []
    client.meta.events.register(
        f"before-send.s3.{operation}", lambda request, **_: sent.append(request) or AWSResponse(request.url, 200, {}, Empty())
    )
    getattr(client, method)(**params)
    (request,) = sent
    body = request.body.read() if hasattr(request.body, "read") else request.body or b""
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    chunked = headers.pop("Transfer-Encoding", None) == "chunked"
    return environ(request.method, request.url, body, headers, chunked=chunked)


def test_what_boto3_uploads_is_stored(tmp_path):
    fronts = s3_fronts(tmp_path)
    data = bytes(range(256)) * 300
    env = as_boto3_sends("put_object", "PutObject", Bucket="lab-bucket", Key="boto3.bin", Body=data)
    assert env["HTTP_X_AMZ_CONTENT_SHA256"] == s3_chunked.UNSIGNED_TRAILER and env["HTTP_CONTENT_ENCODING"] == "aws-chunked"
    put = call(fronts.internet, env)
    assert put.status_code == 200, put.data
    assert stored_objects()["lab-bucket"]["boto3.bin"] == data
