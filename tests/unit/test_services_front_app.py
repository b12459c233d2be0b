"""The S3 and DynamoDB fronts' application, in process and without sockets: moto's server app with
the declared buckets and tables created through its own API, S3's addressing styles and its errors.

The same app runs behind real ports in tests/integration/test_services.py.
"""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from werkzeug.test import Client

from lab.model.topology import Bucket, Table
from lab.services.front import service_app
from lab.services.seed import seed

XMLNS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
SEOUL = "ap-northeast-2"


def signed(region: str, service: str) -> dict[str, str]:
    """What moto reads of a boto3 request's signature: the credential scope (it checks nothing else)."""
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/{region}/{service}/aws4_request, "
                             "SignedHeaders=host, Signature=0"}


@pytest.fixture(scope="module")
def s3():
    app = service_app("s3")
    seed(app, "s3", SEOUL, (Bucket("lab-bucket", SEOUL, None, {"hello.txt": "hello\n", "dir/ü.txt": "u"}),
                            Bucket("virginia-bucket", "us-east-1", None, {})), ())
    return Client(app)


def test_buckets_are_created_in_their_regions(s3):
    for bucket, region, host in (("lab-bucket", SEOUL, f"s3.{SEOUL}.amazonaws.com"),
                                 ("virginia-bucket", "us-east-1", "s3.amazonaws.com")):
        response = s3.get(f"/{bucket}?location", headers={"Host": host, **signed(region, "s3")})
        # GetBucketLocation answers an empty constraint for us-east-1, as S3 does
        assert ET.fromstring(response.data).text == (None if region == "us-east-1" else region)


def test_virtual_hosted_and_path_style_reach_the_same_object(s3):
    virtual = s3.get("/hello.txt", headers={"Host": f"lab-bucket.s3.{SEOUL}.amazonaws.com", **signed(SEOUL, "s3")})
    path = s3.get("/lab-bucket/hello.txt", headers={"Host": f"s3.{SEOUL}.amazonaws.com", **signed(SEOUL, "s3")})
    utf8 = s3.get("/lab-bucket/dir/%C3%BC.txt", headers={"Host": f"s3.{SEOUL}.amazonaws.com", **signed(SEOUL, "s3")})
    assert (virtual.status_code, virtual.data, path.data, utf8.data) == (200, b"hello\n", b"hello\n", b"u")


def test_errors_are_s3s_xml(s3):
    missing = s3.get("/lab-bucket/nokey", headers={"Host": f"s3.{SEOUL}.amazonaws.com", **signed(SEOUL, "s3")})
    assert missing.status_code == 404 and ET.fromstring(missing.data).findtext("Code") == "NoSuchKey"
    nobucket = s3.get("/k", headers={"Host": f"nobucket.s3.{SEOUL}.amazonaws.com", **signed(SEOUL, "s3")})
    assert nobucket.status_code == 404 and ET.fromstring(nobucket.data).findtext("Code") == "NoSuchBucket"
    anonymous = s3.get("/hello.txt", headers={"Host": f"lab-bucket.s3.{SEOUL}.amazonaws.com"})
    assert anonymous.status_code == 403 and ET.fromstring(anonymous.data).findtext("Code") == "AccessDenied"


def test_list_buckets_shows_the_declared_buckets(s3):
    response = s3.get("/", headers={"Host": f"s3.{SEOUL}.amazonaws.com", **signed(SEOUL, "s3")})
    names = [e.text for e in ET.fromstring(response.data).iter(f"{XMLNS}Name")]
    assert {"lab-bucket", "virginia-bucket"} <= set(names)  # moto's state is per process, shared by tests


def test_dynamodb_tables_are_created_in_their_region():
    app = service_app("dynamodb")
    seed(app, "dynamodb", SEOUL, (), (Table("orders", SEOUL, "id"),))
    headers = {"Host": f"dynamodb.{SEOUL}.amazonaws.com", "X-Amz-Target": "DynamoDB_20120810.DescribeTable",
               "Content-Type": "application/x-amz-json-1.0"}
    here = Client(app).post("/", headers={**headers, **signed(SEOUL, "dynamodb")}, data='{"TableName": "orders"}')
    table = json.loads(here.data)["Table"]
    assert (table["TableStatus"], table["KeySchema"]) == ("ACTIVE", [{"AttributeName": "id", "KeyType": "HASH"}])
    elsewhere = Client(app).post("/", headers={**headers, "Host": "dynamodb.us-east-1.amazonaws.com",
                                               **signed("us-east-1", "dynamodb")}, data='{"TableName": "orders"}')
    assert json.loads(elsewhere.data)["__type"].endswith("ResourceNotFoundException")


@pytest.mark.parametrize("module", ["front", "resolver"])
def test_a_service_that_cannot_start_says_why_on_stderr_and_nothing_on_stdout(module, tmp_path):
    """The realizer waits for READY on stdout; a failure must end the process and explain itself."""
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"service": "s3"}))
    run = subprocess.run([sys.executable, "-m", f"lab.services.{module}", "--config", str(config)],
                         capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout) == (1, "")
    assert f"{config}: missing " in run.stderr and "Traceback" not in run.stderr
