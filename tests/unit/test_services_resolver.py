"""What the lab's Route 53 Resolver answers, from the plan's records and by the plan's lookup rule
(`lab.plan.dns.resolve`), without sockets: A records with TTL 60, NXDOMAIN for names the plan does
not know (nothing is forwarded), NODATA for other types of known names."""

from __future__ import annotations

import ipaddress

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from lab.plan.types import DnsRecord
from lab.services.resolver import answer


def record(name: str, *addresses: str, origin: str = "public") -> DnsRecord:
    return DnsRecord(name, tuple(ipaddress.IPv4Address(a) for a in addresses), origin)


RECORDS = (
    record("s3.ap-northeast-2.amazonaws.com", "10.0.2.50", "10.0.3.50", origin="private-dns"),
    record("s3.ap-northeast-2.amazonaws.com", "52.219.60.10", "3.5.140.10"),
    record("*.s3.ap-northeast-2.amazonaws.com", "52.219.60.10", "3.5.140.10"),
    record("*.amazonaws.com", "192.0.2.1"),
    record("only.s3.ap-northeast-2.amazonaws.com", "192.0.2.9"),
)


def ask(name: str, qtype: str = "A") -> tuple[DNSRecord, DnsRecord | None]:
    request = DNSRecord.question(name, qtype)
    reply, used = answer(RECORDS, request)
    return DNSRecord.parse(reply.pack()), used  # what goes on the wire


@pytest.mark.parametrize(
    "name, addresses",
    [
        ("s3.ap-northeast-2.amazonaws.com", ["10.0.2.50", "10.0.3.50"]),  # exact; the first (private) record wins
        ("lab-bucket.s3.ap-northeast-2.amazonaws.com", ["52.219.60.10", "3.5.140.10"]),  # longest wildcard
        ("a.b.s3.ap-northeast-2.amazonaws.com", ["52.219.60.10", "3.5.140.10"]),  # DNS wildcards span labels
        ("only.s3.ap-northeast-2.amazonaws.com", ["192.0.2.9"]),  # exact beats every wildcard
        ("dynamodb.ap-northeast-2.amazonaws.com", ["192.0.2.1"]),  # the only wildcard that matches
    ],
)
def test_a_queries_get_the_planned_addresses(name, addresses):
    reply, used = ask(name)
    assert reply.header.rcode == RCODE.NOERROR
    assert [str(rr.rdata) for rr in reply.rr] == addresses
    assert {(str(rr.rname), rr.ttl, rr.rtype) for rr in reply.rr} == {(name + ".", 60, QTYPE.A)}
    assert used.addresses == tuple(ipaddress.IPv4Address(a) for a in addresses)


def test_the_answer_owns_the_name_as_asked():
    reply, _ = ask("Lab-Bucket.S3.ap-northeast-2.amazonaws.com.")
    assert str(reply.rr[0].rname) == "Lab-Bucket.S3.ap-northeast-2.amazonaws.com."


def test_unknown_names_are_nxdomain_never_forwarded():
    reply, used = ask("example.com")
    assert (reply.header.rcode, reply.rr, used) == (RCODE.NXDOMAIN, [], None)


@pytest.mark.parametrize("qtype", ["AAAA", "MX", "TXT"])
def test_other_types_of_known_names_are_nodata(qtype):
    reply, used = ask("s3.ap-northeast-2.amazonaws.com", qtype)
    assert (reply.header.rcode, reply.rr, used.origin) == (RCODE.NOERROR, [], "private-dns")


def test_flags_are_a_recursive_resolvers():
    reply, _ = ask("s3.ap-northeast-2.amazonaws.com")
    assert (reply.header.qr, reply.header.ra, reply.header.aa, reply.header.ad) == (1, 1, 0, 0)
