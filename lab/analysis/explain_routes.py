"""Route table look-ups as AWS makes them, for explain's walk and for the reply's way back.

Longest prefix match in the subnet's route table (the main table when it names none): a more
specific CIDR beats a prefix list, and on the very same prefix a static route beats a prefix-list
route (VPC_Route_Tables.html, "Route priority and prefix lists"); `local` covers the VPC's CIDR.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lab.model import regions
from lab.model.topology import PrefixListRef, Route, Vpc
from lab.model.validate import effective_routes
from lab.plan.types import Plan

Addr = ipaddress.IPv4Address


@dataclass(frozen=True)
class Choice:
    """What a route table does with a destination: `found` false when no route matches (AWS drops
    it); `target` None for the local route; `text` the route in AWS's words."""

    table: str  # 'private (rtb-0ab...)'
    rtb: str
    found: bool
    target: str | None
    text: str


def lookup(plan: Plan, vpc: Vpc, subnet: str, dst: Addr) -> Choice:
    table_name = vpc.subnets[subnet].route_table
    table = vpc.route_tables.get(table_name) if table_name else None
    rtb = plan.route_table(vpc.name, table_name).aws_id
    best: tuple[tuple[int, int], Route | None, str] = (
        ((vpc.cidr.prefixlen, 2), None, "local") if dst in vpc.cidr else ((-1, 0), None, "")
    )
    for route in effective_routes(vpc, table) if table else []:
        for prefix in prefixes(route):
            if dst in prefix:
                rank = (prefix.prefixlen, 1 if isinstance(route.destination, PrefixListRef) else 2)
                if rank > best[0]:
                    best = (rank, route, str(prefix))
    rank, chosen, prefix_text = best
    text = prefix_text if chosen is None else describe(chosen, prefix_text)
    return Choice(f"{table_name or 'main'} ({rtb})", rtb, rank[0] >= 0, None if chosen is None else chosen.target, text)


def prefixes(route: Route) -> tuple[ipaddress.IPv4Network, ...]:
    dest = route.destination
    if isinstance(dest, PrefixListRef):
        return regions.region(dest.region).services[dest.service].ranges
    return (dest,)


def describe(route: Route, prefix: str) -> str:
    dest = route.destination
    if isinstance(dest, PrefixListRef):
        pl_name = regions.region(dest.region).services[dest.service].prefix_list_name
        return f"{dest.pl_id} ({pl_name}, {prefix}) -> {route.target}"
    return f"{prefix} -> {route.target}"
