"""Changing a security group of a running lab, as `aws ec2 authorize-security-group-ingress` (and
-egress, and their revoke-) do: a change is a new model and a new plan; the VPC router's security
tables are swapped in one nftables transaction (lab.plan.difference.tables_swap), its conntrack
table is kept, so connections already open stay open, as AWS's tracked connections do
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html).

A change is written as the CLI's options: `GROUP --protocol tcp --port 443 --cidr 10.0.0.0/16`, or
`--source-group NAME` instead of `--cidr`; `--port` takes `443`, `1024-65535` or `-1` (all), and is
left out for `--protocol all`. AWS's codes: the same rule twice is InvalidPermission.Duplicate,
revoking a rule the group does not have is InvalidPermission.NotFound.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import NamedTuple

from lab.errors import BadArgument, StateConflict, UnknownName
from lab.model.topology import SecurityGroupRule, Topology
from lab.model.validate import validate
from lab.plan import names
from lab.plan.security import default_group

ACTIONS = {
    "authorize-ingress": ("ingress", True),
    "revoke-ingress": ("ingress", False),
    "authorize-egress": ("egress", True),
    "revoke-egress": ("egress", False),
}
PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "all": "-1", "-1": "-1", "6": "tcp", "17": "udp", "1": "icmp"}


class PermissionConflict(StateConflict):
    """A rule authorized twice, or revoked though absent; `code` is AWS's."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


class Permission(NamedTuple):
    vpc: str
    group: str
    direction: str
    rule: SecurityGroupRule


def parse_permission(t: Topology, action: str, text: str) -> Permission:
    """`GROUP --protocol P [--port N|N-M|-1] (--cidr CIDR | --source-group NAME)`; GROUP may be
    `VPC/GROUP` when two VPCs use the name."""
    words = text.split()
    if not words or len(words) % 2 != 1:
        raise BadArgument(f"{action} takes 'GROUP --protocol P [--port N] --cidr CIDR', not '{text}'")
    options = dict(zip(words[1::2], words[2::2]))
    unknown = set(options) - {"--protocol", "--port", "--cidr", "--source-group"}
    if unknown:
        raise BadArgument(f"{action}: unknown option {sorted(unknown)[0]} (options: --protocol, --port, --cidr, --source-group)")
    vpc, group = find_group(t, words[0])
    protocol = PROTOCOLS.get(options.get("--protocol", "").lower())
    if protocol is None:
        raise BadArgument(f"{action}: --protocol must be tcp, udp, icmp or all, not '{options.get('--protocol', '')}'")
    low, high = ports(action, protocol, options.get("--port"))
    if ("--cidr" in options) == ("--source-group" in options):
        raise BadArgument(f"{action}: give exactly one of --cidr and --source-group")
    peer: ipaddress.IPv4Network | str
    if "--cidr" in options:
        try:
            peer = ipaddress.IPv4Network(options["--cidr"])
        except ValueError:
            raise BadArgument(f"{action}: --cidr {options['--cidr']} is not a valid IPv4 CIDR block") from None
    else:
        peer = find_group(t, f"{vpc}/{options['--source-group']}")[1]
    return Permission(vpc, group, ACTIONS[action][0], SecurityGroupRule(protocol, low, high, peer))


def ports(action: str, protocol: str, value: str | None) -> tuple[int | None, int | None]:
    """TCP/UDP: a port or a range (`-1`: all); ICMP: `-1` or none (all types); all: none."""
    if value in (None, "-1"):
        if protocol in ("tcp", "udp"):
            return (0, 65535) if value == "-1" else _missing(action)
        return None, None
    if protocol not in ("tcp", "udp"):
        raise BadArgument(f"{action}: --port applies to tcp and udp only")
    low, _, high = value.partition("-")
    if not low.isdigit() or not (high or low).isdigit() or not int(low) <= int(high or low) <= 65535:
        raise BadArgument(f"{action}: --port must be a port, a range like 1024-65535, or -1, not '{value}'")
    return int(low), int(high or low)


def _missing(action: str) -> tuple[int, int]:
    raise BadArgument(f"{action}: tcp and udp need --port (a port, a range, or -1 for all)")


def find_group(t: Topology, name: str) -> tuple[str, str]:
    """(vpc, group) for a group name (the VPC's `default` included), or 'vpc/group'."""
    vpc_name, _, group = name.rpartition("/")
    found = [
        (v.name, group)
        for v in t.vpcs.values()
        if vpc_name in ("", v.name) and (group in v.security_groups or group == names.DEFAULT_SECURITY_GROUP)
    ]
    if len(found) != 1:
        known = ", ".join(f"{v.name}/{g}" for v in t.vpcs.values() for g in v.security_groups) or "none"
        raise UnknownName(
            f"security group {name}: " + ("name it as VPC/GROUP" if found else "no such group") + f" (groups: {known})"
        )
    return found[0]


def change_permission(t: Topology, action: str, text: str) -> Topology:
    """The topology with the rule `text` authorized in (or revoked from) its group."""
    vpc_name, group, direction, rule = parse_permission(t, action, text)
    result = with_rule(t, Permission(vpc_name, group, direction, rule), ACTIONS[action][1])
    validate(result)
    return result


def with_rule(t: Topology, permission: Permission, authorize: bool) -> Topology:
    """The topology with one rule authorized in (or revoked from) its group, unvalidated (the EC2
    API's calls change several rules at once: lab.plan.ec2_security_changes)."""
    vpc_name, group, direction, rule = permission
    vpc = t.vpcs[vpc_name]
    sg = vpc.security_groups.get(group) or default_group()
    rules = sg.ingress if direction == "ingress" else sg.egress
    same = [r for r in rules if same_rule(r, rule)]
    if authorize and same:
        raise PermissionConflict(f"security group {group} already has this {direction} rule", "InvalidPermission.Duplicate")
    if not authorize and not same:
        raise PermissionConflict(f"security group {group} has no such {direction} rule", "InvalidPermission.NotFound")
    changed = rules + (rule,) if authorize else tuple(r for r in rules if r not in same)
    if direction == "ingress":
        new_sg = dataclasses.replace(sg, ingress=changed)
    else:
        new_sg = dataclasses.replace(sg, egress=changed)
    vpcs = dict(t.vpcs) | {vpc_name: dataclasses.replace(vpc, security_groups=dict(vpc.security_groups) | {group: new_sg})}
    return dataclasses.replace(t, vpcs=vpcs)


def same_rule(a: SecurityGroupRule, b: SecurityGroupRule) -> bool:
    return (a.protocol, a.from_port, a.to_port, str(a.peer)) == (b.protocol, b.from_port, b.to_port, str(b.peer))
