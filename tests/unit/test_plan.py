"""What the planner decides, rule by rule, without the kernel: addresses, names, the VPC router's
tables and rules, the gateways' NAT maps and the service fronts' ingresses (the VPC resolvers'
answers are in test_plan_dns.py).

The golden plans (test_golden_plans.py) catch any change; these tests say which AWS rule each decision
follows, so a failing one names the rule that broke. AWS sources are cited where a rule is stated.
"""

from __future__ import annotations

import ipaddress
import re
import textwrap
from pathlib import Path

import pytest

from lab.errors import TopologyError
from lab.model import regions
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.names import aws_id
from lab.plan.routing import EDGE_TABLE, MAIN_ROUTE_TABLE, NO_ROUTE_DEV, PREFIX_LIST_METRIC, STATIC_METRIC
from lab.plan.serialize import plan_to_dict
from lab.plan.settings import Settings
from topologies import nat_vpc, public_vpc, vpcs

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.name for p in (REPO / "topologies").glob("*.yaml"))
Addr = ipaddress.IPv4Address
Net = ipaddress.IPv4Network
DEFAULT = Net("0.0.0.0/0")
SEOUL = regions.region("ap-northeast-2")
S3 = SEOUL.services["s3"]


def load(text: str):
    """Line 1 of the loaded text is the first line after the opening quotes, so lines read off the page."""
    return load_topology("inline.yaml", textwrap.dedent(text).lstrip("\n"))


def shipped(name: str, monkeypatch):
    monkeypatch.chdir(REPO)
    return load_topology(f"topologies/{name}")


def ip_of(plan, node: str, iface: str = "eth0") -> Addr:
    return plan.node(node).interface(iface).addresses[0].ip


def table(plan, vpc: str, name: str):
    return next(t for t in plan.node(f"{vpc}-router").route_tables if t.name == name)


def bridge_of(plan, vpc: str, subnet_cidr: Net) -> str:
    """The router's bridge for a subnet: the one holding the subnet router address, base+1."""
    router = plan.node(f"{vpc}-router")
    return next(b.name for b in router.bridges if b.addresses[0].ip == subnet_cidr.network_address + 1)


# -- addresses ------------------------------------------------------------------------------------

ALLOCATION = vpcs(
    public_vpc(
        more="""
    nat_gateways:
      nat-a: {subnet: public-a}
      nat-b: {subnet: public-a}
    endpoints:
      s3-if: {type: interface, service: s3, subnets: [public-a]}
    instances:
      web1: {subnet: public-a, public_ip: true}
      web2: {subnet: public-a}
      pinned: {subnet: public-a, private_ip: 10.0.1.5}
      top: {subnet: public-a, private_ip: 10.0.1.254}
      web3: {subnet: public-a}
    """
    )
)


def test_instances_from_base_plus_4_up_and_aws_managed_enis_from_the_top_down():
    """AWS reserves base+0..3 and the last address (subnet-sizing.html); instances fill from the bottom
    and AWS-managed ENIs from the top, so adding one never moves the other. Explicit addresses are
    claimed first and skipped by both."""
    plan = compile_plan(load(ALLOCATION))
    assert {n: str(ip_of(plan, n)) for n in ("web1", "web2", "pinned", "top", "web3")} == {
        "web1": "10.0.1.4",
        "web2": "10.0.1.6",
        "pinned": "10.0.1.5",
        "top": "10.0.1.254",
        "web3": "10.0.1.7",
    }
    assert str(ip_of(plan, "app-nat-a")) == "10.0.1.253"
    assert str(ip_of(plan, "app-nat-b")) == "10.0.1.252"
    assert str(ip_of(plan, "app-s3-if-a")) == "10.0.1.251"


def test_every_eni_is_on_its_subnet_with_the_subnet_router_as_gateway():
    plan = compile_plan(load(ALLOCATION))
    for name in ("web1", "pinned", "app-nat-a", "app-s3-if-a"):
        eth0 = plan.node(name).interface("eth0").addresses[0]
        assert eth0.network == Net("10.0.1.0/24")
        assert [(r.destination, r.via) for r in plan.node(name).routes if r.destination == DEFAULT] == [
            (DEFAULT, Addr("10.0.1.1"))
        ]


