"""What a valid topology turns into: the defaults AWS applies, canonical values, scoped names, warnings
that do not stop a load, deterministic ids and the region data the other layers look things up in."""

from __future__ import annotations

import ipaddress
import re
import textwrap
from pathlib import Path

import pytest

from lab.errors import TopologyError
from lab.model import regions
from lab.model.loader import load_topology
from lab.model.topology import SecurityGroupRule
from lab.model.validate import validate
from lab.plan.names import aws_id

REPO = Path(__file__).resolve().parents[2]


def load(text: str):
    """Line 1 of the loaded text is the first line after the opening quotes, so lines read off the page."""
    return load_topology("inline.yaml", textwrap.dedent(text).lstrip("\n"))


def test_design_example_loads_unchanged(monkeypatch):
    """DESIGN.md section 5 is the first topology a reader sees; it must stay valid, warnings included."""
    monkeypatch.chdir(REPO)
    topology = load_topology("tests/data/design-example/topology.yaml")
    app = topology.vpcs["app"]
    assert app.endpoints["s3-gw"].route_tables == ("private",)
    assert app.endpoints["s3-gw"].policy.path == "tests/data/design-example/policies/lab-bucket-only.json"
    assert topology.buckets["lab-bucket"].policy.document["Statement"][0]["Effect"] == "Deny"
    assert topology.instances["app1"].vpc == "app"
    assert validate(topology) == []


def test_defaults_are_aws_defaults():
    topology = load("""
        vpcs:
          app:
            cidr: 10.0.0.0/16
            subnets:
              private-a: {cidr: 10.0.1.0/24, az: a}
            security_groups:
              web:
                ingress: [{protocol: tcp, port: 443, cidr: 0.0.0.0/0}]
        """)
    app = topology.vpcs["app"]
    assert topology.region == "ap-northeast-2"
    assert app.enable_dns_support and app.enable_dns_hostnames
    assert not app.internet_gateway
    assert app.subnets["private-a"].az == "ap-northeast-2a"
    assert app.subnets["private-a"].route_table is None  # the main route table
    assert app.security_groups["web"].egress == (SecurityGroupRule("-1", None, None, ipaddress.IPv4Network("0.0.0.0/0")),)


def test_a_vpc_or_subnet_cidr_must_name_its_first_address_as_ec2_demands():
    """CreateVpc/CreateSubnet refuse 10.0.3.9/16 (InvalidParameterValue) rather than keep 10.0.0.0/16;
    the exact text is in tests/data/invalid/vpc-cidr-host-bits.yaml."""
    for vpc, subnet in (("10.0.3.9/16", "10.0.1.0/24"), ("10.0.0.0/16", "10.0.1.7/24")):
        with pytest.raises(TopologyError, match=r"This is not a valid CIDR block; did you mean 10\.0\.[01]\.0/"):
            load(f"""
                vpcs:
                  app:
                    cidr: {vpc}
                    subnets:
                      private-a: {{cidr: {subnet}, az: ap-northeast-2b}}
                """)
    app = load("""
        vpcs:
          app:
            cidr: 10.0.0.0/16
            subnets:
              private-a: {cidr: 10.0.1.0/24, az: b}
        """).vpcs["app"]
    assert app.cidr == ipaddress.IPv4Network("10.0.0.0/16")
    assert app.subnets["private-a"].az == "ap-northeast-2b"


def test_subnet_names_are_scoped_per_vpc():
    topology = load("""
        vpcs:
          app:
            cidr: 10.0.0.0/16
            subnets: {app-a: {cidr: 10.0.1.0/24, az: a}}
          data:
            cidr: 10.0.0.0/16
            subnets: {app-a: {cidr: 10.0.1.0/24, az: c}}
        """)
    assert topology.vpcs["app"].subnets["app-a"].az == "ap-northeast-2a"
    assert topology.vpcs["data"].subnets["app-a"].az == "ap-northeast-2c"


