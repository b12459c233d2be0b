"""What each VPC's Route 53 Resolver answers, and how a name is looked up in those answers.

Sources: https://docs.aws.amazon.com/vpc/latest/userguide/vpc-dns.html (AmazonProvidedDNS at the
VPC base+2 and 169.254.169.253; EC2 hostnames `ip-a-b-c-d.<region>.compute.internal`, or
`ec2.internal` in us-east-1; public hostnames resolve to the private IP inside the VPC) and
https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html (endpoint
DNS names, private DNS). S3 interface endpoints with private DNS leave VPC clients on the gateway
endpoint when the VPC has one (PrivateDnsOnlyForInboundResolverEndpoint, default true:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, Sequence

from lab.model import regions
from lab.model.topology import Endpoint, Topology, Vpc
from lab.plan import names
from lab.plan.addressing import RESOLVER_LINK_LOCAL
from lab.plan.allocation import Allocation, EndpointKey, PublicIp
from lab.plan.types import DnsRecord, Resolver

Addr = ipaddress.IPv4Address


def dashed(address: Addr) -> str:
    return str(address).replace(".", "-")


def private_hostname(address: Addr, region: str) -> str:
    domain = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"ip-{dashed(address)}.{domain}"


def public_hostname(address: Addr, region: str) -> str:
    domain = "compute-1.amazonaws.com" if region == "us-east-1" else f"{region}.compute.amazonaws.com"
    return f"ec2-{dashed(address)}.{domain}"


def endpoint_dns_suffix(vpce_id: str) -> str:
    """The 8-character label AWS appends to an endpoint's DNS names (e.g. -29p5708s)."""
    return hashlib.sha256(vpce_id.encode()).hexdigest()[:8]


def endpoint_names(vpce_id: str, ep: Endpoint, azs: list[str]) -> list[tuple[str, str | None]]:
    """(name, az or None for the regional name); S3 names are wildcards (bucket., accesspoint., ...)."""
    stem = f"{vpce_id}-{endpoint_dns_suffix(vpce_id)}"
    base = f"{ep.service}.{ep.region}.vpce.amazonaws.com"
    wild = "*." if ep.service == "s3" else ""
    names: list[tuple[str, str | None]] = [(f"{wild}{stem}.{base}", None)]
    names += [(f"{wild}{stem}-{az}.{base}", az) for az in azs]
    if ep.service != "s3":
        return names
    return names + [(n[2:], az) for n, az in names]  # the bare names answer too


def public_records(
    public_ips: Sequence[PublicIp], instances: Mapping[str, Addr], region: str, buckets: dict[str, str] | None = None
) -> list[DnsRecord]:
    """Names anyone can resolve: AWS services, the public hostnames of instances, and each bucket's
    name under S3's legacy global endpoint (`<bucket>.s3.amazonaws.com`, what boto3's presigned
    URLs use), which S3's DNS points at the bucket's own Region, not at us-east-1
    (https://docs.aws.amazon.com/AmazonS3/latest/API/UsingRouting.html, "DNS routing"; the
    redirects while a new bucket's DNS entry propagates are not emulated). `buckets`: name -> Region."""
    records = [
        DnsRecord(f"{name}.s3.amazonaws.com", regions.region(where).services["s3"].addresses, "public")
        for name, where in sorted((buckets or {}).items())
        if where != "us-east-1"
    ]
    records += [DnsRecord(name, svc.addresses, "public") for svc in regions.all_services() for name in svc.hostnames]
    records += [
        DnsRecord(public_hostname(p.address, region), (p.address,), "ec2-public") for p in public_ips if p.owner in instances
    ]
    return records


def resolvers(t: Topology, allocation: Allocation) -> dict[str, Resolver]:
    """One resolver per VPC with DNS support, in the VPC's router."""
    return {
        vpc.name: Resolver(
            vpc.name,
            names.router_node(vpc.name),
            (vpc.cidr.network_address + 2, RESOLVER_LINK_LOCAL),
            tuple(vpc_records(t, vpc, allocation)),
        )
        for vpc in t.vpcs.values()
        if vpc.enable_dns_support
    }


def vpc_records(t: Topology, vpc: Vpc, allocation: Allocation) -> list[DnsRecord]:
    """The answers of `vpc`'s resolver, most specific and most private first."""
    ips, public_ips = allocation.instance_ips, allocation.public_ips
    records: list[DnsRecord] = []
    if vpc.enable_dns_hostnames:
        for inst in t.instances.values():
            if inst.vpc == vpc.name:
                records.append(DnsRecord(private_hostname(ips[inst.name], t.region), (ips[inst.name],), "ec2-private"))
        for p in public_ips:  # inside its own VPC a public hostname answers with the private IP
            if p.vpc == vpc.name and p.owner in ips:
                records.append(DnsRecord(public_hostname(p.address, t.region), (p.private_ip,), "ec2-private"))
    gateway_services = {(e.service, e.region) for e in vpc.endpoints.values() if e.type == "gateway"}
    for other in t.vpcs.values():
        for ep in other.endpoints.values():
            if ep.type != "interface":
                continue
            key = EndpointKey(other.name, ep.name)
            enis, vpce = allocation.endpoint_ips[key], allocation.vpce_ids[key]
            for name, az in endpoint_names(vpce, ep, sorted(enis)):
                records.append(DnsRecord(name, tuple(enis.values()) if az is None else (enis[az],), "vpce"))
            private = ep.private_dns and other.name == vpc.name and vpc.enable_dns_support and vpc.enable_dns_hostnames
            if private and not (ep.service == "s3" and (ep.service, ep.region) in gateway_services):
                svc = regions.region(ep.region).services[ep.service]
                for name in private_dns_names(svc):
                    records.append(DnsRecord(name, tuple(enis.values()), "private-dns"))
    records += public_records(public_ips, ips, t.region, {b.name: b.region for b in t.buckets.values()})
    return records


def private_dns_names(svc: regions.RegionalService) -> list[str]:
    """The service names a private hosted zone takes over; never S3's legacy global name or dualstack."""
    return [n for n in svc.hostnames if ".dualstack." not in n and n.removeprefix("*.") != "s3.amazonaws.com"]


def resolve(records: tuple[DnsRecord, ...] | list[DnsRecord], name: str) -> DnsRecord | None:
    """The record a resolver would answer with: an exact name first, then the longest wildcard,
    and among equals the first listed (private before public)."""
    name = name.lower().rstrip(".")
    exact = [r for r in records if r.name == name]
    if exact:
        return exact[0]
    wild = [r for r in records if regions.hostname_matches(r.name, name) and r.name.startswith("*.")]
    return max(wild, key=lambda r: len(r.name), default=None) if wild else None
