"""An AWS regional service front (S3, DynamoDB, or a service of lab.services.catalog): moto's server app on one HTTP and one HTTPS
port per ingress, all in one process so that every ingress sees the same buckets and tables.

    python -m lab.services.front --config FRONT.json

The realizer redirects ports 80 and 443 arriving on each ingress link to that ingress's own local
ports (nftables `redirect`) and accepts nothing else, so the port a connection lands on names its
ingress, even when two VPCs behind different endpoints share a CIDR. Requests pass the front's checks
first (`lab.services.s3front`, `lab.services.dynamodb_front`): each request is read once, its
signature verified, every action authorized, and moto gets only the canonical form of what was
allowed; only the service's own moto app is mounted. Every request is logged (`lab.services.access`).

FRONT.json (`buckets` only for s3, `tables` only for dynamodb; both optional; `control`, the lab
controller's socket, always for ec2, whose front has no moto (lab.services.ec2_front), and for s3,
which sends it the bucket policies put and deleted). An endpoint ingress
names its VPC and carries its policy (null: AWS's default, full access); a bucket may carry its policy:

    {"service": "s3", "region": "ap-northeast-2",
     "ingresses": [{"name": "internet", "http": 10080, "https": 10443},
                   {"name": "vpce-0a1b2c3d4e5f60718", "http": 10081, "https": 10444,
                    "vpc_id": "vpc-0a1b2c3d4e5f60718", "policy": null}],
     "cert": "/run/lab/ca/s3-ap-northeast-2-cert.pem", "key": "/run/lab/ca/s3-ap-northeast-2-key.pem",
     "request_log": "/run/lab/s3-ap-northeast-2/requests.jsonl",
     "buckets": [{"name": "lab-bucket", "region": "ap-northeast-2", "objects": {"hello.txt": "hello\\n"},
                  "policy": {"Version": "2012-10-17", "Statement": [...]}}],
     "tables": [{"name": "orders", "region": "ap-northeast-2", "partition_key": "id"}]}

Each request-log line: time (epoch seconds), service, ingress, vpce_id (null for the internet),
source_ip, source_port, scheme, method, host, path, bucket and key (S3; null where none), status,
and the policy check's action, decision ('allow' or 'deny') and denied_by (null where none ran).

Servers bind 0.0.0.0. TCP_NODELAY is set on every connection: without it werkzeug's TLS writes meet
Nagle and delayed ACKs and stall 17-48 ms per request (measurements.md section 9, Trap 15). The TLS
handshake runs in the connection's own thread, not in the accepting one, so a client that connects
and stays silent holds up only itself.
"""

from __future__ import annotations

import logging
import os
import ssl
import sys
import threading
import time
from pathlib import Path

from moto.moto_server import werkzeug_app
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.server import create_backend_app
from werkzeug.serving import make_server

from lab.model.ids import ACCOUNT_ID
from lab.model.topology import Bucket
from lab.services import process
from lab.services.access import RequestLog
from lab.services.api_front import ApiFront
from lab.services.catalog import SERVICES
from lab.services.config import FrontConfig, Ingress, load_front_config
from lab.services.dynamodb_front import DynamoDbFront
from lab.services.ec2_front import Ec2Front
from lab.services.errors import ServiceError
from lab.services.process import JsonLines
from lab.services.s3front import S3Front
from lab.services.seed import seed

log = logging.getLogger(__name__)


class FrontHandler(MotoRequestHandler):
    disable_nagle_algorithm = True  # TCP_NODELAY on each accepted connection (socketserver)


def service_app(service: str):
    """moto's app for this one service: no other service's API and no /moto-api is mounted. It
    serves the lab's account: moto reads MOTO_ACCOUNT_ID on every request (before a client's
    x-moto-account-id header or its access key) and otherwise keeps everything in 123456789012,
    so a table's ARN, which moto also matches a TableName against, named another account. Nor does
    it add CORS headers of its own to every answer (moto's default, any origin allowed): S3 sends
    them only for a preflight its bucket's rules allow, which the front answers (lab.services.s3_cors).
    moto reads MOTO_DISABLE_GLOBAL_CORS once, when it is imported (here, by the launcher, long before),
    so its module setting is set instead."""
    os.environ["MOTO_ACCOUNT_ID"] = ACCOUNT_ID
    werkzeug_app.DISABLE_GLOBAL_CORS = True
    return create_backend_app(service)  # type: ignore[arg-type]  # moto types it as a Literal of its services


