"""A VPC's Route 53 Resolver (AmazonProvidedDNS): answers A queries from the planned records only.

    python -m lab.services.resolver --config RESOLVER.json

The records are the plan's (`lab.plan.dns`), looked up by the plan's own rule (`resolve`: an exact
name first, then the longest wildcard), so the lab answers exactly what `vpclab plan` and
`vpclab explain` predict. Nothing is ever forwarded: the lab has no way out, and a name the plan
does not know is NXDOMAIN. A known name asked for another type (AAAA, MX, ...) gets NOERROR with
no answer (NODATA), as Route 53 does for a name without records of that type. TTL 60 s.
UDP and TCP on port 53 of every address (https://docs.aws.amazon.com/vpc/latest/userguide/AmazonDNS-concepts.html:
VPC base+2 and 169.254.169.253).

RESOLVER.json is the plan's `Resolver` as `lab.plan.serialize.to_data` writes it, plus the log path:

    {"vpc": "app", "node": "app-router", "addresses": ["10.0.0.2", "169.254.169.253"],
     "records": [{"name": "*.s3.ap-northeast-2.amazonaws.com", "addresses": ["52.219.60.10"], "origin": "public"}],
     "query_log": "/run/lab/app-router/dns.jsonl"}

Each query-log line: time (epoch seconds), client, port, protocol (udp|tcp), name (as asked, no
trailing dot), type, rcode, answer (addresses), origin (of the record used; null for NXDOMAIN).
"""

from __future__ import annotations

import errno
import logging
import sys
import time
from pathlib import Path

from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from lab.plan.dns import resolve
from lab.plan.types import DnsRecord
from lab.services import process
from lab.services.config import ResolverConfig, load_resolver_config
from lab.services.errors import ServiceError
from lab.services.process import JsonLines

log = logging.getLogger(__name__)

TTL = 60


def answer(records: tuple[DnsRecord, ...], request: DNSRecord) -> tuple[DNSRecord, DnsRecord | None]:
    """The reply to `request`, and the planned record it came from (None: NXDOMAIN)."""
    reply = request.reply(ra=1, aa=0)  # a recursive resolver's answer, not a zone's authority
    reply.header.ad = 0  # and nothing here is DNSSEC-validated, whatever the client asked
    question = request.q
    record = resolve(records, str(question.qname))
    if record is None:
        reply.header.rcode = RCODE.NXDOMAIN
    elif question.qtype == QTYPE.A:
        for address in record.addresses:
            reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(str(address)), ttl=TTL))
    return reply, record


class PlannedAnswers(BaseResolver):
    """dnslib's resolver interface over the planned records; logs every query it answers."""

    def __init__(self, records: tuple[DnsRecord, ...], queries: JsonLines):
        self.records, self.queries = records, queries

    def resolve(self, request: DNSRecord, handler) -> DNSRecord:
        reply, record = answer(self.records, request)
        self.queries.write(
            {
                "time": time.time(),
                "client": handler.client_address[0],
                "port": handler.client_address[1],
                "protocol": handler.protocol,
                "name": str(request.q.qname).rstrip("."),
                "type": QTYPE[request.q.qtype],
                "rcode": RCODE[reply.header.rcode],
                "answer": [str(rr.rdata) for rr in reply.rr],
                "origin": record.origin if record else None,
            }
        )
        return reply


def start(config: ResolverConfig) -> PlannedAnswers:
    """Bind UDP and TCP on port 53 of every address, then serve each in a daemon thread; the
    answers, whose records a live change replaces."""
    try:
        queries = JsonLines(config.query_log)
    except OSError as e:
        raise ServiceError(f"cannot open the query log: {e}") from None
    answers = PlannedAnswers(config.resolver.records, queries)
    quiet = DNSLogger("-request,-reply", prefix=False, logf=log.warning)  # dnslib would print to stdout
    servers = []
    for address in config.resolver.addresses:
        for tcp in (False, True):
            try:
                servers.append(DNSServer(answers, address=str(address), port=53, tcp=tcp, logger=quiet))
            except OSError as e:
                hint = " (the address is on no interface of this namespace)" if e.errno == errno.EADDRNOTAVAIL else ""
                raise ServiceError(f"cannot listen on {address}:53/{'tcp' if tcp else 'udp'}: {e.strerror}{hint}") from None
    process.block_stop_signals()
    for server in servers:
        server.start_thread()
    return answers


def run(config_path: Path, ready) -> int:
    """Serve until SIGTERM; `ready` (from `process.claim_stdout`) hears READY once it listens."""

    serving: list[PlannedAnswers] = []

    def begin() -> str:
        config = load_resolver_config(config_path)
        serving.append(start(config))
        return (
            f"resolver of {config.resolver.vpc} on {', '.join(map(str, config.resolver.addresses))}: "
            f"{len(config.resolver.records)} records"
        )

    def reload() -> str:
        """A live change (an interface endpoint created or deleted, private DNS switched): the new
        records, swapped in whole, so a query meets either the old set or the new one."""
        records = load_resolver_config(config_path).resolver.records
        serving[0].records = records
        return f"{len(records)} records"

    return process.serve(ready, begin, reload, config_path)


def main(argv: list[str] | None = None) -> int:
    return process.service_main(__spec__.name, __doc__.split("\n\n")[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
