"""Model -> plan for security groups and network ACLs: each ENI's groups and their rules with every
peer expanded, each subnet's network ACL with its entries sorted (lab.plan.security_types).

AWS's defaults (https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html,
https://docs.aws.amazon.com/vpc/latest/userguide/default-network-acl.html): every VPC has a
security group `default` (in: all traffic from its own members; out: all traffic to 0.0.0.0/0),
used by an ENI that names no group, whose rules a topology may replace by declaring a group named
`default`; and a default network ACL (rule 100 allow all, then `*` deny, both ways), used by a subnet
that names none. A custom ACL starts with no entries: only `*`, which denies everything.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

from lab.model import regions
from lab.model.topology import NetworkAclEntry, PrefixListRef, SecurityGroup, SecurityGroupRule, Topology, Vpc
from lab.plan import names
from lab.plan.allocation import Allocation, EndpointKey, LoadBalancerKey
from lab.plan.load_balancer_marks import preserved_marks
from lab.plan.security_types import (
    EGRESS,
    INGRESS,
    PROTOCOL_NUMBERS,
    AclEntry,
    EniSecurity,
    Match,
    SgRule,
    SubnetAcl,
)

Net = ipaddress.IPv4Network
Addr = ipaddress.IPv4Address
EVERYWHERE = Net("0.0.0.0/0")
ALL = Match(None)


@dataclass(frozen=True)
class Member:
    """An ENI before its rules are expanded: who it is and which groups (names) it is in."""

    node: str
    eni: str
    subnet: str
    address: Addr
    groups: tuple[str, ...]
    checked: bool = True  # the source/destination check; an NLB node forwards preserved client IPs
    nlb_mark: int | None = None  # lab.plan.load_balancer_marks.preserved_marks


def default_group() -> SecurityGroup:
    """AWS's default security group: in from its own members, out to anywhere."""
    return SecurityGroup(
        names.DEFAULT_SECURITY_GROUP,
        "default VPC security group",
        (SecurityGroupRule("-1", None, None, names.DEFAULT_SECURITY_GROUP),),
        (SecurityGroupRule("-1", None, None, EVERYWHERE),),
    )


def groups_of(vpc: Vpc) -> dict[str, SecurityGroup]:
    """The VPC's groups by name, its default group included (the topology's `default`, if declared)."""
    return {names.DEFAULT_SECURITY_GROUP: default_group()} | dict(vpc.security_groups)


def members(t: Topology, vpc: Vpc, allocation: Allocation) -> Iterator[Member]:
    """Every ENI of the VPC that has security groups: instances, interface endpoints' ENIs, then
    the nodes of NLBs created with groups (one created without has none, and AWS filters nothing
    there: https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html)."""
    default = (names.DEFAULT_SECURITY_GROUP,)
    for inst in (i for i in t.instances.values() if i.vpc == vpc.name):
        ip = allocation.instance_ips[inst.name]
        yield Member(inst.name, names.instance_eni_id(inst.name), inst.subnet, ip, inst.security_groups or default)
    for ep in (e for e in vpc.endpoints.values() if e.type == "interface"):
        for subnet in ep.subnets:
            az = vpc.subnets[subnet].az
            ip = allocation.endpoint_ips[EndpointKey(vpc.name, ep.name)][az]
            node, eni = names.endpoint_eni_node(vpc.name, ep.name, az), names.endpoint_eni_id(vpc.name, ep.name, az)
            yield Member(node, eni, subnet, ip, ep.security_groups or default)
    marks = preserved_marks(vpc)
    for lb in (b for b in vpc.load_balancers.values() if b.security_groups):
        for subnet in lb.subnets:
            az = vpc.subnets[subnet].az
            ip = allocation.load_balancer_ips[LoadBalancerKey(vpc.name, lb.name)][az]
            node, eni = names.load_balancer_node(vpc.name, lb.name, az), names.load_balancer_eni_id(vpc.name, lb.name, az)
            yield Member(node, eni, subnet, ip, lb.security_groups, checked=False, nlb_mark=marks.get(node))


