"""The one canonical request the S3 front hands moto: path style, on the front's own regional
endpoint, with only the parameters, headers and body of the operation the front identified and
authorized.

moto reads a request its own way (its virtual-host rules, its subresource order, any query
parameter it knows, a parameter from a JSON or form body, any header it knows: a versionId in the
JSON body of a DeleteObject deleted that version past a Deny on s3:DeleteObjectVersion); a request
of an unusual shape could make it act on another bucket, key, version or operation than the one
authorized. Rewriting every request into the single form moto reads unambiguously closes that gap
by construction, all from botocore's S3 model of the operation:

- the bucket and key are the front's; the query holds the operation's fixed subresource and its
  query-string members; the copy source is re-encoded from the one the front authorized;
- the headers are the operation's header members (`x-amz-meta-*` where it has metadata), plus
  Origin (CORS answers) and a Content-Length; nothing else (no x-amz-decoded-content-length, which
  moto allocates, no aws-chunked coding; moto takes the headers for the query when it is empty,
  and none of these names is a parameter's);
- the body is the one the front read and checked (lab.services.s3_chunked: plain, decoded,
  verified), and is empty for an operation whose input has no body members, as S3 ignores one;
  x-amz-content-sha256 is UNSIGNED-PAYLOAD (moto checks no signature, and decodes no chunks);
- moto's app reads no body as a form (`opaque_bodies`): it would take a form's fields as the
  request's parameters, and S3 reads no form but a browser upload's, which the front refuses.

moto's Authorization header only carries the credential scope it routes by.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from urllib.parse import parse_qsl, quote

from lab.model.s3_operations import Operation
from lab.model.s3_requests import S3Target
from lab.services.body import buffered_body, replace_body

S3_QUERY_SAFE = "-_.~"
# Headers moto gets besides the operation's own: set here (host, authorization, x-amz-content-sha256,
# content-length) or read by moto to add a bucket's CORS headers to its answer (origin).
MOTO_HEADERS = frozenset({"host", "authorization", "x-amz-content-sha256", "content-length", "origin"})


@dataclass(frozen=True)
class OperationShape:
    """What botocore's S3 model says an operation's request carries."""

    fixed: tuple[tuple[str, str], ...]  # the subresource parameters of its request URI
    query: frozenset[str]  # its other query-string parameters
    headers: frozenset[str]  # its header members, lower case
    prefixes: tuple[str, ...]  # its header-map members' prefixes (x-amz-meta-)
    body: bool  # whether it has members in the body (a payload)


@cache
def operation_shape(name: str) -> OperationShape:
    import botocore.session  # the launcher has it imported already; tests import it here

    model = botocore.session.get_session().get_service_model("s3").operation_model(name)
    members = model.input_shape.members.items() if model.input_shape else ()

    def located(where: str) -> frozenset[str]:
        return frozenset(m.serialization.get("name", n) for n, m in members if m.serialization.get("location") == where)

    return OperationShape(
        tuple(parse_qsl(model.http["requestUri"].partition("?")[2], keep_blank_values=True)),
        located("querystring"),
        frozenset(h.lower() for h in located("header")),
        tuple(sorted(h.lower() for h in located("headers"))),
        any("location" not in m.serialization for _, m in members),
    )


def backend_query(op: Operation, pairs: list[tuple[str, str]]) -> str:
    """The operation's query for moto: its fixed subresource, then the first value of each of its
    parameters, the one the front's policy check read (a second `prefix=` is never moto's)."""
    shape = operation_shape(op.name)
    kept = list(shape.fixed) + list(first_values([(k, v) for k, v in pairs if k in shape.query]).items())
    return "&".join(quote(k, safe=S3_QUERY_SAFE) + (f"={quote(v, safe=S3_QUERY_SAFE)}" if v else "") for k, v in kept)


def first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Each parameter's first value, in order: what moto reads (parse_qs()[name][0]) and what the front checks."""
    values: dict[str, str] = {}
    for name, value in pairs:
        values.setdefault(name, value)
    return values


def object_path(target: S3Target) -> str:
    """`/bucket/key` as text, not encoded."""
    if target.bucket is None:
        return "/"
    return "/" + target.bucket + ("/" + target.key if target.key is not None else "")


def scope_header(region: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential=vpclab/20250101/{region}/s3/aws4_request, SignedHeaders=host, Signature=0"


def routing_path(path: str) -> str:
    """PATH_INFO for Flask, which only picks moto's handler by it (moto reads the bucket and key from
    RAW_URI): its routes' `.+` stops at a line break, which an S3 key may hold, so line breaks are
    stood in for here; as WSGI wants it, UTF-8 bytes carried as latin-1."""
    return path.replace("\n", "_").replace("\r", "_").encode().decode("latin-1")


def header_name(key: str) -> str | None:
    """The lower-case header name of a WSGI environ key; None for a key that holds no header."""
    if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return key.lower().replace("_", "-")
    return key[5:].lower().replace("_", "-") if key.startswith("HTTP_") else None


def keep_headers(environ: dict, op: Operation) -> None:
    """Drop every header moto is not to get; Content-Encoding without S3's transfer coding aws-chunked."""
    shape = operation_shape(op.name)
    names, prefixes = MOTO_HEADERS | shape.headers, shape.prefixes
    for key in list(environ):
        name = header_name(key)
        if name is not None and name not in names and not name.startswith(prefixes):
            del environ[key]
    codings = [c.strip() for c in environ.pop("HTTP_CONTENT_ENCODING", "").split(",")]
    if any(c and c.lower() != "aws-chunked" for c in codings):
        environ["HTTP_CONTENT_ENCODING"] = ",".join(c for c in codings if c and c.lower() != "aws-chunked")


def rewrite(
    environ: dict, op: Operation, target: S3Target, pairs: list[tuple[str, str]], region: str, copy_source: str | None
) -> None:
    """Make `environ` the canonical request (see the module docstring). The body is the one the
    front kept (body.buffered_body), or none for an operation without one."""
    path = object_path(target)
    query = backend_query(op, pairs)
    raw = quote(path, safe="/") + (f"?{query}" if query else "")  # every byte but '/' and the unreserved ones
    keep_headers(environ, op)
    replace_body(environ, buffered_body(environ) if operation_shape(op.name).body else b"")
    environ.update(
        {
            "HTTP_HOST": f"s3.{region}.amazonaws.com",
            "PATH_INFO": routing_path(path),
            "RAW_URI": raw,
            "REQUEST_URI": raw,
            "QUERY_STRING": query,
            "HTTP_AUTHORIZATION": scope_header(region),
            "HTTP_X_AMZ_CONTENT_SHA256": "UNSIGNED-PAYLOAD",
        }
    )
    environ.pop("HTTP_X_AMZ_COPY_SOURCE", None)
    if copy_source is not None:
        environ["HTTP_X_AMZ_COPY_SOURCE"] = copy_source


def opaque_bodies(app) -> None:
    """Make moto's S3 app read every body as bytes, never as a form (see the module docstring):
    werkzeug parses a form for any request with a form Content-Type, and moto then takes its
    fields for the query (an `uploadId`, a `tagging`, a `retention`) and a field for the body."""
    if app.request_class.want_form_data_parsed is not False:  # once per app, however many fronts wrap it
        app.request_class = type("OpaqueBodyRequest", (app.request_class,), {"want_form_data_parsed": False})
