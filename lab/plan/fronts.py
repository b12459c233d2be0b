"""AWS regional services as nodes: one front per (service, region) the lab emulates, with one way in
(an ingress) from the internet and one per endpoint ENI, so the front knows how every connection
arrived (the internet, or which vpce) and applies that endpoint's policy.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lab.errors import PlanError
from lab.model import regions
from lab.model.topology import Policy, Topology
from lab.plan import names, nftables
from lab.plan.allocation import EndpointKey
from lab.plan.context import Build
from lab.plan.kept import free_number
from lab.plan.settings import Settings
from lab.plan.types import Ingress, Interface, KernelRoute, Node, RoutingRule, ServiceFront

IfAddr = ipaddress.IPv4Interface
DEFAULT = ipaddress.IPv4Network("0.0.0.0/0")
INTERNET_LABEL = "internet"


@dataclass(frozen=True)
class FrontLink:
    """One way into a front: its interface there, its address, and 'internet' or the vpce id."""

    dev: str
    address: IfAddr
    label: str
    index: int  # k: its ports are the front ports' 2k-th and 2k+1-th, its conntrack mark k+1
    endpoint: EndpointKey | None = None


class Fronts:
    """The fronts the lab runs and the ways into each, in the order they are connected."""

    def __init__(self, t: Topology, settings: Settings):
        self.t, self.ports = t, settings.front_ports
        self.ways: dict[tuple[str, str], list[FrontLink]] = {k: [] for k in needed_fronts(t)}

    def connect(
        self, build: Build, node: str, endpoint: EndpointKey, service: str, region: str
    ) -> tuple[Interface, ipaddress.IPv4Address]:
        """A private link from an endpoint node to its service's front, one per endpoint ENI."""
        vpce, svc = build.allocation.vpce_ids[endpoint], regions.region(region).services[service]
        (e_side, s_side), ways = build.transit_pair(f"front {node}"), self.ways[service, region]
        front = names.front_node(service, region)
        index = build.kept.ingresses.get((front, vpce)) or self.free_index(build, front, ways)
        dev = names.front_ingress(index - 1)
        ways.append(FrontLink(dev, s_side, vpce, index, endpoint))
        build.link((node, names.TO_SERVICE), (front, dev), "service", f"{vpce} to {svc.service_name}")
        return Interface(names.TO_SERVICE, (e_side,)), s_side.ip

    @staticmethod
    def free_index(build: Build, front: str, ways: list[FrontLink]) -> int:
        """The first endpoint ingress index (from 1; the internet's is 0) that neither this plan nor
        the running one holds on `front`."""
        return free_number({w.index for w in ways} | {k for (node, _), k in build.kept.ingresses.items() if node == front})

    def from_internet(self, service: str, region: str, address: IfAddr) -> None:
        self.ways[service, region].insert(0, FrontLink(names.FRONT_FROM_INTERNET, address, INTERNET_LABEL, 0))

    def ingresses(self, service: str, region: str) -> list[Ingress]:
        """Ingress k gets the front ports' 2k-th (HTTP) and 2k+1-th (HTTPS) and conntrack mark k+1: no
        two ingresses share a port however many there are (8000+k and 8400+k collided from the 401st:
        a 500-VPC lab's endpoint would have answered as another)."""
        found, room = self.ordered(service, region), len(self.ports) // 2
        if found and found[-1].index >= room:
            raise PlanError(
                f"{service} {region}: {len(found)} ways in (the internet and one per endpoint); a lab's front has room for {room}"
            )
        return [
            Ingress(way.dev, way.label, self.ports[2 * way.index], self.ports[2 * way.index + 1], way.index + 1, *self.scope(way))
            for way in found
        ]

    def ordered(self, service: str, region: str) -> list[FrontLink]:
        """The front's ways in by ingress index (the internet's first)."""
        return sorted(self.ways[service, region], key=lambda w: w.index)

    def scope(self, way: FrontLink) -> tuple[str | None, Policy | None]:
        """(the endpoint's VPC id, its policy): what the front needs to evaluate its requests."""
        if way.endpoint is None:
            return None, None
        return names.vpc_id(way.endpoint.vpc), self.t.vpcs[way.endpoint.vpc].endpoints[way.endpoint.name].policy

    def service_fronts(self) -> tuple[ServiceFront, ...]:
        t = self.t
        return tuple(
            ServiceFront(
                s,
                r,
                names.front_node(s, r),
                regions.region(r).services[s].addresses,
                tuple(self.ingresses(s, r)),
                tuple(b for b in t.buckets.values() if s == "s3" and b.region == r),
                tuple(tb for tb in t.tables.values() if s == "dynamodb" and tb.region == r),
            )
            for s, r in self.ways
        )

    def build(self, build: Build, service: str, region: str) -> None:
        svc = regions.region(region).services[service]
        ingresses, ways = self.ingresses(service, region), self.ordered(service, region)
        routes = [r for i, w in zip(ingresses, ways) for r in reply_routes(i, w)]
        rules = [RoutingRule(1000 + i.mark, 100 + i.mark, fwmark=i.mark) for i in ingresses]
        build.add(
            Node(
                names.front_node(service, region),
                "service",
                svc.service_name,
                None,
                tuple(Interface(w.dev, (w.address,)) for w in ways),
                loopback=tuple(IfAddr(f"{a}/32") for a in svc.addresses),
                routes=tuple(routes),
                rules=tuple(rules),
                nftables=nftables.service_front(ingresses),
                description=f"{svc.service_name}: the regional front of {service} at {', '.join(map(str, svc.addresses))}",
            )
        )


def reply_routes(ingress: Ingress, way: FrontLink) -> list[KernelRoute]:
    """Replies leave by the interface their connection came in on (chosen by its conntrack mark)."""
    net = way.address.network
    peer = net.network_address + (2 if way.address.ip == net.network_address + 1 else 1)
    routes = [KernelRoute(DEFAULT, ingress.iface, peer, table=100 + ingress.mark, origin="reply path")]
    if ingress.label == INTERNET_LABEL:  # replies are routed once unmarked, then re-routed by mark
        routes.append(KernelRoute(DEFAULT, ingress.iface, peer, origin="internet"))
    return routes


def needed_fronts(t: Topology) -> list[tuple[str, str]]:
    """Every service the lab emulates, in every region it emulates, whatever the topology declares:
    AWS's public endpoints always answer (`s3.us-east-1.amazonaws.com` from a lab with no bucket
    there included). The lab's own region first, so its fronts take the first interface names."""
    order = [t.region] + [r for r in regions.REGIONS if r != t.region]
    return [(s, r) for r in order for s in regions.emulated_services()]
