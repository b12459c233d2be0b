"""The static explanation of a client that connects to a Network Load Balancer's own private IP
(or its DNS name), from the NLB's VPC or a peer: the NLB node's ENI was judged on the way in like
any ENI (its groups in the VPC router, lab.analysis.explain); then the listener, a target of the
node's zone (every enabled zone with cross-zone load balancing), and the way to the target, where the
client's IP is kept (instance targets by default, never through the PPv2 proxy) or translated to
the node's. As the lab's node does it (lab.plan.load_balancer_nft): a port without a listener is
dropped (`NLB_NO_LISTENER`), a group without a target in the node's zone too (`NLB_NO_HEALTHY_TARGET`).
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#client-ip-preservation
"""

from __future__ import annotations

import ipaddress

from lab.analysis.explain_privatelink import Walker, at_target
from lab.analysis.explain_security import EPHEMERAL_PORTS, Packet
from lab.analysis.explanation import Explanation, Stop
from lab.plan.types import Node
from lab.results import Outcome, ServiceSaw, Translation

Addr = ipaddress.IPv4Address


def to_load_balancer(walker: Walker, node: Node, src: Addr, result: Explanation, allowed: str) -> None:
    found = walker.plan.load_balancer_of(node.name)
    assert found is not None, "called for an NLB node only"
    lb, nlb = found
    listener = next((li for li in lb.listeners if li.port == walker.port), None)
    if listener is None:
        walker.path.append(walker.node_hop(node.name, allowed))
        ports = ", ".join(str(li.port) for li in lb.listeners) or "none"
        raise Stop(
            Outcome.TIMEOUT,
            "NLB_NO_LISTENER",
            lb.arn,
            f"the NLB {lb.name} has no listener on port {walker.port} (its listeners: {ports}); it forwards nothing else",
        )
    group = lb.group_of(listener)
    targets = lb.candidates(nlb, group)
    if not targets:
        walker.path.append(walker.node_hop(node.name, allowed))
        raise Stop(Outcome.TIMEOUT, "NLB_NO_HEALTHY_TARGET", lb.arn, f"the NLB {lb.name} has no target in {nlb.az}")
    kept = listener.proxy_port is None and group.client_ip_preserved
    client = walker.inst.name if walker.inst is not None and walker.inst.vpc == lb.vpc else None
    # a target that is the client itself, its IP kept, gets a packet from its own address: AWS does
    # not support that loopback (the connection times out), so another target is the way when any
    # (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-troubleshooting.html#loopback-timeout)
    others = [t for t in targets if not (kept and client is not None and t.node == client)]
    target = (others or targets)[0]
    source = src if kept else nlb.address
    moved = Translation("destination", f"{walker.packet.destination}:{walker.port}", f"{target.address}:{target.port}")
    how = (
        f"listener {listener.port} -> target group {group.name}"
        + (" (PROXY protocol v2)" if group.proxy_protocol_v2 else "")
        + f"; one of {', '.join(t.target_id for t in targets)} by flow hash"
        + ("; the client's IP kept" if kept else "; source translated to the node's IP")
        + ("; a connection hashed to the client itself times out (NAT loopback)" if others and len(others) < len(targets) else "")
    )
    walker.path.append(
        walker.node_hop(
            node.name,
            "; ".join(filter(None, (allowed, how))),
            (moved,) if kept else (Translation("source", str(src), str(nlb.address)), moved),
        )
    )
    walker.packet = Packet(source, target.address, target.port, walker.packet.source_ports if kept else EPHEMERAL_PORTS)
    # the outbound rules the forwarded packet meets: the NLB's, if it has groups (in the router by the
    # node's mark when the client's IP is kept: lab.plan.security_nft); never the client's
    sender = None if walker.plan.eni_security(node.name) is None else ""
    at_target(walker, lb.vpc, node.name, nlb.subnet, target.node, result, sender, nlb.address if kept else None)
    if not others:
        raise Stop(
            Outcome.TIMEOUT,
            "NLB_LOOPBACK_NOT_SUPPORTED",
            lb.arn,
            f"{client} is the only target of {group.name} in {nlb.az}: the NLB keeps the client's IP, so the packet "
            "reaches it from its own address and it never answers (NAT loopback is not supported with client IP "
            "preservation; turn preserve_client_ip off, or use IP targets)",
        )
    result.service_saw = ServiceSaw(str(source), f"load balancer {lb.name}", None)
