"""Security groups and network ACLs on explain's walk, and the reply's way back.

The walk (lab.analysis.explain) asks here wherever AWS filters: a security group when a packet leaves
an ENI (egress) or arrives at one (ingress); a network ACL when it leaves a subnet (egress) or enters
one (ingress), never between two addresses of one subnet
(https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html). Both decide with the plan's
data and evaluation (lab.plan.security_types), from which the packet filters are built too: the plan
is the one source, nothing here reads a rule from the topology.

Security groups are stateful: the reply to an allowed request passes, whatever their rules
(https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html). Network ACLs are not:
the reply crosses every subnet boundary the request crossed, the other way, and each ACL judges it
again, its destination port being the client's ephemeral port, so an ACL without a rule for those
ports breaks the connection although the request got through.

AWS drops a denied packet silently: the client times out. The explanation codes are Reachability
Analyzer's (ENI_SG_RULES_MISMATCH, SUBNET_ACL_RESTRICTION), with its Direction (ingress, egress).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from lab.plan import names
from lab.plan.security_nft import sg_drop_rule
from lab.plan.security_types import EGRESS, INGRESS, AclEntry, EniSecurity, Flow, SubnetAcl
from lab.plan.types import Plan
from lab.results import Hop, StopReason, Translation

Addr = ipaddress.IPv4Address
TCP = 6
SG_CODE, ACL_CODE = "ENI_SG_RULES_MISMATCH", "SUBNET_ACL_RESTRICTION"
# The source ports a lab client picks: Linux's default net.ipv4.ip_local_port_range, which no lab node
# changes (AWS's NACL page lists 32768-61000 for Linux kernels); the replies' destination ports.
EPHEMERAL_PORTS = (32768, 60999)
NAT_GATEWAY_PORTS = (1024, 65535)  # a NAT gateway's source ports (vpc-nat-gateway.html)
WAY = {INGRESS: "inbound", EGRESS: "outbound"}
OTHER = {INGRESS: EGRESS, EGRESS: INGRESS}


@dataclass(frozen=True)
class Packet:
    """A TCP packet of the connection where it is: its addresses, destination port, and the source
    ports it may carry (a range: a client picks one of its ephemeral ports, a NAT gateway one of its own)."""

    source: Addr
    destination: Addr
    port: int
    source_ports: tuple[int, int] = EPHEMERAL_PORTS

    def flow(self, port: int | None = None) -> Flow:
        return Flow(TCP, self.source, self.destination, self.port if port is None else port)

    def translated(self, source: Addr, source_ports: tuple[int, int]) -> Packet:
        return replace(self, source=source, source_ports=source_ports)

    def text(self) -> str:
        return f"tcp {self.source} -> {self.destination}:{self.port}"


@dataclass(frozen=True)
class Crossing:
    """A subnet boundary the request crossed at the path's hop `at` (a VPC router)."""

    acl: SubnetAcl
    direction: str
    packet: Packet
    at: int


