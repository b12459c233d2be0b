"""AWS Signature Version 4, verified the way AWS verifies it, for the S3 and DynamoDB fronts.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html (the
canonical request, the string to sign, the signing key) and, for S3's variants (the payload hash in
`x-amz-content-sha256`, no path normalization, query-string authentication),
https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html.

The signature is recomputed from the request as it arrived (raw path, raw query, the signed
headers' values), with the lab account's one key pair (lab.model.ids). botocore can only sign a
request it builds itself, so the recomputation is written here; the tests check it against
botocore's signer. What goes wrong is a `SignatureProblem` whose `kind` each front turns into its
own service's error.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from lab.model import ids

ALGORITHM = "AWS4-HMAC-SHA256"
KEYS = {ids.ACCESS_KEY_ID: ids.SECRET_ACCESS_KEY}  # the lab account's: what every front but EC2's takes


def secret_of(access_key: str, every_account: bool) -> str | None:
    """The secret of `access_key`: the lab account's, or with `every_account` (the EC2 front: a
    provider accepts its connections with its own account's key) any account's of the lab."""
    if access_key in KEYS:
        return KEYS[access_key]
    account = ids.account_of(access_key) if every_account else None
    return None if account is None else ids.credentials(account)[1]


MAX_SKEW = timedelta(minutes=15)  # "within 15 minutes of the AWS system time"
MAX_PRESIGNED_EXPIRY = 604800  # seven days
HEADER = re.compile(r"AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})")


class SignatureProblem(Exception):
    """Why a signature is not accepted. kind: malformed, sigv2, unknown-key, wrong-region,
    wrong-service, headers-not-signed, mismatch, skewed, expired, not-yet-valid."""

    def __init__(self, kind: str, detail: str = "", presigned: bool = False, **facts: str):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind, self.detail, self.presigned, self.facts = kind, detail, presigned, facts


@dataclass(frozen=True)
class Signed:
    """What a request claims about its signature."""

    access_key: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str
    amz_date: str  # YYYYMMDDTHHMMSSZ
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool
    expires: int | None = None

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _params(query: str) -> list[tuple[str, str]]:
    """The raw query's name/value pairs, percent-decoded once (a '+' stays a '+', as AWS reads it)."""
    return [(unquote(k), unquote(v)) for k, _, v in (p.partition("=") for p in query.split("&") if p)]


def _credential(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not re.fullmatch(r"\d{8}", parts[1]):
        raise SignatureProblem("malformed", f"the credential {value!r} is not <key>/<date>/<region>/<service>/aws4_request")
    return parts[0], parts[1], parts[2], parts[3]


def claimed(environ: dict) -> Signed | None:
    """The signature a request carries in its Authorization header or its query string; None for an
    anonymous request. Signature Version 2 is refused: buckets made since June 2020 take only SigV4."""
    header = environ.get("HTTP_AUTHORIZATION")
    query = dict(_params(environ.get("QUERY_STRING", "")))
    if header is not None:
        if header.startswith("AWS "):
            raise SignatureProblem("sigv2")
        match = HEADER.fullmatch(header.strip())
        if not match:
            raise SignatureProblem(
                "malformed", "the Authorization header is not AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..."
            )
        amz_date = environ.get("HTTP_X_AMZ_DATE", "")
        return Signed(*_credential(match[1]), amz_date, tuple(match[2].split(";")), match[3], False)
    if "AWSAccessKeyId" in query:
        raise SignatureProblem("sigv2")
    if "X-Amz-Signature" not in query and "X-Amz-Credential" not in query:
        return None
    return _presigned(query)


def _presigned(query: dict[str, str]) -> Signed:
    missing = [
        k
        for k in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature")
        if k not in query
    ]
    if missing or query["X-Amz-Algorithm"] != ALGORITHM:
        raise SignatureProblem(
            "malformed",
            presigned=True,
            detail="Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters.",
        )
    expires = query["X-Amz-Expires"]
    if not expires.isdigit() or not 0 < int(expires) <= MAX_PRESIGNED_EXPIRY:
        raise SignatureProblem("malformed", "X-Amz-Expires must be less than a week (in seconds) that is; 604800", presigned=True)
    return Signed(
        *_credential(query["X-Amz-Credential"]),
        query["X-Amz-Date"],
        tuple(query["X-Amz-SignedHeaders"].split(";")),
        query["X-Amz-Signature"],
        True,
        int(expires),
    )


def _header_value(environ: dict, name: str) -> str | None:
    key = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}.get(name, "HTTP_" + name.upper().replace("-", "_"))
    value = environ.get(key)
    return None if value is None else " ".join(str(value).split())


def canonical_uris(raw_path: str, s3: bool) -> tuple[str, ...]:
    """S3 signs the path unnormalized and encoded once: as the client sent it (what the SDKs sign)
    or in the canonical encoding of its bytes. Other services sign a normalized path encoded twice."""
    path = unquote(raw_path)
    if s3:
        return tuple(dict.fromkeys((raw_path, quote(path, safe="/"))))
    normalized = posixpath.normpath(path) if path not in ("", "/") else "/"
    normalized = "/" + normalized.lstrip("/") + ("/" if path.endswith("/") and normalized != "/" else "")
    return (quote(quote(normalized, safe="/"), safe="/"),)


