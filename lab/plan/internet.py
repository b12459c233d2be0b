"""The internet: a router with public addressing that routes to every public IP (through its VPC's
internet gateway) and every AWS service range (to the service's front), and one public host,
`internet-client`, "somewhere on the internet".
"""

from __future__ import annotations

import ipaddress

from lab.model import regions
from lab.plan import names
from lab.plan.context import Build
from lab.plan.fronts import Fronts
from lab.plan.gateways import host_route
from lab.plan.types import Interface, KernelRoute, Node

IfAddr = ipaddress.IPv4Interface
Sides = tuple[list[Interface], list[KernelRoute]]
CLIENT_NET = ipaddress.IPv4Interface("203.0.113.1/24")  # TEST-NET-3 (RFC 5737): "somewhere on the internet"
CLIENT_HOST = ipaddress.IPv4Interface("203.0.113.10/24")


def build_internet(build: Build, igw_sides: dict[str, tuple[IfAddr, IfAddr]], fronts: Fronts) -> None:
    """`igw_sides`: vpc -> (its internet gateway's address toward the internet, the internet's)."""
    to_igws, to_fronts = toward_gateways(build, igw_sides), toward_fronts(build, fronts)
    ifs = [Interface(names.INTERNET_TO_CLIENT, (CLIENT_NET,))] + to_igws[0] + to_fronts[0]
    build.add(
        Node(
            names.INTERNET,
            "internet",
            None,
            None,
            tuple(ifs),
            routes=tuple(to_igws[1] + to_fronts[1]),
            forwarding=True,
            description="the public internet: routes to every public IP and AWS service range",
        )
    )
    build.link(
        (names.INTERNET_CLIENT, names.ENI), (names.INTERNET, names.INTERNET_TO_CLIENT), "transit", "a host on the internet"
    )
    build.add(
        Node(
            names.INTERNET_CLIENT,
            "internet",
            None,
            None,
            (Interface(names.ENI, (CLIENT_HOST,)),),
            routes=host_route(CLIENT_NET.ip),
            description="a host somewhere on the internet",
        )
    )


def toward_gateways(build: Build, igw_sides: dict[str, tuple[IfAddr, IfAddr]]) -> Sides:
    """One interface per internet gateway, and a route to each public IP it maps."""
    ifs, routes = [], []
    for i, (vpc, (g_out, i_side)) in enumerate(igw_sides.items()):
        dev, igw = names.internet_to_igw(i), names.igw_id(vpc)
        ifs.append(Interface(dev, (i_side,)))
        build.link(
            (names.igw_node(vpc), names.TO_INTERNET), (names.INTERNET, dev), "transit", f"internet gateway {igw} to the internet"
        )
        routes += [
            KernelRoute(IfAddr(f"{p.address}/32").network, dev, g_out.ip, origin=igw)
            for p in build.allocation.public_ips
            if p.vpc == vpc
        ]
    return ifs, routes


def toward_fronts(build: Build, fronts: Fronts) -> Sides:
    """One interface per service front (its first ingress), and routes to the service's ranges."""
    ifs, routes = [], []
    for i, (service, region) in enumerate(fronts.ways):
        (i_side, s_side), dev = build.transit_pair(f"internet {service} {region}"), names.internet_to_front(i)
        ifs.append(Interface(dev, (i_side,)))
        fronts.from_internet(service, region, s_side)
        build.link(
            (names.INTERNET, dev),
            (names.front_node(service, region), names.FRONT_FROM_INTERNET),
            "service",
            f"the internet to {service} {region}",
        )
        svc = regions.region(region).services[service]
        routes += [KernelRoute(c, dev, s_side.ip, origin=svc.service_name) for c in svc.ranges]
    return ifs, routes
