"""A bucket of another region: S3 answers 301 PermanentRedirect with x-amz-bucket-region, which the AWS
CLI and boto3 follow; buckets of the front's own region go on to moto
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html, PermanentRedirect)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fronts import OBJECTS, s3_fronts
from signing import call, signed_environ

ELSEWHERE = {"far-bucket": "us-east-1", "tokyo": "ap-northeast-1"}


def test_a_bucket_of_another_region_is_redirected_there(tmp_path):
    front = s3_fronts(tmp_path, elsewhere=ELSEWHERE).internet
    tokyo = call(front, signed_environ("GET", "https://tokyo.s3.ap-northeast-2.amazonaws.com/k"))
    error = ET.fromstring(tokyo.data)
    assert (tokyo.status_code, tokyo.headers["x-amz-bucket-region"]) == (301, "ap-northeast-1")
    assert (error.findtext("Code"), error.findtext("Endpoint"), error.findtext("Bucket")) == (
        "PermanentRedirect",
        "tokyo.s3.ap-northeast-1.amazonaws.com",
        "tokyo",
    )
    far = call(front, signed_environ("HEAD", "https://s3.ap-northeast-2.amazonaws.com/far-bucket"))
    assert (far.status_code, far.headers["x-amz-bucket-region"], far.data) == (301, "us-east-1", b"")
    far_get = ET.fromstring(call(front, signed_environ("GET", "https://far-bucket.s3.amazonaws.com/")).data)
    assert far_get.findtext("Endpoint") == "far-bucket.s3.amazonaws.com"  # us-east-1's global name


def test_a_bucket_of_this_region_goes_on(tmp_path):
    front = s3_fronts(tmp_path, elsewhere=ELSEWHERE).internet
    response = call(front, signed_environ("GET", "https://lab-bucket.s3.ap-northeast-2.amazonaws.com/hello.txt"))
    assert (response.status_code, response.data) == (200, OBJECTS["lab-bucket"]["hello.txt"].encode())
    assert "x-amz-bucket-region" not in response.headers
