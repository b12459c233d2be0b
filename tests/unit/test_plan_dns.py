"""What each VPC's resolver (Route 53 Resolver, AmazonProvidedDNS) answers in a plan, without the kernel.

Sources: https://docs.aws.amazon.com/vpc/latest/userguide/vpc-dns.html (resolver addresses, EC2
hostnames, the DNS attributes), https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html
(endpoint names, private DNS), https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html
(S3 private DNS and PrivateDnsOnlyForInboundResolverEndpoint).
"""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path

import pytest

from lab.model import regions
from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.compile import compile_plan
from lab.plan.dns import resolve
from lab.plan.names import aws_id

REPO = Path(__file__).resolve().parents[2]
S3 = regions.region("ap-northeast-2").services["s3"]
S3_PUBLIC = [str(a) for a in S3.addresses]


def load(text: str):
    return load_topology("inline.yaml", textwrap.dedent(text).lstrip("\n"))


def shipped(name: str, monkeypatch):
    monkeypatch.chdir(REPO)
    return load_topology(f"topologies/{name}")


def eni_ip(plan, node: str) -> str:
    return str(plan.node(node).interface("eth0").addresses[0].ip)


def answer(plan, vpc: str, name: str):
    record = resolve(plan.resolvers[vpc].records, name)
    return record and (record.origin, [str(a) for a in record.addresses])


@pytest.mark.parametrize(
    "name",
    [
        "s3.ap-northeast-2.amazonaws.com",
        "lab-bucket.s3.ap-northeast-2.amazonaws.com",
        "S3.AP-NORTHEAST-2.AMAZONAWS.COM.",
        "s3.dualstack.ap-northeast-2.amazonaws.com",
    ],
)
def test_s3_names_resolve_to_s3_public_addresses(name, monkeypatch):
    """A gateway endpoint changes routes, not DNS (gateway-endpoints.html)."""
    for topology in ("public-private.yaml", "gateway-endpoint.yaml"):
        plan = compile_plan(shipped(topology, monkeypatch))
        assert answer(plan, "app", name) == ("public", S3_PUBLIC)
    assert all(any(ipaddress.IPv4Address(a) in net for net in S3.ranges) for a in S3_PUBLIC)


def test_a_buckets_legacy_global_name_answers_with_its_own_regions_s3(monkeypatch):
    """S3's DNS routes <bucket>.s3.amazonaws.com to the bucket's Region (UsingRouting.html); names
    of buckets the lab does not have stay on the global endpoint, us-east-1's."""
    plan = compile_plan(shipped("gateway-endpoint.yaml", monkeypatch))
    us_east_1 = [str(a) for a in regions.region("us-east-1").services["s3"].addresses]
    assert answer(plan, "app", "lab-bucket.s3.amazonaws.com") == ("public", S3_PUBLIC)
    assert answer(plan, "app", "far-bucket.s3.amazonaws.com") == ("public", us_east_1)  # it is in us-east-1
    assert answer(plan, "app", "no-such-bucket.s3.amazonaws.com") == ("public", us_east_1)
    assert answer(plan, "app", "s3.amazonaws.com") == ("public", us_east_1)


def test_resolver_answers_at_vpc_base_plus_2_and_the_link_local_address(monkeypatch):
    plan = compile_plan(shipped("public-private.yaml", monkeypatch))
    resolver = plan.resolvers["app"]
    assert [str(a) for a in resolver.addresses] == ["10.0.0.2", "169.254.169.253"]
    assert resolver.node == "app-router"
    assert [str(a.ip) for a in plan.node("app-router").loopback] == ["10.0.0.2", "169.254.169.253"]


def test_ec2_private_hostnames(monkeypatch):
    plan = compile_plan(shipped("public-private.yaml", monkeypatch))
    assert answer(plan, "app", "ip-10-0-2-4.ap-northeast-2.compute.internal") == ("ec2-private", ["10.0.2.4"])
    assert eni_ip(plan, "app1") == "10.0.2.4"
    assert answer(plan, "app", "ip-10-0-2-99.ap-northeast-2.compute.internal") is None


def test_ec2_public_hostname_answers_the_private_ip_inside_the_vpc(monkeypatch):
    """vpc-dns.html: inside the VPC an instance's public DNS name resolves to its private IP."""
    plan = compile_plan(shipped("public-private.yaml", monkeypatch))
    web = next(p for p in plan.public_ips if p.owner == "web1")
    name = f"ec2-{str(web.address).replace('.', '-')}.ap-northeast-2.compute.amazonaws.com"
    assert answer(plan, "app", name) == ("ec2-private", [str(web.private_ip)])


def test_us_east_1_private_hostnames_are_in_ec2_internal():
    plan = compile_plan(
        load("""
        region: us-east-1
        vpcs:
          app:
            cidr: 10.0.0.0/16
            subnets: {private-a: {cidr: 10.0.2.0/24, az: a}}
            instances: {app1: {subnet: private-a}}
        """)
    )
    assert answer(plan, "app", "ip-10-0-2-4.ec2.internal") == ("ec2-private", ["10.0.2.4"])


