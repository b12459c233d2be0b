"""What the service front reads off each request (ingress, client, bucket, key) and what it logs.

S3 addressing: https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html (virtual-
hosted and path style, the legacy global endpoint, a CNAME whose whole name is the bucket's);
https://docs.aws.amazon.com/AmazonS3/latest/userguide/dual-stack-endpoints.html (dual-stack).
Names and keys: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html (at most 1,024 UTF-8 bytes).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from fronts import s3_fronts
from lab.model.s3_requests import MAX_KEY_BYTES, S3Refusal, S3Target, parse_target
from lab.services.access import ACCESS_KEY, TARGET_KEY, RequestLog
from lab.services.config import Ingress
from lab.services.process import JsonLines
from signing import call, environ, signed_environ

VPCE = Ingress("vpce-0a1b2c3d4e5f60718", 10081, 10444)
SEOUL = "s3.ap-northeast-2.amazonaws.com"


@pytest.mark.parametrize(
    "host, path, target",
    [
        (f"lab-bucket.{SEOUL}", "/hello.txt", ("lab-bucket", "hello.txt")),
        (f"lab-bucket.{SEOUL}:10444", "/dir/a%20b.txt", ("lab-bucket", "dir/a b.txt")),
        ("Lab.Bucket.S3.AP-NORTHEAST-2.amazonaws.com", "/k", ("lab.bucket", "k")),  # DNS names ignore case
        (f"lab-bucket.{SEOUL}", "/", ("lab-bucket", None)),
        (f"lab-bucket.{SEOUL}.", "/k", ("lab-bucket", "k")),  # a trailing dot names the same host
        (f"lab-bucket.{SEOUL}.:443", "/k", ("lab-bucket", "k")),
        ("lab-bucket.s3.dualstack.ap-northeast-2.amazonaws.com", "/k", ("lab-bucket", "k")),
        ("lab-bucket.s3.amazonaws.com", "/k", ("lab-bucket", "k")),  # the legacy global name
        ("lab-bucket.s3.us-east-1.amazonaws.com", "/k", ("lab-bucket", "k")),
        (f"www.lab-bucket.{SEOUL}", "/k", ("www.lab-bucket", "k")),  # a bucket name may have dots
        (f"a.b.c.{SEOUL}", "/k", ("a.b.c", "k")),
        (SEOUL, "/lab-bucket/dir/hello.txt", ("lab-bucket", "dir/hello.txt")),
        (SEOUL, "/lab-bucket/", ("lab-bucket", None)),
        (SEOUL, "/lab-bucket", ("lab-bucket", None)),
        (f"{SEOUL}.", "/lab-bucket/k", ("lab-bucket", "k")),
        ("s3.dualstack.ap-northeast-2.amazonaws.com", "/lab-bucket/k", ("lab-bucket", "k")),
        ("s3.amazonaws.com", "/", (None, None)),  # ListBuckets
        ("S3.AMAZONAWS.COM", "/lab-bucket/k", ("lab-bucket", "k")),
        ("52.219.60.10:10080", "/lab-bucket/k", ("lab-bucket", "k")),  # an address: path style, as S3 reads it
        ("52.219.60.10", "/", (None, None)),
        ("", "/lab-bucket/k", ("lab-bucket", "k")),  # HTTP/1.0 without Host
        # a name that is no S3 endpoint is a CNAME to S3: the whole name is the bucket's
        ("images.example.com", "/k", ("images.example.com", "k")),
        ("lab-bucket.example.com.", "/k", ("lab-bucket.example.com", "k")),
        ("lab-bucket.s3-website.ap-northeast-2.amazonaws.com", "/k", ("lab-bucket.s3-website.ap-northeast-2.amazonaws.com", "k")),
        ("lab-bucket.s3-ap-northeast-2.amazonaws.com", "/k", ("lab-bucket.s3-ap-northeast-2.amazonaws.com", "k")),
        # the path is decoded once and never normalized
        (f"lab-bucket.{SEOUL}", "/a//b/../c/./d", ("lab-bucket", "a//b/../c/./d")),
        (f"lab-bucket.{SEOUL}", "//", ("lab-bucket", "/")),
        (f"lab-bucket.{SEOUL}", "/%2E%2E%2Fother-bucket%2Fk", ("lab-bucket", "../other-bucket/k")),
        (f"lab-bucket.{SEOUL}", "/%2541", ("lab-bucket", "%41")),
        (f"lab-bucket.{SEOUL}", "/a+b%2Bc~", ("lab-bucket", "a+b+c~")),  # '+' is a plus in a path
        (SEOUL, "/lab-bucket%2Fk", ("lab-bucket", "k")),
        (SEOUL, "/lab-bucket/%C3%BC/%E2%82%AC", ("lab-bucket", "ü/€")),
        (SEOUL, "/lab-bucket//", ("lab-bucket", "/")),
    ],
)
def test_bucket_and_key_as_s3_reads_host_and_path(host, path, target):
    assert parse_target(host, path) == S3Target(*target)


@pytest.mark.parametrize(
    "host, path, code, extra",
    [
        (SEOUL, "/lab-bucket/%FF", "InvalidURI", {}),  # not UTF-8 once decoded
        (SEOUL, "/lab-bucket/%C3", "InvalidURI", {}),
        (SEOUL, "lab-bucket/k", "InvalidURI", {}),  # a request target that is not a path
        (SEOUL, "/Lab_Bucket/k", "InvalidBucketName", {"BucketName": "Lab_Bucket"}),
        (SEOUL, "/ab/k", "InvalidBucketName", {"BucketName": "ab"}),
        (SEOUL, "/" + "a" * 64 + "/k", "InvalidBucketName", {"BucketName": "a" * 64}),
        (SEOUL, "//lab-bucket/k", "InvalidBucketName", {"BucketName": ""}),  # no bucket before the key
        (f"lab_bucket.{SEOUL}", "/k", "InvalidBucketName", {"BucketName": "lab_bucket"}),
        (
            "lab-bucket.s3.ap-northeast-2.amazonaws.com:443:443",
            "/k",
            "InvalidBucketName",
            {"BucketName": "lab-bucket.s3.ap-northeast-2.amazonaws.com:443:443"},
        ),
        (f"-lab-bucket.{SEOUL}", "/k", "InvalidBucketName", {"BucketName": "-lab-bucket"}),
    ],
)
def test_what_s3_cannot_read_is_its_error(host, path, code, extra):
    with pytest.raises(S3Refusal) as refused:
        parse_target(host, path)
    assert (refused.value.status, refused.value.code, refused.value.extra) == (400, code, extra)


def test_a_key_is_at_most_1024_utf8_bytes():
    longest = "ü" * (MAX_KEY_BYTES // 2)  # 2 bytes each
    assert parse_target(SEOUL, f"/lab-bucket/{longest}").key == longest
    with pytest.raises(S3Refusal) as refused:
        parse_target(SEOUL, f"/lab-bucket/{longest}a")
    assert (refused.value.code, refused.value.extra) == ("KeyTooLongError", {"MaxSizeAllowed": "1024"})


def record_app(environ, start_response):
    """A stand-in for a front: leaves the target it read, answers 200 with the access it was handed."""
    environ[TARGET_KEY] = parse_target(environ["HTTP_HOST"], environ["RAW_URI"])
    return Response(json.dumps(environ[ACCESS_KEY].source_ip))(environ, start_response)


def test_request_log_records_ingress_client_target_and_outcome(tmp_path):
    log = tmp_path / "requests.jsonl"
    env = environ(
        "GET",
        "http://lab-bucket.s3.ap-northeast-2.amazonaws.com/dir/%C3%BC.txt",
        headers={"Host": "lab-bucket.s3.ap-northeast-2.amazonaws.com"},
        client=("10.0.2.15", 41234),
    )
    response = call(RequestLog(record_app, "s3", VPCE, JsonLines(log)), env)
    assert response.get_data(as_text=True) == '"10.0.2.15"'  # the app saw the access
    (line,) = [json.loads(x) for x in log.read_text().splitlines()]
    assert line.pop("time") > 0
    assert line == {
        "service": "s3",
        "ingress": "vpce-0a1b2c3d4e5f60718",
        "vpce_id": "vpce-0a1b2c3d4e5f60718",
        "source_ip": "10.0.2.15",
        "source_port": 41234,
        "scheme": "http",
        "method": "GET",
        "host": "lab-bucket.s3.ap-northeast-2.amazonaws.com",
        "path": "/dir/ü.txt",
        "bucket": "lab-bucket",
        "key": "dir/ü.txt",
        "status": 200,
        "action": None,
        "decision": None,
        "denied_by": None,
    }  # no policy check in this chain


def test_dynamodb_requests_carry_no_bucket(tmp_path):
    log = tmp_path / "requests.jsonl"
    Client(RequestLog(lambda e, s: Response("{}")(e, s), "dynamodb", Ingress("internet", 1, 2), JsonLines(log))).post(
        "/", headers={"Host": "dynamodb.ap-northeast-2.amazonaws.com"}
    )
    line = json.loads(log.read_text())
    assert (line["ingress"], line["vpce_id"], line["bucket"], line["key"], line["status"]) == ("internet", None, None, None, 200)


def test_an_anonymous_request_is_s3s_access_denied_document(tmp_path):
    """The front answers a denial itself, in S3's XML, with the status the log records."""
    fronts = s3_fronts(tmp_path)
    response = call(fronts.internet, environ("GET", f"https://lab-bucket.{SEOUL}/hello.txt"))
    assert response.status_code == 403 and response.content_type == "application/xml"
    error = ET.fromstring(response.data)
    assert (error.tag, error.findtext("Code"), error.findtext("Message")) == ("Error", "AccessDenied", "Access Denied")
    assert len(error.findtext("RequestId")) == 16 and error.findtext("HostId")
    assert int(response.headers["Content-Length"]) == len(response.data)
    head = call(fronts.internet, environ("HEAD", f"https://lab-bucket.{SEOUL}/hello.txt"))
    assert (head.status_code, head.data) == (403, b"")  # a HEAD answer carries no body
    assert [(r["key"], r["status"], r["action"], r["decision"]) for r in fronts.logged()] == [
        ("hello.txt", 403, "s3:GetObject", "deny"),
        ("hello.txt", 403, "s3:GetObject", "deny"),
    ]


def test_moto_answers_pass_unchanged(tmp_path):
    """A 404 of moto's (a missing key) reaches the client as moto wrote it, S3's NoSuchKey."""
    missing = call(s3_fronts(tmp_path).internet, signed_environ("GET", f"https://lab-bucket.{SEOUL}/nokey"))
    error = ET.fromstring(missing.data)
    assert (missing.status_code, error.findtext("Code"), error.findtext("Key")) == (404, "NoSuchKey", "nokey")
