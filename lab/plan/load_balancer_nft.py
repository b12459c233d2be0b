"""The nftables ruleset of a Network Load Balancer node: kernel forwarding where AWS forwards.

A TCP listener without PROXY protocol is a DNAT to one target of its group, chosen by a flow hash
over the connection's 4-tuple (AWS: "selects a target from the target group for the default rule
using a flow hash algorithm", https://docs.aws.amazon.com/elasticloadbalancing/latest/network/introduction.html);
conntrack keeps every later packet of the connection on that target. The hash picks one of
`SLOTS` entries of the group's map, and the health checker (lab.services.health) refills the map
with the healthy targets, so targets leave and re-enter rotation without touching the rules.

A listener whose group has proxy_protocol_v2 on is redirected to the node's own proxy
(lab.services.nlb_proxy): PPv2 rewrites the stream, the one place the lab terminates TCP.

Source NAT to the node's own IP: always for connections that came through an interface endpoint
(PrivateLink never preserves the client IP), and for clients in the VPC when the group does not
preserve the client IP (edit-target-group-attributes.html, "Client IP preservation").
"""

from __future__ import annotations

from collections.abc import Sequence

from lab.plan.load_balancer_types import SLOTS, LoadBalancerPlan, NlbNode, NlbTargetGroup
from lab.plan.security_nft import SG_CODE, match_expr, sg_drop_rule
from lab.plan.security_types import INGRESS, EniSecurity

TABLE = "nlb"
HASH_SEED = 0x4E4C42  # 'NLB'
PRIVATELINK_MARK_MAX = 0xFF  # ingress marks are 1..255; connections of in-VPC clients carry 0


def group_map(group: NlbTargetGroup) -> str:
    """The name of a target group's map in the node (nft names: letters, digits, '_')."""
    return "tg_" + "".join(c if c.isalnum() else "_" for c in group.name)


def slot_elements(targets: Sequence[tuple[object, int]]) -> str:
    """`0 : ip . port, 1 : ...` over all SLOTS, the (address, port) targets repeated in turn
    (empty: no targets)."""
    if not targets:
        return ""
    return ", ".join(f"{i} : {targets[i % len(targets)][0]} . {targets[i % len(targets)][1]}" for i in range(SLOTS))


def map_update(group_map_name: str, targets: Sequence[tuple[object, int]]) -> str:
    """One `nft -f` transaction that puts `targets` in rotation in a group's map (the health
    checker's; an empty list leaves the map empty: NLB_NO_HEALTHY_TARGET)."""
    body = f"flush map ip {TABLE} {group_map_name}\n"
    return body + (f"add element ip {TABLE} {group_map_name} {{ {slot_elements(targets)} }}\n" if targets else "")


def pairs(lb: LoadBalancerPlan, node: NlbNode, group: NlbTargetGroup) -> list[tuple[object, int]]:
    return [(t.address, t.port) for t in lb.candidates(node, group)]


def load_balancer_node(lb: LoadBalancerPlan, node: NlbNode, eni: str, inbound: EniSecurity | None = None) -> str:
    """The node's whole ruleset. At start every candidate target is in its map (all `initial`,
    which is AWS's fail-open case); the health checker narrows it. `inbound`: the NLB's security
    groups when their inbound rules judge PrivateLink traffic (`privatelink_inbound`)."""
    maps = [
        f"map {group_map(g)} {{ typeof numgen inc mod {SLOTS} : ip daddr . tcp dport;"
        + (f" elements = {{ {slot_elements(pairs(lb, node, g))} }}" if lb.candidates(node, g) else "")
        + " }"
        for g in lb.target_groups
    ]
    return (
        f"table ip {TABLE} {{\n"
        + "\n".join(
            f"  {line}"
            for line in maps
            + idle_timeouts(lb, node)
            + privatelink_inbound(node, inbound)
            + prerouting(lb, node)
            + postrouting(lb, node, eni)
            + filters(node, any(g.connection_termination for g in lb.target_groups))
        )
        + "\n}\n"
    )


def idle_timeouts(lb: LoadBalancerPlan, node: NlbNode) -> list[str]:
    """A kernel-path connection idle for its listener's `idle_timeout` (AWS: 350 s by default) is
    forgotten, as AWS's NLB drops it from its flow table; what either side sends afterwards is
    answered with a reset (`filters`). https://docs.aws.amazon.com/elasticloadbalancing/latest/network/update-idle-timeout.html"""
    kernel = [li for li in lb.listeners if li.proxy_port is None]
    addresses = ", ".join(str(a) for a in (node.address, *(i.address.ip for i in node.ingresses)))
    objects = [
        f"ct timeout idle_{t} {{ protocol tcp; l3proto ip; policy = {{ established: {t} }}; }}"
        for t in sorted({li.idle_timeout for li in kernel})
    ]
    rules = [
        f'ip daddr {{ {addresses} }} tcp dport {li.port} ct state new ct timeout set "idle_{li.idle_timeout}"' for li in kernel
    ]
    # before the listeners' DNAT rewrites the destination; conntrack has made the entry already
    return objects + [
        "chain idle_timeouts {",
        "  type filter hook prerouting priority mangle; policy accept;",
        *(f"  {r}" for r in rules),
        "}",
    ]


