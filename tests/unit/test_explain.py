"""The static path explanation (like VPC Reachability Analyzer) on the chapter's topologies and on small
topologies that each isolate one AWS rule: which hops a packet crosses, where it stops and why, and
which source address the service sees.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.errors import UnknownName
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.names import aws_id
from lab.results import ServiceSaw, Translation
from topologies import nat_vpc, public_vpc, vpcs

REPO = Path(__file__).resolve().parents[2]
S3_NAME = "s3.ap-northeast-2.amazonaws.com"
PUBLIC_PATH = ["instance", "vpc-router", "internet-gateway", "internet", "service"]
NAT_PATH = ["instance", "vpc-router", "nat-gateway", "vpc-router", "internet-gateway", "internet", "service"]
ENDPOINT_PATH = ["instance", "vpc-router", "gateway-endpoint", "service"]


def run(topology, source: str, target: str):
    return explain(topology, compile_plan(topology), source, target)


def shipped(name: str, monkeypatch):
    monkeypatch.chdir(REPO)
    return load_topology(f"topologies/{name}")


def load(text: str):
    return load_topology("inline.yaml", textwrap.dedent(text).lstrip("\n"))


def kinds(result) -> list[str]:
    return [hop.kind for hop in result.path]


def public_ip(topology, owner: str) -> str:
    return str(next(p.address for p in compile_plan(topology).public_ips if p.owner == owner))


def private_ip(topology, node: str) -> str:
    return str(compile_plan(topology).node(node).interfaces[0].addresses[0].ip)


# -- topologies/public-private.yaml: the chapter's first figure ------------------------------------


def test_private_instance_reaches_s3_through_nat_and_internet_gateway(monkeypatch):
    topology = shipped("public-private.yaml", monkeypatch)
    result = run(topology, "app1", S3_NAME)
    assert (result.outcome, result.explanation) == ("ok", None)
    assert kinds(result) == NAT_PATH
    assert result.dns.origin == "public" and result.destination == result.dns.answer[0]
    assert result.service_saw == ServiceSaw(public_ip(topology, "nat-a"), "internet", None)
    assert result.path[2].aws_id == aws_id("nat", "app", "nat-a")
    assert result.path[4].aws_id == aws_id("igw", "app")


def test_isolated_instance_has_no_route_out(monkeypatch):
    result = run(shipped("public-private.yaml", monkeypatch), "db1", S3_NAME)
    assert (result.outcome, result.reachable) == ("timeout", False)  # AWS drops silently
    assert kinds(result) == ["instance", "vpc-router"]
    assert result.explanation.code == "NO_ROUTE_TO_DESTINATION"
    assert result.explanation.component == aws_id("rtb", "app", "isolated")
    assert result.service_saw is None


def test_public_instance_reaches_s3_with_its_own_public_ip(monkeypatch):
    topology = shipped("public-private.yaml", monkeypatch)
    result = run(topology, "web1", S3_NAME)
    assert result.outcome == "ok"
    assert kinds(result) == PUBLIC_PATH
    assert result.service_saw == ServiceSaw(public_ip(topology, "web1"), "internet", None)


def test_instances_in_one_vpc_reach_each_other_over_the_local_route(monkeypatch):
    topology = shipped("public-private.yaml", monkeypatch)
    result = explain(topology, compile_plan(topology), "db1", "web1", 22)  # web1's group lets ssh in
    assert (result.outcome, kinds(result)) == ("ok", ["instance", "vpc-router", "instance"])
    assert result.path[-1].node == "web1"


def test_ec2_private_hostname_leads_to_the_instance(monkeypatch):
    result = run(shipped("public-private.yaml", monkeypatch), "db1", "ip-10-0-2-4.ap-northeast-2.compute.internal")
    assert (result.outcome, result.path[-1].node) == ("ok", "app1")
    assert result.dns.origin == "ec2-private"


# -- topologies/gateway-endpoint.yaml: the same instance, privately -------------------------------


@pytest.mark.parametrize("target", [S3_NAME, "lab-bucket.s3.ap-northeast-2.amazonaws.com"])
def test_gateway_endpoint_keeps_s3_traffic_private(target, monkeypatch):
    topology = shipped("gateway-endpoint.yaml", monkeypatch)
    result = run(topology, "app1", target)
    vpce = aws_id("vpce", "app", "s3-gw")
    assert result.outcome == "ok"
    assert kinds(result) == ENDPOINT_PATH
    assert result.dns.origin == "public"  # the route table diverts S3's public addresses, DNS does not
    assert "pl-78a54011" in result.path[1].detail
    assert result.path[2].aws_id == vpce
    assert result.service_saw == ServiceSaw(private_ip(topology, "app1"), vpce, vpce)


def test_isolated_instance_reaches_s3_through_the_endpoint_only(monkeypatch):
    topology = shipped("gateway-endpoint.yaml", monkeypatch)
    assert kinds(run(topology, "batch1", S3_NAME)) == ENDPOINT_PATH
    result = run(topology, "batch1", "internet-client")
    assert (result.outcome, result.explanation.code) == ("timeout", "NO_ROUTE_TO_DESTINATION")
    assert kinds(result) == ["instance", "vpc-router"]


def test_the_rest_of_the_internet_still_goes_through_the_nat_gateway(monkeypatch):
    topology = shipped("gateway-endpoint.yaml", monkeypatch)
    result = run(topology, "app1", "internet-client")
    assert result.outcome == "ok"
    assert kinds(result) == NAT_PATH[:-1] + ["internet"]
    assert result.path[-1].node == "internet-client"
    assert result.path[4].translations == (
        Translation("source", private_ip(topology, "app-nat-a"), public_ip(topology, "nat-a")),
    )


# -- one rule each --------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["52.219.60.0/24", "52.219.60.0/23"])
def test_a_more_specific_or_equal_static_route_beats_the_prefix_list(route):
    """VPC_Route_Tables.html, "Route priority and prefix lists": the longest prefix wins, and on the
    very same prefix a static route beats a prefix-list route."""
    topology = load(nat_vpc(f"[{{destination: 0.0.0.0/0, target: nat-a}}, {{destination: {route}, target: nat-a}}]"))
    result = run(topology, "app1", S3_NAME)  # resolves to 52.219.60.10
    assert kinds(result) == NAT_PATH
    assert result.path[1].detail.endswith(f"{route} -> nat-a")
    assert result.service_saw.source_ip == public_ip(topology, "nat-a")
    other = run(topology, "app1", "3.5.140.10")  # S3's second address: still the endpoint
    assert kinds(other) == ENDPOINT_PATH


def test_a_bucket_in_another_region_is_not_in_the_local_prefix_list():
    """Prefix lists are per Region: a us-east-1 bucket from ap-northeast-2 still takes NAT and IGW."""
    topology = load(
        nat_vpc("[{destination: 0.0.0.0/0, target: nat-a}]", top="services: {s3: {buckets: {far-bucket: {region: us-east-1}}}}\n")
    )
    result = run(topology, "app1", "far-bucket.s3.us-east-1.amazonaws.com")
    assert result.outcome == "ok"
    assert kinds(result) == NAT_PATH
    assert result.path[-1].node == "s3-us-east-1"
    assert result.path[-1].aws_id == "com.amazonaws.us-east-1.s3"
    assert result.service_saw == ServiceSaw(public_ip(topology, "nat-a"), "internet", None)


def test_peering_is_not_transitive():
    """A peering connection (a link between the routers, not a hop) reaches the peer's own addresses
    only, never its NAT gateway, internet gateway or gateway endpoints (gateway-endpoints.html;
    vpc-peering-basics.html)."""
    topology = load(
        nat_vpc(
            "[{destination: 0.0.0.0/0, target: nat-a}, {destination: 10.1.0.0/16, target: to-b}]",
            app="peering: {to-b: {peer_vpc: b}}\nsecurity_groups: {from-b: {ingress: [{protocol: all, cidr: 10.1.0.0/16}]}}\n",
            instances="app1: {subnet: private-a, security_groups: [from-b]}",
            other_vpcs="""
        b:
          cidr: 10.1.0.0/16
          subnets: {private-a: {cidr: 10.1.2.0/24, az: a, route_table: private}}
          route_tables:
            private: [{destination: 0.0.0.0/0, target: to-b}]
          instances: {b1: {subnet: private-a}}
        """,
        )
    )
    pcx = aws_id("pcx", "to-b")
    for target in (S3_NAME, "internet-client"):
        result = run(topology, "b1", target)
        assert (result.outcome, result.explanation.code) == ("timeout", "PEERING_NOT_TRANSITIVE"), target
        assert result.explanation.component == pcx
        assert kinds(result) == ["instance", "vpc-router", "vpc-router"]
        assert result.service_saw is None
    inside = run(topology, "b1", "app1")  # app1's group lets vpc b in (the default group would not)
    assert (inside.outcome, kinds(inside)) == ("ok", ["instance", "vpc-router", "vpc-router", "instance"])


def test_default_route_to_the_internet_gateway_without_a_public_ip_is_dropped():
    """The internet gateway translates only addresses that have a public IPv4 address."""
    topology = load(vpcs(public_vpc(more="instances: {bare: {subnet: public-a}}")))
    result = run(topology, "bare", S3_NAME)
    assert (result.outcome, result.explanation.code) == ("timeout", "NO_PUBLIC_IP")
    assert result.explanation.component == aws_id("igw", "app")
    assert kinds(result) == ["instance", "vpc-router", "internet-gateway"]


def test_the_internet_cannot_open_a_connection_to_a_nat_gateway():
    """From a public instance in another VPC to the NAT gateway's Elastic IP: the IGW translates it,
    the NAT gateway refuses connections initiated from outside (vpc-nat-gateway.html)."""
    outside = public_vpc(
        "outside", "10.9.0.0/16", "10.9.1.0/24", more="instances: {visitor: {subnet: public-a, public_ip: true}}"
    )
    topology = load(nat_vpc("[{destination: 0.0.0.0/0, target: nat-a}]", endpoints="", other_vpcs=outside))
    result = run(topology, "visitor", public_ip(topology, "nat-a"))
    assert (result.outcome, result.explanation.code) == ("timeout", "NAT_GATEWAY_NO_INBOUND")
    assert kinds(result) == [
        "instance",
        "vpc-router",
        "internet-gateway",
        "internet",
        "internet-gateway",
        "vpc-router",
        "nat-gateway",
    ]
    assert result.path[4].translations == (
        Translation("destination", public_ip(topology, "nat-a"), private_ip(topology, "app-nat-a")),
    )


def test_without_dns_support_names_do_not_resolve_but_addresses_still_route():
    topology = load("""
        vpcs:
          app:
            cidr: 10.0.0.0/16
            enable_dns_support: false
            subnets: {private-a: {cidr: 10.0.2.0/24, az: a, route_table: private}}
            route_tables: {private: []}
            endpoints: {s3-gw: {type: gateway, service: s3, route_tables: [private]}}
            instances: {app1: {subnet: private-a}}
        """)
    result = run(topology, "app1", S3_NAME)
    assert (result.outcome, result.explanation.code) == ("dns-failure", "DNS_DISABLED")
    assert kinds(result) == ["instance"] and result.dns is None
    assert kinds(run(topology, "app1", "52.219.60.10")) == ENDPOINT_PATH
    silent = run(topology, "app1", "10.0.0.2")
    assert (silent.outcome, silent.explanation.code) == ("timeout", "DNS_DISABLED")


@pytest.mark.parametrize("address", ["10.0.0.2", "169.254.169.253"])
def test_the_amazon_dns_server_answers_every_subnet_whatever_its_route_table(address, monkeypatch):
    """The resolver is at VPC base+2 and at 169.254.169.253 (vpc-dns.html); the link-local address needs
    no route (db1's table has only the local route, app1's sends 0.0.0.0/0 to the NAT gateway). The
    lab's router owns both addresses, so the kernel delivers them locally too."""
    topology = shipped("public-private.yaml", monkeypatch)
    for source in ("db1", "app1"):
        result = run(topology, source, address)
        assert (result.outcome, kinds(result)) == ("ok", ["instance", "resolver"]), source
        assert result.path[-1].node == "app-router"
    assert {str(a) for a in compile_plan(topology).resolvers["app"].addresses} == {"10.0.0.2", "169.254.169.253"}


