"""The static explanation through an endpoint service (PrivateLink to a provider's NLB): the
consumer's ENI (its security groups and subnet ACL were judged on the way in, lab.analysis.explain),
the connection's state, the NLB node of the ENI's AZ (which translates the source to its own IP:
PrivateLink never preserves the client's address), then the provider VPC from the NLB node to a
target, judged by the provider's ACLs and the target's security groups, as the lab's packets are.

The packet-level codes match the ENI's ruleset (lab.plan.endpoint_services): a listener port of a
pending or rejected connection is ENDPOINT_CONNECTION_PENDING_ACCEPTANCE / _REJECTED, another
port INTERFACE_ENDPOINT_PORT_NOT_SERVED.
"""

from __future__ import annotations

import ipaddress
from typing import Protocol

from lab.analysis.explain_security import EPHEMERAL_PORTS, Filters, Packet, sg_denial
from lab.analysis.explanation import Explanation, Stop
from lab.model.endpoint_connections import AVAILABLE, DROP_CODES
from lab.model.topology import Instance, Topology
from lab.plan.endpoint_service_types import EndpointConnection, EndpointServicePlan
from lab.plan.load_balancer_types import LoadBalancerPlan
from lab.plan.security_types import EGRESS, INGRESS, Flow
from lab.plan.types import Node, Plan
from lab.results import Hop, Outcome, ServiceSaw, StopReason, Translation

Addr = ipaddress.IPv4Address


class Walker(Protocol):
    """What this module uses of lab.analysis.explain.Walker (which imports this module)."""

    t: Topology
    plan: Plan
    port: int
    path: list[Hop]
    packet: Packet
    source_eni: str | None
    inst: Instance | None

    def node_hop(self, name: str, detail: str = "", translations: tuple[Translation, ...] = ()) -> Hop: ...
    def router_hop(self, vpc: str, detail: str, kind: str = "vpc-router") -> Hop: ...
    def vpc_id(self, vpc: str) -> str: ...
    def cross(self, vpc: str, left: str | None, entered: str | None) -> None: ...

    filters: Filters

    def screened(self, vpc: str, detail: str, denied: StopReason | None) -> str: ...
    def reach_eni(self, vpc: str, node: str) -> str: ...
    def arrive(self, result: Explanation) -> None: ...
    def note(self, at: int, detail: str) -> None: ...


def connection_of(plan: Plan, eni_node: str) -> tuple[EndpointServicePlan, EndpointConnection, str] | None:
    """The service, the connection and the NLB node an endpoint ENI node belongs to, if any."""
    for svc in plan.endpoint_services:
        for conn in svc.connections:
            for eni, nlb in conn.enis:
                if eni == eni_node:
                    return svc, conn, nlb
    return None


def through_endpoint_service(walker: Walker, eni: Node, src: Addr, result: Explanation, allowed: str) -> None:
    found = connection_of(walker.plan, eni.name)
    assert found is not None, "called for an endpoint service's ENI only"
    svc, conn, nlb_name = found
    lb, nlb = walker.plan.load_balancer_of(nlb_name) or (None, None)
    assert lb is not None and nlb is not None, "the plan links every consumer ENI to an NLB node"
    listener = next((li for li in lb.listeners if li.port == walker.port), None)
    walker.path.append(walker.node_hop(eni.name, "; ".join(filter(None, (f"ENI of {conn.vpce} to {svc.service_name}", allowed)))))
    if listener is None:
        ports = ", ".join(str(li.port) for li in lb.listeners)
        raise Stop(
            Outcome.TIMEOUT,
            "INTERFACE_ENDPOINT_PORT_NOT_SERVED",
            eni.aws_id or eni.name,
            f"the endpoint's ENI forwards only the NLB {lb.name}'s listener ports ({ports}); nothing answers on {walker.port}",
        )
    if conn.state != AVAILABLE:
        raise Stop(
            Outcome.TIMEOUT,
            DROP_CODES[conn.state],
            conn.vpce,
            f"the endpoint's connection to {svc.service_name} is {conn.state}: the provider "
            + ("has not accepted it (accept it: accept " if conn.state != "rejected" else "rejected it (")
            + f"{conn.vpc}/{conn.endpoint}); its ENIs carry nothing",
        )
    admitted = nlb_inbound(walker, lb, nlb.node, src)
    group = lb.group_of(listener)
    targets = lb.candidates(nlb, group)
    if not targets:
        walker.path.append(walker.node_hop(nlb.node))
        raise Stop(Outcome.TIMEOUT, "NLB_NO_HEALTHY_TARGET", lb.arn, f"the NLB {lb.name} has no target in {nlb.az}")
    target = targets[0]
    walker.path.append(
        walker.node_hop(
            nlb.node,
            admitted
            + f"listener {listener.port} -> target group {group.name}"
            + (" (PROXY protocol v2)" if group.proxy_protocol_v2 else "")
            + f"; one of {', '.join(t.target_id for t in targets)} by flow hash",
            (
                Translation("source", str(src), str(nlb.address)),
                Translation("destination", f"{walker.packet.destination}:{walker.port}", f"{target.address}:{target.port}"),
            ),
        )
    )
    walker.packet = Packet(nlb.address, target.address, target.port, EPHEMERAL_PORTS)
    at_target(walker, svc.vpc, nlb.node, nlb.subnet, target.node, result)
    proxy = (str(src), conn.vpce) if group.proxy_protocol_v2 else (None, None)
    result.service_saw = ServiceSaw(str(nlb.address), conn.vpce, conn.vpce, proxy_source=proxy[0], proxy_vpce_id=proxy[1])


