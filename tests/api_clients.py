"""Real boto3 clients of the API fronts (lab.services.api_front), in process: botocore builds and
signs each request as it would for AWS, and its `before-send` hook hands the bytes to the front's
WSGI app instead of a socket (the same hook moto's own mock uses), so unit tests exercise the real
client's protocol, the front's checks and moto, with no namespaces.
"""

from __future__ import annotations

import io
from pathlib import Path

import boto3
from botocore.awsrequest import AWSResponse

from lab.model import ids
from lab.services.access import RequestLog
from lab.services.api_front import ApiFront
from lab.services.catalog import SERVICES
from lab.services.config import Ingress
from lab.services.front import service_app
from lab.services.process import JsonLines
from signing import call, environ


class _Raw(io.BytesIO):
    def stream(self, **_):
        yield self.getvalue()


def front_app(service: str, region: str, ingress: Ingress, log: Path) -> RequestLog:
    """One ingress of `service`'s front over moto's real app, logged as in the lab."""
    return RequestLog(ApiFront(service_app(service), SERVICES[service], ingress, region), service, ingress, JsonLines(log))


def client(app, service: str, region: str, credentials: dict | None = None):
    """A boto3 client of `service` whose requests `app` answers; the lab's key pair unless
    `credentials` (boto3's aws_access_key_id, aws_secret_access_key, aws_session_token) are given."""
    keys = credentials or {"aws_access_key_id": ids.ACCESS_KEY_ID, "aws_secret_access_key": ids.SECRET_ACCESS_KEY}
    made = boto3.session.Session().client(
        service, region_name=region, endpoint_url=f"https://{service}.{region}.amazonaws.com", **keys
    )

    def deliver(request, **_):
        body = request.body or b""
        body = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else body.read()
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        answer = call(app, environ(request.method, request.url, body, headers))
        return AWSResponse(request.url, answer.status_code, dict(answer.headers), _Raw(answer.get_data()))

    made.meta.events.register("before-send", deliver)
    return made
