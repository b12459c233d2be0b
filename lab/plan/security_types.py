"""Security groups and network ACLs as the plan holds them, normalized for matching, and the one
evaluation both the packet filters' tests and `explain` use.

A security group rule's peer is expanded to CIDRs (a prefix list to its CIDRs, a referenced group to
its members' private IPs /32), its protocol to an IP protocol number (None: all), its ports to a
range (TCP/UDP) or an ICMP type and code (None: all), as AWS matches them:
https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html. Security groups only
allow; an ENI's rules are the union of its groups' rules, all evaluated, and what none allows is
denied. A network ACL's entries are evaluated lowest rule number first and the first match decides;
the last entry is AWS's `*` deny: https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Net = ipaddress.IPv4Network
Addr = ipaddress.IPv4Address

PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "-1": None}
PROTOCOL_NAMES = {6: "tcp", 17: "udp", 1: "icmp"}
INGRESS, EGRESS = "ingress", "egress"


@dataclass(frozen=True)
class Match:
    """What a rule matches besides its peer: protocol, then TCP/UDP ports or ICMP type and code."""

    protocol: int | None  # IP protocol number; None: all traffic
    ports: tuple[int, int] | None = None  # TCP/UDP destination port range; None: all (or not TCP/UDP)
    icmp_type: int | None = None  # ICMP: None, all types
    icmp_code: int | None = None  # ICMP: None, all codes

    def matches(self, flow: Flow) -> bool:
        if self.protocol is None:
            return True
        if flow.protocol != self.protocol:
            return False
        if self.ports is not None:
            return flow.port is not None and self.ports[0] <= flow.port <= self.ports[1]
        if self.protocol == 1:
            return (self.icmp_type is None or self.icmp_type == flow.icmp_type) and (
                self.icmp_code is None or self.icmp_code == flow.icmp_code
            )
        return True

    def text(self) -> str:
        """e.g. 'tcp 443', 'udp 1024-65535', 'icmp type 8', 'all traffic'."""
        if self.protocol is None:
            return "all traffic"
        name = PROTOCOL_NAMES.get(self.protocol, str(self.protocol))
        if self.ports is not None:
            low, high = self.ports
            return f"{name} {low}" if low == high else f"{name} {low}-{high}"
        if self.icmp_type is not None:
            code = f" code {self.icmp_code}" if self.icmp_code is not None else ""
            return f"{name} type {self.icmp_type}{code}"
        return f"{name} (all)" if self.protocol != 1 else "icmp (all types)"


@dataclass(frozen=True)
class Flow:
    """One packet as a filter sees it. `port` is the TCP/UDP destination port (None otherwise)."""

    protocol: int
    source: Addr
    destination: Addr
    port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None


@dataclass(frozen=True)
class SgRule:
    """One allow rule of one security group, in one direction, with its peer expanded."""

    group_id: str  # sg-...
    group: str  # the group's name in the topology ('default': the VPC's default group)
    direction: str  # 'ingress' (peer = source) or 'egress' (peer = destination)
    index: int  # its position among the group's rules in that direction, from 1, as written
    match: Match
    peer: str  # as written: a CIDR, a pl- id or an sg- id
    peers: tuple[Net, ...]  # the peer as CIDRs (empty: a referenced group with no members)

    def matches(self, flow: Flow) -> bool:
        peer = flow.source if self.direction == INGRESS else flow.destination
        return self.match.matches(flow) and any(peer in net for net in self.peers)

    @property
    def by_group(self) -> bool:
        """Whether its peer is a security group (matched by membership, not by address)."""
        return self.peer.startswith("sg-")

    def text(self) -> str:
        """The rule as a message names it: 'sg-0ab... (web) ingress rule 1: tcp 443 from 10.0.2.0/24'."""
        way = "from" if self.direction == INGRESS else "to"
        return f"{self.group_id} ({self.group}) {self.direction} rule {self.index}: {self.match.text()} {way} {self.peer}"


@dataclass(frozen=True)
class EniSecurity:
    """The security groups of one ENI (an instance's, an interface endpoint's, an NLB node's), and the rules they
    allow, in and out. NAT gateways have no security groups and no entry."""

    eni: str  # eni-...
    node: str
    vpc: str
    subnet: str
    address: Addr  # its private IP: the filters key the ENI's rules by it
    groups: tuple[str, ...]  # sg- ids, in the order the topology gives them
    group_names: tuple[str, ...]
    ingress: tuple[SgRule, ...]
    egress: tuple[SgRule, ...]
    checked: bool = True  # its bridge port has the source/destination check (an NLB node's has not)
    nlb_mark: int | None = None  # an NLB node keeping client IPs: the router's mark of what it forwards

    def rules(self, direction: str) -> tuple[SgRule, ...]:
        return self.ingress if direction == INGRESS else self.egress

    def allowing_privatelink(self, flow: Flow) -> SgRule | None:
        """An NLB's first inbound rule that allows PrivateLink traffic `flow` (from a consumer's
        client, a member of none of the provider's groups): rules naming a group never match it."""
        return next((r for r in self.ingress if not r.by_group and r.matches(flow)), None)

    def allowing(self, direction: str, flow: Flow) -> SgRule | None:
        """The first rule that allows `flow` in `direction` (ingress: arriving at this ENI), or None:
        the implicit deny (ENI_SG_RULES_MISMATCH). Connection state is not considered here: a reply
        to an allowed flow is always allowed (security groups are stateful)."""
        return next((r for r in self.rules(direction) if r.matches(flow)), None)


@dataclass(frozen=True)
class AclEntry:
    """One numbered entry of a network ACL; `rule_number` None is AWS's final `*` (deny all)."""

    rule_number: int | None
    match: Match
    cidr: Net
    action: str  # 'allow' or 'deny'

    @property
    def number(self) -> str:
        return "*" if self.rule_number is None else str(self.rule_number)

    def matches(self, flow: Flow, direction: str) -> bool:
        peer = flow.source if direction == INGRESS else flow.destination
        return peer in self.cidr and self.match.matches(flow)

    def text(self) -> str:
        return f"rule {self.number}: {self.action} {self.match.text()} {self.cidr}"


@dataclass(frozen=True)
class SubnetAcl:
    """The network ACL of one subnet, at the subnet's bridge in the VPC router. Entries are sorted by
    rule number and end with `*`; ingress is what enters the subnet, egress what leaves it."""

    vpc: str
    subnet: str
    subnet_id: str
    cidr: Net
    acl_id: str  # acl-...
    acl: str  # the ACL's name in the topology, or names.DEFAULT_NETWORK_ACL
    bridge: str  # the subnet's bridge in the VPC router
    ingress: tuple[AclEntry, ...]
    egress: tuple[AclEntry, ...]

    def entries(self, direction: str) -> tuple[AclEntry, ...]:
        return self.ingress if direction == INGRESS else self.egress

    def deciding(self, direction: str, flow: Flow) -> AclEntry:
        """The entry that decides `flow` crossing this subnet's boundary in `direction`: the
        lowest-numbered match; the `*` entry matches everything, so there always is one."""
        return next(e for e in self.entries(direction) if e.matches(flow, direction))

    def allows(self, direction: str, flow: Flow) -> bool:
        return self.deciding(direction, flow).action == "allow"