def test_private_addresses_are_scoped_per_vpc():
    """An address is in use only within its VPC (validate keys the addresses it has seen by VPC):
    overlapping VPCs may each give an instance the same one; tests/data/invalid/instance-ip-in-use.yaml
    is the same address twice in one VPC."""
    topology = load("""
        vpcs:
          app:
            cidr: 10.0.0.0/16
            subnets: {a: {cidr: 10.0.1.0/24, az: a}}
            instances: {app1: {subnet: a, private_ip: 10.0.1.10}}
          data:
            cidr: 10.0.0.0/16
            subnets: {a: {cidr: 10.0.1.0/24, az: a}}
            instances: {data1: {subnet: a, private_ip: 10.0.1.10}}
        """)
    assert topology.instances["app1"].private_ip == topology.instances["data1"].private_ip


def test_nat_gateway_without_route_to_igw_is_a_warning_not_an_error():
    topology = load("""
        vpcs:
          app:
            cidr: 10.0.0.0/16
            internet_gateway: true
            subnets:
              public-a: {cidr: 10.0.1.0/24, az: a}
            nat_gateways:
              nat-a: {subnet: public-a}
        """)
    assert [str(p) for p in validate(topology)] == [
        "inline.yaml:8: warning: nat gateway nat-a is in subnet public-a, whose route table has no default "
        "route to the internet gateway: AWS accepts it, but nothing it translates can reach the internet "
        "(vpclab.NatGatewayNotPublic)"
    ]


def test_aws_ids_are_deterministic_and_shaped_like_aws():
    subnet = aws_id("subnet", "app", "private-a")
    assert subnet == aws_id("subnet", "app", "private-a")
    assert subnet != aws_id("subnet", "data", "private-a")
    assert re.fullmatch(r"subnet-[0-9a-f]{17}", subnet)


@pytest.mark.parametrize(
    "address, service, region",
    [
        ("52.219.60.10", "s3", "ap-northeast-2"),
        ("52.216.0.10", "s3", "us-east-1"),
        ("52.94.6.10", "dynamodb", "ap-northeast-2"),
    ],
)
def test_service_for_address(address, service, region):
    svc = regions.service_for_address(ipaddress.IPv4Address(address))
    assert (svc.service, svc.region) == (service, region)


def test_service_for_address_outside_aws_ranges():
    assert regions.service_for_address(ipaddress.IPv4Address("8.8.8.8")) is None


@pytest.mark.parametrize(
    "hostname, service, region",
    [
        ("s3.ap-northeast-2.amazonaws.com", "s3", "ap-northeast-2"),
        ("bucket.s3.ap-northeast-2.amazonaws.com", "s3", "ap-northeast-2"),
        ("s3.amazonaws.com", "s3", "us-east-1"),  # the legacy global name boto3 still uses in us-east-1
        ("lab-bucket.s3.amazonaws.com.", "s3", "us-east-1"),
        ("DynamoDB.ap-northeast-2.amazonaws.com", "dynamodb", "ap-northeast-2"),
    ],
)
def test_service_for_hostname(hostname, service, region):
    svc = regions.service_for_hostname(hostname)
    assert (svc.service, svc.region) == (service, region)


@pytest.mark.parametrize(
    "hostname",
    [
        "example.com",
        "xs3.ap-northeast-2.amazonaws.com",
        "s3.ap-northeast-2.amazonaws.com.example.com",
    ],
)
def test_service_for_hostname_rejects_lookalikes(hostname):
    assert regions.service_for_hostname(hostname) is None


@pytest.mark.parametrize(
    "name, parsed",
    [
        ("s3", ("ap-northeast-2", "s3")),
        ("com.amazonaws.us-east-1.dynamodb", ("us-east-1", "dynamodb")),
        ("s3.amazonaws.com", None),
        ("com.amazonaws.s3", None),
    ],
)
def test_parse_service_name(name, parsed):
    assert regions.parse_service_name(name, "ap-northeast-2") == parsed
