"""S3's XML error answers, for everything the front refuses itself (a request shape S3 refuses, a
signature it does not accept, a policy denial, a bucket of another region), so that curl users and
the lab's exercises read S3's own documents. Format: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterable
from http import HTTPStatus
from xml.sax.saxutils import escape

from lab.model.s3_requests import S3Refusal
from lab.services.sigv4 import SignatureProblem


def error_xml(code: str, message: str, **extra: str) -> bytes:
    """An S3 error document with a fresh RequestId and HostId, as S3 sends for every error."""
    fields = {
        "Code": code,
        "Message": message,
        **extra,
        "RequestId": secrets.token_hex(8).upper(),
        "HostId": base64.b64encode(secrets.token_bytes(48)).decode(),
    }
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{body}</Error>'.encode()


def s3_error(environ: dict, start_response: Callable, refusal: S3Refusal) -> Iterable[bytes]:
    """S3's answer to a request it refuses, as a WSGI app; a HEAD answer carries no body, as S3's never does."""
    body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else error_xml(refusal.code, refusal.message, **refusal.extra)
    start_response(
        f"{refusal.status} {HTTPStatus(refusal.status).phrase}",
        [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
    )
    return [body]


def wrong_region(environ: dict, start_response: Callable, bucket: str, region: str) -> Iterable[bytes]:
    """A bucket of another region: S3's 301 PermanentRedirect with `x-amz-bucket-region`, which the AWS
    CLI and boto3 follow to the right region
    (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html, PermanentRedirect)."""
    endpoint = f"{bucket}.s3.{region}.amazonaws.com" if region != "us-east-1" else f"{bucket}.s3.amazonaws.com"
    body = (
        b""
        if environ.get("REQUEST_METHOD") == "HEAD"
        else error_xml(
            "PermanentRedirect",
            "The bucket you are attempting to access must be addressed using the specified "
            "endpoint. Please send all future requests to this endpoint.",
            Endpoint=endpoint,
            Bucket=bucket,
        )
    )
    start_response(
        "301 Moved Permanently",
        [("Content-Type", "application/xml"), ("x-amz-bucket-region", region), ("Content-Length", str(len(body)))],
    )
    return [body]


def signature_refusal(problem: SignatureProblem) -> S3Refusal:
    """S3's error for a signature it does not accept
    (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList)."""
    facts, presigned = problem.facts, problem.presigned
    if problem.kind == "sigv2":
        return S3Refusal(
            400, "InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
        )
    if problem.kind == "unknown-key":
        return S3Refusal(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            {"AWSAccessKeyId": problem.detail},
        )
    if problem.kind == "headers-not-signed":
        return S3Refusal(
            403,
            "AccessDenied",
            "There were headers present in the request which were not signed",
            {"HeadersNotSigned": problem.detail},
        )
    if problem.kind == "mismatch":
        return S3Refusal(403, "SignatureDoesNotMatch", problem.detail, {"CanonicalRequest": facts.get("CanonicalRequest", "")})
    if problem.kind == "skewed":
        return S3Refusal(403, "RequestTimeTooSkewed", problem.detail, {**facts, "MaxAllowedSkewMilliseconds": "900000"})
    if problem.kind in ("expired", "not-yet-valid"):
        return S3Refusal(403, "AccessDenied", problem.detail, dict(facts))
    code = "AuthorizationQueryParametersError" if presigned else "AuthorizationHeaderMalformed"
    where = "Error parsing the X-Amz-Credential parameter;" if presigned else "The authorization header is malformed;"
    if problem.kind == "wrong-region":
        return S3Refusal(
            400,
            code,
            f"{where} the region '{problem.detail}' is wrong; expecting '{facts['Region']}'",
            {"Region": facts["Region"]},
        )
    if problem.kind == "wrong-service":
        return S3Refusal(400, code, f"{where} incorrect service '{problem.detail}'. This endpoint belongs to 's3'.")
    return S3Refusal(400, code, problem.detail or "The authorization header is malformed")
