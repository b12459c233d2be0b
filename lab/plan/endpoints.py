"""VPC endpoints: a gateway endpoint is a route target of the VPC's router (a node on an edge of
it, to which the service's prefix-list routes lead); an interface endpoint is one ENI per chosen
subnet's AZ. Both reach their service's front over a private link of their own (lab.plan.fronts).
"""

from __future__ import annotations

import ipaddress

from lab.model import regions
from lab.model.topology import Endpoint
from lab.plan import names, nftables
from lab.plan.allocation import EndpointKey
from lab.plan.context import Build
from lab.plan.endpoint_services import build_consumer_endpoint
from lab.plan.fronts import Fronts
from lab.plan.gateways import eni, host_route
from lab.plan.load_balancers import LoadBalancers
from lab.plan.routing import NextHop
from lab.plan.types import Interface, KernelRoute, Node
from lab.plan.vpc_router import Edge, VpcWiring

IfAddr = ipaddress.IPv4Interface


def build_endpoints(build: Build, wiring: VpcWiring, fronts: Fronts, nlbs: LoadBalancers) -> None:
    for ep in wiring.vpc.endpoints.values():
        if ep.endpoint_service:  # PrivateLink to a provider's NLB (lab.plan.endpoint_services)
            build_consumer_endpoint(build, wiring, nlbs, ep)
        elif ep.type == "gateway":
            build_gateway_endpoint(build, wiring, fronts, ep)
        else:
            build_interface_endpoint(build, wiring, fronts, ep)


def build_gateway_endpoint(build: Build, wiring: VpcWiring, fronts: Fronts, ep: Endpoint) -> None:
    vpc, key = wiring.vpc, EndpointKey(wiring.vpc.name, ep.name)
    node, vpce = names.gateway_endpoint_node(vpc.name, ep.name), build.allocation.vpce_ids[key]
    svc = regions.region(ep.region).services[ep.service]
    dev, (r_side, e_side) = wiring.gateway_endpoint_edge(build, node), build.transit_pair(f"edge {node}")
    wiring.add_edge(Edge(Interface(dev, (r_side,)), ep.name, NextHop(dev, e_side.ip, vpce)))
    build.link((wiring.router, dev), (node, names.TO_VPC), "transit", f"route target {vpce}")
    out, svc_side = fronts.connect(build, node, key, ep.service, ep.region)
    build.add(
        Node(
            node,
            "gateway-endpoint",
            vpce,
            vpc.name,
            (Interface(names.TO_VPC, (e_side,)), out),
            routes=(KernelRoute(vpc.cidr, names.TO_VPC, r_side.ip, origin="vpc"),)
            + tuple(
                KernelRoute(c, names.TO_SERVICE, svc_side, origin=svc.prefix_list_id or svc.service_name) for c in svc.ranges
            ),
            nftables=nftables.gateway_endpoint([s.cidr for s in vpc.subnets.values()], names.TO_VPC, names.TO_SERVICE),
            forwarding=True,
            description=f"gateway endpoint {ep.name} for {svc.service_name}",
        )
    )


def build_interface_endpoint(build: Build, wiring: VpcWiring, fronts: Fronts, ep: Endpoint) -> None:
    vpc, key = wiring.vpc, EndpointKey(wiring.vpc.name, ep.name)
    vpce, svc = build.allocation.vpce_ids[key], regions.region(ep.region).services[ep.service]
    for subnet in ep.subnets:
        az = vpc.subnets[subnet].az
        node, eni_id = names.endpoint_eni_node(vpc.name, ep.name, az), names.endpoint_eni_id(vpc.name, ep.name, az)
        address = build.allocation.endpoint_ips[key][az]
        wiring.attach(build, node, subnet)
        out, svc_side = fronts.connect(build, node, key, ep.service, ep.region)
        build.add(
            Node(
                node,
                "interface-endpoint",
                eni_id,
                vpc.name,
                (eni(vpc, subnet, node, address, eni_id), out),
                routes=host_route(wiring.subnet_gateway(subnet))
                + tuple(
                    KernelRoute(IfAddr(f"{a}/32").network, names.TO_SERVICE, svc_side, origin="service") for a in svc.addresses
                ),
                nftables=nftables.interface_endpoint(names.ENI, address, svc.addresses[0]),
                forwarding=True,
                description=f"ENI of interface endpoint {ep.name} ({vpce}) in {az}",
            )
        )
