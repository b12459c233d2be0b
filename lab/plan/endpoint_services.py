"""Endpoint services (PrivateLink to a provider's own NLB) in the plan: the service as describe-
vpc-endpoint-service-configurations shows it, and the consumer side, an interface endpoint whose
ENIs (one per subnet, as for an AWS service: lab.plan.endpoints) forward to the NLB node of their
AZ over a private link of their own into that node, never through a route between the VPCs: so
overlapping CIDRs work, and nothing in the provider VPC can open a connection back (no route
leads to the consumer). The NLB node knows the endpoint of every connection by the link it came
in on (lab.plan.load_balancer_types.NlbIngress carries the vpce id, for PPv2's AWS TLV).

The connection's state decides what the ENI does (lab.model.endpoint_connections): `available`
forwards the NLB's listener ports; `pendingAcceptance` and `rejected` carry nothing, each dropped
packet counted under the state's name (ENDPOINT_CONNECTION_PENDING_ACCEPTANCE / _REJECTED).
"""

from __future__ import annotations

import ipaddress

from lab.model.accounts import endpoint_service_arn
from lab.model.endpoint_connections import AVAILABLE, DROP_CODES, connection_state
from lab.model.topology import Endpoint, EndpointService, Topology
from lab.model.validate_endpoint_services import PRIVATE_DNS_STATE, service_azs
from lab.plan import names, nftables
from lab.plan.allocation import Allocation, EndpointKey
from lab.plan.context import Build
from lab.plan.endpoint_service_types import EndpointConnection, EndpointServicePlan
from lab.plan.gateways import eni, host_route
from lab.plan.load_balancers import LoadBalancers
from lab.plan.types import Node
from lab.plan.vpc_router import VpcWiring

Addr = ipaddress.IPv4Address
TABLE = "interface_endpoint"  # the same table as an AWS service's ENI, swapped whole on a change


def consumers(t: Topology, svc: EndpointService) -> list[tuple[str, Endpoint]]:
    """(vpc, endpoint) of every endpoint to `svc`, in topology order."""
    return [(v.name, e) for v in t.vpcs.values() for e in v.endpoints.values() if t.endpoint_service_of(e) == svc]


def service_plan(t: Topology, svc: EndpointService, connections: tuple[EndpointConnection, ...]) -> EndpointServicePlan:
    return EndpointServicePlan(
        svc.vpc,
        svc.name,
        svc.service_id,
        svc.service_name,
        endpoint_service_arn(svc.region, svc.account, svc.service_id),
        svc.account,
        svc.network_load_balancers,
        tuple(service_azs(t.vpcs[svc.vpc], svc)),
        svc.acceptance_required,
        svc.allowed_principals,
        svc.private_dns_name,
        PRIVATE_DNS_STATE if svc.private_dns_name else None,
        connections,
    )


def load_balancer_for(t: Topology, svc: EndpointService, az: str) -> str:
    """The first of the service's NLBs enabled in `az` (validation made sure there is one)."""
    vpc = t.vpcs[svc.vpc]
    return next(n for n in svc.network_load_balancers if any(vpc.subnets[s].az == az for s in vpc.load_balancers[n].subnets))


def state_of(t: Topology, vpc: str, ep: Endpoint) -> str:
    svc = t.endpoint_service_of(ep)
    assert svc is not None, "validation refuses an endpoint to an unknown service"
    return connection_state(svc, f"{vpc}/{ep.name}")


def consumer_eni_ruleset(eni: str, address: Addr, target: Addr, ports: tuple[int, ...], state: str) -> str:
    """The ENI's ruleset: when `available`, the NLB's listener ports at the ENI's address go to the
    NLB node (`target`, its side of the private link), keeping the consumer's address (the NLB
    node translates it); other TCP ports and other protocols lead nowhere, as at any interface
    endpoint (lab.plan.nftables.interface_endpoint). Pending or rejected: nothing is forwarded and
    each packet to the listener ports, or of a connection opened before a rejection, is counted
    under the state's name."""
    served = ports if state == AVAILABLE or state in DROP_CODES else ()
    return nftables.interface_endpoint(eni, address, target, served, DROP_CODES.get(state))


def dns_service_label(t: Topology, ep: Endpoint) -> str:
    """The label after the endpoint's id in its DNS names: the service's id for an endpoint
    service (`vpce-...-<suffix>.vpce-svc-....<region>.vpce.amazonaws.com`,
    https://docs.aws.amazon.com/vpc/latest/privatelink/endpoint-service.html), else the service."""
    svc = t.endpoint_service_of(ep) if ep.endpoint_service else None
    return svc.service_id if svc else ep.service


def build_consumer_endpoint(build: Build, wiring: VpcWiring, nlbs: LoadBalancers, ep: Endpoint) -> None:
    """One ENI node per subnet, each linked privately to the NLB node of its AZ."""
    t, vpc, key = build.t, wiring.vpc, EndpointKey(wiring.vpc.name, ep.name)
    svc, vpce = t.endpoint_service_of(ep), build.allocation.vpce_ids[key]
    assert svc is not None, "validation refuses an endpoint to an unknown service"
    state, provider = state_of(t, vpc.name, ep), t.vpcs[svc.vpc]
    for subnet in ep.subnets:
        az = vpc.subnets[subnet].az
        node, eni_id = names.endpoint_eni_node(vpc.name, ep.name, az), names.endpoint_eni_id(vpc.name, ep.name, az)
        address, lb = build.allocation.endpoint_ips[key][az], load_balancer_for(t, svc, az)
        wiring.attach(build, node, subnet)
        out, nlb_side = nlbs.connect(build, node, vpce, svc.vpc, lb, az)
        ports = tuple(sorted({listener.port for listener in provider.load_balancers[lb].listeners}))
        build.add(
            Node(
                node,
                "interface-endpoint",
                eni_id,
                vpc.name,
                (eni(vpc, subnet, node, address, eni_id), out),
                routes=host_route(wiring.subnet_gateway(subnet)),
                nftables=consumer_eni_ruleset(names.ENI, address, nlb_side, ports, state),
                forwarding=True,
                description=f"ENI of interface endpoint {ep.name} ({vpce}) in {az} to {svc.service_name}, {state}",
            )
        )


def service_plans(t: Topology, allocation: Allocation) -> tuple[EndpointServicePlan, ...]:
    """Every endpoint service of the topology with its consumers' connections."""
    found = []
    for svc in t.endpoint_services():
        connections = []
        for vpc, ep in consumers(t, svc):
            azs = [t.vpcs[vpc].subnets[s].az for s in ep.subnets]
            enis = tuple(
                (names.endpoint_eni_node(vpc, ep.name, az), names.load_balancer_node(svc.vpc, load_balancer_for(t, svc, az), az))
                for az in azs
            )
            key = EndpointKey(vpc, ep.name)
            connections.append(
                EndpointConnection(vpc, ep.name, allocation.vpce_ids[key], t.vpcs[vpc].account, state_of(t, vpc, ep), enis)
            )
        found.append(service_plan(t, svc, tuple(connections)))
    return tuple(found)
