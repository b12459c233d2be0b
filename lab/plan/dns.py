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

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from lab.model import regions
from lab.model.topology import Endpoint, Topology, Vpc, private_dns_only_for_inbound_resolver
from lab.plan import names
from lab.plan.addressing import RESOLVER_LINK_LOCAL
from lab.plan.allocation import Allocation, EndpointKey, LoadBalancerKey, PublicIp
from lab.plan.endpoint_services import dns_service_label
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


def endpoint_names(vpce_id: str, service: str, region: str, azs: list[str]) -> list[tuple[str, str | None]]:
    """(name, az or None for the regional name) of an interface endpoint: the regional name and one
    zonal name per AZ (lab.plan.names.endpoint_dns_name). S3's are the wildcards `*.vpce-...`
    whose first label is `bucket`, `accesspoint` or `control`
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html);
    the bare names answer too."""
    plain: list[tuple[str, str | None]] = [(names.endpoint_dns_name(vpce_id, service, region), None)]
    plain += [(names.endpoint_dns_name(vpce_id, service, region, az), az) for az in azs]
    if service != "s3":
        return plain
    return [(f"*.{n}", az) for n, az in plain] + plain


def certificate_names(allocation: Allocation, service: str, region: str, vpce_ids: Iterable[str]) -> list[str]:
    """Every endpoint-specific name a client may send to the front of `service` in `region` through
    the interface endpoints among `vpce_ids` (a front's ingress labels), so that TLS verifies each:
    the DNS names above, and for S3 the virtual-hosted `<bucket>.bucket.vpce-...` ones."""
    keys = {vpce: key for key, vpce in allocation.vpce_ids.items()}
    found: list[str] = []
    for vpce in dict.fromkeys(vpce_ids):  # an endpoint has one ingress per ENI
        key = keys.get(vpce)
        if key is None or key not in allocation.endpoint_ips:  # the internet, or a gateway endpoint
            continue
        for name, _ in endpoint_names(vpce, service, region, sorted(allocation.endpoint_ips[key])):
            found.append(name)
            if service == "s3" and not name.startswith("*."):
                found.append(f"*.bucket.{name}")
    return found


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


def public_resolver(t: Topology, allocation: Allocation, address: Addr) -> Resolver:
    """The internet's resolver, as a learner's own computer has one (a home router's, an ISP's): it
    answers what anyone can resolve (`public_records`: AWS's service names, instances' public
    hostnames), so `internet-client aws ec2 ...` reaches ec2.<region>.amazonaws.com as a laptop
    running the AWS CLI does. It runs in the `internet` node, at the address internet-client routes by."""
    return Resolver(names.INTERNET, names.INTERNET, (address,), tuple(world_records(t, allocation)))


def world_records(t: Topology, allocation: Allocation) -> list[DnsRecord]:
    """What every resolver answers, in a VPC or on the internet: NLBs' names, then `public_records`."""
    buckets = {b.name: b.region for b in t.buckets.values()}
    return load_balancer_records(t, allocation) + public_records(
        allocation.public_ips, allocation.instance_ips, t.region, buckets
    )


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
    for other in t.vpcs.values():
        for ep in other.endpoints.values():
            if ep.type != "interface":
                continue
            key = EndpointKey(other.name, ep.name)
            enis, vpce = allocation.endpoint_ips[key], allocation.vpce_ids[key]
            for name, az in endpoint_names(vpce, dns_service_label(t, ep), ep.region, sorted(enis)):
                records.append(DnsRecord(name, tuple(enis.values()) if az is None else (enis[az],), "vpce"))
            if other.name == vpc.name and answers_private_dns(vpc, ep):
                svc = regions.region(ep.region).services[ep.service]
                for name in private_dns_names(svc):
                    records.append(DnsRecord(name, tuple(enis.values()), "private-dns"))
    return records + world_records(t, allocation)


def load_balancer_records(t: Topology, allocation: Allocation) -> list[DnsRecord]:
    """Each internal NLB's DNS name, with its nodes' private IPs: a public record, so every VPC's
    resolver answers it ("The DNS name of an internal load balancer is publicly resolvable to the
    private IP addresses of the nodes",
    https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html#load-balancer-scheme)."""
    return [
        DnsRecord(
            names.load_balancer_dns_name(vpc.name, lb.name, t.region),
            tuple(allocation.load_balancer_ips[LoadBalancerKey(vpc.name, lb.name)][vpc.subnets[s].az] for s in lb.subnets),
            "elb",
        )
        for vpc in t.vpcs.values()
        for lb in vpc.load_balancers.values()
    ]


def answers_private_dns(vpc: Vpc, ep: Endpoint) -> bool:
    """Whether the VPC's own resolver answers `ep`'s service names with the ENIs: private DNS on
    (which validation lets through only with both DNS attributes of the VPC), and not kept for an
    inbound Resolver endpoint (lab.model.topology.private_dns_only_for_inbound_resolver)."""
    usable = vpc.enable_dns_support and vpc.enable_dns_hostnames
    return ep.type == "interface" and ep.private_dns and usable and not private_dns_only_for_inbound_resolver(vpc, ep)


def private_dns_names(svc: regions.RegionalService) -> list[str]:
    """The service names a private hosted zone takes over; never S3's legacy global name or dualstack,
    nor a service's public-only names (SQS's legacy <region>.queue.amazonaws.com)."""
    return [
        n
        for n in svc.hostnames
        if ".dualstack." not in n and n.removeprefix("*.") != "s3.amazonaws.com" and n not in svc.public_only
    ]


def resolve(records: tuple[DnsRecord, ...] | list[DnsRecord], name: str) -> DnsRecord | None:
    """The record a resolver would answer with: an exact name first, then the longest wildcard,
    and among equals the first listed (private before public)."""
    name = name.lower().rstrip(".")
    exact = [r for r in records if r.name == name]
    if exact:
        return exact[0]
    wild = [r for r in records if regions.hostname_matches(r.name, name) and r.name.startswith("*.")]
    return max(wild, key=lambda r: len(r.name), default=None) if wild else None