def test_a_full_28_subnet_is_insufficient_free_addresses():
    """A /28 has 16 addresses, 5 of them reserved: 11 instances fit, the 12th does not."""

    def topology(count: int) -> str:
        lines = [
            "vpcs:",
            "  app:",
            "    cidr: 10.0.0.0/16",
            "    subnets:",
            "      tiny: {cidr: 10.0.0.16/28, az: a}",
            "    instances:",
        ]
        return "\n".join(lines + [f"      i{n}: {{subnet: tiny}}" for n in range(count)]) + "\n"

    plan = compile_plan(load_topology("inline.yaml", topology(11)))
    assert [str(ip_of(plan, f"i{n}")) for n in range(11)] == [f"10.0.0.{20 + n}" for n in range(11)]
    with pytest.raises(TopologyError) as caught:
        compile_plan(load_topology("inline.yaml", topology(12)))
    assert str(caught.value) == (
        "inline.yaml:18: instance i11: subnet tiny 10.0.0.16/28 has no free address left (InsufficientFreeAddressesInSubnet)"
    )


def test_a_nat_gateway_in_a_full_subnet_is_insufficient_free_addresses():
    text = (
        "\n".join(
            [
                "vpcs:",
                "  app:",
                "    cidr: 10.0.0.0/16",
                "    internet_gateway: true",
                "    subnets:",
                "      tiny: {cidr: 10.0.0.16/28, az: a, route_table: public}",
                "    route_tables:",
                "      public: [{destination: 0.0.0.0/0, target: igw}]",
                "    nat_gateways:",
                "      nat-a: {subnet: tiny}",
                "    instances:",
            ]
            + [f"      i{n}: {{subnet: tiny}}" for n in range(11)]
        )
        + "\n"
    )
    with pytest.raises(TopologyError) as caught:
        compile_plan(load_topology("inline.yaml", text))
    assert [(p.line, p.code) for p in caught.value.problems] == [(10, "InsufficientFreeAddressesInSubnet")]


def test_nat_gateway_gets_an_elastic_ip_and_instances_a_plain_public_ip(monkeypatch):
    """The IGW maps a NAT gateway's private IP to its Elastic IP (vpc-nat-gateway.html); an instance's
    auto-assigned public IP is not an Elastic IP and has no allocation id."""
    plan = compile_plan(shipped("public-private.yaml", monkeypatch))
    by_owner = {p.owner: p for p in plan.public_ips}
    assert sorted(by_owner) == ["nat-a", "web1"]
    nat = by_owner["nat-a"]
    assert nat.elastic and re.fullmatch(r"eipalloc-[0-9a-f]{17}", nat.allocation_id)
    assert nat.private_ip == ip_of(plan, "app-nat-a")
    web = by_owner["web1"]
    assert not web.elastic and web.allocation_id is None
    assert web.private_ip == ip_of(plan, "web1")
    for public in plan.public_ips:
        assert any(public.address in net for net in SEOUL.ec2_ranges)
    assert len({p.address for p in plan.public_ips}) == len(plan.public_ips)


# -- determinism and names --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_plans_are_deterministic(name, monkeypatch):
    first = plan_to_dict(compile_plan(shipped(name, monkeypatch)))
    assert plan_to_dict(compile_plan(shipped(name, monkeypatch))) == first


def test_inline_plan_is_deterministic():
    assert plan_to_dict(compile_plan(load(ALLOCATION))) == plan_to_dict(compile_plan(load(ALLOCATION)))


def all_plans(monkeypatch):
    plans = [compile_plan(shipped(name, monkeypatch)) for name in SHIPPED]
    return plans + [compile_plan(load(text)) for text in (ALLOCATION, TWINS, PEERED)]


def test_every_interface_name_fits_the_kernel_limit(monkeypatch):
    """IFNAMSIZ is 16 including the NUL: 15 characters at most; names are unique within a node."""
    for plan in all_plans(monkeypatch):
        for node in plan.nodes.values():
            names = [i.name for i in node.interfaces + node.bridges]
            assert all(len(n) <= 15 for n in names), (node.name, names)
            assert len(set(names)) == len(names), (node.name, names)


