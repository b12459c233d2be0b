"""One HTTP request as the service front saw it, and the request log that records each of them.

The front knows a request's ingress from the local port it arrived on (the realizer redirects each
ingress link's ports 80/443 to that ingress's own ports), its client from the TCP peer, and, for S3,
the bucket and key from the Host header and path: virtual-hosted style (`bucket.s3.<region>...`)
or path style (`s3.<region>.../bucket/key`), https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html.

`RequestLog` wraps the service's WSGI app. It puts the `Access` into the environ under
`ACCESS_KEY` before calling the app, so the policy check (`lab.services.authorize`) can be one more
middleware between the log and the app; it leaves its `Verdict` under `VERDICT_KEY`, and the log
records it next to the status the client got.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lab.model import regions
from lab.services.config import Ingress
from lab.services.process import JsonLines

ACCESS_KEY = "vpclab.access"
VERDICT_KEY = "vpclab.verdict"

# The S3 service names a bucket can be the first label(s) of, longest first so the most specific
# suffix wins; wildcards ('*.s3...') are the virtual-hosted forms of these.
S3_ENDPOINTS = tuple(sorted({n for svc in regions.all_services() if svc.service == "s3"
                             for n in svc.hostnames if not n.startswith("*.")}, key=len, reverse=True))


@dataclass(frozen=True)
class Access:
    time: float  # seconds since the epoch, comparable with capture timestamps
    service: str
    ingress: str  # 'internet' or the vpce id
    vpce_id: str | None
    source_ip: str
    source_port: int
    scheme: str
    method: str
    host: str
    path: str
    bucket: str | None = None  # S3 only
    key: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The policy decision on one request: the IAM action it was checked as, and who denied it."""

    action: str | None = None  # None: no policy check ran (DynamoDB, an OPTIONS request)
    decision: str | None = None  # 'allow' or 'deny'
    denied_by: str | None = None  # e.g. "bucket policy of lab-bucket: explicit Deny in statement 'x'"


def s3_target(host: str, path: str) -> tuple[str | None, str | None]:
    """(bucket, key) named by a request; None where the request names none (ListBuckets, a bucket op).

    A Host that is no S3 service name (an IP address, say) is read path style, as S3 itself does.
    """
    host = host.split(":", 1)[0].lower()  # the lab is IPv4 only: a colon starts the port
    endpoint = next((e for e in S3_ENDPOINTS if host.endswith("." + e)), None)
    if endpoint is not None:
        return host[: -len(endpoint) - 1], path[1:] or None
    bucket, _, key = path[1:].partition("/")
    return bucket or None, key or None


def describe(environ: dict, service: str, ingress: Ingress) -> Access:
    # PEP 3333: PATH_INFO is the decoded path carried as latin-1; S3 keys are UTF-8.
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace") or "/"
    host = environ.get("HTTP_HOST", "")
    bucket, key = s3_target(host, path) if service == "s3" else (None, None)
    return Access(time.time(), service, ingress.name, ingress.vpce_id, environ.get("REMOTE_ADDR", ""),
                  int(environ.get("REMOTE_PORT", 0)), environ.get("wsgi.url_scheme", "http"),
                  environ.get("REQUEST_METHOD", ""), host, path, bucket, key)


class RequestLog:
    """WSGI middleware: one JSON line per request, with the status the client got."""

    def __init__(self, app: Callable, service: str, ingress: Ingress, log: JsonLines):
        self.app, self.service, self.ingress, self.log = app, service, ingress, log

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        access = describe(environ, self.service, self.ingress)
        environ[ACCESS_KEY] = access
        status: list[int] = []

        def recording(line: str, headers: list, exc_info=None):
            status[:] = [int(line.split(None, 1)[0])]
            return start_response(line, headers, exc_info)

        try:
            return self.app(environ, recording)
        finally:
            verdict = environ.get(VERDICT_KEY, Verdict())
            self.log.write({**dataclasses.asdict(access), "status": status[0] if status else None,
                            **dataclasses.asdict(verdict)})
