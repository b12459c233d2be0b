"""Checks of security groups and network ACLs: references, duplicates, rule numbers, quotas.

Quotas are AWS's defaults (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html):
60 inbound and 60 outbound rules per security group, 5 security groups per network interface, 20
entries per network ACL and direction; a prefix list counts as its number of entries. The codes are
the EC2 API's (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
"""

from __future__ import annotations

from collections.abc import Iterator

from lab.errors import Problem
from lab.model import regions
from lab.model.checks import choices, error
from lab.model.topology import PrefixListRef, SecurityGroupRule, Topology, Vpc

DEFAULT_GROUP = "default"  # every VPC has it, declared or not (lab.plan.security)
RULES_PER_GROUP = 60  # per direction
GROUPS_PER_INTERFACE = 5
ENTRIES_PER_ACL = 20  # per direction


def check_group_refs(t: Topology, vpc: Vpc, groups, owner: str, line: int) -> Iterator[Problem]:
    known = [DEFAULT_GROUP, *(g for g in vpc.security_groups if g != DEFAULT_GROUP)]
    for group in groups:
        if group not in known:
            yield error(
                t,
                line,
                f"{owner}: security group '{group}' does not exist in vpc {vpc.name}{choices(known)}",
                "InvalidGroup.NotFound",
            )
    if len(groups) > GROUPS_PER_INTERFACE:
        yield error(
            t,
            line,
            f"{owner}: {len(groups)} security groups; a network interface takes at most {GROUPS_PER_INTERFACE}",
            "SecurityGroupsPerInterfaceLimitExceeded",
        )


def rule_weight(rule: SecurityGroupRule) -> int:
    """How many rules a rule counts as: a prefix list counts as its entries."""
    if isinstance(rule.peer, PrefixListRef):
        return len(regions.region(rule.peer.region).services[rule.peer.service].ranges)
    return 1


def check_security_groups(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    for sg in vpc.security_groups.values():
        for direction, rules in (("ingress", sg.ingress), ("egress", sg.egress)):
            seen: dict[tuple, int] = {}
            for rule in rules:
                if isinstance(rule.peer, str) and rule.peer not in vpc.security_groups and rule.peer != DEFAULT_GROUP:
                    yield error(
                        t,
                        rule.line,
                        f"security group {sg.name}: rule references security group "
                        f"'{rule.peer}', which does not exist in vpc {vpc.name}",
                        "InvalidGroup.NotFound",
                    )
                key = (rule.protocol, rule.from_port, rule.to_port, str(rule.peer))
                if key in seen:
                    yield error(
                        t,
                        rule.line,
                        f"security group {sg.name}: this {direction} rule is the same as the one at line {seen[key]}; remove one",
                        "InvalidPermission.Duplicate",
                    )
                seen.setdefault(key, rule.line)
            count = sum(rule_weight(r) for r in rules)
            if count > RULES_PER_GROUP:
                yield error(
                    t,
                    sg.line,
                    f"security group {sg.name}: {count} {direction} rules (a prefix list counts as its entries); "
                    f"a group takes at most {RULES_PER_GROUP} per direction",
                    "RulesPerSecurityGroupLimitExceeded",
                )


def check_network_acls(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    for acl in vpc.network_acls.values():
        for direction, entries in (("ingress", acl.ingress), ("egress", acl.egress)):
            seen: dict[int, int] = {}
            for entry in entries:
                if entry.rule_number in seen:
                    yield error(
                        t,
                        entry.line,
                        f"network acl {acl.name}: {direction} rule number "
                        f"{entry.rule_number} already exists (line {seen[entry.rule_number]})",
                        "NetworkAclEntryAlreadyExists",
                    )
                seen.setdefault(entry.rule_number, entry.line)
            if len(entries) > ENTRIES_PER_ACL:
                yield error(
                    t,
                    acl.line,
                    f"network acl {acl.name}: {len(entries)} {direction} entries; "
                    f"an ACL takes at most {ENTRIES_PER_ACL} per direction",
                    "NetworkAclEntryLimitExceeded",
                )