def test_every_link_end_is_an_interface_of_its_node(monkeypatch):
    for plan in all_plans(monkeypatch):
        for link in plan.links:
            for node, iface in (link.a, link.b):
                assert iface in [i.name for i in plan.node(node).interfaces], (link, node)


@pytest.mark.parametrize("instance", ["internet", "internet-client", "app-router", "app-igw", "app-nat-a", "s3-ap-northeast-2"])
def test_instance_named_like_a_generated_node_is_rejected_at_its_line(instance):
    topology = load(f"""
        vpcs:
          app:
            cidr: 10.0.0.0/16
            internet_gateway: true
            subnets:
              public-a: {{cidr: 10.0.1.0/24, az: a, route_table: public}}
            route_tables:
              public: [{{destination: 0.0.0.0/0, target: igw}}]
            nat_gateways: {{nat-a: {{subnet: public-a}}}}
            instances:
              web1: {{subnet: public-a}}
              {instance}: {{subnet: public-a}}
        """)
    with pytest.raises(TopologyError) as caught:
        compile_plan(topology)
    assert [(p.file, p.line, p.code) for p in caught.value.problems] == [("inline.yaml", 12, "InvalidParameterValue")]
    assert f"the name '{instance}' is taken twice" in str(caught.value)


def test_a_gateway_named_like_a_generated_node_is_rejected_at_its_line():
    """An endpoint called `router` would be node app-router, the VPC router's name; a NAT gateway called
    `s3-a` would be node app-s3-a, the name of endpoint s3's ENI in zone a. Either clash is reported at
    the line of the gateway the user named (not at line 0)."""
    topology = load("""
        vpcs:
          app:
            cidr: 10.0.0.0/16
            subnets: {private-a: {cidr: 10.0.2.0/24, az: a, route_table: private}}
            route_tables: {private: []}
            endpoints:
              router: {type: gateway, service: s3, route_tables: [private]}
        """)
    with pytest.raises(TopologyError) as caught:
        compile_plan(topology)
    assert [(p.line, p.code) for p in caught.value.problems] == [(7, "InvalidParameterValue")]
    topology = load("""
        vpcs:
          app:
            cidr: 10.0.0.0/16
            internet_gateway: true
            subnets: {public-a: {cidr: 10.0.1.0/24, az: a, route_table: public}}
            route_tables: {public: [{destination: 0.0.0.0/0, target: igw}]}
            nat_gateways: {s3-a: {subnet: public-a}}
            endpoints: {s3: {type: interface, service: s3, subnets: [public-a]}}
        """)
    with pytest.raises(TopologyError) as caught:
        compile_plan(topology)
    assert [(p.line, p.code) for p in caught.value.problems] == [(7, "InvalidParameterValue")]
    assert "the name 'app-s3-a' is taken twice" in str(caught.value)


# -- the VPC router ------------------------------------------------------------------------------


def test_router_has_a_table_per_route_table_plus_main_and_edge(monkeypatch):
    topology = shipped("gateway-endpoint.yaml", monkeypatch)
    router = compile_plan(topology).node("app-router")
    vpc = topology.vpcs["app"]
    numbers = [t.number for t in router.route_tables]
    assert len(set(numbers)) == len(numbers)
    assert {t.name: t.number for t in router.route_tables if t.number in (MAIN_ROUTE_TABLE, EDGE_TABLE)} == {
        "(main)": MAIN_ROUTE_TABLE,
        "edge (from gateways and peers)": EDGE_TABLE,
    }
    assert sorted(t.name for t in router.route_tables if t.number not in (MAIN_ROUTE_TABLE, EDGE_TABLE)) == sorted(
        vpc.route_tables
    )
    assert all(t.number > 255 for t in router.route_tables)  # clear of the kernel's own tables
    assert {t.name: t.aws_id for t in router.route_tables if t.name in vpc.route_tables} == {
        name: aws_id("rtb", "app", name) for name in vpc.route_tables
    }


