"""A Network Load Balancer as the plan holds it: its nodes (one per enabled AZ, each an ENI with a
private IP in its subnet), listeners, target groups with their targets resolved to addresses, and
the ways in from interface endpoints (PrivateLink). The realizer, the NLB node's services
(lab.services.health, lab.services.nlb_proxy) and the analysis read these; none rebuilds them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lab.model.load_balancers import HealthCheck

Addr = ipaddress.IPv4Address
IfAddr = ipaddress.IPv4Interface

SLOTS = 64  # entries of each target map: new flows hash onto a slot, slots are filled with targets


@dataclass(frozen=True)
class NlbTarget:
    """A registered target: `target_id` as describe-target-health names it (i-... or the IP)."""

    target_id: str
    node: str | None  # the instance's node; None for an IP target outside the lab's instances
    address: Addr
    port: int
    az: str | None  # None: an IP target in no subnet of the VPC


@dataclass(frozen=True)
class NlbTargetGroup:
    name: str
    arn: str
    port: int
    proxy_protocol_v2: bool
    client_ip_preserved: bool  # for clients in the VPC; PrivateLink traffic never keeps it
    health_check: HealthCheck
    targets: tuple[NlbTarget, ...]
    app: str | None  # a lab application the target nodes run (e.g. 'provider-app')
    deregistration_delay: int = 300  # seconds a deregistered target drains
    connection_termination: bool = False  # its connections closed when the delay ends

    def health_port(self, target: NlbTarget) -> int:
        """`traffic-port` unless the health check names a port."""
        return self.health_check.port or target.port


@dataclass(frozen=True)
class NlbListener:
    port: int
    target_group: str  # name, in the load balancer's `target_groups`
    proxy_port: int | None  # PPv2: the node's local port its proxy (lab.services.nlb_proxy) listens on
    idle_timeout: int = 350  # seconds a kernel-path connection may stay idle before the node forgets it


@dataclass(frozen=True)
class NlbIngress:
    """A way into an NLB node from one interface endpoint ENI (PrivateLink): connections arriving on
    `iface` are SNATed to the node's own IP and carry `label` (the vpce id) in PPv2's AWS TLV."""

    iface: str
    label: str  # the vpce id
    mark: int  # conntrack mark: replies leave by `iface` (routing table 100 + mark)
    address: IfAddr  # the node's side
    peer: Addr  # the endpoint ENI node's side


@dataclass(frozen=True)
class NlbNode:
    node: str
    az: str
    subnet: str
    address: Addr
    eni_id: str
    ingresses: tuple[NlbIngress, ...] = ()

    def ingress(self, iface: str) -> NlbIngress | None:
        return next((i for i in self.ingresses if i.iface == iface), None)


@dataclass(frozen=True)
class LoadBalancerPlan:
    vpc: str
    name: str
    arn: str
    dns_name: str
    cross_zone: bool
    security_groups: tuple[str, ...]  # sg- ids; empty: none
    nodes: tuple[NlbNode, ...]
    listeners: tuple[NlbListener, ...]
    target_groups: tuple[NlbTargetGroup, ...]
    # EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic: the groups' inbound rules judge what
    # comes through interface endpoints (by the consumer client's private IP); moot without groups
    privatelink_inbound_enforced: bool = True

    def node_in(self, az: str) -> NlbNode | None:
        """The node of an Availability Zone (by its full name), if the NLB is enabled there."""
        return next((n for n in self.nodes if n.az == az), None)

    def node(self, name: str) -> NlbNode:
        return next(n for n in self.nodes if n.node == name)

    def target_group(self, name: str) -> NlbTargetGroup:
        return next(g for g in self.target_groups if g.name == name)

    def group_of(self, listener: NlbListener) -> NlbTargetGroup:
        return self.target_group(listener.target_group)

    def candidates(self, node: NlbNode, group: NlbTargetGroup) -> tuple[NlbTarget, ...]:
        """The targets a node may send to: those in its own AZ, or in every enabled AZ with
        cross-zone load balancing (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html#cross-zone-load-balancing)."""
        if self.cross_zone:
            enabled = {n.az for n in self.nodes}
            return tuple(t for t in group.targets if t.az in enabled)
        return tuple(t for t in group.targets if t.az == node.az)
