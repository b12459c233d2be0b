"""S3's XML error bodies: for the answers moto leaves empty, for the front's own policy denials, and
for requests that reach the wrong region.

moto 5.2.5 answers an anonymous request for a private object, and a bucket-policy deny, with a bare
403 (measurements.md section 10); real S3 sends its AccessDenied document, which is what curl users
and the lab's exercises read. Format: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html.
"""
from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterable
from xml.sax.saxutils import escape

from lab.services.access import ACCESS_KEY


def error_xml(code: str, message: str, **extra: str) -> bytes:
    """An S3 error document with a fresh RequestId and HostId, as S3 sends for every error."""
    fields = {"Code": code, "Message": message, **extra, "RequestId": secrets.token_hex(8).upper(),
              "HostId": base64.b64encode(secrets.token_bytes(48)).decode()}
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{body}</Error>'.encode()


def access_denied(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """S3's 403 AccessDenied answer, as a WSGI app; a HEAD answer carries no body, as S3's never does."""
    body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else error_xml("AccessDenied", "Access Denied")
    start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


class AccessDeniedBodies:
    """WSGI middleware: give an empty 403 S3's AccessDenied body (HEAD answers never have one)."""

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        replaced: list[bytes] = []

        def completing(line: str, headers: list, exc_info=None):
            length = next((v for k, v in headers if k.lower() == "content-length"), None)
            if line.startswith("403") and length == "0" and environ.get("REQUEST_METHOD") != "HEAD":
                replaced.append(error_xml("AccessDenied", "Access Denied"))
                headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type")]
                headers += [("Content-Type", "application/xml"), ("Content-Length", str(len(replaced[0])))]
            return start_response(line, headers, exc_info)

        body = self.app(environ, completing)
        if not replaced:
            return body
        if hasattr(body, "close"):
            body.close()
        return replaced


class WrongRegion:
    """WSGI middleware: a request for a bucket of another region gets S3's 301 PermanentRedirect
    with `x-amz-bucket-region`, which the AWS CLI and boto3 follow to the right region
    (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html, PermanentRedirect)."""

    def __init__(self, app: Callable, elsewhere: dict[str, str]):
        self.app, self.elsewhere = app, elsewhere

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        bucket = environ[ACCESS_KEY].bucket
        region = self.elsewhere.get(bucket or "")
        if region is None:
            return self.app(environ, start_response)
        endpoint = f"{bucket}.s3.{region}.amazonaws.com" if region != "us-east-1" else f"{bucket}.s3.amazonaws.com"
        body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else error_xml(
            "PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified "
            "endpoint. Please send all future requests to this endpoint.", Endpoint=endpoint, Bucket=bucket)
        start_response("301 Moved Permanently", [("Content-Type", "application/xml"), ("x-amz-bucket-region", region),
                                                 ("Content-Length", str(len(body)))])
        return [body]