def test_ip_rules_pick_the_table_by_the_subnet_bridge_and_the_edge_table_for_everything_else(monkeypatch):
    topology = shipped("gateway-endpoint.yaml", monkeypatch)
    plan = compile_plan(topology)
    router = plan.node("app-router")
    number = {t.name: t.number for t in router.route_tables}
    rules = {r.iif: r.table for r in router.rules}
    assert len(rules) == len(router.rules) and all(r.fwmark is None for r in router.rules)
    for subnet in topology.vpcs["app"].subnets.values():
        assert rules.pop(bridge_of(plan, "app", subnet.cidr)) == number[subnet.route_table]
    edges = [i.name for i in router.interfaces if i.bridge is None and i.kind == "veth"]
    assert sorted(edges) == sorted(rules) and set(rules.values()) == {EDGE_TABLE}


def test_a_subnet_without_route_table_uses_the_main_table():
    topology = load("""
        vpcs:
          app:
            cidr: 10.0.0.0/16
            subnets: {private-a: {cidr: 10.0.2.0/24, az: a}}
        """)
    plan = compile_plan(topology)
    (rule,) = [r for r in plan.node("app-router").rules if r.iif == bridge_of(plan, "app", Net("10.0.2.0/24"))]
    assert rule.table == MAIN_ROUTE_TABLE


def test_prefix_list_routes_expand_to_every_cidr_of_the_list_behind_static_routes(monkeypatch):
    """A prefix-list route stands for each of its CIDRs; on the very same prefix a static route wins
    (VPC_Route_Tables.html, "Route priority and prefix lists"): metric 100 beats 200."""
    plan = compile_plan(shipped("gateway-endpoint.yaml", monkeypatch))
    endpoint = ip_of(plan, "app-s3-gw", "vpc")
    nat = ip_of(plan, "app-nat-a")
    for name in ("private", "isolated"):
        routes = table(plan, "app", name).routes
        listed = [r for r in routes if r.metric == PREFIX_LIST_METRIC and r.origin.startswith(S3.prefix_list_id)]
        assert sorted(r.destination for r in listed) == sorted(S3.ranges)
        assert {(r.via, r.origin.split()[0]) for r in listed} == {(endpoint, S3.prefix_list_id)}
    static = [r for r in table(plan, "app", "private").routes if r.metric == STATIC_METRIC]
    assert [(r.destination, r.via) for r in static] == [(DEFAULT, nat)]
    assert not any(r.metric == PREFIX_LIST_METRIC for r in table(plan, "app", "public").routes)


def test_a_static_route_for_a_prefix_list_cidr_outranks_the_endpoint_route():
    plan = compile_plan(load(nat_vpc("[{destination: 52.219.60.0/23, target: nat-a}]", instances="")))
    same = sorted((r.metric, str(r.via)) for r in table(plan, "app", "private").routes if r.destination == Net("52.219.60.0/23"))
    assert same == [(STATIC_METRIC, "10.0.1.254"), (PREFIX_LIST_METRIC, str(ip_of(plan, "app-s3-gw", "vpc")))]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_table_drops_what_no_route_matches(name, monkeypatch):
    """AWS drops traffic no route matches, silently; a Linux table without a match would fall through
    to the next rule instead, so every table ends in a default to the `noroute` stub device (below
    every other default), and the unassigned rest of the VPC CIDR goes there too; the router's
    nftables counts and drops what arrives there, so a drop says where and why."""
    topology = shipped(name, monkeypatch)
    plan = compile_plan(topology)
    for vpc in topology.vpcs.values():
        router = plan.node(f"{vpc.name}-router")
        assert router.interface(NO_ROUTE_DEV).kind == "stub"
        assert '"NO_ROUTE_TO_DESTINATION"' in router.nftables and '"NO_SUCH_ADDRESS"' in router.nftables
        for rtb in router.route_tables:
            defaults = [r for r in rtb.routes if r.destination == DEFAULT]
            holes = [r for r in defaults if r.dev == NO_ROUTE_DEV]
            assert len(holes) == 1, rtb.name
            assert all(r.metric < holes[0].metric for r in defaults if r is not holes[0]), rtb.name
            assert [r.dev for r in rtb.routes if r.destination == vpc.cidr] == [NO_ROUTE_DEV]
            assert {r.table for r in rtb.routes} == {rtb.number}