def rule_match(protocol: str, from_port: int | None, to_port: int | None) -> Match:
    """The model's protocol and FromPort/ToPort (ports, or ICMP type and code) as a Match."""
    number = PROTOCOL_NUMBERS[protocol]
    if number == 1:
        return Match(1, icmp_type=from_port, icmp_code=to_port)
    ports = (from_port, to_port) if from_port is not None and to_port is not None else None
    return Match(number, ports)


def peer_of(vpc: Vpc, rule: SecurityGroupRule, enis: list[Member]) -> tuple[str, tuple[Net, ...]]:
    """The rule's peer as written (CIDR, pl- id, sg- id) and as CIDRs."""
    if isinstance(rule.peer, Net):
        return str(rule.peer), (rule.peer,)
    if isinstance(rule.peer, PrefixListRef):
        return rule.peer.pl_id, regions.region(rule.peer.region).services[rule.peer.service].ranges
    inside = tuple(Net(f"{m.address}/32") for m in enis if rule.peer in m.groups)
    return names.security_group_id(vpc.name, rule.peer), inside


def group_rules(vpc: Vpc, group: SecurityGroup, direction: str, enis: list[Member]) -> tuple[SgRule, ...]:
    written = group.ingress if direction == INGRESS else group.egress
    gid = names.security_group_id(vpc.name, group.name)
    out = []
    for index, rule in enumerate(written, 1):
        peer, cidrs = peer_of(vpc, rule, enis)
        out.append(
            SgRule(gid, group.name, direction, index, rule_match(rule.protocol, rule.from_port, rule.to_port), peer, cidrs)
        )
    return tuple(out)


def eni_security(t: Topology, vpc: Vpc, allocation: Allocation) -> dict[str, EniSecurity]:
    """node -> its ENI's security groups and rules, for every ENI of the VPC that has groups."""
    enis, groups = list(members(t, vpc, allocation)), groups_of(vpc)
    result = {}
    for m in enis:
        rules = {d: tuple(r for g in m.groups for r in group_rules(vpc, groups[g], d, enis)) for d in (INGRESS, EGRESS)}
        result[m.node] = EniSecurity(
            m.eni,
            m.node,
            vpc.name,
            m.subnet,
            m.address,
            tuple(names.security_group_id(vpc.name, g) for g in m.groups),
            m.groups,
            rules[INGRESS],
            rules[EGRESS],
            m.checked,
            m.nlb_mark,
        )
    return result


def acl_entries(written: tuple[NetworkAclEntry, ...]) -> tuple[AclEntry, ...]:
    """Sorted by rule number, then AWS's `*` entry: deny everything."""
    entries = sorted(written, key=lambda e: e.rule_number)
    made = tuple(AclEntry(e.rule_number, rule_match(e.protocol, e.from_port, e.to_port), e.cidr, e.action) for e in entries)
    return made + (AclEntry(None, ALL, EVERYWHERE, "deny"),)


DEFAULT_ENTRIES = (AclEntry(100, ALL, EVERYWHERE, "allow"), AclEntry(None, ALL, EVERYWHERE, "deny"))


def subnet_acls(vpc: Vpc, bridges: dict[str, str]) -> dict[str, SubnetAcl]:
    """subnet id -> the subnet's network ACL, at its bridge (`bridges`: subnet -> bridge)."""
    result = {}
    for subnet in vpc.subnets.values():
        name = subnet.network_acl or names.DEFAULT_NETWORK_ACL
        acl = vpc.network_acls.get(name)  # the default ACL is declared once its entries are changed (EC2 API)
        ingress, egress = (acl_entries(acl.ingress), acl_entries(acl.egress)) if acl else (DEFAULT_ENTRIES, DEFAULT_ENTRIES)
        sid = names.subnet_id(vpc.name, subnet.name)
        acl_id = names.network_acl_id(vpc.name, name)
        result[sid] = SubnetAcl(vpc.name, subnet.name, sid, subnet.cidr, acl_id, name, bridges[subnet.name], ingress, egress)
    return result
