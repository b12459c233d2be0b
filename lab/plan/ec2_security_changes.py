"""Security group rules and network ACL entries changed through the EC2 API:
AuthorizeSecurityGroupIngress/Egress, RevokeSecurityGroupIngress/Egress
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html and
the pages of the others), CreateNetworkAclEntry, ReplaceNetworkAclEntry, DeleteNetworkAclEntry
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNetworkAclEntry.html, ...).

Rules are IpPermissions (or the older top-level IpProtocol/FromPort/ToPort/CidrIp); each peer of a
permission (IpRanges, PrefixListIds, UserIdGroupPairs) is one rule of the model, changed by
lab.plan.security_changes.with_rule. A call is all or nothing, as in a VPC that is not a default
VPC: one rule already there is InvalidPermission.Duplicate, one missing is InvalidPermission.NotFound
("For a non-default VPC, if the values you specify do not match the existing rule's values, an
InvalidPermission.NotFound client error is returned, and no rules are revoked":
API_RevokeSecurityGroupIngress.html). Security group rule ids (sgr-) are not modelled: a call naming
one finds none (InvalidSecurityGroupRuleId.NotFound).

A network ACL's entries are the model's (lab.model.topology.NetworkAclEntry); the VPC's default ACL,
which the topology leaves implicit (rule 100 allows all, both ways), is declared with those entries
the first time a call changes it. The IPv6 members are refused: vpclab emulates IPv4 only.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from lab.model.ec2_errors import Ec2Error
from lab.model.topology import NetworkAcl, NetworkAclEntry, SecurityGroupRule, Topology, Vpc
from lab.plan import ec2_ids, names
from lab.plan.ec2_change_common import with_part
from lab.plan.ec2_view import View
from lab.plan.security_changes import Permission, PermissionConflict, with_rule

PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp", "-1": "-1", "all": "-1"}
EVERYWHERE = ipaddress.IPv4Network("0.0.0.0/0")
DEFAULT_ACL_ENTRY = NetworkAclEntry(100, "-1", None, None, EVERYWHERE, "allow")  # each way


def protocol_of(given: object) -> str:
    protocol = PROTOCOLS.get(str(given).lower())
    if protocol is None:
        raise Ec2Error(
            "InvalidParameterValue",
            f"Invalid value '{given}' for IP protocol: vpclab emulates tcp (6), udp (17), icmp (1) and -1 (all)",
        )
    return protocol


def ports_of(protocol: str, low: object, high: object) -> tuple[int | None, int | None]:
    """FromPort/ToPort as the model keeps them: TCP/UDP a range (-1: all ports); ICMP the type and
    code (-1 or absent: all); all traffic none."""
    if protocol == "-1":
        return None, None
    if protocol == "icmp":
        kind, code = (None if v in (None, -1) else v for v in (low, high))
        if isinstance(kind, int | None) and isinstance(code, int | None) and icmp_value(kind) and icmp_value(code):
            if kind is not None or code is None:
                return kind, code
        raise Ec2Error(
            "InvalidParameterValue", f"Invalid ICMP type {low} and code {high}: each -1 (all) or 0-255, a code with a type"
        )
    if low is None or high is None:
        raise Ec2Error("MissingParameter", f"The request must give both FromPort and ToPort for protocol {protocol}")
    if (low, high) == (-1, -1):
        return 0, 65535
    if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high <= 65535):
        raise Ec2Error("InvalidParameterValue", f"Invalid port range {low}-{high}: ports are 0-65535, FromPort not above ToPort")
    return low, high


def icmp_value(value: object) -> bool:
    return value is None or (isinstance(value, int) and 0 <= value <= 255)


def cidr_of(given: object, code: str = "InvalidPermission.Malformed") -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(str(given))
    except ValueError:
        raise Ec2Error(code, f"Invalid IPv4 CIDR block '{given}': give it in CIDR notation, e.g. 203.0.113.0/24") from None


def permissions_of(params: dict) -> list[dict]:
    """IpPermissions, or the one permission of the older top-level members."""
    found = list(params.get("IpPermissions") or [])
    if params.get("IpProtocol") is not None or params.get("CidrIp") is not None:
        top = {k: params[k] for k in ("IpProtocol", "FromPort", "ToPort") if params.get(k) is not None}
        found.append(top | ({"IpRanges": [{"CidrIp": params["CidrIp"]}]} if params.get("CidrIp") is not None else {}))
    if params.get("SourceSecurityGroupName") or params.get("SourceSecurityGroupOwnerId"):
        raise Ec2Error(
            "InvalidParameterCombination",
            "SourceSecurityGroupName is for a default VPC: give the source group's id in IpPermissions UserIdGroupPairs",
        )
    if not found:
        raise Ec2Error("MissingParameter", "The request must contain the parameter ipPermissions")
    return found


def rules_of(view: View, vpc: Vpc, permission: dict) -> list[SecurityGroupRule]:
    """One model rule per peer of an IpPermission."""
    protocol = protocol_of(permission.get("IpProtocol"))
    low, high = ports_of(protocol, permission.get("FromPort"), permission.get("ToPort"))
    if permission.get("Ipv6Ranges"):
        raise Ec2Error("InvalidParameterValue", "Ipv6Ranges: vpclab emulates IPv4 only")
    peers: list = [cidr_of(r.get("CidrIp")) for r in permission.get("IpRanges") or []]
    peers += [ec2_ids.prefix_list(view, p.get("PrefixListId")) for p in permission.get("PrefixListIds") or []]
    peers += [group_peer(view, vpc, p) for p in permission.get("UserIdGroupPairs") or []]
    if not peers:
        raise Ec2Error("MissingParameter", "An IpPermission needs IpRanges, PrefixListIds or UserIdGroupPairs")
    return [SecurityGroupRule(protocol, low, high, peer) for peer in peers]


def group_peer(view: View, vpc: Vpc, pair: dict) -> str:
    """A UserIdGroupPair's group, by GroupId (or GroupName), in the rule's own VPC."""
    if pair.get("GroupId") is None and pair.get("GroupName") is not None:
        name = pair["GroupName"]
        if name != names.DEFAULT_SECURITY_GROUP and name not in vpc.security_groups:
            raise Ec2Error(
                "InvalidGroup.NotFound", f"The security group '{name}' does not exist in VPC '{view.plan.vpc_id(vpc.name)}'"
            )
        return str(name)
    return ec2_ids.group_in(view, vpc, pair.get("GroupId"))


def security_group_change(direction: str, authorize: bool):
    def handler(view: View, params: dict) -> tuple[Topology, dict]:
        if params.get("GroupId") is None and params.get("GroupName") is not None:
            raise Ec2Error(
                "VPCIdNotSpecified", "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC."
            )
        vpc, group = ec2_ids.security_group(view, params.get("GroupId"))
        for rule_id in params.get("SecurityGroupRuleIds") or []:
            raise Ec2Error("InvalidSecurityGroupRuleId.NotFound", f"The security group rule ID '{rule_id}' does not exist")
        changed = view.topology
        for permission in permissions_of(params):
            for rule in rules_of(view, vpc, permission):
                try:
                    changed = with_rule(changed, Permission(vpc.name, group, direction, rule), authorize)
                except PermissionConflict as exc:
                    raise conflict(exc, vpc, rule) from None
        return changed, {"Return": True}

    return handler


def conflict(exc: PermissionConflict, vpc: Vpc, rule: SecurityGroupRule) -> Ec2Error:
    """EC2's texts: InvalidPermission.NotFound's, and the rule as InvalidPermission.Duplicate names it
    (`the specified rule "peer: 10.0.0.0/16, TCP, from port: 443, to port: 443, ALLOW" already
    exists`, `"peer: 0.0.0.0/0, ALL, ALLOW"`, as quoted by many third-party logs; a group peer by its
    sg- id)."""
    if exc.code == "InvalidPermission.NotFound":
        return Ec2Error(exc.code, "The specified rule does not exist in this security group.")
    peer = names.security_group_id(vpc.name, rule.peer) if isinstance(rule.peer, str) else str(rule.peer)
    low, high = (-1 if p is None else p for p in (rule.from_port, rule.to_port))
    ports = "" if rule.protocol == "-1" else f", from port: {low}, to port: {high}"
    protocol = "ALL" if rule.protocol == "-1" else rule.protocol.upper()
    return Ec2Error(exc.code, f'the specified rule "peer: {peer}, {protocol}{ports}, ALLOW" already exists')


def acl_of(view: View, params: dict) -> tuple[Vpc, NetworkAcl]:
    """The ACL named, the default one declared with AWS's entries if the topology left it implicit."""
    vpc, name = ec2_ids.network_acl(view, params.get("NetworkAclId"))
    if name in vpc.network_acls:
        return vpc, vpc.network_acls[name]
    return vpc, NetworkAcl(name, (DEFAULT_ACL_ENTRY,), (DEFAULT_ACL_ENTRY,))