def test_every_table_has_the_local_route_of_every_subnet(monkeypatch):
    topology = shipped("public-private.yaml", monkeypatch)
    plan = compile_plan(topology)
    subnets = {s.cidr: bridge_of(plan, "app", s.cidr) for s in topology.vpcs["app"].subnets.values()}
    for rtb in plan.node("app-router").route_tables:
        local = {r.destination: r.dev for r in rtb.routes if r.origin == "local" and r.dev != NO_ROUTE_DEV}
        assert local == subnets, rtb.name


# -- gateways -------------------------------------------------------------------------------------


def nft_map(ruleset: str, name: str) -> dict[str, str]:
    found = re.search(rf"map {name} {{ type ipv4_addr : ipv4_addr; elements = {{ (.*?) }} }}", ruleset)
    return dict(pair.split(" : ") for pair in found.group(1).split(", ")) if found else {}


TWO_PUBLIC_VPCS = vpcs(
    public_vpc(
        "blue",
        more="""
        nat_gateways: {nat-a: {subnet: public-a}}
        instances:
          blue1: {subnet: public-a, public_ip: true}
          blue2: {subnet: public-a}
        """,
    ),
    public_vpc(
        "green",
        "10.1.0.0/16",
        "10.1.1.0/24",
        more="""
        instances:
          green1: {subnet: public-a, public_ip: true}
        """,
    ),
)


def test_internet_gateway_maps_exactly_the_public_ips_of_its_vpc():
    """One-to-one NAT for the addresses that have a public IPv4 address, nothing else
    (VPC_Internet_Gateway.html); each IGW knows only its own VPC's."""
    plan = compile_plan(load(TWO_PUBLIC_VPCS))
    for vpc in ("blue", "green"):
        mine = {str(p.address): str(p.private_ip) for p in plan.public_ips if p.vpc == vpc}
        ruleset = plan.node(f"{vpc}-igw").nftables
        assert nft_map(ruleset, "public_to_private") == mine
        assert nft_map(ruleset, "private_to_public") == {v: k for k, v in mine.items()}
    assert {p.owner for p in plan.public_ips if p.vpc == "blue"} == {"blue1", "nat-a"}


def test_internet_gateway_lets_in_replies_and_mapped_connections_by_single_status_bits():
    """`ct status { dnat, snat }` compiles but compares the whole status word (never just dnat or
    snat: CONFIRMED and SEEN_REPLY are set too), so it matched nothing on real packets; each bit must
    be tested on its own."""
    plan = compile_plan(load(TWO_PUBLIC_VPCS))
    for node in plan.nodes.values():
        assert "ct status {" not in node.nftables, node.name
    ruleset = plan.node("blue-igw").nftables
    assert 'iifname "inet" ct status snat accept' in ruleset
    assert 'iifname "inet" ct status dnat accept' in ruleset


def test_internet_routes_each_public_ip_to_its_own_internet_gateway():
    plan = compile_plan(load(TWO_PUBLIC_VPCS))
    internet = plan.node("internet")
    for public in plan.public_ips:
        (route,) = [r for r in internet.routes if r.destination == Net(f"{public.address}/32")]
        (link,) = [link for link in plan.links if link.b == ("internet", route.dev)]
        assert link.a == (f"{public.vpc}-igw", "inet")
        assert route.via == ip_of(plan, f"{public.vpc}-igw", "inet")


def test_nat_gateway_translates_its_vpc_to_its_own_private_ip():
    plan = compile_plan(load(TWO_PUBLIC_VPCS))
    ruleset = plan.node("blue-nat-a").nftables
    assert "ip saddr 10.0.0.0/16 ip saddr != 10.0.1.254 meta l4proto { tcp, udp } snat ip to 10.0.1.254:1024-65535" in ruleset
    assert 'counter drop comment "NAT_GATEWAY_NO_INBOUND"' in ruleset


def test_the_nat_idle_timeout_is_awss_unless_the_plan_is_given_another():
    """A setting passed to compile_plan, recorded by the plan, not a module constant to patch; the
    JSON (and so the golden plans) shows it where it acts, in the NAT gateway's ruleset."""
    topology = load(TWO_PUBLIC_VPCS)
    assert "policy = { established: 350 }" in compile_plan(topology).node("blue-nat-a").nftables
    short = compile_plan(topology, Settings(nat_gateway_idle_timeout=2))
    assert short.settings == Settings(nat_gateway_idle_timeout=2)
    assert "policy = { established: 2 }" in short.node("blue-nat-a").nftables
    assert "settings" not in plan_to_dict(short)