def checked_app(config: FrontConfig, ingress: Ingress, app):
    """The front of one ingress: what AWS checks, then moto (lab.services.s3front, .dynamodb_front,
    and .api_front for the services of lab.services.catalog)."""
    if config.service == "s3":
        return S3Front(app, config.region, ingress, config.bucket_policies, config.elsewhere, config.control)
    if config.service == "dynamodb":
        return DynamoDbFront(app, ingress, config.region)
    if config.service == "ec2":  # the lab's controller answers, not moto
        assert config.control is not None  # load_front_config requires it
        return Ec2Front(config.control, ingress, config.region)
    return ApiFront(app, SERVICES[config.service], ingress, config.region)


def listed_only(config: FrontConfig) -> tuple[Bucket, ...]:
    """The account's buckets of other regions, created empty here so that ListBuckets, which S3 answers
    from every region with all of the account's buckets, lists them too (ListBuckets.html); every
    other request for one is sent to its region first (S3Front: 301 PermanentRedirect), so their
    objects are never needed here. A bucket created in another region while the lab runs is not listed."""
    return tuple(Bucket(name, region, policy=None, objects={}) for name, region in config.elsewhere.items())


def tls_context(config: FrontConfig) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(config.cert, config.key)
    except (OSError, ssl.SSLError) as e:
        raise ServiceError(f"cannot load certificate {config.cert} with key {config.key}: {e}") from None
    if keylog := os.environ.get("SSLKEYLOGFILE"):  # Python honours it for clients only: the lab's
        context.keylog_filename = keylog  # TLS secrets, so Wireshark decrypts the run (docs/architecture.md)
    return context


def serve(app, port: int, tls: ssl.SSLContext | None) -> None:
    """A threaded werkzeug server on 0.0.0.0:`port`, serving in a daemon thread."""
    try:
        server = make_server("0.0.0.0", port, app, threaded=True, request_handler=FrontHandler)
    except SystemExit:  # werkzeug has printed why (address in use, ...) to stderr
        raise ServiceError(f"cannot listen on port {port}") from None
    if tls is not None:  # what make_server(ssl_context=) does, minus the handshake inside accept()
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        server.ssl_context = tls
    threading.Thread(target=server.serve_forever, name=f"port-{port}", daemon=True).start()


class Switch:
    """A WSGI app whose target a live change replaces; a request meets the old one or the new one."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


class Listeners:
    """The front's servers by their ingress's port pair, each serving that ingress's checks as last
    configured. A live change (SIGHUP: an endpoint created, deleted, its policy or a bucket's
    changed) swaps the checks of every ingress, opens the ports of a new one and loads the new
    certificate (naming a new endpoint's DNS names), without dropping a connection or moto's state."""

    def __init__(self, app, tls: ssl.SSLContext, requests: JsonLines):
        self.app, self.tls, self.requests = app, tls, requests
        self.switches: dict[tuple[int, int], Switch] = {}

    def apply(self, config: FrontConfig) -> str:
        for ingress in config.ingresses:
            logged = RequestLog(checked_app(config, ingress, self.app), config.service, ingress, self.requests)
            if (ports := (ingress.http, ingress.https)) in self.switches:
                self.switches[ports].app = logged
                continue
            self.switches[ports] = switch = Switch(logged)
            serve(switch, ingress.http, None)
            serve(switch, ingress.https, self.tls)
            log.info("%s: http on %d, https on %d", ingress.name, ingress.http, ingress.https)
        return f"{len(config.ingresses)} ingresses"

    def reload(self, config: FrontConfig) -> str:
        try:
            self.tls.load_cert_chain(config.cert, config.key)  # for the handshakes from now on
        except (OSError, ssl.SSLError) as e:
            raise ServiceError(f"cannot load certificate {config.cert} with key {config.key}: {e}") from None
        return self.apply(config)


def start(config: FrontConfig) -> Listeners:
    app = None
    if config.service != "ec2":  # every front but EC2's has moto behind it
        app = service_app(config.service)
        seed(app, config.service, config.region, config.buckets + listed_only(config), config.tables)
    tls = tls_context(config)
    try:
        requests = JsonLines(config.request_log)
    except OSError as e:
        raise ServiceError(f"cannot open the request log: {e}") from None
    process.block_stop_signals()
    listeners = Listeners(app, tls, requests)
    listeners.apply(config)
    return listeners


def run(config_path: Path, ready) -> int:
    """Serve until SIGTERM; `ready` (from `process.claim_stdout`) hears READY once it listens."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the request log says it better

    serving: list[Listeners] = []

    def begin() -> str:
        began = time.monotonic()
        config = load_front_config(config_path)
        serving.append(start(config))
        return f"{config.service} {config.region}: seeded and listening {time.monotonic() - began:.2f} s after imports"

    def reload() -> str:
        return serving[0].reload(load_front_config(config_path))

    return process.serve(ready, begin, reload, config_path)


def main(argv: list[str] | None = None) -> int:
    return process.service_main(__spec__.name, __doc__.split("\n\n")[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
