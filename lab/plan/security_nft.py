"""Security groups and network ACLs on packets, in the VPC router (rendered for `nft -f`).

Where: every ENI is a port of its subnet's bridge in the router (lab.plan.vpc_router), and bridged
IPv4 traffic also traverses the router's IPv4 forward hook, with conntrack (bridge-nf-call-iptables
is on in every new namespace); there, iifname/oifname are the bridges, that is the subnets. So:

- security groups are keyed by the ENI's private IP in the forward hook: what the router itself
  answers (Amazon DNS at base+2, 169.254.169.253) is not filtered, as in AWS. Stateful: a packet of a
  connection conntrack already knows (`established,related`) skips them. Rules live in sets with
  concatenated intervals (ENI . protocol . port . peer), so a lookup costs the same with 1 or 500
  rules; a verdict map sends each ENI's packets to a tiny chain of its own that ends in a counted
  drop `ENI_SG_RULES_MISMATCH <eni> <direction> <groups>` (as many groups as fit: sg_drop_rule).
- network ACLs are per-subnet chains, in rule-number order (first match wins: allow returns, deny is a
  counted drop `SUBNET_ACL_RESTRICTION <acl> <direction> rule <n>`), the `*` last; dispatched by an
  `iifname . oifname` verdict map that holds only pairs of different interfaces, so they apply to
  traffic leaving or entering a subnet and never within it. Stateless: replies are evaluated too.
- the source/destination check of instance and interface-endpoint ENIs, in the bridge family: a port
  sends only from its own address and receives only for it, so no node can wear another ENI's rules.
  NAT gateways forward others' addresses (AWS turns the check off for them) and are not checked.

Drop comments start with the explanation code (lab.analysis.paths reads the first word as the code,
the rest as the rule). This table runs after the router's own (priority filter + 10), so a packet
with no route is counted as NO_ROUTE_TO_DESTINATION, not as an ACL drop.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from lab.plan.security_types import EGRESS, INGRESS, AclEntry, EniSecurity, Match, SubnetAcl

SG_CODE, ACL_CODE, CHECK_CODE = "ENI_SG_RULES_MISMATCH", "SUBNET_ACL_RESTRICTION", "ENI_SOURCE_DEST_CHECK"
SIDE = {INGRESS: "d", EGRESS: "s"}  # the ENI is the destination of what comes in, the source of what goes out
PEER = {INGRESS: "s", EGRESS: "d"}
ALL_PORTS, ALL_ICMP = (0, 65535), (0, 255)
Addr = ipaddress.IPv4Address
NFT_COMMENT_MAX = 128  # nft's NFT_USERDATA_MAXLEN: one comment longer and `nft -f` refuses the whole ruleset


def _elements(items: Iterable[str]) -> list[str]:
    unique = list(dict.fromkeys(items))
    return [f"    elements = {{ {', '.join(unique)} }}"] if unique else []


def _span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def _sg_sets(direction: str, enis: list[EniSecurity]) -> list[str]:
    """Three sets per direction: all-traffic rules, TCP/UDP rules, ICMP rules, each keyed by the ENI."""
    anything, ports, icmp = [], [], []
    for eni in enis:
        for rule in eni.rules(direction):
            m = rule.match
            for net in rule.peers:
                if m.protocol is None:
                    anything.append(f"{eni.address} . {net}")
                elif m.protocol == 1:
                    kind = _span(*((m.icmp_type,) * 2 if m.icmp_type is not None else ALL_ICMP))
                    code = _span(*((m.icmp_code,) * 2 if m.icmp_code is not None else ALL_ICMP))
                    icmp.append(f"{eni.address} . {kind} . {code} . {net}")
                else:
                    ports.append(f"{eni.address} . {m.protocol} . {_span(*(m.ports or ALL_PORTS))} . {net}")
    return [
        f"set sg_{direction}_any {{",
        "    type ipv4_addr . ipv4_addr; flags interval;",
        *_elements(anything),
        "  }",
        f"set sg_{direction}_ports {{",
        "    type ipv4_addr . inet_proto . inet_service . ipv4_addr; flags interval;",
        *_elements(ports),
        "  }",
        f"set sg_{direction}_icmp {{",
        "    type ipv4_addr . icmp_type . icmp_code . ipv4_addr; flags interval;",
        *_elements(icmp),
        "  }",
    ]


def _sg_chain(index: int, direction: str, eni: EniSecurity, via_nlb: bool) -> list[str]:
    me, peer = f"ip {SIDE[direction]}addr", f"ip {PEER[direction]}addr"
    return [
        f"chain sg_{direction}_{index} {{",
        f"    {me} . {peer} @sg_{direction}_any return",
        f"    meta l4proto {{ tcp, udp }} {me} . meta l4proto . th dport . {peer} @sg_{direction}_ports return",
        f"    meta l4proto icmp {me} . icmp type . icmp code . {peer} @sg_{direction}_icmp return",
        *([f"    meta l4proto tcp {me} . ct mark . meta l4proto . th dport @{VIA_NLB} return"] if via_nlb else []),
        f'    counter drop comment "{SG_CODE} {sg_drop_rule(eni, direction)}"',
        "  }",
    ]


VIA_NLB = "sg_ingress_via_nlb"


def _via_nlb_set(enis: list[EniSecurity], marks: dict[Addr, int]) -> list[str]:
    """A target's inbound rule that names a security group of an NLB admits what that NLB forwards
    with the client's IP kept (AWS: "ensures that your targets accept traffic from your load balancer
    even if you enable client IP preservation",
    https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html).
    The router knows such a connection by the conntrack mark of the NLB node that forwarded it
    (`marks`: node address -> mark, lab.plan.load_balancer_replies), not by its source."""
    elements = [
        f"{eni.address} . {mark:#x} . 6 . {_span(*(rule.match.ports or ALL_PORTS))}"
        for eni in enis
        for rule in eni.ingress
        if rule.by_group and rule.match.protocol in (None, 6)
        for node, mark in marks.items()
        if any(node in net for net in rule.peers)
    ]
    return [
        f"set {VIA_NLB} {{",
        "    type ipv4_addr . mark . inet_proto . inet_service; flags interval;",
        *_elements(elements),
        "  }",
    ]


def sg_drop_rule(eni: EniSecurity, direction: str) -> str:
    """What an ENI's drop comment says after the code: the ENI, the direction and its groups, as many
    as fit in nft's 128 characters (five groups, AWS's default per interface, do not), the rest
    counted: `eni-0ab... ingress sg-1,sg-2,sg-3,+2`. explain names the rule in the same words."""
    head = f"{eni.eni} {direction} "
    room = NFT_COMMENT_MAX - len(SG_CODE) - 1 - len(head)
    for shown in range(len(eni.groups), -1, -1):
        rest = len(eni.groups) - shown
        groups = ",".join(eni.groups[:shown] + ((f"+{rest}",) if rest else ()))
        if len(groups) <= room:
            break
    return head + groups


def match_expr(m: Match) -> str:
    """A rule's protocol and ports (or ICMP type and code) as an nft match; '' for all traffic."""
    if m.protocol is None:
        return ""
    if m.ports is not None:
        return f"meta l4proto {m.protocol} th dport {_span(*m.ports)}"
    if m.protocol == 1:
        kind = f" icmp type {m.icmp_type}" if m.icmp_type is not None else ""
        code = f" icmp code {m.icmp_code}" if m.icmp_code is not None else ""
        return f"meta l4proto icmp{kind}{code}"
    return f"meta l4proto {m.protocol}"