def entry_of(params: dict) -> NetworkAclEntry:
    """The entry an entry call describes (CreateNetworkAclEntry's members)."""
    number = rule_number(params)
    protocol = protocol_of(params.get("Protocol"))
    if params.get("Ipv6CidrBlock"):
        raise Ec2Error("InvalidParameterValue", "Ipv6CidrBlock: vpclab emulates IPv4 only")
    if params.get("CidrBlock") is None:
        raise Ec2Error("MissingParameter", "The request must contain the parameter cidrBlock or ipv6CidrBlock")
    if params.get("RuleAction") not in ("allow", "deny"):
        raise Ec2Error("InvalidParameterValue", f"Invalid value '{params.get('RuleAction')}' for ruleAction: allow or deny")
    if protocol == "icmp":
        icmp = params.get("IcmpTypeCode") or {}
        if not icmp:
            raise Ec2Error("MissingParameter", "The request must contain the parameter icmpTypeCode for protocol icmp")
        low, high = ports_of(protocol, icmp.get("Type"), icmp.get("Code"))
    elif protocol in ("tcp", "udp"):
        ports = params.get("PortRange") or {}
        if not ports:
            raise Ec2Error("MissingParameter", f"The request must contain the parameter portRange for protocol {protocol}")
        low, high = ports_of(protocol, ports.get("From"), ports.get("To"))
    else:
        low = high = None
    return NetworkAclEntry(
        number, protocol, low, high, cidr_of(params["CidrBlock"], "InvalidParameterValue"), params["RuleAction"]
    )