def test_an_unknown_name_is_nxdomain(monkeypatch):
    result = run(shipped("public-private.yaml", monkeypatch), "app1", "nothing.example.com")
    assert (result.outcome, result.explanation.code) == ("dns-failure", "DNS_NXDOMAIN")
    assert kinds(result) == ["instance"]


def test_an_unknown_source_is_an_unknown_name(monkeypatch):
    topology = shipped("public-private.yaml", monkeypatch)
    with pytest.raises(UnknownName) as caught:
        run(topology, "nobody", S3_NAME)
    assert str(caught.value) == (
        "source nobody: no such instance (instances: web1, app1, db1, or internet-client) (InvalidInstanceID.NotFound)"
    )


def test_a_target_that_is_neither_node_address_nor_host_name_is_an_unknown_name(monkeypatch):
    with pytest.raises(UnknownName, match="^target nobody: not a node, an IPv4 address or a host name"):
        run(shipped("public-private.yaml", monkeypatch), "app1", "nobody")


def test_explanations_are_json_ready(monkeypatch):
    data = run(shipped("gateway-endpoint.yaml", monkeypatch), "app1", S3_NAME).to_dict()
    assert [hop["kind"] for hop in data["path"]] == ENDPOINT_PATH
    assert data["outcome"] == "ok" and data["port"] == 443