class Filters:
    """The security groups and network ACLs one walk met, in order; what the reply will meet."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.crossings: list[Crossing] = []
        self.blocked: dict[int, StopReason] = {}  # path index -> why the reply dies there (no route back)

    def block(self, at: int, reason: StopReason) -> None:
        """The reply dies at the path's hop `at` before any ACL there judges it (the router drops
        what it has no route for first)."""
        self.blocked[at] = reason

    # -- security groups ------------------------------------------------------------------------
    def eni(self, node: str, direction: str, packet: Packet) -> tuple[str, StopReason | None]:
        """The security groups of `node`'s ENI on `packet` leaving it (egress) or arriving (ingress):
        (words for the hop's detail, why it is denied or None). A node without groups passes."""
        security = self.plan.eni_security(node)
        if security is None:
            return "", None
        rule = security.allowing(direction, packet.flow())
        if rule is not None:  # worth a word where the topology wrote the rules
            plain = security.group_names == (names.DEFAULT_SECURITY_GROUP,)
            return ("" if plain else f"{security.eni}: allowed {WAY[direction]} by {rule.text()}"), None
        return "", sg_denial(security, direction, packet)

    # -- network ACLs ---------------------------------------------------------------------------
    def cross(self, vpc: str, left: str | None, entered: str | None, packet: Packet, at: int) -> tuple[str, StopReason | None]:
        """The request leaves subnet `left` and enters subnet `entered` of `vpc` (None: from or to
        outside the VPC's subnets), at the path's hop `at`; the same subnet twice is no crossing."""
        if left == entered:
            return "", None
        details = []
        for subnet, direction in ((left, EGRESS), (entered, INGRESS)):
            if subnet is None:
                continue
            acl = self.plan.subnet_acl(vpc, subnet)
            entry = acl.deciding(direction, packet.flow())
            if entry.action != "allow":
                return "", acl_denial(acl, direction, entry, packet)
            self.crossings.append(Crossing(acl, direction, packet, at))
            details.append(acl_passed(acl, direction, entry))
        return "; ".join(d for d in details if d), None

    # -- the reply --------------------------------------------------------------------------------
    def reply(self, path: list[Hop]) -> tuple[list[Hop], StopReason | None]:
        """The reply's hops, from the destination back to the source, as far as it gets, and why it
        stops there: each boundary the request crossed is crossed again the other way, and judged
        with the client's port as the destination port; security groups let it through."""
        back: list[Hop] = []
        for at in range(len(path) - 1, -1, -1):
            if at in self.blocked:
                back.append(reversed_hop(path[at], ""))
                return back, self.blocked[at]
            details = []
            for crossing in reversed([c for c in self.crossings if c.at == at]):
                direction = OTHER[crossing.direction]
                denied = reply_denied(crossing.acl, direction, crossing.packet)
                if denied is not None:
                    back.append(reversed_hop(path[at], ""))
                    return back, denied
                details.append(acl_passed(crossing.acl, direction, None, crossing.packet))
            back.append(reversed_hop(path[at], "; ".join(d for d in details if d)))
        return back, None


def reversed_hop(hop: Hop, detail: str) -> Hop:
    """A request's hop as the reply crosses it: every translation undone."""
    undo = tuple(Translation("destination" if t.side == "source" else "source", t.after, t.before) for t in hop.translations)
    return Hop(hop.node, hop.kind, hop.aws_id, detail, undo)


def sg_denial(security: EniSecurity, direction: str, packet: Packet) -> StopReason:
    groups = ", ".join(f"{gid} ({name})" for gid, name in zip(security.groups, security.group_names))
    peer = f"from {packet.source}" if direction == INGRESS else f"to {packet.destination}"
    rules = security.rules(direction)
    listed = "; ".join(r.text() for r in rules[:4]) + ("; ..." if len(rules) > 4 else "") if rules else "none"
    return StopReason(
        SG_CODE,
        ", ".join(security.groups),
        None,
        f"no {WAY[direction]} rule of the security group{'s' if len(security.groups) > 1 else ''} {groups} of "
        f"{security.eni} ({security.node}) allows tcp port {packet.port} {peer}: security groups only allow, "
        f"and what none of their rules allows is dropped ({WAY[direction]} rules: {listed})",
        sg_drop_rule(security, direction),  # the words of the lab's drop counter
        direction=direction,
    )


def acl_denial(acl: SubnetAcl, direction: str, entry: AclEntry, packet: Packet) -> StopReason:
    peer = f"from {packet.source}" if direction == INGRESS else f"to {packet.destination}"
    verb = "entering" if direction == INGRESS else "leaving"
    return StopReason(
        ACL_CODE,
        acl.acl_id,
        None,
        f"{owner(acl)} denies {WAY[direction]} tcp port {packet.port} {peer} ({verb} subnet {acl.subnet}): "
        f"{decided_by(acl, direction, entry)}",
        acl_rule(acl, direction, entry),
        direction=direction,
    )


def reply_denied(acl: SubnetAcl, direction: str, request: Packet) -> StopReason | None:
    """The reply to `request` through `acl` in `direction`: every port of the client's range
    is tried (by the ranges the entries' ports cut it into); one denied is a stop."""
    low, high = request.source_ports
    denied = [
        (start, end, entry)
        for start, end in segments(acl.entries(direction), low, high)
        if (entry := acl.deciding(direction, reply_flow(request, start))).action != "allow"
    ]
    if not denied:
        return None
    start, end, entry = denied[0]
    ports = f"{start}-{end}" if start != end else str(start)
    whole = "" if (start, end) == (low, high) and len(denied) == 1 else f" (of its range {low}-{high})"
    verb = "entering" if direction == INGRESS else "leaving"
    peer = f"from {request.destination}" if direction == INGRESS else f"to {request.source}"
    return StopReason(
        ACL_CODE,
        acl.acl_id,
        None,
        f"the reply (tcp {request.destination}:{request.port} -> {request.source}) is dropped {verb} subnet {acl.subnet}: "
        f"{owner(acl)} denies {WAY[direction]} tcp {peer} ports {ports}{whole}: {decided_by(acl, direction, entry)}. "
        "Network ACLs are stateless: the reply needs its own rule for the client's ephemeral ports "
        f"({ports_assumed(request)})",
        acl_rule(acl, direction, entry),
        direction=direction,
    )


def acl_rule(acl: SubnetAcl, direction: str, entry: AclEntry) -> str:
    """The entry that decided, in the words of the lab's drop counter (lab.plan.security_nft)."""
    return f"{acl.acl_id} {direction} rule {entry.number}"


def reply_flow(request: Packet, port: int) -> Flow:
    return Flow(TCP, request.destination, request.source, port)


def segments(entries: tuple[AclEntry, ...], low: int, high: int) -> list[tuple[int, int]]:
    """`low`-`high` cut where an entry's port range begins or ends: every port of a piece is
    decided alike, so trying its first port decides the piece."""
    cuts = {low, high + 1}
    for e in entries:
        if e.match.ports is not None:
            cuts |= {p for p in (e.match.ports[0], e.match.ports[1] + 1) if low < p <= high}
    points = sorted(cuts)
    return list(zip(points, [p - 1 for p in points[1:]]))


def ports_assumed(request: Packet) -> str:
    if request.source_ports == NAT_GATEWAY_PORTS:
        return f"here the NAT gateway's, {NAT_GATEWAY_PORTS[0]}-{NAT_GATEWAY_PORTS[1]}"
    low, high = EPHEMERAL_PORTS
    return f"{low}-{high}, assumed: Linux's default net.ipv4.ip_local_port_range, which every lab client uses"


def owner(acl: SubnetAcl) -> str:
    return f"network ACL {acl.acl_id} ({acl.acl}) of subnet {acl.subnet} ({acl.subnet_id})"


def decided_by(acl: SubnetAcl, direction: str, entry: AclEntry) -> str:
    if entry.rule_number is not None:
        return f"{entry.text()} is the lowest-numbered rule that matches, and the first match decides"
    if len(acl.entries(direction)) == 1:
        return (
            f"it has no {WAY[direction]} rule, only the final * rule, which denies everything "
            "(a new custom network ACL denies all traffic until rules are added)"
        )
    return "no numbered rule matches, so the final * rule denies it"


def acl_passed(acl: SubnetAcl, direction: str, entry: AclEntry | None, reply_to: Packet | None = None) -> str:
    """Words for a hop's detail: which ACL let it pass; nothing for the VPC's default ACL."""
    if acl.acl == names.DEFAULT_NETWORK_ACL:
        return ""
    if reply_to is not None:
        low, high = reply_to.source_ports
        return f"{acl.acl_id} ({acl.acl}) {WAY[direction]}: the reply to ports {low}-{high} allowed"
    return f"{acl.acl_id} ({acl.acl}) {WAY[direction]}: allowed by {entry.text() if entry else 'a rule'}"
