"""Security groups and network ACLs as the plan holds them (lab.plan.security) and the evaluation
the packet filters' tests and `explain` share (lab.plan.security_types).

AWS: https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html (allow-only, all
rules evaluated), default-security-group.html (in from members, out to anywhere),
vpc-network-acls.html (lowest rule number first, first match wins, `*` deny; a new ACL denies all).
"""

from __future__ import annotations

import ipaddress
import textwrap

from hypothesis import given
from hypothesis import strategies as st

from lab.model import regions
from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.compile import compile_plan
from lab.plan.security_types import EGRESS, INGRESS, AclEntry, Flow, Match, SubnetAcl

Addr = ipaddress.IPv4Address
Net = ipaddress.IPv4Network

TOPOLOGY = """
region: ap-northeast-2
vpcs:
  app:
    cidr: 10.0.0.0/16
    subnets:
      web-a: {cidr: 10.0.1.0/24, az: a}
      app-a: {cidr: 10.0.2.0/24, az: a, network_acl: strict}
      lock-a: {cidr: 10.0.3.0/24, az: a, network_acl: empty}
    endpoints:
      sts-if: {type: interface, service: dynamodb, subnets: [app-a], security_groups: [endpoints]}
    security_groups:
      web:
        ingress:
          - {protocol: tcp, port: 443, cidr: 0.0.0.0/0}
          - {protocol: icmp, icmp_type: 8, cidr: 10.0.0.0/16}
      app:
        ingress:
          - {protocol: tcp, ports: 8000-8080, security_group: web}
        egress:
          - {protocol: tcp, port: 443, prefix_list: "pl:s3"}
      endpoints:
        ingress: [{protocol: tcp, port: 443, security_group: app}]
    network_acls:
      strict:
        ingress:
          - {rule: 200, protocol: tcp, ports: 8000-8080, cidr: 10.0.0.0/16, action: allow}
          - {rule: 100, protocol: tcp, port: 8080, cidr: 10.0.1.5/32, action: deny}
        egress:
          - {rule: 100, protocol: tcp, ports: 1024-65535, cidr: 10.0.0.0/16, action: allow}
      empty: {}
    instances:
      web1: {subnet: web-a, private_ip: 10.0.1.4, security_groups: [web]}
      app1: {subnet: app-a, private_ip: 10.0.2.4, security_groups: [app, web]}
      app2: {subnet: app-a, private_ip: 10.0.2.5, security_groups: [app]}
      plain1: {subnet: lock-a, private_ip: 10.0.3.4}
"""


def plan():
    return compile_plan(load_topology("inline.yaml", textwrap.dedent(TOPOLOGY).lstrip("\n")))


def tcp(src: str, dst: str, port: int) -> Flow:
    return Flow(6, Addr(src), Addr(dst), port)


def test_each_eni_carries_its_groups_ids_and_address():
    p = plan()
    app1 = p.eni_security("app1")
    assert app1.eni == names.instance_eni_id("app1") == p.eni_id("app1")
    assert app1.address == p.eni_address("app1") == Addr("10.0.2.4")
    assert app1.groups == (names.security_group_id("app", "app"), names.security_group_id("app", "web"))
    assert app1.subnet == "app-a"


def test_an_eni_without_groups_is_in_the_vpcs_default_group():
    plain = plan().eni_security("plain1")
    assert plain.group_names == (names.DEFAULT_SECURITY_GROUP,)
    assert plain.groups == (names.security_group_id("app", "default"),)


def test_interface_endpoint_enis_have_groups_nat_gateways_none():
    p = plan()
    eni_nodes = [n for n in p.nodes.values() if n.kind == "interface-endpoint"]
    assert eni_nodes and all(p.eni_security(n.name).group_names == ("endpoints",) for n in eni_nodes)
    assert p.eni_security(names.router_node("app")) is None


def test_a_group_reference_is_its_members_private_ips():
    p = plan()
    rule = p.eni_security("app1").ingress[0]  # app: tcp 8000-8080 from group web
    assert rule.peer == names.security_group_id("app", "web")
    assert set(rule.peers) == {Net("10.0.1.4/32"), Net("10.0.2.4/32")}  # web1 and app1 are in web
    endpoint = next(e for e in p.security.values() if e.group_names == ("endpoints",))
    assert endpoint.ingress[0].peers == (Net("10.0.2.4/32"), Net("10.0.2.5/32"))


def test_a_prefix_list_peer_is_its_cidrs():
    rule = plan().eni_security("app1").egress[0]
    s3 = regions.region("ap-northeast-2").services["s3"]
    assert rule.peer == s3.prefix_list_id and rule.peers == s3.ranges


def test_the_default_group_allows_in_from_its_members_and_out_to_anywhere():
    p = plan()
    plain = p.eni_security("plain1")
    assert plain.allowing(INGRESS, tcp("10.0.3.4", "10.0.3.4", 22)) is not None  # itself: the only member
    assert plain.allowing(INGRESS, tcp("10.0.1.4", "10.0.3.4", 22)) is None  # web1 is not a member
    assert plain.allowing(EGRESS, tcp("10.0.3.4", "8.8.8.8", 53)) is not None


