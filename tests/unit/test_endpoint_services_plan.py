"""Endpoint services in the plan and in the static explanation: the consumer ENIs and their
names, the ruleset per connection state, a live decision changing only the ENIs it concerns, and
`explain` through the endpoint, the NLB and the provider's filters (pending, rejected, a port the
NLB does not listen on, security groups on both sides, no way back from the provider)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.errors import UnknownName
from lab.model.endpoint_connections import AVAILABLE, PENDING, IncorrectState
from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.changes import decide_connection
from lab.plan.compile import compile_plan
from lab.plan.difference import difference
from lab.plan.kept import Kept
from lab.results import Outcome

SHIPPED = Path("topologies/endpoint-service.yaml")


@pytest.fixture(scope="module")
def lab():
    t = load_topology(SHIPPED)
    return t, compile_plan(t)


def eni(plan, node: str):
    return plan.eni_address(node)


def test_one_eni_per_subnet_linked_to_the_nlb_node_of_its_az(lab):
    _, plan = lab
    svc = plan.endpoint_service("provider", "web-svc")
    assert svc.availability_zones == ("ap-northeast-2a", "ap-northeast-2c")
    assert svc.arn == f"arn:aws:ec2:ap-northeast-2:444455556666:vpc-endpoint-service/{svc.service_id}"
    conn = next(c for c in svc.connections if c.vpc == "consumer")
    assert conn.enis == (("consumer-web-a", "provider-web-nlb-a"),) and conn.state == AVAILABLE
    assert conn.owner == "111122223333"
    link = next(k for k in plan.links if k.a == ("consumer-web-a", "svc"))
    assert link.b[0] == "provider-web-nlb-a"  # a private link, not a route between the VPCs
    nlb = plan.load_balancer("provider", "web-nlb").node_in("ap-northeast-2a")
    assert any(i.label == conn.vpce and i.iface == link.b[1] for i in nlb.ingresses)  # the NLB knows the vpce by the link
    assert not any(r.via and r.dev == "svc" for r in plan.node("consumer-web-a").routes)  # no route into the provider


def test_the_endpoint_names_carry_the_service_id(lab):
    _, plan = lab
    svc = plan.endpoint_service("provider", "web-svc")
    vpce = plan.vpce_id("consumer", "web")
    names = {r.name for r in plan.resolvers["consumer"].records if r.origin == "vpce" and r.name.startswith(vpce)}
    suffix = f".{svc.service_id}.ap-northeast-2.vpce.amazonaws.com"
    assert len(names) == 2 and all(n.endswith(suffix) for n in names)
    assert any(n.endswith(f"-ap-northeast-2a{suffix}") for n in names)


def test_the_eni_forwards_only_when_available_and_counts_the_state_otherwise(lab):
    _, plan = lab
    available, pending = plan.node("consumer-web-a").nftables, plan.node("staging-web-c").nftables
    assert "dnat ip to 169.254." in available and "ENDPOINT_CONNECTION" not in available
    assert "dnat" not in pending.split("chain forward")[0]
    assert 'tcp dport { 80 } counter drop comment "ENDPOINT_CONNECTION_PENDING_ACCEPTANCE"' in pending


def test_a_decision_swaps_only_the_ruleset_of_that_endpoints_enis(lab):
    t, plan = lab
    accepted = compile_plan(decide_connection(t, "accept", "staging/web"), kept=Kept.of(plan))
    diff = difference(plan, accepted)
    assert list(diff.changed) == ["staging-web-c"] and not diff.added and not diff.removed
    swap = diff.changed["staging-web-c"].nft
    assert swap.startswith("delete table ip interface_endpoint\n")
    assert "dnat ip to" in swap
    with pytest.raises(UnknownName, match="name it as VPC/ENDPOINT"):  # two VPCs have an endpoint `web`
        decide_connection(t, "reject", "web")
    rejected = compile_plan(decide_connection(t, "reject", "consumer/web"))
    assert 'counter drop comment "ENDPOINT_CONNECTION_REJECTED"' in rejected.node("consumer-web-a").nftables
    with pytest.raises(IncorrectState, match="is available"):
        decide_connection(t, "accept", "consumer/web")


def test_explain_reaches_the_target_through_the_endpoint_and_the_nlb(lab):
    t, plan = lab
    result = explain(t, plan, "app1", str(eni(plan, "consumer-web-a")), 80)
    assert result.outcome == Outcome.OK, result.explanation
    # the NLB node and web1 share subnet web-a: the router only bridges, as app1 and the ENI's
    assert [h.kind for h in result.path] == ["instance", "interface-endpoint", "load-balancer", "instance"]
    assert result.path[-1].node in ("web1", "web2")
    saw = result.service_saw
    nlb_ip = plan.load_balancer("provider", "web-nlb").node_in("ap-northeast-2a").address
    assert saw.source_ip == str(nlb_ip) and saw.vpce_id == plan.vpce_id("consumer", "web")
    assert saw.proxy_source == str(plan.eni_address("app1")) and saw.proxy_vpce_id == saw.vpce_id


def test_explain_knows_pending_and_rejected(lab):
    t, plan = lab
    result = explain(t, plan, "stage1", str(eni(plan, "staging-web-c")), 80)
    assert (result.outcome, result.explanation.code) == (Outcome.TIMEOUT, "ENDPOINT_CONNECTION_PENDING_ACCEPTANCE")
    assert "accept staging/web" in result.explanation.message
    rejected = decide_connection(t, "reject", "consumer/web")
    result = explain(rejected, compile_plan(rejected), "app1", str(eni(plan, "consumer-web-a")), 80)
    assert result.explanation.code == "ENDPOINT_CONNECTION_REJECTED"
    accepted = decide_connection(t, "accept", "staging/web")
    assert explain(accepted, compile_plan(accepted), "stage1", str(eni(plan, "staging-web-c")), 80).outcome == Outcome.OK


def test_a_port_the_nlb_does_not_listen_on_goes_nowhere(lab):
    t, plan = lab
    v = t.vpcs["consumer"]
    group = v.security_groups["endpoint"]
    every_port = dataclasses.replace(group.ingress[0], from_port=0, to_port=65535)
    groups = dict(v.security_groups) | {"endpoint": dataclasses.replace(group, ingress=(every_port,))}
    t = dataclasses.replace(t, vpcs=dict(t.vpcs) | {"consumer": dataclasses.replace(v, security_groups=groups)})
    result = explain(t, compile_plan(t), "app1", str(eni(plan, "consumer-web-a")), 443)
    assert result.explanation.code == "INTERFACE_ENDPOINT_PORT_NOT_SERVED"


def without_rules(t, vpc: str, group: str):
    v = t.vpcs[vpc]
    groups = dict(v.security_groups) | {group: dataclasses.replace(v.security_groups[group], ingress=())}
    return dataclasses.replace(t, vpcs=dict(t.vpcs) | {vpc: dataclasses.replace(v, security_groups=groups)})


@pytest.mark.parametrize("vpc, group, port", [("consumer", "endpoint", 80), ("provider", "web", 8080)])
def test_security_groups_on_both_sides(lab, vpc, group, port):
    t, plan = lab
    changed = without_rules(t, vpc, group)
    result = explain(changed, compile_plan(changed), "app1", str(eni(plan, "consumer-web-a")), 80)
    assert (result.outcome, result.explanation.code) == (Outcome.TIMEOUT, "ENI_SG_RULES_MISMATCH")
    assert result.explanation.component == names.security_group_id(vpc, group)
    assert result.explanation.node == f"{vpc}-router" and f"port {port}" in result.explanation.message


def test_the_provider_cannot_open_a_connection_to_a_consumer(lab):
    t, plan = lab
    result = explain(t, plan, "web1", str(plan.eni_address("stage1")), 80)
    assert (result.outcome, result.explanation.code) == (Outcome.TIMEOUT, "NO_ROUTE_TO_DESTINATION")


def test_pending_is_the_state_of_an_endpoint_nobody_decided_on(lab):
    t, _ = lab
    svc = t.endpoint_services()[0]
    assert PENDING == "pendingAcceptance" and "staging/web" not in svc.accepted


def test_the_consumers_network_acl_judges_the_way_to_the_eni():
    """app2 in another subnet of the consumer VPC: the ENI's subnet ACL (no rule for port 80 in)
    stops it at the router, as for any ENI."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    doc = yaml.load(SHIPPED.read_text())
    consumer = doc["vpcs"]["consumer"]
    consumer["subnets"]["app-a"]["network_acl"] = "eni-subnet"
    consumer["subnets"]["client-c"] = {"cidr": "10.0.9.0/24", "az": "c"}
    consumer["network_acls"] = {
        "eni-subnet": {
            "ingress": [{"rule": 100, "protocol": "tcp", "port": 443, "cidr": "10.0.0.0/16", "action": "allow"}],
            "egress": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}],
        }
    }
    consumer["instances"]["app2"] = {"subnet": "client-c"}
    out = io.StringIO()
    yaml.dump(doc, out)
    t = load_topology("t.yaml", out.getvalue())
    plan = compile_plan(t)
    result = explain(t, plan, "app2", str(plan.eni_address("consumer-web-a")), 80)
    assert (result.outcome, result.explanation.code) == (Outcome.TIMEOUT, "SUBNET_ACL_RESTRICTION")
    assert result.explanation.component == names.network_acl_id("consumer", "eni-subnet")
    assert result.explanation.direction == "ingress"


def test_vpclab_plan_shows_the_service_and_each_connections_state(lab):
    from lab.report.text import plan_text

    _, plan = lab
    svc = plan.endpoint_service("provider", "web-svc")
    text = plan_text(plan)
    assert f"endpoint service web-svc (vpc provider, account 444455556666): {svc.service_name}" in text
    assert f"staging/web {plan.vpce_id('staging', 'web')} (account 111122223333): pendingAcceptance" in text


@pytest.mark.parametrize("state", [AVAILABLE, PENDING, "rejected"])
def test_an_nlb_without_listeners_gives_a_ruleset_nft_can_read(state):
    """No listener port: no empty set (`tcp dport { }` is a syntax error for nft); TCP to the ENI
    is then a port the endpoint does not serve."""
    import ipaddress

    from lab.plan.endpoint_services import consumer_eni_ruleset

    text = consumer_eni_ruleset("eth0", ipaddress.IPv4Address("10.0.1.254"), ipaddress.IPv4Address("169.254.0.2"), (), state)
    assert "{  }" not in text and "dport" not in text and "INTERFACE_ENDPOINT_PORT_NOT_SERVED" in text
