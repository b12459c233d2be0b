"""The way back of connections whose client IP an NLB preserved, in the VPC router.

With client IP preservation (instance targets, by default: https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#client-ip-preservation)
a target sees the client's own address and answers it; in AWS the answer still goes back through
the load balancer, which the VPC's network does for it. In the lab an answer addressed to the client
would go straight to the client (bridged within a subnet, routed between subnets) and the client,
which spoke to the NLB's IP, would reset it. So the VPC router sends it to the NLB node first:

- a connection the NLB node forwards with a source that is not its own (the client's) gets a
  conntrack mark of that node when its first packet enters the router;
- the answers of such a connection (conntrack's reply direction) carry the mark as packet mark:
  routed answers use a table whose only route leads to the NLB node (an `ip rule fwmark`), and
  answers bridged on the NLB node's own subnet have their Ethernet destination set to the node
  (a bridge-family chain after br_netfilter's, which copied the mark).

The node then undoes its DNAT and forwards the answer to the client from the NLB's IP. Left out: a
target answering a client of its own subnet while the NLB node is in another subnet (bridged in a
subnet the node is not on; documented in docs/architecture.md).
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from lab.model.topology import Vpc
from lab.plan.addressing import mac_for
from lab.plan.context import Build
from lab.plan.load_balancer_marks import MARK_BASE, preserved_marks
from lab.plan.load_balancer_types import LoadBalancerPlan, NlbNode
from lab.plan.types import KernelRoute, RoutingRule
from lab.plan.vpc_router import VpcWiring

DEFAULT = ipaddress.IPv4Network("0.0.0.0/0")
TABLE_BASE = 3000  # its routing table 3000 + k (the router's own tables are 999 and 1000 up)
RULE_BASE = 500  # its rule 500 + k, before the subnets' `iif` rules (1000 up)


def steer_replies(build: Build, wiring: VpcWiring, lbs: list[LoadBalancerPlan]) -> None:
    """Add the router's part for every node of the VPC's NLBs that preserve client IPs."""
    vpc, kept = wiring.vpc, preserved_marks(wiring.vpc)
    marks = [(kept[n.node], n) for lb in lbs if lb.vpc == vpc.name for n in lb.nodes if n.node in kept]
    if not marks:
        return
    router = build.nodes[wiring.router]
    build.nodes[wiring.router] = replace(
        router,
        # before the router's other tables (a live change replaces each table that differs: lab.plan.difference)
        nftables=ruleset(vpc, wiring, marks) + router.nftables,
        routes=router.routes
        + tuple(
            KernelRoute(
                DEFAULT, wiring.bridges[n.subnet], n.address, table=TABLE_BASE + m - MARK_BASE, origin=f"answers to {n.node}"
            )
            for m, n in marks
        ),
        rules=router.rules
        + tuple(RoutingRule(RULE_BASE + m - MARK_BASE, TABLE_BASE + m - MARK_BASE, fwmark=m) for m, n in marks),
    )


def ruleset(vpc: Vpc, wiring: VpcWiring, marks: list[tuple[int, NlbNode]]) -> str:
    ip_rules, bridge_rules = [], []
    for mark, n in marks:
        mac = mac_for(vpc.name, n.node)
        ip_rules.append(f"ether saddr {mac} ip saddr != {n.address} ct state new ct mark set {mark:#x}")
        ip_rules.append(f"ct direction reply ct mark {mark:#x} meta mark set {mark:#x}")
        ports = ", ".join(f'"{p.name}"' for p in wiring.ports[n.subnet] if p.name != wiring.port_of[n.node])
        if ports:  # the ports of the node's subnet: answers bridged there, or routed from there
            bridge_rules.append(f"iifname {{ {ports} }} meta mark {mark:#x} ether daddr set {mac}")
    return (
        "table ip nlb_replies {\n  chain prerouting {\n    type filter hook prerouting priority mangle; policy accept;\n"
        + "".join(f"    {r}\n" for r in ip_rules)
        + "  }\n}\n"
        + "table bridge nlb_replies {\n  chain prerouting {\n    type filter hook prerouting priority 100; policy accept;\n"
        + "".join(f"    {r}\n" for r in bridge_rules)
        + "  }\n}\n"
    )
