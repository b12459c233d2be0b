"""Security groups and network ACLs of a Network Load Balancer, from real packets
(tests/data/nlb/nlb-security.yaml): the NLB's group lets in its `clients` group and one consumer
address, and no one else, whether they come from the VPC (judged in the VPC router) or through an
endpoint (judged in the NLB's node, EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic being on);
the target admits only what comes from the NLB's group, the client's IP kept; the NLB's subnet's
network ACL keeps a subnet out. Every drop is counted under its explanation code, and explain
predicts what trace observes.
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.security_nft import sg_drop_rule
from lab.realize.lab import Lab
from lab.results import Outcome
from lab.scenario.observe import trace

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "tests/data/nlb/nlb-security.yaml"
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    topology = load_topology(LAB)
    with Lab(compile_plan(topology), tmp_path_factory.mktemp("nlbsg") / "run") as running:
        running.topology = topology
        wait_answer(running, "client1", nlb_ip(running))  # the health checks bring web1 in
        yield running


def nlb_ip(lab) -> str:
    return str(lab.plan.load_balancer("provider", "shop").nodes[0].address)


def endpoint_ip(lab) -> str:
    return str(lab.plan.eni_address("consumer-shop-a"))


def get(lab, source: str, address: str, port: int = 80, timeout: int = 3) -> dict | None:
    """One HTTP GET; the provider app's JSON, or None when nothing answered."""
    out = lab.node(source).cmd(f"curl -s -m {timeout} http://{address}:{port}/ ; echo rc=$?")
    body, _, rc = out.strip().rpartition("rc=")
    return json.loads(body) if rc.strip() == "0" and body.strip() else None


