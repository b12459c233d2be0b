"""Requests signed by botocore, delivered to a WSGI app as werkzeug's server would deliver them.

The fronts verify SigV4 themselves (lab.services.sigv4), so a test request must carry a signature
that botocore, the signer every AWS SDK and the CLI share, computed: `S3SigV4Auth` (header, payload
hash in x-amz-content-sha256), `S3SigV4QueryAuth` (a presigned URL) or `SigV4Auth` (DynamoDB).
`environ` then builds the WSGI environ the way werkzeug's WSGIRequestHandler does for the bytes on
the wire: RAW_URI/REQUEST_URI the request target exactly as sent, PATH_INFO percent-decoded once
(UTF-8 as latin-1), the method's case kept, a chunked body de-chunked by werkzeug's own
DechunkedInput with no Content-Length. Unit tests call the app in process (`call`); integration
tests can reuse `sign` for requests they send over sockets.
"""

from __future__ import annotations

import io
import sys
from contextlib import nullcontext
from datetime import datetime
from unittest import mock
from urllib.parse import quote, unquote, urlsplit

from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.serving import DechunkedInput
from werkzeug.wrappers import Response

from lab.model import ids

REGION = "ap-northeast-2"
LAB_CREDENTIALS = Credentials(ids.ACCESS_KEY_ID, ids.SECRET_ACCESS_KEY)
CLIENT = ("203.0.113.9", 40000)  # a documentation address (RFC 5737) as the client


def key_path(key: str) -> str:
    """An object key as botocore puts it in a URL path: every byte but '/' and '~' and the unreserved ones encoded."""
    return quote(key, safe="/~")


def _signer(how: str, service: str, region: str, credentials: Credentials, expires: int):
    """header / query: SigV4; v2 / v2-query: S3's Signature Version 2, which SigV4-only regions refuse."""
    if how == "query":
        return S3SigV4QueryAuth(credentials, service, region, expires=expires)
    if how in ("v2", "v2-query"):
        return HmacV1Auth(credentials) if how == "v2" else HmacV1QueryAuth(credentials, expires)
    return (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, region)


def sign(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict | None = None,
    *,
    how: str | None = "header",
    service: str = "s3",
    region: str = REGION,
    credentials: Credentials = LAB_CREDENTIALS,
    expires: int = 3600,
    at: datetime | None = None,
) -> tuple[str, dict[str, str]]:
    """(the URL, the headers) botocore sends for this request; `how` None: unsigned (see `_signer`); `at`: the
    signer's clock (naive UTC), for expired or skewed signatures. The path of `url` is sent as given:
    encode keys with `key_path`."""
    request = AWSRequest(
        method=method.upper(),
        url=url,
        data=b"" if how == "query" else body,  # a URL signs no body
        headers={"Host": urlsplit(url).netloc, **(headers or {})},
    )
    if how is not None:
        clock = mock.patch("botocore.auth.get_current_datetime", return_value=at) if at else nullcontext()
        with clock:
            _signer(how, service, region, credentials, expires).add_auth(request)
    prepared = request.prepare()
    return prepared.url, {
        k: v for k, v in prepared.headers.items() if not (how == "query" and k.lower() == "content-length")
    }  # the body's own, when sent


def _chunked(body: bytes) -> bytes:
    """`body` in HTTP/1.1 chunked transfer coding, in two chunks when it has two bytes or more."""
    parts = [body[: len(body) // 2], body[len(body) // 2 :]] if len(body) > 1 else [body]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"


def _header_items(headers: dict[str, str]) -> dict[str, str]:
    """Headers as WSGI environ keys, as werkzeug's server names them (it drops names with '_')."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        if "_" not in name:
            out[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = str(value)
    return out


def environ(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict | None = None,
    *,
    chunked: bool = False,
    client: tuple[str, int] = CLIENT,
) -> dict:
    """The WSGI environ werkzeug's server builds for this request (`method` sent in its case; Host
    from the URL and Content-Length from the body unless `headers` has them)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {k: v for k, v in (headers or {}).items() if not (chunked and k.lower() == "content-length")}
    if not any(k.lower() == "host" for k in headers):
        headers["Host"] = parts.netloc  # every HTTP/1.1 client sends it
    if body and not chunked and not any(k.lower() == "content-length" for k in headers):
        headers["Content-Length"] = str(len(body))  # ... and a body's length, unless it is chunked
    stream: io.BytesIO | DechunkedInput = io.BytesIO(_chunked(body) if chunked else body)
    env = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "QUERY_STRING": parts.query,
        "PATH_INFO": unquote(parts.path).encode().decode("latin-1"),
        "RAW_URI": target,
        "REQUEST_URI": target,
        "SERVER_NAME": "0.0.0.0",
        "SERVER_PORT": "10443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": client[1],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "https",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **_header_items(headers),
    }
    if chunked:
        env.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
        stream = DechunkedInput(stream)
    env["wsgi.input"] = stream
    return env


def signed_environ(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict | None = None,
    *,
    chunked: bool = False,
    client: tuple[str, int] = CLIENT,
    **signing,
) -> dict:
    """`environ` of the request botocore signs (keyword arguments: those of `sign`)."""
    sent_url, sent_headers = sign(method, url, body, headers, **signing)
    return environ(method, sent_url, body, sent_headers, chunked=chunked, client=client)


def call(app, env: dict) -> Response:
    """The app's whole answer to one environ, as a werkzeug Response."""
    return Response.from_app(app, env, buffered=True)