def _acl_rule(entry: AclEntry, direction: str, acl: SubnetAcl) -> str:
    peer = "" if entry.cidr.prefixlen == 0 else f"ip {PEER[direction]}addr {entry.cidr}"
    match = " ".join(part for part in (peer, match_expr(entry.match)) if part)
    if entry.action == "allow":
        verdict = "return"
    else:
        verdict = f'counter drop comment "{ACL_CODE} {acl.acl_id} {direction} rule {entry.number}"'
    return f"    {match} {verdict}" if match else f"    {verdict}"


def _acl_chain(index: int, direction: str, acl: SubnetAcl) -> list[str]:
    return [f"chain acl_{direction}_{index} {{", *(_acl_rule(e, direction, acl) for e in acl.entries(direction)), "  }"]


def _acl_map(direction: str, acls: list[SubnetAcl], interfaces: list[str]) -> list[str]:
    """Egress: from a subnet's bridge to any other interface; ingress: into it from any other."""
    pairs = []
    for index, acl in enumerate(acls):
        for other in (i for i in interfaces if i != acl.bridge):
            key = f'"{acl.bridge}" . "{other}"' if direction == EGRESS else f'"{other}" . "{acl.bridge}"'
            pairs.append(f"{key} : jump acl_{direction}_{index}")
    return [f"map acl_{direction} {{", "    type ifname . ifname : verdict;", *_elements(pairs), "  }"]


def _eni_map(direction: str, enis: list[EniSecurity]) -> list[str]:
    jumps = [f"{e.address} : jump sg_{direction}_{i}" for i, e in enumerate(enis)]
    return [f"map sg_{direction}_eni {{", "    type ipv4_addr : verdict;", *_elements(jumps), "  }"]


