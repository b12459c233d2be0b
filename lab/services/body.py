"""A request body read once and kept, so that the front can check or parse it (a payload digest, a
DeleteObjects key list, a DynamoDB call's tables) and its backend still reads it whole after.

werkzeug hands a chunked body (Transfer-Encoding: chunked) already de-chunked with no
Content-Length; either way the kept body replaces `wsgi.input` with its length set. S3's own
aws-chunked content coding (signed chunks, trailers) is decoded by lab.services.s3_chunked, which
keeps the decoded body here.
"""

from __future__ import annotations

import io

BODY_KEY = "vpclab.body"
MAX_BODY = 256 * 1024 * 1024  # the front keeps bodies in memory (S3's own limit, 5 GB, is not emulated)


class BodyTooLarge(Exception):
    """The body is over `MAX_BODY`; each front answers with its service's error."""


def buffered_body(environ: dict) -> bytes:
    if BODY_KEY in environ:
        return environ[BODY_KEY]
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > MAX_BODY:
        raise BodyTooLarge(length)
    if length.isdigit() or environ.get("wsgi.input_terminated"):
        body = environ["wsgi.input"].read(int(length) if length.isdigit() else MAX_BODY + 1)
    else:
        body = b""
    if len(body) > MAX_BODY:
        raise BodyTooLarge(str(len(body)))
    replace_body(environ, body)
    return body


def replace_body(environ: dict, body: bytes) -> None:
    environ.update({BODY_KEY: body, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