def canonical_request(environ: dict, signed: Signed, uri: str, payload_hash: str) -> str:
    pairs = [(k, v) for k, v in _params(environ.get("QUERY_STRING", "")) if not (signed.presigned and k == "X-Amz-Signature")]
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(pairs))
    headers = ""
    for name in signed.signed_headers:
        value = _header_value(environ, name)
        if value is None:
            raise SignatureProblem("mismatch", f"the signed header {name} is not in the request")
        headers += f"{name}:{value}\n"
    return "\n".join((environ.get("REQUEST_METHOD", ""), uri, query, headers, ";".join(signed.signed_headers), payload_hash))


def signing_key(secret: str, signed: Signed) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (signed.date, signed.region, signed.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def string_to_sign(signed: Signed, canonical: str) -> str:
    return "\n".join((ALGORITHM, signed.amz_date, signed.scope, hashlib.sha256(canonical.encode()).hexdigest()))


def chunk_signature(signed: Signed, previous: str, part: bytes, *, trailer: bool = False) -> str:
    """The signature of one chunk of an aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), or of
    its trailing headers (`trailer`: `part` is their canonical `name:value\\n` lines). Each signs the
    one before it: the first chunk the request's own (seed) signature, the trailer the final, empty,
    chunk's (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html, sigv4-streaming-trailers.html).
    `signed` must be a verified header signature of a known key."""
    digest = hashlib.sha256(part).hexdigest()
    lines = (
        (ALGORITHM + "-TRAILER", signed.amz_date, signed.scope, previous, digest)
        if trailer
        else (ALGORITHM + "-PAYLOAD", signed.amz_date, signed.scope, previous, hashlib.sha256(b"").hexdigest(), digest)
    )
    key = signing_key(KEYS[signed.access_key], signed)
    return hmac.new(key, "\n".join(lines).encode(), hashlib.sha256).hexdigest()


def _when(amz_date: str) -> datetime:
    try:
        return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureProblem("malformed", f"X-Amz-Date {amz_date!r} is not YYYYMMDDTHHMMSSZ") from None


def check_time(signed: Signed, now: datetime) -> None:
    when = _when(signed.amz_date)
    if signed.amz_date[:8] != signed.date:
        raise SignatureProblem("malformed", "Invalid credential date. Date is not the same as X-Amz-Date.", signed.presigned)
    if signed.presigned and now > when + timedelta(seconds=signed.expires or 0):
        raise SignatureProblem(
            "expired",
            "Request has expired",
            Expires=(when + timedelta(seconds=signed.expires or 0)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    if signed.presigned and when - now > MAX_SKEW:
        raise SignatureProblem("not-yet-valid", "Request is not valid yet")
    if not signed.presigned and abs(now - when) > MAX_SKEW:
        raise SignatureProblem(
            "skewed",
            "The difference between the request time and the current time is too large.",
            RequestTime=signed.amz_date,
            ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )


def unsigned_amz_headers(environ: dict, signed: Signed) -> list[str]:
    """The x-amz-* headers sent but not signed: S3 refuses them, as otherwise anyone holding a
    presigned URL could add, say, an x-amz-copy-source and make it another request
    (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html: "you must sign all
    x-amz-* headers you send")."""
    sent = (k[5:].lower().replace("_", "-") for k in environ if k.startswith("HTTP_X_AMZ_"))
    return sorted(h for h in sent if h not in signed.signed_headers)


def check_claims(
    environ: dict,
    signed: Signed,
    *,
    service: str,
    region: str,
    s3: bool,
    now: datetime | None = None,
    every_account: bool = False,
) -> None:
    """Everything about a signature that can be checked before the body is read: the key, its scope,
    the time and, for S3, that every x-amz-* header is signed."""
    if secret_of(signed.access_key, every_account) is None:
        raise SignatureProblem("unknown-key", signed.access_key)
    if signed.service != service:
        raise SignatureProblem("wrong-service", signed.service, signed.presigned, Expected=service)
    if signed.region != region:
        raise SignatureProblem("wrong-region", signed.region, signed.presigned, Region=region)
    if "host" not in signed.signed_headers:
        raise SignatureProblem("malformed", "the host header must be signed", signed.presigned)
    check_time(signed, now or datetime.now(UTC))
    unsigned = unsigned_amz_headers(environ, signed) if s3 else []
    if unsigned:
        raise SignatureProblem("headers-not-signed", ",".join(unsigned), signed.presigned)


def verify(
    environ: dict,
    signed: Signed,
    raw_path: str,
    payload_hash: str,
    *,
    service: str,
    region: str,
    s3: bool,
    now: datetime | None = None,
    every_account: bool = False,
) -> None:
    """Accept the signature or raise the SignatureProblem AWS would answer with."""
    check_claims(environ, signed, service=service, region=region, s3=s3, now=now, every_account=every_account)
    key = signing_key(str(secret_of(signed.access_key, every_account)), signed)
    canonicals = [canonical_request(environ, signed, uri, payload_hash) for uri in canonical_uris(raw_path, s3)]
    if not any(
        hmac.compare_digest(hmac.new(key, string_to_sign(signed, c).encode(), hashlib.sha256).hexdigest(), signed.signature)
        for c in canonicals
    ):
        raise SignatureProblem(
            "mismatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            CanonicalRequest=canonicals[-1],
        )