def _nlb_egress(enis: list[EniSecurity]) -> list[str]:
    """The outbound rules of an NLB's groups on what a node forwards with the client's IP kept: the
    router knows it by the node's conntrack mark, not by its source (the client's), so each node
    gets a chain of its own, reached by mark (AWS: the NLB's outbound rules govern its traffic to
    targets, https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html)."""
    nodes = [e for e in enis if e.nlb_mark is not None]
    jumps = [f"{e.nlb_mark:#x} : jump sg_egress_nlb_{i}" for i, e in enumerate(nodes)]
    body = ["map sg_egress_nlb {", "    type mark : verdict;", *_elements(jumps), "  }"]
    for i, e in enumerate(nodes):
        allowed = [
            " ".join(p for p in ("" if net.prefixlen == 0 else f"ip daddr {net}", match_expr(rule.match), "return") if p)
            for rule in e.egress
            for net in rule.peers
        ]
        body += [
            f"chain sg_egress_nlb_{i} {{",
            *(f"    {a}" for a in allowed),
            f'    counter drop comment "{SG_CODE} {sg_drop_rule(e, EGRESS)}"',
            "  }",
        ]
    return body


def vpc_filters(enis: list[EniSecurity], acls: list[SubnetAcl], interfaces: list[str], kept: Sequence[int] = ()) -> str:
    """The `ip vpc_filters` table of a VPC router: its ENIs' security groups and its subnets'
    network ACLs. `interfaces`: every L3 interface of the router (bridges, edges, the no-route stub);
    `kept`: the marks of every NLB node that forwards with client IPs kept (lab.plan.load_balancer_marks),
    whose forwarded packets the client's outbound rules never judge (the NLB's do, if it has groups)."""
    nlb_marks = {e.address: e.nlb_mark for e in enis if e.nlb_mark is not None}
    forwarders = ", ".join(f"{m:#x}" for m in sorted({*kept, *nlb_marks.values()}))
    body: list[str] = _via_nlb_set(enis, nlb_marks) + _nlb_egress(enis) if nlb_marks else []
    for direction in (EGRESS, INGRESS):
        body += _sg_sets(direction, enis) + _eni_map(direction, enis) + _acl_map(direction, acls, interfaces)
        for index, eni in enumerate(enis):
            body += _sg_chain(index, direction, eni, bool(nlb_marks) and direction == INGRESS)
        for index, acl in enumerate(acls):
            body += _acl_chain(index, direction, acl)
    body += [
        "chain forward {",
        "    type filter hook forward priority filter + 10; policy accept;",
        "    iifname . oifname vmap @acl_egress",  # leaving the source's subnet
        "    iifname . oifname vmap @acl_ingress",  # entering the destination's subnet
        "    ct state established,related accept",  # security groups are stateful, ACLs are not
        # what an NLB node forwards with the client's IP kept: its outbound rules, not the client's
        *(["    ct mark vmap @sg_egress_nlb"] if nlb_marks else []),
        (f"    ct mark != {{ {forwarders} }} ip saddr vmap @sg_egress_eni" if forwarders else "    ip saddr vmap @sg_egress_eni"),
        "    ip daddr vmap @sg_ingress_eni",
        "  }",
    ]
    return "table ip vpc_filters {\n" + "\n".join(f"  {line}" for line in body) + "\n}\n"


def eni_check(ports: dict[str, EniSecurity]) -> str:
    """The `bridge eni_check` table: each checked port (bridge port -> its ENI) sends from, and
    receives for, its ENI's address only (and answers ARP for it only)."""
    ports = {p: e for p, e in ports.items() if e.checked}  # an NLB node forwards clients' addresses
    if not ports:
        return ""
    names = _elements(f'"{p}"' for p in ports)
    own = _elements(f'"{p}" . {e.address}' for p, e in ports.items())
    body = [
        "set checked {",
        "    type ifname;",
        *names,
        "  }",
        "set own {",
        "    type ifname . ipv4_addr;",
        *own,
        "  }",
        "chain prerouting {",
        "    type filter hook prerouting priority filter; policy accept;",
        f'    iifname @checked ether type ip iifname . ip saddr != @own counter drop comment "{CHECK_CODE} source"',
        f'    iifname @checked ether type arp iifname . arp saddr ip != @own counter drop comment "{CHECK_CODE} arp"',
        "  }",
        "chain postrouting {",
        "    type filter hook postrouting priority filter; policy accept;",
        f'    oifname @checked ether type ip oifname . ip daddr != @own counter drop comment "{CHECK_CODE} destination"',
        "  }",
    ]
    return "table bridge eni_check {\n" + "\n".join(f"  {line}" for line in body) + "\n}\n"
