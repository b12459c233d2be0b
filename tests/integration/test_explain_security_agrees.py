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
from lab.plan.names import aws_id
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
