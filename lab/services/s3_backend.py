"""The one canonical request the S3 front hands moto: path style, on the front's own regional
endpoint, with only the parameters of the operation the front identified and authorized.

moto reads a request its own way (its virtual-host rules, its subresource order, any query
parameter it knows); a request of an unusual shape could make it act on another bucket, key or
operation than the one authorized. Rewriting every request into the single form moto reads
unambiguously closes that gap by construction: the bucket and key are the front's, the query holds
the operation's fixed subresource and the parameters botocore's S3 model gives that operation,
and the copy source is re-encoded from the one the front authorized. moto checks no signature, so
its Authorization header only carries the credential scope it routes by.
"""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import parse_qsl, quote

from lab.model.s3_operations import Operation
from lab.model.s3_requests import S3Target

S3_QUERY_SAFE = "-_.~"


@lru_cache(maxsize=None)
def operation_params(name: str) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    """(the fixed subresource parameters of the operation's request URI, the names of its other
    query-string parameters), from botocore's S3 model."""
    import botocore.session  # the launcher has it imported already; tests import it here

    model = botocore.session.get_session().get_service_model("s3").operation_model(name)
    fixed = tuple(parse_qsl(model.http["requestUri"].partition("?")[2], keep_blank_values=True))
    shape = model.input_shape
    members = frozenset(m.serialization.get("name", n) for n, m in (shape.members.items() if shape else ())
                        if m.serialization.get("location") == "querystring")
    return fixed, members


def backend_query(op: Operation, pairs: list[tuple[str, str]]) -> str:
    """The operation's query for moto: its fixed subresource, then the first value of each of its
    parameters, the one the front's policy check read (a second `prefix=` is never moto's)."""
    fixed, members = operation_params(op.name)
    kept = list(fixed) + list(first_values([(k, v) for k, v in pairs if k in members]).items())
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
    return (f"AWS4-HMAC-SHA256 Credential=vpclab/20250101/{region}/s3/aws4_request, "
            "SignedHeaders=host, Signature=0")


def routing_path(path: str) -> str:
    """PATH_INFO for Flask, which only picks moto's handler by it (moto reads the bucket and key from
    RAW_URI): its routes' `.+` stops at a line break, which an S3 key may hold, so line breaks are
    stood in for here; as WSGI wants it, UTF-8 bytes carried as latin-1."""
    return path.replace("\n", "_").replace("\r", "_").encode().decode("latin-1")


def rewrite(environ: dict, op: Operation | None, target: S3Target, pairs: list[tuple[str, str]], region: str,
            copy_source: str | None) -> None:
    """Make `environ` the canonical request (see the module docstring); `op` None: a CORS preflight."""
    path = object_path(target)
    query = backend_query(op, pairs) if op else ""
    raw = quote(path, safe="/") + (f"?{query}" if query else "")  # every byte but '/' and the unreserved ones
    environ.update({"HTTP_HOST": f"s3.{region}.amazonaws.com", "PATH_INFO": routing_path(path),
                    "RAW_URI": raw, "QUERY_STRING": query,
                    "HTTP_AUTHORIZATION": scope_header(region)})
    environ["REQUEST_URI"] = environ["RAW_URI"]
    environ.pop("HTTP_X_AMZ_COPY_SOURCE", None)
    if copy_source is not None:
        environ["HTTP_X_AMZ_COPY_SOURCE"] = copy_source