def wait_answer(lab, source: str, address: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = get(lab, source, address)
        if seen is not None:
            return seen
        time.sleep(1)
    raise AssertionError(f"{source} got no answer from {address} in {timeout} s")


def dropped(lab, node: str, comment: str) -> int:
    """Packets counted so far by `node`'s drop rule whose comment is `comment`."""
    out = lab.node(node).cmd("nft -j list ruleset")
    rules = [i["rule"] for i in json.loads(out)["nftables"] if "rule" in i]
    return sum(e["counter"]["packets"] for r in rules if r.get("comment") == comment for e in r["expr"] if "counter" in e)


def nlb_rule(lab) -> str:
    """The drop comment of the NLB's groups, inbound (the same in the router and in the node)."""
    node = lab.plan.load_balancer("provider", "shop").nodes[0].node
    return f"ENI_SG_RULES_MISMATCH {sg_drop_rule(lab.plan.eni_security(node), 'ingress')}"


def test_a_member_of_the_nlbs_allowed_group_reaches_the_target_which_sees_its_ip(lab):
    """web1's group admits only the NLB's group: the kept client IP passes by the NLB's mark."""
    seen = get(lab, "client1", nlb_ip(lab))
    assert seen is not None and seen["peer"].split(":")[0] == str(lab.plan.eni_address("client1"))


def test_the_target_refuses_a_client_coming_straight(lab):
    web1 = lab.plan.eni_security("web1")
    rule = f"ENI_SG_RULES_MISMATCH {sg_drop_rule(web1, 'ingress')}"
    before = dropped(lab, "provider-router", rule)
    assert get(lab, "stranger", str(web1.address), 8080, timeout=2) is None
    assert dropped(lab, "provider-router", rule) > before


def test_what_the_nlb_forwards_meets_its_outbound_rules_not_the_clients(lab):
    """client1's group lets it reach the NLB only; the packet the node forwards to web1 with
    client1's address is judged by the NLB's outbound rules (8080 to web-a), so it passes, and the
    same packet sent by client1 itself is dropped by client1's."""
    assert get(lab, "client1", nlb_ip(lab)) is not None
    own = f"ENI_SG_RULES_MISMATCH {sg_drop_rule(lab.plan.eni_security('client1'), 'egress')}"
    before = dropped(lab, "provider-router", own)
    assert get(lab, "client1", str(lab.plan.eni_address("web1")), 8080, timeout=2) is None
    assert dropped(lab, "provider-router", own) > before


def test_the_nlbs_inbound_rules_drop_a_client_of_the_vpc_outside_its_group(lab):
    before = dropped(lab, "provider-router", nlb_rule(lab))
    assert get(lab, "stranger", nlb_ip(lab), timeout=2) is None
    assert dropped(lab, "provider-router", nlb_rule(lab)) > before


def test_the_nlbs_subnets_network_acl_applies_to_the_nlbs_address(lab):
    acl = lab.plan.subnet_acl("provider", "lb-a")
    rule = f"SUBNET_ACL_RESTRICTION {acl.acl_id} ingress rule 50"
    before = dropped(lab, "provider-router", rule)
    assert get(lab, "blocked1", nlb_ip(lab), timeout=2) is None  # in `clients`, but its subnet is denied
    assert dropped(lab, "provider-router", rule) > before


def test_privatelink_traffic_from_an_allowed_address_passes_and_trace_agrees(lab):
    predicted = explain(lab.topology, lab.plan, "app1", endpoint_ip(lab), 80)
    assert predicted.outcome == Outcome.OK
    observed = trace(lab, predicted, "app1", endpoint_ip(lab), 80)
    assert observed.outcome == Outcome.OK and observed.agrees, observed.disagreements
    assert observed.observed.service_saw.source_ip == nlb_ip(lab)


def test_privatelink_traffic_from_another_address_is_dropped_in_the_nlbs_node_as_predicted(lab):
    node = lab.plan.load_balancer("provider", "shop").nodes[0].node
    before = dropped(lab, node, nlb_rule(lab))
    predicted = explain(lab.topology, lab.plan, "app2", endpoint_ip(lab), 80)
    assert predicted.explanation.code == "ENI_SG_RULES_MISMATCH" and predicted.explanation.node == node
    observed = trace(lab, predicted, "app2", endpoint_ip(lab), 80)
    assert observed.outcome == Outcome.TIMEOUT and observed.agrees, observed.disagreements
    assert observed.observed.explanation.code == "ENI_SG_RULES_MISMATCH"
    assert dropped(lab, node, nlb_rule(lab)) > before


# -- explain and trace agree for clients of the NLB's own VPC ----------------------------------------
def test_a_client_of_the_vpc_by_the_nlbs_dns_name_trace_agrees(lab):
    lb = lab.plan.load_balancer("provider", "shop")
    predicted = explain(lab.topology, lab.plan, "client1", lb.dns_name, 80)
    assert predicted.outcome == Outcome.OK
    assert lab.node("client1").cmd(f"dig +short {lb.dns_name}").split() == [nlb_ip(lab)]
    observed = trace(lab, predicted, "client1", lb.dns_name, 80)
    assert observed.outcome == Outcome.OK and observed.agrees, observed.disagreements
    assert [h.kind for h in observed.observed.path] == ["instance", "vpc-router", "load-balancer", "vpc-router", "instance"]
    assert observed.observed.service_saw.source_ip == str(lab.plan.eni_address("client1"))  # kept, from the capture


@pytest.mark.parametrize(
    ("source", "port", "code"),
    [("stranger", 80, "ENI_SG_RULES_MISMATCH"), ("blocked1", 80, "SUBNET_ACL_RESTRICTION"), ("client1", 81, None)],
)
def test_drops_on_the_way_to_the_nlb_are_predicted_as_observed(lab, source, port, code):
    """81: the NLB's group does not admit it either; the drop is the router's, as predicted."""
    predicted = explain(lab.topology, lab.plan, source, nlb_ip(lab), port)
    assert predicted.outcome == Outcome.TIMEOUT and predicted.explanation.code == (code or "ENI_SG_RULES_MISMATCH")
    observed = trace(lab, predicted, source, nlb_ip(lab), port)
    assert observed.outcome == Outcome.TIMEOUT and observed.agrees, observed.disagreements
    assert observed.observed.explanation.code == predicted.explanation.code


def test_the_targets_subnet_acl_sees_the_nlbs_address_or_the_kept_client(tmp_path):
    """The provider's network ACLs judge the NLB's own address: web-a's ACL denies 8080 from the NLB's
    IP. PrivateLink traffic (source: the NLB's IP) is dropped there, as predicted; a client of the
    VPC whose IP the NLB keeps passes the same ACL (it judges the client's address)."""
    text = LAB.read_text().replace(
        "      web-a: {cidr: 10.0.2.0/24, az: a}\n", "      web-a: {cidr: 10.0.2.0/24, az: a, network_acl: web}\n"
    )
    text = text.replace(
        "    network_acls:\n",
        "    network_acls:\n"
        "      web:\n"
        "        ingress:\n"
        "          - {rule: 10, action: deny, protocol: tcp, port: 8080, cidr: 10.0.1.254/32}\n"
        "          - {rule: 100, action: allow, protocol: -1, cidr: 0.0.0.0/0}\n"
        "        egress:\n"
        "          - {rule: 100, action: allow, protocol: -1, cidr: 0.0.0.0/0}\n",
    )
    (tmp_path / "lab.yaml").write_text(text)
    topology = load_topology(tmp_path / "lab.yaml")
    with Lab(compile_plan(topology), tmp_path / "run") as acl_lab:
        acl_lab.topology = topology
        assert nlb_ip(acl_lab) == "10.0.1.254"  # the address the ACL names
        # kept client IP: the ACL lets it in (the health checks, from the NLB's IP, are denied too, so
        # web1 never turns healthy and the NLB fails open to it, as AWS does)
        wait_answer(acl_lab, "client1", nlb_ip(acl_lab))
        predicted = explain(topology, acl_lab.plan, "app1", endpoint_ip(acl_lab), 80)
        web = acl_lab.plan.subnet_acl("provider", "web-a")
        assert (
            predicted.explanation.code == "SUBNET_ACL_RESTRICTION"
            and predicted.explanation.rule == f"{web.acl_id} ingress rule 10"
        )
        observed = trace(acl_lab, predicted, "app1", endpoint_ip(acl_lab), 80)
        assert observed.outcome == Outcome.TIMEOUT and observed.agrees, observed.disagreements
        assert observed.observed.explanation.code == "SUBNET_ACL_RESTRICTION"


def test_an_nlb_without_groups_forwards_a_kept_client_ip_past_the_clients_outbound_rules(tmp_path):
    """Without security groups the NLB filters nothing, either way (AWS); what its node forwards with
    client1's address is not judged by client1's outbound rules (which allow the NLB only), so it
    reaches web1, whose group admits the VPC."""
    text = LAB.read_text().replace("        security_groups: [nlb]\n", "")
    text = text.replace(
        "          - {protocol: tcp, port: 8080, security_group: nlb}\n",
        "          - {protocol: tcp, port: 8080, cidr: 10.0.0.0/16}\n",
    )
    (tmp_path / "lab.yaml").write_text(text)
    topology = load_topology(tmp_path / "lab.yaml")
    with Lab(compile_plan(topology), tmp_path / "run") as open_lab:
        assert open_lab.plan.eni_security(open_lab.plan.load_balancer("provider", "shop").nodes[0].node) is None
        seen = wait_answer(open_lab, "client1", nlb_ip(open_lab))
        assert seen["peer"].split(":")[0] == str(open_lab.plan.eni_address("client1"))  # its IP kept
        predicted = explain(topology, open_lab.plan, "client1", nlb_ip(open_lab), 80)
        assert predicted.outcome == Outcome.OK
        observed = trace(open_lab, predicted, "client1", nlb_ip(open_lab), 80)
        assert observed.outcome == Outcome.OK and observed.agrees, observed.disagreements