def privatelink_inbound(node: NlbNode, inbound: EniSecurity | None) -> list[str]:
    """The NLB's security groups' inbound rules on a new connection from an interface endpoint,
    judged by the consumer client's private IP (the endpoint's ENI keeps it; AWS's attribute
    EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic, on by default:
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_SetSecurityGroups.html).
    In-VPC clients cross the VPC router's filters instead (lab.plan.security_nft). Before the
    listeners' DNAT, so the port judged is the listener's; dropped with the router's words."""
    if inbound is None or not node.ingresses:
        return []
    ways = ", ".join(f'"{i.iface}"' for i in node.ingresses)
    allowed = [
        " ".join(p for p in ("" if net.prefixlen == 0 else f"ip saddr {net}", match_expr(rule.match), "return") if p)
        for rule in inbound.ingress
        if not rule.by_group  # a consumer's client is a member of none of the provider's groups
        for net in rule.peers
    ]
    return [
        "chain privatelink_inbound {",
        "  type filter hook prerouting priority mangle + 1; policy accept;",
        f"  iifname {{ {ways} }} ct state new jump sg_privatelink",
        "}",
        "chain sg_privatelink {",
        *(f"  {a}" for a in allowed),
        f'  counter drop comment "{SG_CODE} {sg_drop_rule(inbound, INGRESS)}"',
        "}",
    ]


def prerouting(lb: LoadBalancerPlan, node: NlbNode) -> list[str]:
    body = [f'iifname "{i.iface}" ct mark set {i.mark}' for i in node.ingresses]
    for listener in lb.listeners:
        # PrivateLink connections arrive addressed to the node's side of their link: its private IP
        # may be the consumer ENI's own address when the VPCs' CIDRs overlap (lab.plan.endpoint_services)
        addresses = ", ".join(str(a) for a in (node.address, *(i.address.ip for i in node.ingresses)))
        group, match = lb.group_of(listener), f"ip daddr {{ {addresses} }} tcp dport {listener.port}"
        if listener.proxy_port is not None:
            body.append(f"{match} redirect to :{listener.proxy_port}")
        else:
            flow_hash = f"jhash ip saddr . tcp sport . ip daddr . tcp dport mod {SLOTS} seed {HASH_SEED:#x}"
            body.append(f"{match} dnat ip to {flow_hash} map @{group_map(group)}")
            body.append(f'{match} counter drop comment "NLB_NO_HEALTHY_TARGET"')  # the group's map is empty
    return ["chain prerouting {", "  type nat hook prerouting priority dstnat; policy accept;", *(f"  {b}" for b in body), "}"]


def postrouting(lb: LoadBalancerPlan, node: NlbNode, eni: str) -> list[str]:
    body = [f'oifname "{eni}" ct mark 1-{PRIVATELINK_MARK_MAX} snat ip to {node.address}']
    for listener in lb.listeners:
        group = lb.group_of(listener)
        if listener.proxy_port is None and not group.client_ip_preserved:
            listened = f"ct original protocol tcp ct original proto-dst {listener.port}"
            body.append(f'oifname "{eni}" ct status dnat {listened} snat ip to {node.address}')
    return ["chain postrouting {", "  type nat hook postrouting priority srcnat; policy accept;", *(f"  {b}" for b in body), "}"]


DEREGISTERED = "deregistered"  # the set of drained targets whose connections are closed


def deregistered_update(address: str, port: int, listeners: Sequence[int], add: bool) -> str:
    """The health checker's `nft -f` text when a drained target's connections through its group's
    `listeners` (ports) are to be closed (`add`), or the target is registered again: keyed by the
    listener too, so the same instance and port in another group keeps its connections."""
    elements = ", ".join(f"{address} . {port} . {listener}" for listener in listeners)
    return f"{'add' if add else 'delete'} element ip {TABLE} {DEREGISTERED} {{ {elements} }}\n"


def filters(node: NlbNode, terminating: bool = False) -> list[str]:
    """Replies of PrivateLink connections are routed back by their conntrack mark; the node
    forwards only what a listener translated, and counts the rest. `terminating`: some group
    closes its deregistered targets' connections when their delay ends (connection_termination):
    a packet of such a connection, either way, is answered with a reset, which closes it."""
    closing = (
        [
            f"set {DEREGISTERED} {{ type ipv4_addr . inet_service . inet_service; }}",
        ]
        if terminating
        else []
    )
    close = (
        [
            f"  meta l4proto tcp ct reply ip saddr . ct reply proto-src . ct original proto-dst @{DEREGISTERED}"
            " counter reject with tcp reset"
            ' comment "NLB_TARGET_DEREGISTERED"'
        ]
        if terminating
        else []
    )
    return closing + [
        "chain mark_replies {",
        "  type filter hook prerouting priority mangle; policy accept;",
        "  ct direction reply ct mark != 0 meta mark set ct mark",  # the client's own packets go on by main
        "}",
        # the PPv2 proxy's own answers to a PrivateLink client (a local socket): a route chain, so
        # the mark set here re-routes them by their ingress's table, not to the VPC by main's route
        "chain mark_local_replies {",
        "  type route hook output priority mangle; policy accept;",
        "  ct direction reply ct mark != 0 meta mark set ct mark",
        "}",
        # to the node itself: only what a listener redirected to its proxy, and the answers to its
        # own connections (health checks, the proxy's); a port without a listener is dropped, not
        # reset: nothing of the NLB answers there
        "chain input {",
        "  type filter hook input priority filter; policy accept;",
        '  iifname "lo" accept',
        "  ct state established,related accept",
        "  ct status dnat accept",
        '  counter drop comment "NLB_NO_LISTENER"',
        "}",
        "chain forward {",
        "  type filter hook forward priority filter; policy drop;",
        *close,
        "  ct state established,related accept",
        # a TCP segment that opens nothing: its connection idled out (or never was) here
        '  ct state new tcp flags & (syn | ack) != syn counter reject with tcp reset comment "NLB_IDLE_TIMEOUT"',
        "  ct status dnat accept",
        '  counter drop comment "NLB_NO_LISTENER"',
        "}",
    ]