def test_rules_match_port_source_and_icmp_type():
    web1 = plan().eni_security("web1")
    assert web1.allowing(INGRESS, tcp("203.0.113.9", "10.0.1.4", 443)).index == 1
    assert web1.allowing(INGRESS, tcp("203.0.113.9", "10.0.1.4", 22)) is None  # port not allowed
    ping, pong = (
        Flow(1, Addr("10.0.2.4"), Addr("10.0.1.4"), icmp_type=8, icmp_code=0),
        Flow(1, Addr("10.0.2.4"), Addr("10.0.1.4"), icmp_type=0),
    )
    assert web1.allowing(INGRESS, ping) is not None and web1.allowing(INGRESS, pong) is None
    outside = Flow(1, Addr("203.0.113.9"), Addr("10.0.1.4"), icmp_type=8, icmp_code=0)
    assert web1.allowing(INGRESS, outside) is None  # source CIDR not allowed
    assert "sg-" in web1.ingress[0].text() and "tcp 443 from 0.0.0.0/0" in web1.ingress[0].text()


def test_egress_rules_restrict_what_leaves_and_groups_add_up():
    p = plan()
    app2, app1 = p.eni_security("app2"), p.eni_security("app1")
    s3_ip = regions.region("ap-northeast-2").services["s3"].addresses[0]
    assert app2.allowing(EGRESS, tcp("10.0.2.5", str(s3_ip), 443)) is not None
    assert app2.allowing(EGRESS, tcp("10.0.2.5", "8.8.8.8", 443)) is None
    assert app1.allowing(EGRESS, tcp("10.0.2.4", "8.8.8.8", 443)).group == "web"  # web's default egress


def test_default_acl_allows_all_with_rule_100_and_ends_with_star():
    acl = plan().subnet_acl("app", "web-a")
    assert acl.acl == names.DEFAULT_NETWORK_ACL and acl.acl_id == names.network_acl_id("app", names.DEFAULT_NETWORK_ACL)
    assert [e.number for e in acl.ingress] == ["100", "*"] == [e.number for e in acl.egress]
    assert acl.deciding(INGRESS, tcp("1.2.3.4", "10.0.1.4", 9)).rule_number == 100


def test_custom_acl_entries_are_sorted_and_the_lower_deny_wins():
    p = plan()
    acl = p.subnet_acl("app", "app-a")
    assert [e.number for e in acl.ingress] == ["100", "200", "*"]
    assert acl.bridge == p.router("app").bridges[1].name
    decided = acl.deciding(INGRESS, tcp("10.0.1.5", "10.0.2.4", 8080))
    assert (decided.rule_number, decided.action) == (100, "deny")
    assert acl.allows(INGRESS, tcp("10.0.1.4", "10.0.2.4", 8080))
    assert acl.deciding(INGRESS, tcp("10.0.1.4", "10.0.2.4", 22)).rule_number is None  # '*'


def test_a_custom_acl_with_no_entries_denies_everything():
    acl = plan().subnet_acl("app", "lock-a")
    assert [(e.number, e.action) for e in acl.ingress + acl.egress] == [("*", "deny"), ("*", "deny")]
    assert plan().subnet_acl_at("app", Addr("10.0.3.9")) == acl


def test_the_plan_serializes_the_security_data():
    from lab.plan.serialize import plan_to_dict

    data = plan_to_dict(plan())
    assert data["security"]["web1"]["ingress"][0]["match"]["ports"] == [443, 443]
    assert data["network_acls"][names.subnet_id("app", "lock-a")]["ingress"][0]["rule_number"] is None


# -- the evaluation, against a brute-force reading of the same rules -----------------------------
protocols = st.sampled_from([None, 1, 6, 17])
ports = st.integers(0, 65535)


@st.composite
def entries(draw):
    protocol = draw(protocols)
    low = draw(ports)
    rng = (low, draw(st.integers(low, 65535))) if protocol in (6, 17) and draw(st.booleans()) else None
    return AclEntry(
        draw(st.integers(1, 32766)),
        Match(protocol, rng),
        Net((draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 32))), strict=False),
        draw(st.sampled_from(["allow", "deny"])),
    )


@given(
    st.lists(entries(), max_size=12, unique_by=lambda e: e.rule_number),
    st.sampled_from([6, 17, 1]),
    ports,
    st.integers(0, 2**32 - 1),
)
def test_first_match_by_rule_number_decides(written, protocol, port, source):
    sorted_entries = tuple(sorted(written, key=lambda e: e.rule_number)) + (
        AclEntry(None, Match(None), Net("0.0.0.0/0"), "deny"),
    )
    acl = SubnetAcl("v", "s", "subnet-0", Net("10.0.0.0/24"), "acl-0", "x", "br0", sorted_entries, sorted_entries)
    flow = Flow(protocol, Addr(source), Addr("10.0.0.5"), port if protocol != 1 else None, 8 if protocol == 1 else None, 0)
    decided = acl.deciding(INGRESS, flow)
    for entry in sorted(written, key=lambda e: e.rule_number):
        protocol_ok = entry.match.protocol in (None, protocol)
        port_ok = entry.match.ports is None or (
            flow.port is not None and entry.match.ports[0] <= flow.port <= entry.match.ports[1]
        )
        if protocol_ok and port_ok and Addr(source) in entry.cidr:
            assert decided == entry
            return
    assert decided.rule_number is None and decided.action == "deny"
