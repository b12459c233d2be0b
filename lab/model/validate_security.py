"""Checks of security groups and network ACLs: references, rule numbers, limits."""

from __future__ import annotations

from collections.abc import Iterator

from lab.errors import Problem
from lab.model.checks import choices, error
from lab.model.topology import Topology, Vpc


def check_group_refs(t: Topology, vpc: Vpc, groups, owner: str, line: int) -> Iterator[Problem]:
    for group in groups:
        if group not in vpc.security_groups:
            yield error(
                t,
                line,
                f"{owner}: security group '{group}' does not exist in vpc {vpc.name}{choices(vpc.security_groups)}",
                "InvalidGroup.NotFound",
            )


def check_security_groups(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    for filters, kind in ((vpc.security_groups, "security group"), (vpc.network_acls, "network acl")):
        for item in filters.values():  # say so, rather than let a learner believe they were applied
            yield Problem(
                t.file,
                item.line,
                f"{kind} {item.name} is checked but not yet enforced on "
                "packets or in explain: traffic flows as if it allowed everything",
                "vpclab.NotEnforced",
                "warning",
            )
    for sg in vpc.security_groups.values():
        for rule in sg.ingress + sg.egress:
            if isinstance(rule.peer, str) and rule.peer not in vpc.security_groups:
                yield error(
                    t,
                    rule.line,
                    f"security group {sg.name}: rule references security group "
                    f"'{rule.peer}', which does not exist in vpc {vpc.name}",
                    "InvalidGroup.NotFound",
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
