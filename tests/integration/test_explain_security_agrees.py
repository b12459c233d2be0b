"""explain's predictions for security groups and network ACLs against real packets (topologies/security-
groups.yaml): for each case `vpclab trace` probes, follows the captures and drop counters, and
compares with the prediction; they must agree on the outcome and the hops, and a drop on its code,
its rule (the words of the lab's counter) and, for a network ACL, the ACL. A disagreement is a bug of
vpclab (DESIGN section 4). The predicted reply's way back is checked where the reply died."""

from __future__ import annotations

import os

import pytest
from security_lab import REPO, security_lab

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.names import aws_id
from lab.realize.lab import Lab
from lab.scenario.observe import trace

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(300)]

CASES = [  # source, target, port, the code both must name (None: it gets through)
    ("app1", "db1", 5432, "SUBNET_ACL_RESTRICTION"),  # data-a forgot the ephemeral ports: the reply dies
    ("ops1", "db1", 5432, "SUBNET_ACL_RESTRICTION"),
    ("web2", "app1", 8080, "SUBNET_ACL_RESTRICTION"),  # rule 90 before rule 100
    ("web1", "vault1", 22, "SUBNET_ACL_RESTRICTION"),  # a custom ACL with no rules, inbound
    ("vault1", "web1", 443, "SUBNET_ACL_RESTRICTION"),  # and outbound
    ("app1", "ops1", 22, "ENI_SG_RULES_MISMATCH"),  # within a subnet: the default group, app1 no member
    ("web1", "app1", 5432, "ENI_SG_RULES_MISMATCH"),  # a port app's group does not allow
    ("web1", "db1", 5432, "ENI_SG_RULES_MISMATCH"),  # a source outside db's CIDR (its ACL lets it in)
    ("web1", "app1", 8080, None),  # a member of group web: in (nothing listens: refused)
    ("app1", "web1", 443, None),
    ("web1", "web2", 443, None),  # within public-a
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with security_lab(tmp_path_factory.mktemp("agree") / "run") as lab:
        yield lab


@pytest.fixture(scope="module")
def topology():
    return load_topology(str(REPO / "topologies/security-groups.yaml"))


@pytest.mark.parametrize("source, target, port, code", CASES, ids=[f"{s}-{t}-{p}" for s, t, p, _ in CASES])
def test_prediction_and_packets_agree(lab, topology, source, target, port, code):
    predicted = explain(topology, lab.plan, source, target, port)
    seen = trace(lab, predicted, source, target, port)
    assert seen.agrees, seen.disagreements
    said, observed = predicted.explanation, seen.observed.explanation if seen.observed else None
    if code is None:
        assert said is None and seen.outcome in ("ok", "refused"), (said, seen.outcome)
        return
    assert (said.code, observed.code) == (code, code), (said, observed)
    assert said.rule == observed.rule, (said.rule, observed.rule)
    assert said.direction == observed.direction in ("ingress", "egress")
    assert said.node == seen.observed.dropped_at or said.node == seen.observed.reply_path[-1].node
    if code == "SUBNET_ACL_RESTRICTION":
        assert said.component == observed.component


def test_the_reply_of_a_forgotten_ephemeral_rule_dies_where_predicted(lab, topology):
    predicted = explain(topology, lab.plan, "app1", "db1", 5432)
    assert predicted.explanation.rule == f"{aws_id('acl', 'shop', 'data')} egress rule *"
    assert [h.node for h in predicted.return_path] == ["db1", "shop-router"]
    seen = trace(lab, predicted, "app1", "db1", 5432)
    assert [h.node for h in seen.observed.reply_path] == ["db1", "shop-router"]
    assert seen.observed.delivered_to == "db1"  # the request arrived; only the reply died


PEERED = """
vpcs:
  app:
    cidr: 10.0.0.0/16
    internet_gateway: true
    subnets:
      public-a: {cidr: 10.0.1.0/24, az: a, route_table: public}
      private-a: {cidr: 10.0.2.0/24, az: a, route_table: private}
    route_tables:
      public: [{destination: 0.0.0.0/0, target: igw}]
      private: [{destination: 10.1.0.0/16, target: to-b}, {destination: 0.0.0.0/0, target: nat-a}]
    nat_gateways: {nat-a: {subnet: public-a}}
    peering: {to-b: {peer_vpc: b}}
    security_groups: {open: {ingress: [{protocol: tcp, port: 22, cidr: 0.0.0.0/0}]}}
    instances:
      app1: {subnet: private-a, private_ip: 10.0.2.4}
      lonely: {subnet: private-a, private_ip: 10.0.2.9, public_ip: true, security_groups: [open]}
  b:
    cidr: 10.1.0.0/16
    subnets: {private-a: {cidr: 10.1.2.0/24, az: a, route_table: private}}
    route_tables: {private: []}
    security_groups: {from-app: {ingress: [{protocol: all, cidr: 10.0.0.0/16}]}}
    instances: {b1: {subnet: private-a, private_ip: 10.1.2.4, security_groups: [from-app]}}
"""


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    topology = load_topology("peered.yaml", PEERED)
    with Lab(compile_plan(topology), tmp_path_factory.mktemp("routes") / "run") as lab:
        yield topology, lab


def test_a_reply_without_a_route_back_over_peering_dies_where_predicted(routed):
    """b's table has no route to vpc app: app1's SYN arrives at b1, b1's answer dies in b's router."""
    topology, lab = routed
    predicted = explain(topology, lab.plan, "app1", "b1", 22)
    assert (predicted.outcome, predicted.explanation.code) == ("timeout", "NO_ROUTE_TO_DESTINATION")
    seen = trace(lab, predicted, "app1", "b1", 22)
    assert seen.agrees, seen.disagreements
    assert seen.observed.delivered_to == "b1" and seen.observed.explanation.code == "NO_ROUTE_TO_DESTINATION"
    assert [h.node for h in seen.observed.reply_path] == [h.node for h in predicted.return_path] == ["b1", "b-router"]


def test_a_reply_routed_to_a_nat_gateway_never_reaches_the_internet_client(routed):
    """lonely has a public IP, but its subnet's 0.0.0.0/0 leads to the NAT gateway: the answer to the
    internet client goes there, not back through the internet gateway."""
    topology, lab = routed
    address = str(next(p.address for p in lab.plan.public_ips if p.owner == "lonely"))
    predicted = explain(topology, lab.plan, "internet-client", address, 22)
    assert (predicted.outcome, predicted.explanation.code) == ("timeout", "REPLY_ROUTED_ELSEWHERE")
    seen = trace(lab, predicted, "internet-client", address, 22)
    assert seen.agrees, seen.disagreements
    assert seen.observed.delivered_to == "lonely"
    assert "app-nat-a" in [h.node for h in seen.observed.reply_path]