def rule_number(params: dict) -> int:
    number = params.get("RuleNumber")
    if not isinstance(number, int) or not 1 <= number <= 32766:
        raise Ec2Error("InvalidParameterValue", f"Invalid value '{number}' for ruleNumber: a rule number is 1 to 32766")
    return number


def acl_entry_change(kind: str):
    """create (the number must be free), replace (it must be there) or delete an entry."""

    def handler(view: View, params: dict) -> tuple[Topology, dict]:
        vpc, acl = acl_of(view, params)
        egress = bool(params.get("Egress"))
        entries = acl.egress if egress else acl.ingress
        number = rule_number(params)
        present = any(e.rule_number == number for e in entries)
        if kind == "create" and present:
            raise Ec2Error("NetworkAclEntryAlreadyExists", f"The network acl entry identified by {number} already exists.")
        if kind != "create" and not present:
            direction = "egress" if egress else "ingress"
            raise Ec2Error(
                "InvalidNetworkAclEntry.NotFound", f"The network acl entry identified by {number} ({direction}) does not exist."
            )
        kept = tuple(e for e in entries if e.rule_number != number)
        changed = kept if kind == "delete" else kept + (entry_of(params),)
        new_acl = dataclasses.replace(acl, egress=changed) if egress else dataclasses.replace(acl, ingress=changed)
        return with_part(view.topology, vpc, "network_acls", acl.name, new_acl), {}

    return handler


HANDLERS = {
    "AuthorizeSecurityGroupIngress": security_group_change("ingress", True),
    "AuthorizeSecurityGroupEgress": security_group_change("egress", True),
    "RevokeSecurityGroupIngress": security_group_change("ingress", False),
    "RevokeSecurityGroupEgress": security_group_change("egress", False),
    "CreateNetworkAclEntry": acl_entry_change("create"),
    "ReplaceNetworkAclEntry": acl_entry_change("replace"),
    "DeleteNetworkAclEntry": acl_entry_change("delete"),
}