def nlb_inbound(walker: Walker, lb: LoadBalancerPlan, node: str, src: Addr) -> str:
    """The NLB's security groups' inbound rules on PrivateLink traffic, by the consumer client's
    private IP, unless the NLB has none or EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic is
    off (lab.plan.load_balancer_nft.privatelink_inbound): words for the node's hop, or a drop there."""
    security = walker.plan.eni_security(node)
    if security is None or not lb.privatelink_inbound_enforced:
        return ""
    packet = Packet(src, walker.packet.destination, walker.port)
    rule = security.allowing_privatelink(packet.flow())
    if rule is None:
        walker.path.append(walker.node_hop(node, "PrivateLink traffic: the NLB's security groups judge it inbound"))
        raise Stop.dropped(sg_denial(security, INGRESS, packet))
    return f"{security.eni}: allowed inbound by {rule.text()}; "


def at_target(
    walker: Walker,
    provider: str,
    nlb_node: str,
    nlb_subnet: str,
    node: str | None,
    result: Explanation,
    sender: str | None = "",
    kept_by: Addr | None = None,
) -> None:
    """From the NLB node to the target in the provider VPC: the provider's network ACLs, the
    outbound rules the router judges the packet by (`sender`'s: the NLB node's by default; the
    client's when the NLB kept its IP, as the router keys them by source; None: nobody's), the
    target's groups. `kept_by`: the NLB node's address when the client's IP is kept, so that a
    target's rule naming the NLB's group admits it (lab.plan.security_nft, `sg_ingress_via_nlb`)."""
    vpc, dst, at_nlb = walker.t.vpcs[provider], walker.packet.destination, len(walker.path) - 1
    entered = walker.plan.subnet_acl_at(vpc.name, dst)
    if entered is None or entered.subnet != nlb_subnet:  # within a subnet the router only bridges
        walker.path.append(walker.router_hop(vpc.name, "local"))
    walker.cross(vpc.name, nlb_subnet, entered.subnet if entered else None)
    if sender is not None:
        walker.note(at_nlb, walker.screened(vpc.name, *walker.filters.eni(sender or nlb_node, EGRESS, walker.packet)))
    if node is None:
        raise Stop(Outcome.TIMEOUT, "NO_SUCH_ADDRESS", walker.vpc_id(vpc.name), f"no network interface has {dst}")
    allowed = via_nlb_group(walker.plan, node, kept_by, walker.packet) or walker.reach_eni(vpc.name, node)
    walker.path.append(walker.node_hop(node, allowed))
    walker.arrive(result)


def via_nlb_group(plan: Plan, node: str, kept_by: Addr | None, packet: Packet) -> str:
    """Words for a target that admits a kept client IP only by a rule naming the NLB's group; ''
    when that is not the case (its own rules decide)."""
    security = plan.eni_security(node)
    if kept_by is None or security is None or security.allowing(INGRESS, packet.flow()) is not None:
        return ""
    flow = Flow(packet.flow().protocol, kept_by, packet.destination, packet.port)
    rule = next((r for r in security.ingress if r.by_group and r.matches(flow)), None)
    return f"{security.eni}: allowed inbound by {rule.text()}, the NLB's group (the client's IP kept)" if rule else ""