# -- service ingresses ----------------------------------------------------------------------------

TWINS = """
    vpcs:
      blue:
        cidr: 10.0.0.0/16
        subnets: {private-a: {cidr: 10.0.2.0/24, az: a, route_table: private}}
        route_tables: {private: []}
        endpoints: {s3-gw: {type: gateway, service: s3, route_tables: [private]}}
        instances: {blue1: {subnet: private-a}}
      green:
        cidr: 10.0.0.0/16
        subnets: {private-a: {cidr: 10.0.2.0/24, az: a, route_table: private}}
        route_tables: {private: []}
        endpoints: {s3-gw: {type: gateway, service: s3, route_tables: [private]}}
        instances: {green1: {subnet: private-a}}
    """


def test_vpcs_with_the_same_cidr_reach_s3_over_separate_ingresses():
    """Two VPCs may share a CIDR: only the ingress link tells their packets apart, so each gateway
    endpoint has its own link to the S3 front, and a connection's replies leave by the link its
    request came in on (fwmark -> table -> default route back to that endpoint)."""
    plan = compile_plan(load(TWINS))
    front = plan.service_front("s3", "ap-northeast-2")
    node = plan.node(front.node)
    vpce = {vpc: aws_id("vpce", vpc, "s3-gw") for vpc in ("blue", "green")}
    labels = {i.iface: i.label for i in front.ingresses}
    assert sorted(labels.values()) == sorted(["internet", vpce["blue"], vpce["green"]])
    ends = {
        labels[iface]: end for end, (node_name, iface) in ((link.a, link.b) for link in plan.links) if node_name == front.node
    }
    assert ends[vpce["blue"]] == ("blue-s3-gw", "svc") and ends[vpce["green"]] == ("green-s3-gw", "svc")
    assert all(re.fullmatch(r"vpce\d+", i) for i, label in labels.items() if label != "internet")
    assert len({i.mark for i in front.ingresses}) == len(front.ingresses)
    for ingress in front.ingresses:
        (rule,) = [r for r in node.rules if r.fwmark == ingress.mark]
        (route,) = [r for r in node.routes if r.table == rule.table]
        assert (route.destination, route.dev) == (DEFAULT, ingress.iface)
        assert route.via == ip_of(plan, *ends[ingress.label])
        assert f'"{ingress.iface}" : {ingress.mark}' in node.nftables


# -- peering (used by the name and link checks above) ----------------------------------------------

PEERED = """
    vpcs:
      hub:
        cidr: 10.0.0.0/16
        subnets: {private-a: {cidr: 10.0.2.0/24, az: a, route_table: private}}
        route_tables:
          private: [{destination: 10.1.0.0/16, target: hub-spoke}]
        peering: {hub-spoke: {peer_vpc: spoke}}
        instances: {hub1: {subnet: private-a}}
      spoke:
        cidr: 10.1.0.0/16
        subnets: {private-a: {cidr: 10.1.2.0/24, az: a, route_table: private}}
        route_tables:
          private: [{destination: 10.0.0.0/16, target: hub-spoke}]
        instances: {spoke1: {subnet: private-a}}
    """


def test_peering_routes_point_at_the_peer_router_and_arrive_in_the_edge_table():
    plan = compile_plan(load(PEERED))
    (link,) = [link for link in plan.links if link.description.startswith("peering connection")]
    (hub_end, spoke_end) = sorted((link.a, link.b))
    for (router, iface), (peer, peer_iface), cidr in ((hub_end, spoke_end, "10.1.0.0/16"), (spoke_end, hub_end, "10.0.0.0/16")):
        vpc = router.removesuffix("-router")
        (route,) = [r for r in table(plan, vpc, "private").routes if r.destination == Net(cidr)]
        assert (route.dev, route.via, route.metric) == (iface, ip_of(plan, peer, peer_iface), STATIC_METRIC)
        assert route.origin == aws_id("pcx", "hub-spoke")
        (rule,) = [r for r in plan.node(router).rules if r.iif == iface]
        assert rule.table == EDGE_TABLE
