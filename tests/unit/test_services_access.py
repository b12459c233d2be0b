"""What the service front reads off each request (ingress, client, bucket, key) and what it logs.

S3 addressing: https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from lab.services.access import ACCESS_KEY, RequestLog, s3_target
from lab.services.config import Ingress
from lab.services.process import JsonLines
from lab.services.s3errors import AccessDeniedBodies

VPCE = Ingress("vpce-0a1b2c3d4e5f60718", 10081, 10444)


@pytest.mark.parametrize("host, path, target", [
    ("lab-bucket.s3.ap-northeast-2.amazonaws.com", "/hello.txt", ("lab-bucket", "hello.txt")),
    ("lab-bucket.s3.ap-northeast-2.amazonaws.com:10444", "/dir/a b.txt", ("lab-bucket", "dir/a b.txt")),
    ("Lab.Bucket.S3.AP-NORTHEAST-2.amazonaws.com", "/k", ("lab.bucket", "k")),
    ("lab-bucket.s3.ap-northeast-2.amazonaws.com", "/", ("lab-bucket", None)),
    ("lab-bucket.s3.dualstack.ap-northeast-2.amazonaws.com", "/k", ("lab-bucket", "k")),
    ("lab-bucket.s3.amazonaws.com", "/k", ("lab-bucket", "k")),  # us-east-1's global name
    ("lab-bucket.s3.us-east-1.amazonaws.com", "/k", ("lab-bucket", "k")),
    ("s3.ap-northeast-2.amazonaws.com", "/lab-bucket/dir/hello.txt", ("lab-bucket", "dir/hello.txt")),
    ("s3.ap-northeast-2.amazonaws.com", "/lab-bucket/", ("lab-bucket", None)),
    ("s3.ap-northeast-2.amazonaws.com", "/lab-bucket", ("lab-bucket", None)),
    ("s3.amazonaws.com", "/", (None, None)),  # ListBuckets
    ("52.219.60.10:10080", "/lab-bucket/k", ("lab-bucket", "k")),  # no S3 name: path style, as S3 reads it
])
def test_bucket_and_key_from_virtual_host_or_path(host, path, target):
    assert s3_target(host, path) == target


def record_app(environ, start_response):
    """A stand-in for moto: answers 200 with what the middleware handed it."""
    return Response(json.dumps(environ[ACCESS_KEY].bucket))(environ, start_response)


def test_request_log_records_ingress_client_and_outcome(tmp_path):
    log = tmp_path / "requests.jsonl"
    client = Client(RequestLog(record_app, "s3", VPCE, JsonLines(log)))
    response = client.get("/dir/%C3%BC.txt", headers={"Host": "lab-bucket.s3.ap-northeast-2.amazonaws.com"},
                          environ_base={"REMOTE_ADDR": "10.0.2.15", "REMOTE_PORT": 41234})
    assert response.get_data(as_text=True) == '"lab-bucket"'  # the app saw the parsed access
    (line,) = [json.loads(x) for x in log.read_text().splitlines()]
    assert line.pop("time") > 0
    assert line == {"service": "s3", "ingress": "vpce-0a1b2c3d4e5f60718", "vpce_id": "vpce-0a1b2c3d4e5f60718",
                    "source_ip": "10.0.2.15", "source_port": 41234, "scheme": "http", "method": "GET",
                    "host": "lab-bucket.s3.ap-northeast-2.amazonaws.com", "path": "/dir/ü.txt",
                    "bucket": "lab-bucket", "key": "dir/ü.txt", "status": 200,
                    "action": None, "decision": None, "denied_by": None}  # no policy check in this chain


def test_dynamodb_requests_carry_no_bucket(tmp_path):
    log = tmp_path / "requests.jsonl"
    Client(RequestLog(lambda e, s: Response("{}")(e, s), "dynamodb", Ingress("internet", 1, 2), JsonLines(log))).post(
        "/", headers={"Host": "dynamodb.ap-northeast-2.amazonaws.com"})
    line = json.loads(log.read_text())
    assert (line["ingress"], line["vpce_id"], line["bucket"], line["key"], line["status"]) == \
        ("internet", None, None, None, 200)


def empty_403(environ, start_response):
    return Response("", status=403)(environ, start_response)


def test_empty_403_becomes_s3s_access_denied_document():
    response = Client(AccessDeniedBodies(empty_403)).get("/lab-bucket/k")
    assert response.status_code == 403 and response.content_type == "application/xml"
    error = ET.fromstring(response.data)
    assert (error.tag, error.findtext("Code"), error.findtext("Message")) == ("Error", "AccessDenied", "Access Denied")
    assert len(error.findtext("RequestId")) == 16 and error.findtext("HostId")
    assert int(response.headers["Content-Length"]) == len(response.data)


def test_head_and_non_empty_answers_pass_unchanged():
    assert Client(AccessDeniedBodies(empty_403)).head("/lab-bucket/k").data == b""
    not_found = lambda e, s: Response("<Error/>", status=404)(e, s)  # noqa: E731
    assert Client(AccessDeniedBodies(not_found)).get("/").data == b"<Error/>"
