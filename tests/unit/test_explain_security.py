"""explain with security groups and network ACLs: each behaviour of issue 10's "Why", on a small inline
VPC, predicted from the plan's rules as Reachability Analyzer words it (ENI_SG_RULES_MISMATCH,
SUBNET_ACL_RESTRICTION, with the group or ACL, the rule and the direction), the reply's way back
included (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html,
https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.analysis.paths import _because
from lab.cli.main import main
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.names import aws_id
from lab.report.text import explanation_text
from result_schema import problems
from topologies import entries, public_vpc, vpcs

REPO = Path(__file__).resolve().parents[2]
S3_NAME = "s3.ap-northeast-2.amazonaws.com"
# app1 and app2 in private-a, other and srv in private-b, web1 (public IP) in public-a.
INSTANCES = """
app1: {subnet: private-a, private_ip: 10.0.2.4}
app2: {subnet: private-a, private_ip: 10.0.2.5}
other: {subnet: private-b, private_ip: 10.0.4.4}
srv: {subnet: private-b, private_ip: 10.0.4.10, security_groups: [web]}
web1: {subnet: public-a, public_ip: true}
"""
WEB_443_FROM_A = "web: {ingress: [{protocol: tcp, port: 443, cidr: 10.0.2.0/24}]}"
ALLOW_ALL = "{rule: 100, cidr: 0.0.0.0/0, action: allow}"


def lab(
    groups: str = WEB_443_FROM_A,
    acls: str = "",
    acl_a: str = "",
    acl_b: str = "",
    instances: str = INSTANCES,
    more: str = "",
    acl_public: str = "",
):
    """vpc app: public-a (internet gateway, NAT gateway nat-a), private-a 10.0.2.0/24 and private-b
    10.0.4.0/24 (default route to nat-a), with the given groups, ACLs (`acl_a`, `acl_b`,
    `acl_public`: the subnets' ACLs), instances and more VPC keys."""

    def subnet(name: str, cidr: str, az: str, acl: str) -> str:
        return f"{name}: {{cidr: {cidr}, az: {az}, route_table: private" + (f", network_acl: {acl}}}" if acl else "}")

    text = vpcs(
        public_vpc(
            subnets=subnet("private-a", "10.0.2.0/24", "a", acl_a) + "\n" + subnet("private-b", "10.0.4.0/24", "b", acl_b),
            route_tables="private: [{destination: 0.0.0.0/0, target: nat-a}]",
            more="nat_gateways: {nat-a: {subnet: public-a}}\n"
            + entries("security_groups", groups)
            + entries("network_acls", acls)
            + entries("instances", instances)
            + more,
        )
    )
    if acl_public:
        public = "public-a: {cidr: 10.0.1.0/24, az: a, route_table: public"
        text = text.replace(public + "}", f"{public}, network_acl: {acl_public}}}")
    return load_topology("inline.yaml", text)


def run(topology, source: str, target: str, port: int = 443):
    return explain(topology, compile_plan(topology), source, target, port)


def kinds(path) -> list[str]:
    return [hop.kind for hop in path]


def sg(group: str) -> str:
    return aws_id("sg", "app", group)


def acl(name: str) -> str:
    return aws_id("acl", "app", name)


def stopped(result, code: str, component: str, rule: str, direction: str) -> None:
    """A silent drop in the VPC router (where the lab filters): the client times out, and the reason
    names the component, the rule in the words of the lab's drop counter, and the direction."""
    assert (result.outcome, result.reachable) == ("timeout", False)
    x = result.explanation
    assert (x.code, x.component, x.rule, x.direction, x.node) == (code, component, rule, direction, "app-router"), x


def sg_dropped(result, group: str, eni: str, direction: str) -> None:
    """`eni`: an instance's name, or an eni- id."""
    eni_id = eni if eni.startswith("eni-") else aws_id("eni", eni)
    stopped(result, "ENI_SG_RULES_MISMATCH", sg(group), f"{eni_id} {direction} {sg(group)}", direction)


def acl_dropped(result, name: str, number: str, direction: str) -> None:
    stopped(result, "SUBNET_ACL_RESTRICTION", acl(name), f"{acl(name)} {direction} rule {number}", direction)


# -- security groups --------------------------------------------------------------------------------


def test_a_port_the_group_does_not_allow_is_dropped():
    topology = lab()
    assert run(topology, "app1", "srv").outcome == "ok"
    result = run(topology, "app1", "srv", 80)
    sg_dropped(result, "web", "srv", "ingress")
    assert "tcp port 80 from 10.0.2.4" in result.explanation.message
    assert "inbound rules: " + sg("web") + " (web) ingress rule 1: tcp 443 from 10.0.2.0/24" in result.explanation.message
    assert result.return_path == [] and result.service_saw is None


def test_a_source_outside_the_allowed_cidr_is_dropped_even_from_the_same_subnet():
    """The issue's own case: a group that allows only 10.0.2.0/24 must not let 10.0.4.4 in. Security
    groups filter at the ENI, so two addresses of one subnet are filtered too."""
    topology = lab()
    result = run(topology, "other", "srv")
    sg_dropped(result, "web", "srv", "ingress")
    assert "from 10.0.4.4" in result.explanation.message
    assert kinds(result.path) == ["instance", "vpc-router"]  # the bridge's port in the router drops it
    allowed = run(topology, "app1", "srv")
    assert kinds(allowed.path) == ["instance", "vpc-router", "instance"]
    assert f"allowed inbound by {sg('web')} (web) ingress rule 1: tcp 443 from 10.0.2.0/24" in allowed.path[-1].detail


def test_a_group_reference_allows_the_members_private_addresses_only():
    groups = """
    web: {ingress: [{protocol: tcp, port: 443, security_group: clients}]}
    clients: {}
    """
    instances = INSTANCES.replace(
        "app1: {subnet: private-a, private_ip: 10.0.2.4}",
        "app1: {subnet: private-a, private_ip: 10.0.2.4, security_groups: [clients]}",
    )
    topology = lab(groups, instances=instances)
    assert run(topology, "app1", "srv").outcome == "ok"
    result = run(topology, "app2", "srv")  # same subnet as app1, not a member
    sg_dropped(result, "web", "srv", "ingress")
    assert f"tcp 443 from {sg('clients')}" in result.explanation.message


def test_egress_rules_filter_what_leaves_the_source():
    groups = WEB_443_FROM_A + "\nnarrow: {egress: [{protocol: tcp, port: 443, cidr: 10.0.4.10/32}]}\nmute: {egress: []}"
    instances = INSTANCES.replace("10.0.2.4}", "10.0.2.4, security_groups: [narrow]}").replace(
        "10.0.2.5}", "10.0.2.5, security_groups: [mute]}"
    )
    topology = lab(groups, instances=instances)
    assert run(topology, "app1", "srv").outcome == "ok"
    result = run(topology, "app1", S3_NAME)
    sg_dropped(result, "narrow", "app1", "egress")
    assert "to 52.219" in result.explanation.message and "outbound rules" in result.explanation.message
    assert kinds(result.path)[0] == "instance" and "nat-gateway" not in kinds(result.path)
    muted = run(topology, "app2", "srv")
    sg_dropped(muted, "mute", "app2", "egress")
    assert "(outbound rules: none)" in muted.explanation.message


def test_the_default_group_admits_its_members_and_nobody_else():
    """default-security-group.html: in from the group's own members, out to anywhere."""
    topology = lab()
    ok = run(topology, "other", "app1")  # both in the default group
    assert (ok.outcome, kinds(ok.path)) == ("ok", ["instance", "vpc-router", "instance"])
    assert run(topology, "app1", S3_NAME).outcome == "ok"  # all out
    result = run(topology, "srv", "app1")  # srv is in web only
    sg_dropped(result, "default", "app1", "ingress")
    assert f"all traffic from {sg('default')}" in result.explanation.message
    web1 = str(next(p.address for p in compile_plan(topology).public_ips if p.owner == "web1"))
    public = run(topology, "internet-client", web1)
    sg_dropped(public, "default", "web1", "ingress")
    assert [h.node for h in public.path] == ["internet-client", "internet", "app-igw", "app-router"]


def test_the_interface_endpoint_eni_is_guarded_by_its_groups():
    groups = WEB_443_FROM_A + "\nendpoints: {ingress: [{protocol: tcp, port: 443, cidr: 10.0.2.0/24}]}"
    more = (
        "endpoints: {s3-if: {type: interface, service: s3, subnets: [private-b], "
        "security_groups: [endpoints], private_dns: false}}\n"
    )
    topology = lab(groups, more=more)
    plan = compile_plan(topology)
    eni = next(n for n in plan.nodes.values() if n.kind == "interface-endpoint")
    address = str(plan.eni_address(eni.name))
    ok = explain(topology, plan, "app1", address)
    assert (ok.outcome, kinds(ok.path)) == ("ok", ["instance", "vpc-router", "interface-endpoint", "service"])
    assert kinds(ok.return_path) == ["service", "interface-endpoint", "vpc-router", "instance"]
    result = explain(topology, plan, "other", address)
    sg_dropped(result, "endpoints", plan.eni_id(eni.name), "ingress")
    assert plan.eni_id(eni.name) in result.explanation.message and result.service_saw is None


# -- network ACLs -----------------------------------------------------------------------------------


def test_a_network_acl_without_an_ephemeral_port_rule_breaks_the_reply():
    """The request gets in on 443; the answer goes back to the client's ephemeral port, which the
    stateless ACL must allow outbound as well."""
    acls = """
    strict:
      ingress: [{rule: 100, protocol: tcp, port: 443, cidr: 10.0.0.0/16, action: allow}]
      egress: [{rule: 100, protocol: tcp, port: 443, cidr: 10.0.0.0/16, action: allow}]
    """
    result = run(lab(acls=acls, acl_b="strict"), "app1", "srv")
    acl_dropped(result, "strict", "*", "egress")
    assert kinds(result.path) == ["instance", "vpc-router", "instance"]  # the request arrived
    assert [h.node for h in result.return_path] == ["srv", "app-router"]
    assert result.explanation.node == "app-router"
    message = result.explanation.message
    assert "the reply (tcp 10.0.4.10:443 -> 10.0.2.4) is dropped leaving subnet private-b" in message
    assert "denies outbound tcp to 10.0.2.4 ports 32768-60999: no numbered rule matches" in message
    assert "net.ipv4.ip_local_port_range" in message and "stateless" in message
    assert "\n  reply: srv -> app-router -> (dropped)\n" in explanation_text(result)
    fixed = acls.replace(
        "egress: [", "egress: [{rule: 200, protocol: tcp, ports: 1024-65535, cidr: 10.0.2.0/24, action: allow}, "
    )
    ok = run(lab(acls=fixed, acl_b="strict"), "app1", "srv")
    assert ok.outcome == "ok"
    assert [h.node for h in ok.return_path] == ["srv", "app-router", "app1"]
    assert "the reply to ports 32768-60999 allowed" in ok.return_path[1].detail


def test_a_reply_through_a_nat_gateway_comes_back_to_the_nat_gateways_ports():
    """The public subnet's ACL sees the reply addressed to the NAT gateway's port (1024-65535)."""
    acls = f"""
    web-only:
      ingress:
        - {{rule: 100, cidr: 10.0.0.0/16, action: allow}}
        - {{rule: 110, protocol: tcp, ports: 32768-65535, cidr: 0.0.0.0/0, action: allow}}
      egress: [{ALLOW_ALL}]
    """
    result = run(lab(acls=acls, acl_public="web-only"), "app1", S3_NAME)
    acl_dropped(result, "web-only", "*", "ingress")
    assert "ports 1024-32767 (of its range 1024-65535)" in result.explanation.message
    assert "the NAT gateway's, 1024-65535" in result.explanation.message
    assert [h.kind for h in result.return_path] == ["service", "internet", "internet-gateway", "vpc-router"]


def test_network_acl_rules_are_evaluated_lowest_number_first():
    deny_first = f"""
    ordered:
      ingress:
        - {{rule: 200, cidr: 0.0.0.0/0, action: allow}}
        - {{rule: 100, protocol: tcp, port: 443, cidr: 10.0.2.0/24, action: deny}}
      egress: [{ALLOW_ALL}]
    """
    topology = lab(groups=WEB_443_FROM_A, acls=deny_first, acl_b="ordered")
    result = run(topology, "app1", "srv")
    acl_dropped(result, "ordered", "100", "ingress")
    assert "rule 100: deny tcp 443 10.0.2.0/24 is the lowest-numbered rule that matches" in result.explanation.message
    assert kinds(result.path) == ["instance", "vpc-router"]
    allow_first = deny_first.replace("rule: 200", "rule: 50")
    assert run(lab(acls=allow_first, acl_b="ordered"), "app1", "srv").outcome == "ok"


def test_a_new_custom_network_acl_denies_everything():
    result = run(lab(acls="empty: {}", acl_a="empty"), "app1", "srv")
    acl_dropped(result, "empty", "*", "egress")
    assert "it has no outbound rule, only the final * rule" in result.explanation.message
    assert "leaving subnet private-a" in result.explanation.message


def test_traffic_within_a_subnet_is_not_filtered_by_its_network_acl():
    topology = lab(acls="empty: {}", acl_a="empty")
    inside = run(topology, "app1", "app2")
    assert (inside.outcome, kinds(inside.path)) == ("ok", ["instance", "instance"])
    assert kinds(inside.return_path) == ["instance", "instance"]
    acl_dropped(run(topology, "app1", "other"), "empty", "*", "egress")
    acl_dropped(run(topology, "other", "app1"), "empty", "*", "ingress")


def test_the_default_network_acl_allows_both_ways_and_names_nothing():
    result = run(lab(), "app1", "srv")
    assert result.outcome == "ok" and result.explanation is None
    assert "acl-" not in result.path[1].detail
    assert [h.node for h in result.return_path] == ["srv", "app-router", "app1"]


# -- what every output carries ----------------------------------------------------------------------


@pytest.mark.parametrize("source, port", [("other", 443), ("app1", 443)])
def test_security_predictions_are_predictions_of_the_schema(source, port):
    acls = "strict: {ingress: [{rule: 100, protocol: tcp, port: 443, cidr: 10.0.0.0/16, action: allow}], egress: []}"
    data = run(lab(acls=acls, acl_b="strict"), source, "srv", port).to_dict()
    assert problems(data, "prediction") == []
    assert data["explanation"]["direction"] in ("ingress", "egress")


# -- the reply's route back -------------------------------------------------------------------------


def peered(b_routes: str):
    """app1 (vpc app) -> b1 (vpc b, whose group lets vpc app in), over peering to-b; `b_routes`: b's table."""
    text = f"""
    vpcs:
      app:
        cidr: 10.0.0.0/16
        subnets: {{private-a: {{cidr: 10.0.2.0/24, az: a, route_table: private}}}}
        route_tables: {{private: [{{destination: 10.1.0.0/16, target: to-b}}]}}
        peering: {{to-b: {{peer_vpc: b}}}}
        instances: {{app1: {{subnet: private-a, private_ip: 10.0.2.4}}}}
      b:
        cidr: 10.1.0.0/16
        subnets: {{private-a: {{cidr: 10.1.2.0/24, az: a, route_table: private}}}}
        route_tables: {{private: {b_routes}}}
        security_groups: {{from-app: {{ingress: [{{protocol: all, cidr: 10.0.0.0/16}}]}}}}
        instances: {{b1: {{subnet: private-a, private_ip: 10.1.2.4, security_groups: [from-app]}}}}
    """
    return load_topology("inline.yaml", textwrap.dedent(text).lstrip("\n"))


def test_a_peering_without_a_route_back_loses_the_reply():
    """vpc-peering-routing.html: each side's route table needs a route to the other's CIDR."""
    result = run(peered("[]"), "app1", "b1")
    assert (result.outcome, result.reachable) == ("timeout", False)
    x = result.explanation
    assert (x.code, x.component, x.node) == ("NO_ROUTE_TO_DESTINATION", aws_id("rtb", "b", "private"), "b-router")
    assert "the reply from 10.1.2.4 to 10.0.2.4 has no route back" in x.message and "came in by to-b" in x.message
    assert "reply: b1 -> b-router -> (dropped)" in explanation_text(result)
    assert [h.node for h in result.path] == ["app1", "app-router", "b-router", "b1"]  # the request arrived
    assert [h.node for h in result.return_path] == ["b1", "b-router"]
    ok = run(peered("[{destination: 10.0.0.0/16, target: to-b}]"), "app1", "b1")
    assert ok.outcome == "ok" and [h.node for h in ok.return_path] == ["b1", "b-router", "app-router", "app1"]


def test_a_public_ip_in_a_subnet_routed_to_a_nat_gateway_cannot_answer_the_internet():
    """The internet gateway translates the request in; the answer follows the subnet's 0.0.0.0/0, to
    the NAT gateway, not back to the internet gateway: the client never sees it."""
    groups = "open: {ingress: [{protocol: tcp, port: 443, cidr: 0.0.0.0/0}]}"
    instances = "lonely: {subnet: private-a, public_ip: true, security_groups: [open]}"
    topology = lab(groups, instances=instances)
    address = str(next(p.address for p in compile_plan(topology).public_ips if p.owner == "lonely"))
    result = run(topology, "internet-client", address)
    assert (result.outcome, result.explanation.code) == ("timeout", "REPLY_ROUTED_ELSEWHERE")
    assert "sends it by 0.0.0.0/0 -> nat-a, but the request came in by igw" in result.explanation.message
    assert [h.node for h in result.return_path] == ["lonely", "app-router"]


def test_an_observed_drop_names_its_direction_as_the_prediction_does():
    """The lab's drop counter says `<code> <component> <direction> ...`; the observed reason reads it."""
    comment = f"SUBNET_ACL_RESTRICTION {acl('strict')} egress rule *"
    seen = _because(None, comment, "app-router", "the reply died", [{"comment": comment, "packets": 1, "bytes": 60}])
    assert (seen.code, seen.component, seen.rule, seen.direction) == (
        "SUBNET_ACL_RESTRICTION",
        acl("strict"),
        f"{acl('strict')} egress rule *",
        "egress",
    )


def test_explain_json_on_the_shipped_topology_carries_the_reply_and_the_direction(capsys, monkeypatch):
    """`vpclab explain --json`: the explanation's direction and the reply's hops, as the schema says."""
    monkeypatch.chdir(REPO)
    argv = ["explain", "topologies/security-groups.yaml", "--from", "app1", "--to", "db1", "--port", "5432", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert problems(data, "prediction") == []
    assert (data["outcome"], data["explanation"]["code"], data["explanation"]["direction"]) == (
        "timeout",
        "SUBNET_ACL_RESTRICTION",
        "egress",
    )
    assert [h["node"] for h in data["return_path"]] == ["db1", "shop-router"]
