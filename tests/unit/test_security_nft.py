"""The VPC router's security tables as text (lab.plan.security_nft): what the kernel is given, checked
without it (tests/integration/test_rulesets.py has nft accept every shipped one)."""

from __future__ import annotations

import re
import textwrap

from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.compile import compile_plan

TOPOLOGY = """
region: ap-northeast-2
vpcs:
  app:
    cidr: 10.0.0.0/16
    internet_gateway: true
    subnets:
      public-a: {{cidr: 10.0.1.0/24, az: a, route_table: public}}
      private-a: {{cidr: 10.0.2.0/24, az: a, route_table: private, network_acl: strict}}
    route_tables:
      public: [{{destination: 0.0.0.0/0, target: igw}}]
      private: [{{destination: 0.0.0.0/0, target: nat-a}}]
    nat_gateways:
      nat-a: {{subnet: public-a}}
    security_groups:
      many:
        ingress:
{rules}
    network_acls:
      strict:
        ingress:
          - {{rule: 300, cidr: 10.0.0.0/16, action: allow}}
          - {{rule: 100, protocol: tcp, port: 22, cidr: 0.0.0.0/0, action: deny}}
        egress:
          - {{rule: 100, protocol: icmp, icmp_type: 0, cidr: 10.0.0.0/16, action: allow}}
    instances:
      web1: {{subnet: public-a, security_groups: [many]}}
      app1: {{subnet: private-a}}
"""


def router(rules: int = 1) -> str:
    lines = "\n".join(f"          - {{protocol: tcp, port: {1000 + i}, cidr: 10.0.0.0/16}}" for i in range(rules))
    plan = compile_plan(load_topology("inline.yaml", textwrap.dedent(TOPOLOGY.format(rules=lines)).lstrip("\n")))
    return plan, plan.router("app").nftables


def block(text: str, name: str) -> str:
    """The body of one set, map or chain."""
    return re.search(rf"(?:set|map|chain) {name} {{\n(.*?)\n\s*}}", text, re.S).group(1)


def test_per_packet_work_does_not_grow_with_the_rules():
    """1, 30 or 60 rules (a group's quota): the same chains and rules; only set elements grow."""
    chains = []
    for rules in (1, 30, 60):
        _, text = router(rules)
        chains.append([line.strip() for line in text.splitlines() if "chain " in line or "@" in line or "drop" in line])
        assert len(re.findall(r"\b10\.0\.1\.\d+ \. 6 \. \d+ \. 10\.0\.0\.0/16", block(text, "sg_ingress_ports"))) == rules
    assert chains[0] == chains[1] == chains[2]


def test_acl_maps_hold_only_pairs_of_different_interfaces():
    _, text = router()
    for direction in ("egress", "ingress"):
        pairs = re.findall(r'"(\w+)" \. "(\w+)"', block(text, f"acl_{direction}"))
        assert pairs and all(a != b for a, b in pairs)
        assert ("br1", "br1") not in pairs  # within private-a: no ACL


def test_acl_chains_follow_rule_numbers_and_end_with_star():
    plan, text = router()
    acl = plan.subnet_acl("app", "private-a")
    index = list(plan.network_acls).index(acl.subnet_id)
    chain = block(text, f"acl_ingress_{index}").splitlines()
    assert "th dport 22" in chain[0] and f"{acl.acl_id} ingress rule 100" in chain[0]
    assert chain[1].strip() == "ip saddr 10.0.0.0/16 return"
    assert chain[2].strip() == f'counter drop comment "SUBNET_ACL_RESTRICTION {acl.acl_id} ingress rule *"'
    assert "icmp type 0" in block(text, f"acl_egress_{index}")


def test_nat_gateways_have_no_groups_and_no_source_check():
    plan, text = router()
    nat_ip = str(plan.eni_address(names.nat_node("app", "nat-a")))
    assert nat_ip not in block(text, "sg_ingress_eni") and nat_ip not in block(text, "own")
    for node in ("web1", "app1"):
        assert f"{plan.eni_address(node)} : jump" in block(text, "sg_egress_eni")
        assert str(plan.eni_address(node)) in block(text, "own")


def test_each_eni_chain_ends_in_its_own_counted_drop():
    plan, text = router()
    web1 = plan.eni_security("web1")
    comment = f"ENI_SG_RULES_MISMATCH {web1.eni} ingress {web1.groups[0]}"
    assert text.count(f'counter drop comment "{comment}"') == 1


def test_a_live_change_swaps_only_the_security_tables():
    from lab.model.loader import load_topology
    from lab.plan.difference import tables_swap
    from lab.plan.security_changes import change_permission

    topology = load_topology("topologies/security-groups.yaml")
    before = compile_plan(topology).router("shop").nftables
    assert tables_swap(before, before) == ""
    after = compile_plan(change_permission(topology, "authorize-ingress", "app --protocol tcp --port 443 --cidr 10.0.1.0/24"))
    swap = tables_swap(before, after.router("shop").nftables)
    assert swap.startswith("delete table ip vpc_filters\ntable ip vpc_filters {")
    assert "table ip vpc_router" not in swap and "10.0.2.10 . 6 . 443 . 10.0.1.0/24" in swap
