"""The ENIs of a VPC (instances and NAT gateways), its internet gateway and its peering connections."""

from __future__ import annotations

import ipaddress

from lab.model.topology import Vpc
from lab.plan import names, nftables
from lab.plan.addressing import mac_for
from lab.plan.allocation import NatKey
from lab.plan.context import Build
from lab.plan.routing import NextHop
from lab.plan.types import Interface, KernelRoute, Node
from lab.plan.vpc_router import Edge, VpcWiring

IfAddr = ipaddress.IPv4Interface
DEFAULT = ipaddress.IPv4Network("0.0.0.0/0")


def host_route(gateway: ipaddress.IPv4Address, dev: str = names.ENI) -> tuple[KernelRoute, ...]:
    return (KernelRoute(DEFAULT, dev, gateway, origin="subnet router"),)


def eni(vpc: Vpc, subnet: str, node: str, ip: ipaddress.IPv4Address, eni_id: str) -> Interface:
    """A network interface in `subnet`, as the node's `eth0`."""
    prefix = vpc.subnets[subnet].cidr.prefixlen
    return Interface(names.ENI, (IfAddr(f"{ip}/{prefix}"),), mac=mac_for(vpc.name, node), eni=eni_id)


def build_instances(build: Build, wiring: VpcWiring) -> None:
    vpc = wiring.vpc
    for inst in (i for i in build.t.instances.values() if i.vpc == vpc.name):
        wiring.attach(build, inst.name, inst.subnet)
        iface = eni(vpc, inst.subnet, inst.name, build.allocation.instance_ips[inst.name], names.instance_eni_id(inst.name))
        build.add(
            Node(
                inst.name,
                "instance",
                names.instance_id(inst.name),
                vpc.name,
                (iface,),
                routes=host_route(wiring.subnet_gateway(inst.subnet)),
                description=f"EC2 instance in subnet {inst.subnet}",
            )
        )


def build_nat_gateways(build: Build, wiring: VpcWiring) -> None:
    vpc = wiring.vpc
    for nat in vpc.nat_gateways.values():
        node, nat_id = names.nat_node(vpc.name, nat.name), names.nat_id(vpc.name, nat.name)
        ip = build.allocation.nat_ips[NatKey(vpc.name, nat.name)]
        wiring.attach(build, node, nat.subnet)
        build.add(
            Node(
                node,
                "nat-gateway",
                nat_id,
                vpc.name,
                (eni(vpc, nat.subnet, node, ip, names.nat_eni_id(vpc.name, nat.name)),),
                routes=host_route(wiring.subnet_gateway(nat.subnet)),
                nftables=nftables.nat_gateway(ip, vpc.cidr, names.ENI, build.settings.nat_gateway_idle_timeout),
                forwarding=True,
                description=f"NAT gateway in subnet {nat.subnet}",
            )
        )
        wiring.hops[nat.name] = NextHop(wiring.bridges[nat.subnet], ip, nat_id)


def build_internet_gateway(build: Build, wiring: VpcWiring) -> tuple[IfAddr, IfAddr] | None:
    """The gateway between the VPC's router and the internet; returns its internet side (its own
    address and the internet's) for the internet's routes."""
    vpc = wiring.vpc
    if not vpc.internet_gateway:
        return None
    node, igw = names.igw_node(vpc.name), names.igw_id(vpc.name)
    (r_side, g_side), (g_out, i_side) = build.transit_pair(f"igw {vpc.name}"), build.transit_pair(f"igw {vpc.name} out")
    dev = names.ROUTER_TO_IGW
    wiring.add_edge(Edge(Interface(dev, (r_side,)), "igw", NextHop(dev, g_side.ip, igw)))
    mine = [p for p in build.allocation.public_ips if p.vpc == vpc.name]
    build.link((wiring.router, dev), (node, names.TO_VPC), "transit", f"vpc {vpc.name} router to its internet gateway")
    build.add(
        Node(
            node,
            "internet-gateway",
            igw,
            vpc.name,
            (Interface(names.TO_VPC, (g_side,)), Interface(names.TO_INTERNET, (g_out,))),
            routes=(
                KernelRoute(vpc.cidr, names.TO_VPC, r_side.ip, origin="vpc"),
                KernelRoute(DEFAULT, names.TO_INTERNET, i_side.ip, origin="internet"),
            ),
            nftables=nftables.internet_gateway(mine, names.TO_VPC, names.TO_INTERNET),
            forwarding=True,
            description=f"internet gateway of vpc {vpc.name}: 1:1 NAT for {len(mine)} public IP{'' if len(mine) == 1 else 's'}",
        )
    )
    return g_out, i_side


def build_peerings(build: Build, wirings: dict[str, VpcWiring]) -> None:
    """One link between the two routers per peering connection; each side routes to the other."""
    for pcx in build.t.peerings():
        a, b = build.transit_pair(f"pcx {pcx.name}")
        pcx_id = build.allocation.pcx_ids[pcx.name]
        ends = [
            (wirings[side].router, wirings[side].add_peer(pcx.name, mine, theirs.ip, pcx_id))
            for side, mine, theirs in ((pcx.requester, a, b), (pcx.accepter, b, a))
        ]
        build.link(ends[0], ends[1], "transit", f"peering connection {pcx_id}")
