"""The VPC's implicit router, and what the other components of a VPC plug into it.

Every subnet is a bridge inside the router (the router owns base+1 on it); an ENI (an instance,
a NAT gateway, an interface endpoint) is a port of its subnet's bridge. Gateways, gateway endpoints
and peering connections are the router's edges: an interface of the router plus the next hop that
the route tables use for their route target (lab.plan.routing).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from lab.model.topology import Vpc
from lab.plan import names, nftables, security_nft
from lab.plan.addressing import RESOLVER_LINK_LOCAL
from lab.plan.context import Build
from lab.plan.kept import first_free
from lab.plan.load_balancer_marks import preserved_marks
from lab.plan.routing import NO_ROUTE_DEV, NextHop, vpc_router_tables
from lab.plan.security_types import EniSecurity, SubnetAcl
from lab.plan.types import Interface, Node

IfAddr = ipaddress.IPv4Interface


@dataclass(frozen=True)
class Edge:
    """An interface of the router toward a route target (`igw`, an endpoint, a peering), and the
    next hop the route tables use for that target."""

    iface: Interface
    target: str
    hop: NextHop


@dataclass
class VpcWiring:
    """The router's side of one VPC, filled by the builders of its components, then built once."""

    vpc: Vpc
    bridges: dict[str, str]  # subnet -> bridge
    ports: dict[str, list[Interface]]  # subnet -> bridge ports, in the order ENIs attach
    port_of: dict[str, str] = field(default_factory=dict)  # node -> its ENI's bridge port
    edges: list[Edge] = field(default_factory=list)  # toward gateways and endpoints
    hops: dict[str, NextHop] = field(default_factory=dict)  # route target -> where it leads
    peers: list[Edge] = field(default_factory=list)  # toward peers: after all other edges

    @classmethod
    def of(cls, vpc: Vpc) -> VpcWiring:
        bridges = {s.name: names.subnet_bridge(i) for i, s in enumerate(vpc.subnets.values())}
        return cls(vpc, bridges, {s: [] for s in vpc.subnets})

    @property
    def router(self) -> str:
        return names.router_node(self.vpc.name)

    def attach(self, build: Build, node: str, subnet: str) -> None:
        """Plugs the ENI of `node` (its `eth0`) into the bridge of `subnet`."""
        bridge = self.bridges[subnet]
        port = build.kept.ports.get(node) or self.free_port(build, bridge)
        self.ports[subnet].append(Interface(port, bridge=bridge))
        self.port_of[node] = port
        build.link(
            (node, names.ENI),
            (self.router, port),
            "subnet",
            f"{node} ENI in subnet {subnet} ({names.subnet_id(self.vpc.name, subnet)})",
        )

    def subnet_gateway(self, subnet: str) -> ipaddress.IPv4Address:
        return self.vpc.subnets[subnet].cidr.network_address + 1

    def add_edge(self, edge: Edge) -> None:
        self.edges.append(edge)
        self.hops[edge.target] = edge.hop

    def add_peer(self, pcx: str, address: IfAddr, hop_via: ipaddress.IPv4Address, pcx_id: str) -> str:
        """The router's end of a peering connection; returns its interface name."""
        dev = names.router_edge("pcx", len(self.peers))
        self.peers.append(Edge(Interface(dev, (address,)), pcx, NextHop(dev, hop_via, pcx_id)))
        return dev

    def free_port(self, build: Build, bridge: str) -> str:
        """The bridge's first port name that neither this plan nor the running one (kept) holds."""
        taken = [p.name for ports in self.ports.values() for p in ports] + list(build.kept.ports.values())
        return names.bridge_port(bridge, first_free(taken, lambda i: names.bridge_port(bridge, i)))

    def gateway_endpoint_edge(self, build: Build, node: str) -> str:
        """The router's interface toward gateway endpoint `node`: the one it had in the running
        plan, or the first free of ep0, ep1, ..."""
        if node in build.kept.edges:
            return build.kept.edges[node]
        taken = [e.iface.name for e in self.edges] + list(build.kept.edges.values())
        return names.router_edge("ep", first_free(taken, lambda i: names.router_edge("ep", i)))


def build_router(build: Build, wiring: VpcWiring, security: dict[str, EniSecurity], acls: dict[str, SubnetAcl]) -> None:
    """`security`: node -> its ENI's security groups; `acls`: subnet id -> its network ACL
    (lab.plan.security), enforced here (lab.plan.security_nft)."""
    vpc = wiring.vpc
    for edge in wiring.peers:
        wiring.add_edge(edge)
    tables, rules = vpc_router_tables(vpc, wiring.bridges, wiring.hops, [e.iface.name for e in wiring.edges])
    bridge_ifs = tuple(
        Interface(wiring.bridges[s.name], (IfAddr(f"{s.cidr.network_address + 1}/{s.cidr.prefixlen}"),))
        for s in vpc.subnets.values()
    )
    ports = tuple(p for s in vpc.subnets for p in wiring.ports[s])
    build.add(
        Node(
            wiring.router,
            "vpc-router",
            names.vpc_id(vpc.name),
            vpc.name,
            tuple(e.iface for e in wiring.edges) + ports + (Interface(NO_ROUTE_DEV, kind="stub"),),
            bridge_ifs,
            loopback=resolver_addresses(vpc),
            route_tables=tuple(tables),
            rules=tuple(rules),
            forwarding=True,
            nftables=nftables.vpc_router(vpc.cidr, NO_ROUTE_DEV, [e.iface.name for e in wiring.peers])
            + security_nft.vpc_filters(
                list(security.values()),
                list(acls.values()),
                [b.name for b in bridge_ifs] + [e.iface.name for e in wiring.edges] + [NO_ROUTE_DEV],
                tuple(preserved_marks(vpc).values()),
            )
            + security_nft.eni_check({wiring.port_of[node]: eni for node, eni in security.items()}),
            description=f"the implicit router of vpc {vpc.name} {vpc.cidr}, and its DNS resolver",
        )
    )


def resolver_addresses(vpc: Vpc) -> tuple[IfAddr, ...]:
    """AmazonProvidedDNS at the VPC base+2 and 169.254.169.253, unless DNS support is off."""
    if not vpc.enable_dns_support:
        return ()
    return IfAddr(f"{vpc.cidr.network_address + 2}/32"), IfAddr(f"{RESOLVER_LINK_LOCAL}/32")