def interface_endpoint(options: str = "", vpc_settings: str = "", more_endpoints: str = "") -> str:
    """vpc app with an S3 interface endpoint in two AZs, and vpc other beside it."""
    return textwrap.dedent("""
        vpcs:
          app:
            cidr: 10.0.0.0/16%s
            subnets:
              private-a: {cidr: 10.0.2.0/24, az: a}
              private-c: {cidr: 10.0.12.0/24, az: c}
            endpoints:%s
              s3-if: {type: interface, service: s3, subnets: [private-a, private-c]%s}
            instances: {app1: {subnet: private-a}}
          other:
            cidr: 10.1.0.0/16
            subnets: {private-a: {cidr: 10.1.2.0/24, az: a}}
            instances: {other1: {subnet: private-a}}
        """) % (vpc_settings and "\n    " + vpc_settings, more_endpoints and "\n      " + more_endpoints, options)


def test_interface_endpoint_private_dns_overrides_the_s3_name_in_its_own_vpc_only():
    """Private DNS is a private hosted zone of the endpoint's VPC (privatelink-access-aws-services.html);
    S3's private DNS never covers the legacy global name."""
    plan = compile_plan(load(interface_endpoint()))
    enis = [eni_ip(plan, "app-s3-if-a"), eni_ip(plan, "app-s3-if-c")]
    assert enis == ["10.0.2.254", "10.0.12.254"]
    for name in ("s3.ap-northeast-2.amazonaws.com", "lab-bucket.s3.ap-northeast-2.amazonaws.com"):
        assert answer(plan, "app", name) == ("private-dns", enis)
        assert answer(plan, "other", name) == ("public", S3_PUBLIC)
    assert answer(plan, "app", "s3.amazonaws.com")[0] == "public"


def test_interface_endpoint_names_resolve_to_its_enis_everywhere():
    """Endpoint-specific names are public records (regional: every ENI; zonal: that AZ's ENI)."""
    plan = compile_plan(load(interface_endpoint(", private_dns: false")))
    vpce = aws_id("vpce", "app", "s3-if")
    regional = next(
        r.name
        for r in plan.resolvers["app"].records
        if r.origin == "vpce" and r.name.startswith(vpce) and ".s3.ap-northeast-2.vpce." in r.name
    )
    stem = regional.split(".")[0]
    for vpc in ("app", "other"):
        assert answer(plan, vpc, regional) == ("vpce", ["10.0.2.254", "10.0.12.254"])
        assert answer(plan, vpc, f"bucket.{regional}") == ("vpce", ["10.0.2.254", "10.0.12.254"])
        zonal = regional.replace(stem, f"{stem}-ap-northeast-2c")
        assert answer(plan, vpc, zonal) == ("vpce", ["10.0.12.254"])
    assert answer(plan, "app", "s3.ap-northeast-2.amazonaws.com") == ("public", S3_PUBLIC)


def test_s3_private_dns_stays_public_when_the_vpc_has_an_s3_gateway_endpoint():
    """PrivateDnsOnlyForInboundResolverEndpoint (default true): with an S3 gateway endpoint in the VPC,
    VPC clients keep resolving S3's public addresses and use the gateway endpoint
    (AmazonS3 privatelink-interface-endpoints.html)."""
    plan = compile_plan(load(interface_endpoint(more_endpoints="s3-gw: {type: gateway, service: s3}")))
    assert answer(plan, "app", "s3.ap-northeast-2.amazonaws.com") == ("public", S3_PUBLIC)


def test_without_dns_hostnames_the_vpc_has_no_ec2_hostnames_and_no_private_dns():
    """Private DNS with enable_dns_hostnames false is refused (tests/unit/test_interface_endpoints.py);
    without it the VPC's resolver still answers the endpoint's own names."""
    plan = compile_plan(load(interface_endpoint(", private_dns: false", vpc_settings="enable_dns_hostnames: false")))
    assert answer(plan, "app", "s3.ap-northeast-2.amazonaws.com") == ("public", S3_PUBLIC)
    assert answer(plan, "app", "ip-10-0-2-4.ap-northeast-2.compute.internal") is None
    assert answer(plan, "app", names.endpoint_dns_name(aws_id("vpce", "app", "s3-if"), "s3", "ap-northeast-2"))[0] == "vpce"


def test_without_dns_support_the_vpc_has_no_resolver():
    plan = compile_plan(
        load("""
        vpcs:
          app:
            cidr: 10.0.0.0/16
            enable_dns_support: false
            subnets: {private-a: {cidr: 10.0.2.0/24, az: a}}
            instances: {app1: {subnet: private-a}}
          other:
            cidr: 10.1.0.0/16
            subnets: {private-a: {cidr: 10.1.2.0/24, az: a}}
        """)
    )
    assert sorted(plan.resolvers) == ["other"]
    assert plan.node("app-router").loopback == ()
    assert plan.node("other-router").loopback != ()


def test_the_internet_has_a_resolver_for_public_names_only(monkeypatch):
    """internet-client resolves what anyone can (AWS's service names, public hostnames, NLB names),
    never a VPC's private names or an interface endpoint's private DNS."""
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    plan = compile_plan(load_topology("topologies/interface-endpoint.yaml"))
    public = plan.resolver_of("internet-client")
    assert public is plan.public_resolver and public.node == "internet" and str(public.addresses[0]) == "203.0.113.1"
    assert plan.every_resolver()["internet"] is public and set(plan.resolvers) < set(plan.every_resolver())
    assert {r.origin for r in public.records} <= {"public", "ec2-public", "elb"}
    assert resolve(public.records, "ec2.ap-northeast-2.amazonaws.com").addresses
    assert resolve(public.records, "sqs.ap-northeast-2.amazonaws.com").origin == "public"  # not the VPC's private DNS
    assert plan.resolver_of("app1") is plan.resolvers["app"] and plan.resolver_of("internet") is None
