"""A bucket of another region: S3 answers 301 PermanentRedirect with x-amz-bucket-region, which the
AWS CLI and boto3 follow; buckets of the front's own region go on to the app."""
from __future__ import annotations

from lab.services.access import ACCESS_KEY, Access
from lab.services.s3errors import WrongRegion


def call(bucket: str, method: str = "GET"):
    environ = {"REQUEST_METHOD": method,
               ACCESS_KEY: Access(0.0, "s3", "internet", None, "13.124.1.2", 40000, "https", method,
                                  f"{bucket}.s3.ap-northeast-2.amazonaws.com", "/", bucket)}
    answer = {}

    def app(env, start_response):
        start_response("200 OK", [])
        return [b"ok"]

    body = b"".join(WrongRegion(app, {"far-bucket": "us-east-1", "tokyo": "ap-northeast-1"})(
        environ, lambda line, headers: answer.update(line=line, headers=dict(headers))))
    return answer, body


def test_a_bucket_of_another_region_is_redirected_there():
    answer, body = call("tokyo")
    assert answer["line"] == "301 Moved Permanently" and answer["headers"]["x-amz-bucket-region"] == "ap-northeast-1"
    assert b"<Code>PermanentRedirect</Code>" in body and b"<Endpoint>tokyo.s3.ap-northeast-1.amazonaws.com</Endpoint>" in body
    answer, body = call("far-bucket", "HEAD")
    assert answer["headers"]["x-amz-bucket-region"] == "us-east-1" and body == b""


def test_a_bucket_of_this_region_goes_on():
    assert call("lab-bucket") == ({"line": "200 OK", "headers": {}}, b"ok")
