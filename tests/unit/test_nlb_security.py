"""Security groups and network ACLs of a Network Load Balancer, in the plan and in explain
(tests/data/nlb/nlb-security.yaml): the NLB's groups judge what reaches its nodes (in the VPC
router for clients of the VPC, in the node itself for PrivateLink traffic unless
EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic is off); a target's rule that names the NLB's
group admits what the NLB forwards with the client's IP; the node has no source/destination check.
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.errors import TopologyError
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.load_balancer_marks import MARK_BASE
from lab.plan.security_nft import sg_drop_rule
from lab.results import Outcome

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "tests/data/nlb/nlb-security.yaml"
ENDPOINT = "10.1.1.254"  # the consumer endpoint's ENI (the highest free address of app-a)


def load(tmp_path: Path, old: str = "", new: str = ""):
    (tmp_path / "lab.yaml").write_text(LAB.read_text().replace(old, new))
    return load_topology(tmp_path / "lab.yaml")


@pytest.fixture(scope="module")
def lab():
    topology = load_topology(LAB)
    return topology, compile_plan(topology)


def test_the_nlbs_nodes_are_eni_members_of_its_groups_without_the_source_destination_check(lab):
    _, plan = lab
    node = plan.load_balancer("provider", "shop").nodes[0]
    security = plan.eni_security(node.node)
    assert security is not None and security.group_names == ("nlb",) and security.address == node.address
    assert not security.checked and security.nlb_mark == MARK_BASE
    router = plan.router("provider").nftables
    check = router[router.index("table bridge eni_check") :]
    assert str(plan.eni_address("web1")) in check  # an instance's port sends from its own address only
    assert str(node.address) not in check  # the NLB node's forwards what its clients sent, their addresses kept


def test_an_nlb_without_groups_has_no_filters(tmp_path):
    plan = compile_plan(load(tmp_path, "        security_groups: [nlb]\n", ""))
    node = plan.load_balancer("provider", "shop").nodes[0]
    assert plan.eni_security(node.node) is None
    assert "sg_privatelink" not in plan.node(node.node).nftables
    assert "sg_ingress_via_nlb" not in plan.router("provider").nftables


def test_a_targets_rule_naming_the_nlbs_group_admits_what_it_forwards_with_the_clients_ip(lab):
    _, plan = lab
    router, web1 = plan.router("provider").nftables, plan.eni_address("web1")
    assert f"elements = {{ {web1} . {MARK_BASE:#x} . 6 . 8080 }}" in router  # the NLB node's connections, by mark
    assert "ip daddr . ct mark . meta l4proto . th dport @sg_ingress_via_nlb return" in router


def test_privatelink_traffic_meets_the_nlbs_inbound_rules_by_address_only(lab):
    _, plan = lab
    node = plan.load_balancer("provider", "shop").nodes[0]
    ruleset, security = plan.node(node.node).nftables, plan.eni_security(node.node)
    chain = ruleset[ruleset.index("chain sg_privatelink") : ruleset.index("chain prerouting")]
    assert "ip saddr 10.1.1.10/32 meta l4proto 6 th dport 80 return" in chain
    # the rule naming the group `clients` does not match a consumer's client, even one whose address
    # is a member's in the provider VPC (overlapping CIDRs)
    assert str(plan.eni_address("client1")) not in chain
    assert f'drop comment "ENI_SG_RULES_MISMATCH {sg_drop_rule(security, "ingress")}"' in chain


def test_enforcement_on_privatelink_traffic_can_be_turned_off(tmp_path):
    key = "enforce_security_group_inbound_rules_on_private_link_traffic"
    topology = load(tmp_path, "        security_groups: [nlb]\n", f"        security_groups: [nlb]\n        {key}: false\n")
    plan = compile_plan(topology)
    lb = plan.load_balancer("provider", "shop")
    assert not lb.privatelink_inbound_enforced and "sg_privatelink" not in plan.node(lb.nodes[0].node).nftables
    assert explain(topology, plan, "app2", ENDPOINT, 80).outcome == Outcome.OK
    with pytest.raises(TopologyError, match=f"'{key}' must be true or false"):
        load(tmp_path, "        security_groups: [nlb]\n", f"        security_groups: [nlb]\n        {key}: 'off'\n")


def test_explain_predicts_the_nlbs_groups_on_privatelink_traffic(lab):
    topology, plan = lab
    node = plan.load_balancer("provider", "shop").nodes[0]
    allowed = explain(topology, plan, "app1", ENDPOINT, 80)
    assert allowed.outcome == Outcome.OK, allowed.explanation
    assert [h.kind for h in allowed.path] == ["instance", "interface-endpoint", "load-balancer", "vpc-router", "instance"]
    assert "allowed inbound by" in allowed.path[2].detail and "ingress rule 2: tcp 80 from 10.1.1.10/32" in allowed.path[2].detail
    denied = explain(topology, plan, "app2", ENDPOINT, 80)
    assert denied.outcome == Outcome.TIMEOUT and denied.explanation.code == "ENI_SG_RULES_MISMATCH"
    assert denied.explanation.node == node.node and denied.path[-1].kind == "load-balancer"
    assert denied.explanation.rule == sg_drop_rule(plan.eni_security(node.node), "ingress")  # the counter's words
    assert "10.1.1.11" in denied.explanation.message


def test_explain_judges_the_nlbs_outbound_rules_toward_the_target(tmp_path):
    """The NLB's groups' outbound rules apply to what it sends to targets (and to health checks),
    through PrivateLink and for a client whose IP it keeps alike; the client's own outbound rules,
    which allow the NLB only, do not judge the forwarded packet."""
    topology, plan = load_topology(LAB), compile_plan(load_topology(LAB))
    kept = explain(topology, plan, "client1", str(plan.load_balancer("provider", "shop").nodes[0].address), 80)
    assert kept.outcome == Outcome.OK and "allowed outbound by sg-" in kept.path[2].detail
    assert "(nlb) egress rule 1: tcp 8080 to 10.0.2.0/24" in kept.path[2].detail
    narrow = load(tmp_path, "port: 8080, cidr: 10.0.2.0/24", "port: 9090, cidr: 10.0.2.0/24")
    narrow_plan = compile_plan(narrow)
    for source, target in (("app1", ENDPOINT), ("client1", str(narrow_plan.load_balancer("provider", "shop").nodes[0].address))):
        denied = explain(narrow, narrow_plan, source, target, 80)
        assert denied.explanation.code == "ENI_SG_RULES_MISMATCH" and denied.explanation.direction == "egress"
        assert denied.explanation.rule == sg_drop_rule(narrow_plan.eni_security("provider-shop-a"), "egress")
    router = narrow_plan.router("provider").nftables
    assert "ct mark vmap @sg_egress_nlb" in router and "ct mark != { 0x4e00 } ip saddr vmap @sg_egress_eni" in router
    assert "ip daddr 10.0.2.0/24 meta l4proto 6 th dport 9090 return" in router


# -- explain: a client of the NLB's VPC -------------------------------------------------------------
def test_explain_a_client_of_the_vpc_through_the_nlb_with_its_ip_kept(lab):
    topology, plan = lab
    lb = plan.load_balancer("provider", "shop")
    found = explain(topology, plan, "client1", lb.dns_name, 80)  # the NLB's DNS name, from the VPC's resolver
    assert found.outcome == Outcome.OK, found.explanation
    assert found.dns is not None and found.dns.answer == (str(lb.nodes[0].address),) and found.dns.origin == "elb"
    assert [h.kind for h in found.path] == ["instance", "vpc-router", "load-balancer", "vpc-router", "instance"]
    nlb_hop = found.path[2]
    assert [t.side for t in nlb_hop.translations] == ["destination"]  # the client's IP kept
    assert "the NLB's group (the client's IP kept)" in found.path[-1].detail
    assert found.service_saw.source_ip == str(plan.eni_address("client1"))
    assert [h.node for h in found.return_path] == ["web1", "provider-router", lb.nodes[0].node, "provider-router", "client1"]


def test_explain_a_client_of_the_vpc_without_client_ip_preservation(tmp_path):
    topology = load(tmp_path, "        app: provider-app\n", "        app: provider-app\n        preserve_client_ip: false\n")
    plan = compile_plan(topology)
    node = plan.load_balancer("provider", "shop").nodes[0]
    found = explain(topology, plan, "client1", str(node.address), 80)
    assert found.outcome == Outcome.OK and found.service_saw.source_ip == str(node.address)
    assert [t.side for t in found.path[2].translations] == ["source", "destination"]
    assert "allowed inbound by sg-" in found.path[-1].detail and "client's IP kept" not in found.path[-1].detail


def test_explain_the_nlbs_group_and_its_subnets_acl_for_clients_of_the_vpc(lab):
    topology, plan = lab
    node = plan.load_balancer("provider", "shop").nodes[0]
    stranger = explain(topology, plan, "stranger", str(node.address), 80)
    assert stranger.explanation.code == "ENI_SG_RULES_MISMATCH" and stranger.explanation.direction == "ingress"
    assert stranger.explanation.rule == sg_drop_rule(plan.eni_security(node.node), "ingress")
    blocked = explain(topology, plan, "blocked1", str(node.address), 80)
    assert blocked.explanation.code == "SUBNET_ACL_RESTRICTION"
    assert blocked.explanation.rule == f"{plan.subnet_acl('provider', 'lb-a').acl_id} ingress rule 50"


def test_explain_a_port_without_a_listener(tmp_path):
    topology = load(tmp_path, "        security_groups: [nlb]\n", "")
    plan = compile_plan(topology)
    node = plan.load_balancer("provider", "shop").nodes[0]
    found = explain(topology, plan, "stranger", str(node.address), 81)
    assert found.outcome == Outcome.TIMEOUT and found.explanation.code == "NLB_NO_LISTENER"
    assert found.path[-1].node == node.node
    assert 'counter drop comment "NLB_NO_LISTENER"' in plan.node(node.node).nftables.split("chain input")[1]


def test_explain_knows_an_instance_cannot_reach_itself_through_the_nlb_with_its_ip_kept(tmp_path):
    """NAT loopback: a target that is also the client, its IP kept, never answers itself (AWS's
    troubleshooting, "loopback-timeout"); with another target in the zone, that one is the way."""
    reg = REPO / "tests/data/nlb/nlb-registration.yaml"
    two = load_topology(reg)
    plan = compile_plan(two)
    nlb = str(plan.load_balancer("provider", "shop").nodes[0].address)
    found = explain(two, plan, "web1", nlb, 80)
    assert found.outcome == Outcome.OK and found.path[-1].node == "web2" and "NAT loopback" in found.path[-2].detail
    (tmp_path / "one.yaml").write_text(
        reg.read_text().replace("targets: [{instance: web1}, {instance: web2}]", "targets: [{instance: web1}]")
    )
    one = load_topology(tmp_path / "one.yaml")
    alone = explain(one, compile_plan(one), "web1", nlb, 80)
    assert alone.outcome == Outcome.TIMEOUT and alone.explanation.code == "NLB_LOOPBACK_NOT_SUPPORTED"
    assert [h.node for h in alone.path] == ["web1", "provider-shop-a", "web1"]  # what the captures show
