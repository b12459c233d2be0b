"""The S3 and DynamoDB fronts' application, in process and without sockets: moto's app for the one
service, the declared buckets and tables created through its own API, S3's addressing styles and
its errors through the S3 front.

The same app runs behind real ports in tests/integration/test_services.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from fronts import reset_moto
from lab.model.topology import Bucket, Table
from lab.services.access import RequestLog
from lab.services.config import Ingress
from lab.services.front import service_app
from lab.services.process import JsonLines
from lab.services.s3front import S3Front
from lab.services.seed import seed
from signing import call, environ, signed_environ

XMLNS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
SEOUL = "ap-northeast-2"


@pytest.fixture(scope="module")
def s3():
    """moto's S3 app with a bucket in Seoul and one in us-east-1."""
    reset_moto("s3")
    app = service_app("s3")
    seed(
        app,
        "s3",
        SEOUL,
        (
            Bucket("lab-bucket", SEOUL, None, {"hello.txt": "hello\n", "dir/ü.txt": "u"}),
            Bucket("virginia-bucket", "us-east-1", None, {}),
        ),
        (),
    )
    return app


@pytest.fixture
def front(s3, tmp_path):
    """The S3 front of the internet ingress over that app, logging as in the lab."""
    internet = Ingress("internet", 10080, 10443)
    checked = S3Front(s3, SEOUL, internet, {}, {"virginia-bucket": "us-east-1"})
    return RequestLog(checked, "s3", internet, JsonLines(tmp_path / "requests.jsonl"))


def test_buckets_are_created_in_their_regions(s3):
    for bucket, region, host in (
        ("lab-bucket", SEOUL, f"s3.{SEOUL}.amazonaws.com"),
        ("virginia-bucket", "us-east-1", "s3.amazonaws.com"),
    ):
        response = call(s3, signed_environ("GET", f"https://{host}/{bucket}?location", region=region))
        # GetBucketLocation answers an empty constraint for us-east-1, as S3 does
        assert ET.fromstring(response.data).text == (None if region == "us-east-1" else region)


def test_only_the_services_own_api_is_mounted(s3):
    """No /moto-api (reset, data.json, the recorder) and no other service: moto's whole-server app
    is never what a front serves."""
    assert not [r.rule for r in s3.url_map.iter_rules() if "moto-api" in r.rule]
    data = call(s3, signed_environ("GET", f"https://s3.{SEOUL}.amazonaws.com/moto-api/data.json"))
    error = ET.fromstring(data.data)
    assert (data.status_code, error.findtext("Code"), error.findtext("BucketName")) == (404, "NoSuchBucket", "moto-api")


def test_virtual_hosted_and_path_style_reach_the_same_object(front):
    virtual = call(front, signed_environ("GET", f"https://lab-bucket.s3.{SEOUL}.amazonaws.com/hello.txt"))
    path = call(front, signed_environ("GET", f"https://s3.{SEOUL}.amazonaws.com/lab-bucket/hello.txt"))
    utf8 = call(front, signed_environ("GET", f"https://s3.{SEOUL}.amazonaws.com/lab-bucket/dir/%C3%BC.txt"))
    assert (virtual.status_code, virtual.data, path.data, utf8.data) == (200, b"hello\n", b"hello\n", b"u")


def test_errors_are_s3s_xml(front):
    missing = call(front, signed_environ("GET", f"https://s3.{SEOUL}.amazonaws.com/lab-bucket/nokey"))
    assert missing.status_code == 404 and ET.fromstring(missing.data).findtext("Code") == "NoSuchKey"
    nobucket = call(front, signed_environ("GET", f"https://nobucket.s3.{SEOUL}.amazonaws.com/k"))
    assert nobucket.status_code == 404 and ET.fromstring(nobucket.data).findtext("Code") == "NoSuchBucket"
    anonymous = call(front, environ("GET", f"https://lab-bucket.s3.{SEOUL}.amazonaws.com/hello.txt"))
    assert anonymous.status_code == 403 and ET.fromstring(anonymous.data).findtext("Code") == "AccessDenied"
    assert b"hello" not in anonymous.data


def test_list_buckets_shows_the_declared_buckets(front):
    response = call(front, signed_environ("GET", f"https://s3.{SEOUL}.amazonaws.com/"))
    names = [e.text for e in ET.fromstring(response.data).iter(f"{XMLNS}Name")]
    assert sorted(names) == ["lab-bucket", "virginia-bucket"]


def test_dynamodb_tables_are_created_in_their_region():
    reset_moto("dynamodb")
    app = service_app("dynamodb")
    seed(app, "dynamodb", SEOUL, (), (Table("orders", SEOUL, "id"),))

    def describe(region: str) -> dict:
        env = signed_environ(
            "POST",
            f"https://dynamodb.{region}.amazonaws.com/",
            b'{"TableName": "orders"}',
            {"X-Amz-Target": "DynamoDB_20120810.DescribeTable", "Content-Type": "application/x-amz-json-1.0"},
            service="dynamodb",
            region=region,
        )
        return json.loads(call(app, env).data)

    table = describe(SEOUL)["Table"]
    assert (table["TableStatus"], table["KeySchema"]) == ("ACTIVE", [{"AttributeName": "id", "KeyType": "HASH"}])
    assert describe("us-east-1")["__type"].endswith("ResourceNotFoundException")


@pytest.mark.parametrize("module", ["front", "resolver"])
def test_a_service_that_cannot_start_says_why_on_stderr_and_nothing_on_stdout(module, tmp_path):
    """The realizer waits for READY on stdout; a failure must end the process and explain itself."""
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"service": "s3"}))
    run = subprocess.run(
        [sys.executable, "-m", f"lab.services.{module}", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert (run.returncode, run.stdout) == (1, "")
    assert f"{config}: missing " in run.stderr and "Traceback" not in run.stderr
