"""The VPC router: one kernel table per VPC route table, chosen by the subnet a packet came from.

AWS semantics (https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html):
- every table holds the implicit `local` route for the VPC CIDR: here one link route per subnet
  bridge, and the rest of the VPC to a device where it is dropped (unassigned addresses), unless
  one subnet is the whole VPC ("The size of the subnet's IPv4 CIDR block can be the same as a
  VPC's IPv4 CIDR block", https://docs.aws.amazon.com/cli/latest/reference/ec2/create-subnet.html):
  then the kernel would refuse the second route to the same prefix (RTNETLINK: File exists);
- longest prefix match; a prefix-list route stands for each of its CIDRs, and where a static
  route has the very same prefix the static one wins (metric 100 beats 200);
- traffic that enters the VPC from a gateway, an endpoint or a peering connection may only go to
  the VPC's own subnets (the `edge` table): that is why peering is not transitive.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lab.model import regions
from lab.model.topology import PrefixListRef, Vpc
from lab.model.topology import RouteTable as ModelRouteTable
from lab.model.validate import effective_routes
from lab.plan import names
from lab.plan.types import KernelRoute, RouteTable, RoutingRule

# Kernel table numbers: clear of the kernel's own (253-255) and of AWS's quota of 200 route tables.
EDGE_TABLE = 999  # traffic entering the VPC from gateways, endpoints and peers
MAIN_ROUTE_TABLE = 1000  # the VPC's main route table: subnets without an explicit one
FIRST_TABLE = 1001
STATIC_METRIC, PREFIX_LIST_METRIC, NO_ROUTE_METRIC = 100, 200, 1000
DEFAULT = ipaddress.IPv4Network("0.0.0.0/0")
NO_ROUTE_DEV = "noroute"


@dataclass(frozen=True)
class NextHop:
    """Where the router sends traffic for one route target."""

    dev: str
    via: ipaddress.IPv4Address
    origin: str  # the AWS id of the target


def local_routes(vpc: Vpc, bridges: dict[str, str], table: int) -> list[KernelRoute]:
    """The `local` route, plus a last resort: what no route matches goes to the `noroute` stub
    device, where the router's nftables counts and drops it (silently, as AWS does; a Linux table
    without a match would instead fall through to the main table, and a blackhole route counts
    nothing)."""
    routes = [KernelRoute(s.cidr, bridges[s.name], table=table, origin="local") for s in vpc.subnets.values()]
    if not any(s.cidr == vpc.cidr for s in vpc.subnets.values()):  # a subnet may be the whole VPC
        routes.append(KernelRoute(vpc.cidr, NO_ROUTE_DEV, table=table, origin="local"))
    return routes + [KernelRoute(DEFAULT, NO_ROUTE_DEV, table=table, metric=NO_ROUTE_METRIC, origin="no route")]


def table_routes(
    vpc: Vpc, table: ModelRouteTable, number: int, bridges: dict[str, str], hops: dict[str, NextHop]
) -> list[KernelRoute]:
    routes = local_routes(vpc, bridges, number)
    for route in effective_routes(vpc, table):
        hop = hops[route.target]
        if isinstance(route.destination, PrefixListRef):
            pl = route.destination
            cidrs = regions.region(pl.region).services[pl.service].ranges
            origin = f"{pl.pl_id} ({regions.region(pl.region).services[pl.service].prefix_list_name}) -> {hop.origin}"
            routes += [KernelRoute(c, hop.dev, hop.via, number, metric=PREFIX_LIST_METRIC, origin=origin) for c in cidrs]
        else:
            routes.append(KernelRoute(route.destination, hop.dev, hop.via, number, metric=STATIC_METRIC, origin=hop.origin))
    return routes


def vpc_router_tables(
    vpc: Vpc, bridges: dict[str, str], hops: dict[str, NextHop], edges: list[str]
) -> tuple[list[RouteTable], list[RoutingRule]]:
    """Kernel tables and `ip rule`s for one VPC router.

    bridges: subnet name -> bridge interface; hops: route target -> next hop;
    edges: the router's interfaces toward gateways, endpoints and peers.
    """
    main = ModelRouteTable(names.MAIN_TABLE_NAME, ())
    numbered = [(MAIN_ROUTE_TABLE, main)] + [(FIRST_TABLE + i, rt) for i, rt in enumerate(vpc.route_tables.values())]
    tables = [
        RouteTable(n, names.route_table_id(vpc.name, rt.name), rt.name, tuple(table_routes(vpc, rt, n, bridges, hops)))
        for n, rt in numbered
    ]
    edge_id = names.route_table_id(vpc.name, names.EDGE_TABLE_NAME)
    tables.append(
        RouteTable(EDGE_TABLE, edge_id, "edge (from gateways and peers)", tuple(local_routes(vpc, bridges, EDGE_TABLE)))
    )
    number_of = {rt.name: n for n, rt in numbered[1:]} | {None: MAIN_ROUTE_TABLE}
    rules = [RoutingRule(1000 + i, number_of[s.route_table], iif=bridges[s.name]) for i, s in enumerate(vpc.subnets.values())]
    rules += [RoutingRule(2000 + i, EDGE_TABLE, iif=dev) for i, dev in enumerate(edges)]
    return tables, rules
