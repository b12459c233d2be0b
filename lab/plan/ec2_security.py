"""Security groups and network ACLs as describe-security-groups and describe-network-acls show them
(botocore's SecurityGroup, IpPermission, NetworkAcl, NetworkAclEntry), each VPC's default group and
default ACL included, as EC2 creates them with the VPC
(https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html,
https://docs.aws.amazon.com/vpc/latest/userguide/default-network-acl.html). Ids from lab.plan.names."""

from __future__ import annotations

from collections.abc import Iterator

from lab.model.topology import NetworkAclEntry, PrefixListRef, SecurityGroupRule, Vpc
from lab.plan import names
from lab.plan.ec2_view import Resource, View, common, flag, tags
from lab.plan.security import groups_of

PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17", "icmp": "1", "-1": "-1"}
LAST_RULE = 32767  # the `*` entry every ACL ends with: deny all (shown as rule 32767)


def security_groups(view: View) -> Iterator[Resource]:
    for vpc in view.vpcs():
        for name, group in groups_of(vpc).items():
            group_id = names.security_group_id(vpc.name, name)
            data = {
                "Description": group.description,
                "GroupName": name,
                "IpPermissions": [permission(vpc, r) for r in group.ingress],
                "OwnerId": vpc.account,
                "GroupId": group_id,
                "IpPermissionsEgress": [permission(vpc, r) for r in group.egress],
                "Tags": [] if name == names.DEFAULT_SECURITY_GROUP else tags(name),  # EC2 names its own by GroupName only
                "VpcId": view.plan.vpc_id(vpc.name),
                "SecurityGroupArn": f"arn:aws:ec2:{view.region}:{vpc.account}:security-group/{group_id}",
            }
            facets = common(view, vpc) | {
                "group-id": [group_id],
                "group-name": [name],
                "description": [group.description],
                "ip-permission.protocol": [r.protocol for r in group.ingress],
                "ip-permission.cidr": [str(r.peer) for r in group.ingress if not isinstance(r.peer, (str, PrefixListRef))],
                "ip-permission.group-id": [
                    names.security_group_id(vpc.name, r.peer) for r in group.ingress if isinstance(r.peer, str)
                ],
                "ip-permission.prefix-list-id": [r.peer.pl_id for r in group.ingress if isinstance(r.peer, PrefixListRef)],
                "egress.ip-permission.cidr": [str(r.peer) for r in group.egress if not isinstance(r.peer, (str, PrefixListRef))],
            }
            yield Resource(data, facets)


def permission(vpc: Vpc, rule: SecurityGroupRule) -> dict:
    """One rule as an IpPermission: all traffic has no ports; ICMP's type and code are its FromPort
    and ToPort, -1 for all; the peer a CIDR, a prefix list or a group of the account."""
    found: dict = {"IpProtocol": rule.protocol, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}
    if rule.protocol != "-1":
        found["FromPort"] = -1 if rule.from_port is None else rule.from_port
        found["ToPort"] = -1 if rule.to_port is None else rule.to_port
    if isinstance(rule.peer, PrefixListRef):
        found["PrefixListIds"] = [{"PrefixListId": rule.peer.pl_id}]
    elif isinstance(rule.peer, str):
        found["UserIdGroupPairs"] = [{"GroupId": names.security_group_id(vpc.name, rule.peer), "UserId": vpc.account}]
    else:
        found["IpRanges"] = [{"CidrIp": str(rule.peer)}]
    return found


def network_acls(view: View) -> Iterator[Resource]:
    for vpc in view.vpcs():
        default = vpc.network_acls.get(names.DEFAULT_NETWORK_ACL)  # declared once the EC2 API changed it
        acls: list[tuple[str, tuple[NetworkAclEntry, ...] | None, tuple[NetworkAclEntry, ...] | None]] = [
            (names.DEFAULT_NETWORK_ACL, default.ingress if default else None, default.egress if default else None)
        ]
        acls += [(a.name, a.ingress, a.egress) for a in vpc.network_acls.values() if a is not default]
        for name, ingress, egress in acls:
            yield network_acl(view, vpc, name, ingress, egress)


def network_acl(view: View, vpc: Vpc, name: str, ingress, egress) -> Resource:
    acl_id, default = names.network_acl_id(vpc.name, name), name == names.DEFAULT_NETWORK_ACL
    entries = entries_of(ingress, False) + entries_of(egress, True)
    subnets = [s.name for s in vpc.subnets.values() if (s.network_acl or names.DEFAULT_NETWORK_ACL) == name]
    associations = [
        {
            "NetworkAclAssociationId": names.network_acl_association_id(vpc.name, s),
            "NetworkAclId": acl_id,
            "SubnetId": names.subnet_id(vpc.name, s),
        }
        for s in subnets
    ]
    data = {
        "Associations": associations,
        "Entries": entries,
        "IsDefault": default,
        "NetworkAclId": acl_id,
        "Tags": [] if default else tags(name),
        "VpcId": view.plan.vpc_id(vpc.name),
        "OwnerId": vpc.account,
    }
    facets = common(view, vpc) | {
        "network-acl-id": [acl_id],
        "default": flag(default),
        "association.subnet-id": [a["SubnetId"] for a in associations],
        "association.association-id": [a["NetworkAclAssociationId"] for a in associations],
        "entry.rule-number": [str(e["RuleNumber"]) for e in entries],
        "entry.cidr": [e["CidrBlock"] for e in entries],
        "entry.rule-action": [e["RuleAction"] for e in entries],
        "entry.egress": [flag(e["Egress"])[0] for e in entries],
    }
    return Resource(data, facets)


def entries_of(written: tuple[NetworkAclEntry, ...] | None, egress: bool) -> list[dict]:
    """A direction's entries in rule order, then the `*` deny; None: the default ACL's (100 allow all)."""
    if written is None:
        made = [{"CidrBlock": "0.0.0.0/0", "Egress": egress, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 100}]
    else:
        made = [entry(e, egress) for e in sorted(written, key=lambda e: e.rule_number)]
    return made + [{"CidrBlock": "0.0.0.0/0", "Egress": egress, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": LAST_RULE}]


def entry(e: NetworkAclEntry, egress: bool) -> dict:
    found = {
        "CidrBlock": str(e.cidr),
        "Egress": egress,
        "Protocol": PROTOCOL_NUMBERS.get(e.protocol, e.protocol),
        "RuleAction": e.action,
        "RuleNumber": e.rule_number,
    }
    if e.protocol == "icmp":
        found["IcmpTypeCode"] = {
            "Code": -1 if e.to_port is None else e.to_port,
            "Type": -1 if e.from_port is None else e.from_port,
        }
    elif e.protocol in ("tcp", "udp") and e.from_port is not None:
        found["PortRange"] = {"From": e.from_port, "To": e.to_port if e.to_port is not None else e.from_port}
    return found
