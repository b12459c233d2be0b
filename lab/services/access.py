"""One HTTP request as the service front saw it, and the request log that records each of them.

The front knows a request's ingress from the local port it arrived on (the realizer redirects each
ingress link's ports 80/443 to that ingress's own ports, and accepts nothing else), its client from
the TCP peer.

`RequestLog` wraps the service's WSGI app. It puts the `Access` into the environ under
`ACCESS_KEY` before calling the app; the S3 front leaves the bucket and key it read under
`TARGET_KEY` and the policy decision under `VERDICT_KEY`, and the log records them next to the
status the client got: what was logged is what was authorized, from one parse.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lab.services.config import Ingress
from lab.services.process import JsonLines

ACCESS_KEY = "vpclab.access"
VERDICT_KEY = "vpclab.verdict"
TARGET_KEY = "vpclab.s3target"  # the bucket and key the S3 front read (lab.model.s3_requests.S3Target)


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


@dataclass(frozen=True)
class Verdict:
    """The policy decision on one request: the IAM action it was checked as, and who denied it."""

    action: str | None = None  # None: no policy check ran (DynamoDB, an OPTIONS request)
    decision: str | None = None  # 'allow' or 'deny'
    denied_by: str | None = None  # e.g. "bucket policy of lab-bucket: explicit Deny in statement 'x'"


def describe(environ: dict, service: str, ingress: Ingress) -> Access:
    # PEP 3333: PATH_INFO is the decoded path carried as latin-1; S3 keys are UTF-8.
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace") or "/"
    return Access(
        time.time(),
        service,
        ingress.name,
        ingress.vpce_id,
        environ.get("REMOTE_ADDR", ""),
        int(environ.get("REMOTE_PORT", 0)),
        environ.get("wsgi.url_scheme", "http"),
        environ.get("REQUEST_METHOD", ""),
        environ.get("HTTP_HOST", ""),
        path,
    )


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
            target = environ.get(TARGET_KEY)
            self.log.write(
                {
                    **dataclasses.asdict(access),
                    "bucket": target.bucket if target else None,
                    "key": target.key if target else None,
                    "status": status[0] if status else None,
                    **dataclasses.asdict(verdict),
                }
            )
