"""An S3 request's body as S3 reads it, by what its x-amz-content-sha256 declares, decoded in the
front so that moto only ever gets a plain body.

The declared value is checked before the signature (which covers it) and the body is read only
after the signature holds, so an unknown key or a bad signature costs no body
(https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html):

- a hex SHA-256 digest: the body must have it (XAmzContentSHA256Mismatch); UNSIGNED-PAYLOAD: as sent;
- STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] (Content-Encoding aws-chunked): each chunk signed,
  chained from the request's own signature
  (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html), the trailer signed after
  the final chunk (sigv4-streaming-trailers.html);
- STREAMING-UNSIGNED-PAYLOAD-TRAILER, what botocore and the AWS CLI send for uploads over HTTPS:
  unsigned chunks, then a trailing checksum (x-amz-checksum-crc32, ...) that S3 checks (BadDigest)
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html). CRC32, SHA-1
  and SHA-256 are checked here (the standard library has them); CRC32C and CRC64NVME are passed on.
- the SigV4a (ECDSA) values are valid but not emulated; anything else is S3's InvalidArgument.

The decoded length is capped at body.MAX_BODY before any of it is kept (x-amz-decoded-content-length
is the client's word only for refusing early); a trailing checksum becomes the ordinary header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import zlib
from collections.abc import Callable
from typing import IO

from werkzeug.exceptions import ClientDisconnected
from werkzeug.wsgi import get_input_stream

from lab.model.s3_requests import S3Refusal
from lab.services import sigv4
from lab.services.body import MAX_BODY, BodyTooLarge, buffered_body, replace_body

UNSIGNED = "UNSIGNED-PAYLOAD"
SIGNED_CHUNKS = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_CHUNKS_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
ECDSA = ("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER")
STREAMING = (SIGNED_CHUNKS, SIGNED_CHUNKS_TRAILER, UNSIGNED_TRAILER)
VALUES = (UNSIGNED, UNSIGNED_TRAILER, SIGNED_CHUNKS, SIGNED_CHUNKS_TRAILER, *ECDSA)
HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
CHUNK_HEADER = re.compile(rb"([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?")
MAX_LINE = 1024  # a chunk header or a trailing header line
MAX_TRAILERS = 8
CHECKSUMS: dict[str, Callable[[bytes], bytes]] = {
    "x-amz-checksum-crc32": lambda data: zlib.crc32(data).to_bytes(4, "big"),
    "x-amz-checksum-sha1": lambda data: hashlib.sha1(data).digest(),  # noqa: S324 - S3's own checksum
    "x-amz-checksum-sha256": lambda data: hashlib.sha256(data).digest(),
}
INCOMPLETE = S3Refusal(400, "IncompleteBody", "The request body terminated unexpectedly")
MALFORMED_TRAILER = S3Refusal(
    400,
    "MalformedTrailerError",
    "The request contained trailing data that was not well-formed or did not conform to our published schema.",
)


def declared(environ: dict, signed: sigv4.Signed | None) -> str:
    """What the payload is declared to be (the value the signature covers), checked, no body read.
    A presigned URL's payload is always UNSIGNED-PAYLOAD; an anonymous request need not say."""
    if signed is not None and signed.presigned:
        return UNSIGNED
    value = environ.get("HTTP_X_AMZ_CONTENT_SHA256")
    if value is None and signed is not None:
        raise S3Refusal(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    if value is not None and value not in VALUES and not HEX_DIGEST.fullmatch(value):
        raise S3Refusal(
            400,
            "InvalidArgument",
            "x-amz-content-sha256 must be " + ", ".join(VALUES) + " or a valid sha256 value.",
            {"ArgumentName": "x-amz-content-sha256", "ArgumentValue": value},
        )
    return UNSIGNED if value is None else value


def read_payload(environ: dict, value: str, signed: sigv4.Signed | None, operation: str) -> bytes:
    """The body of `operation` as S3 reads it, kept in `environ` (body.replace_body); `value` from
    `declared`, the signature already verified. Its Content-MD5 and checksum headers must match it."""
    if value in ECDSA:
        raise S3Refusal(501, "NotImplemented", "vpclab does not emulate SigV4a (ECDSA) signed payloads")
    if value in STREAMING:
        body = decoded(environ, value, signed)
        replace_body(environ, body)
    else:
        body = buffered_body(environ)
    if value not in (UNSIGNED, *STREAMING) and hashlib.sha256(body).hexdigest() != value.lower():
        raise S3Refusal(
            400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    check_md5(environ.get("HTTP_CONTENT_MD5"), body)
    if operation != "CompleteMultipartUpload":  # whose checksum headers are the whole object's
        check_sums(body, header_checksums(environ))
    return body


def header_checksums(environ: dict) -> dict[str, str]:
    """The request's x-amz-checksum-* headers that the front can compute."""
    keys = {name: "HTTP_" + name.upper().replace("-", "_") for name in CHECKSUMS}
    return {name: environ[key] for name, key in keys.items() if key in environ}


def check_md5(value: str | None, body: bytes) -> None:
    """Content-MD5: the body's MD5, base64 (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html:
    InvalidDigest, BadDigest)."""
    if value is None:
        return
    try:
        digest = base64.b64decode(value, validate=True)
    except ValueError:
        digest = b""
    if len(digest) != 16:
        raise S3Refusal(400, "InvalidDigest", "The Content-MD5 you specified is not valid.")
    if digest != hashlib.md5(body).digest():  # noqa: S324 - S3's own digest
        raise S3Refusal(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")


def decoded(environ: dict, value: str, signed: sigv4.Signed | None) -> bytes:
    """An aws-chunked body, decoded, its signatures verified; its trailing checksum set as the ordinary
    header (which read_payload checks)."""
    if value != UNSIGNED_TRAILER and (signed is None or signed.presigned):
        raise S3Refusal(
            400,
            "InvalidRequest",
            f"{value} needs a request signed in its Authorization header: its chunks are signed from that signature",
        )
    length = decoded_length(environ)
    try:  # the stream never reads past Content-Length
        body, trailing = read_chunked(
            get_input_stream(environ, safe_fallback=True), value, signed, MAX_BODY if length is None else length
        )
    except (ClientDisconnected, OSError):  # the body ended early, or its HTTP chunking was broken
        raise INCOMPLETE from None
    if length is not None and len(body) != length:
        raise INCOMPLETE
    if set(trailing) != {n.strip().lower() for n in environ.get("HTTP_X_AMZ_TRAILER", "").split(",") if n.strip()}:
        raise MALFORMED_TRAILER  # x-amz-trailer names what follows the body
    environ.update({"HTTP_" + name.upper().replace("-", "_"): v for name, v in trailing.items()})
    return body


def read_chunked(stream: IO[bytes], value: str, signed: sigv4.Signed | None, limit: int) -> tuple[bytes, dict[str, str]]:
    """(the data, the trailing headers) of an aws-chunked body, at most `limit` bytes of data."""
    chain = signed.signature if value != UNSIGNED_TRAILER and signed else None
    body, chain = chunks(stream, signed, chain, limit)
    if value != SIGNED_CHUNKS:
        return body, trailers(stream, signed, chain)
    if stream.read(2) != b"\r\n":
        raise INCOMPLETE
    return body, {}


def decoded_length(environ: dict) -> int | None:
    """x-amz-decoded-content-length, refused early when it is over the front's limit."""
    value = environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH")
    if value is None:
        return None
    if not value.isdigit():
        raise S3Refusal(
            400,
            "InvalidArgument",
            "x-amz-decoded-content-length must be a number of bytes",
            {"ArgumentName": "x-amz-decoded-content-length", "ArgumentValue": value},
        )
    if int(value) > MAX_BODY:
        raise BodyTooLarge(value)
    return int(value)


def chunks(stream: IO[bytes], signed: sigv4.Signed | None, chain: str | None, limit: int) -> tuple[bytes, str | None]:
    """The chunks' data up to the empty final chunk, each signature checked when `chain` (the
    previous signature) is given; with the final chunk's signature, which a trailer continues."""
    parts: list[bytes] = []
    total = 0
    while True:
        size, signature = chunk_header(line(stream), chain is not None)
        if total + size > limit:
            raise BodyTooLarge(str(total + size)) if limit == MAX_BODY else INCOMPLETE
        data = exactly(stream, size)
        if chain is not None and signed is not None:
            chain = checked_signature(sigv4.chunk_signature(signed, chain, data), signature)
        if size == 0:
            return b"".join(parts), chain
        if stream.read(2) != b"\r\n":
            raise INCOMPLETE
        parts.append(data)
        total += size


def chunk_header(text: bytes, signed: bool) -> tuple[int, str | None]:
    """(size, chunk signature) of `hex-size[;chunk-signature=sig]`; signed chunks must carry one."""
    match = CHUNK_HEADER.fullmatch(text)
    if match is None or (signed and match[2] is None):
        raise INCOMPLETE
    return int(match[1], 16), match[2].decode() if match[2] else None


def checked_signature(expected: str, given: str | None) -> str:
    if given is None or not hmac.compare_digest(expected, given):
        raise sigv4.SignatureProblem(
            "mismatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
    return expected


def trailers(stream: IO[bytes], signed: sigv4.Signed | None, chain: str | None) -> dict[str, str]:
    """The trailing headers after the final chunk (lower-case names), up to the empty line; a signed
    trailer ends with x-amz-trailer-signature over the others' `name:value\\n` lines."""
    found: dict[str, str] = {}
    for _ in range(MAX_TRAILERS + 1):
        text = line(stream, b"\n").rstrip(b"\r").decode("latin-1")
        if not text:
            break
        name, colon, value = text.partition(":")
        if not colon:
            raise MALFORMED_TRAILER
        found[name.strip().lower()] = value.strip()
    else:
        raise MALFORMED_TRAILER
    signature = found.pop("x-amz-trailer-signature", None)
    if chain is not None and signed is not None:
        canonical = "".join(f"{name}:{value}\n" for name, value in found.items()).encode()
        checked_signature(sigv4.chunk_signature(signed, chain, canonical, trailer=True), signature)
    if any(not name.startswith("x-amz-checksum-") for name in found):
        raise MALFORMED_TRAILER  # the only trailing headers S3 takes are checksums
    return found


def check_sums(body: bytes, trailing: dict[str, str]) -> None:
    """S3's BadDigest for a trailing checksum that the body does not have."""
    for name, value in trailing.items():
        if name in CHECKSUMS and base64.b64encode(CHECKSUMS[name](body)).decode() != value:
            algorithm = name.removeprefix("x-amz-checksum-").upper()
            raise S3Refusal(400, "BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")


def line(stream: IO[bytes], end: bytes = b"\r\n") -> bytes:
    """One line without its ending, at most MAX_LINE bytes."""
    text = stream.readline(MAX_LINE + 2)
    if not text.endswith(end):
        raise INCOMPLETE
    return text[: -len(end)]


def exactly(stream: IO[bytes], size: int) -> bytes:
    """`size` bytes (a stream may return fewer per read), or IncompleteBody."""
    parts, left = [], size
    while left:
        part = stream.read(min(left, 1 << 20))
        if not part:
            raise INCOMPLETE
        parts.append(part)
        left -= len(part)
    return b"".join(parts)
