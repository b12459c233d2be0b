"""Network ACLs on real packets (topologies/security-groups.yaml): stateless numbered rules at the
subnet's edge in the VPC router, both directions, first match wins, `*` denies; never within a
subnet. AWS: https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html."""

from __future__ import annotations

import os

import pytest
from security_lab import security_lab, send

from lab.plan import names

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(120)]
ACL = "SUBNET_ACL_RESTRICTION"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with security_lab(tmp_path_factory.mktemp("acl") / "run") as lab:
        yield lab


def test_without_an_ephemeral_port_rule_the_reply_dies_leaving_the_subnet(lab):
    """app1 -> db1:5432 is allowed in by data-a's ACL and db1's group; db1's answer (a reset: nothing
    listens) to app1's ephemeral port matches no egress rule of the ACL, so `*` drops it."""
    seen = send(lab, "app1", "10.0.3.10", 5432)
    assert seen.outcome == "timeout" and seen.reason.code == ACL
    assert seen.reason.rule == f"{names.network_acl_id('shop', 'data')} egress rule *"
    assert "db1" in seen.path, seen.path  # the request arrived: only the reply died


def test_a_lower_numbered_deny_wins_over_a_higher_allow(lab):
    seen = send(lab, "web2", "10.0.2.10", 8080)  # rule 90 denies web2; 100 would allow the VPC
    assert seen.outcome == "timeout" and seen.reason.code == ACL
    assert seen.reason.rule == f"{names.network_acl_id('shop', 'app')} ingress rule 90"
    assert send(lab, "web1", "10.0.2.10", 8080).outcome == "refused"  # rule 100 lets web1 in


def test_a_custom_acl_with_no_rules_denies_both_ways(lab):
    vault = names.network_acl_id("shop", "vault")
    inbound = send(lab, "web1", "10.0.4.10", 22)
    assert inbound.reason.code == ACL and inbound.reason.rule == f"{vault} ingress rule *"
    outbound = send(lab, "vault1", "10.0.1.10", 443)
    assert outbound.reason.code == ACL and outbound.reason.rule == f"{vault} egress rule *"


def test_traffic_within_a_subnet_never_meets_its_acl(lab):
    """app1 and ops1 share app-a, whose ACL denies web2 only; app1 -> ops1 inside the subnet is
    decided by ops1's group alone (the default group: app1 is not a member)."""
    seen = send(lab, "app1", "10.0.2.20", 22)
    assert seen.reason.code == "ENI_SG_RULES_MISMATCH"
    assert seen.path == ("app1", "shop-router"), seen.path  # dropped in the router, at ops1's group


def test_the_default_acl_allows_everything(lab):
    assert send(lab, "web2", "10.0.1.10", 443).outcome == "refused"  # public-a: the default ACL
