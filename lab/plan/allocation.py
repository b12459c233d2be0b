"""The addresses and ids of a lab, allocated once per plan before any node is built.

Every builder (lab.plan.compile and the component modules beside it) reads from this one frozen
value, and the plan carries it, so the layers above look up "the address of this NAT gateway" or
"the vpce id of this endpoint" instead of rebuilding them. Components are keyed by typed keys:
a NAT gateway's or endpoint's name is scoped to its VPC (lab.model.topology).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lab.model import regions
from lab.model.topology import Topology, Vpc
from lab.plan import names
from lab.plan.addressing import PublicIpPool, SubnetAllocator

Addr = ipaddress.IPv4Address


@dataclass(frozen=True, order=True)
class NatKey:
    """A NAT gateway: its name is scoped to its VPC."""

    vpc: str
    name: str


@dataclass(frozen=True, order=True)
class EndpointKey:
    """A VPC endpoint: its name is scoped to its VPC."""

    vpc: str
    name: str


@dataclass(frozen=True, order=True)
class LoadBalancerKey:
    """A Network Load Balancer: its name is scoped to its VPC in the model (unique per region in AWS)."""

    vpc: str
    name: str


@dataclass(frozen=True)
class PublicIp:
    """A public IPv4 address (auto-assigned or Elastic) mapped 1:1 by an internet gateway."""

    address: Addr
    private_ip: Addr
    owner: str  # instance or NAT gateway name
    vpc: str
    elastic: bool
    allocation_id: str | None = None


@dataclass(frozen=True)
class Allocation:
    """instance name -> private IP; NAT gateway -> private IP; interface endpoint -> {AZ: ENI IP};
    the public IPs the internet gateways map; each endpoint's vpce id and each peering's pcx id."""

    instance_ips: Mapping[str, Addr]
    nat_ips: Mapping[NatKey, Addr]
    endpoint_ips: Mapping[EndpointKey, Mapping[str, Addr]]
    public_ips: tuple[PublicIp, ...]
    vpce_ids: Mapping[EndpointKey, str]
    pcx_ids: Mapping[str, str]
    # NLB -> {AZ: its node's IP}
    load_balancer_ips: Mapping[LoadBalancerKey, Mapping[str, Addr]] = field(default_factory=lambda: MappingProxyType({}))


def allocate(t: Topology, kept: Allocation | None = None) -> Allocation:
    """`kept`: the running plan's allocation (a live change): what still exists keeps its addresses."""
    instance_ips: dict[str, Addr] = {}
    nat_ips: dict[NatKey, Addr] = {}
    endpoint_ips: dict[EndpointKey, Mapping[str, Addr]] = {}
    lb_ips: dict[LoadBalancerKey, Mapping[str, Addr]] = {}
    for vpc in t.vpcs.values():
        pools = {s.name: SubnetAllocator(s, t.file) for s in vpc.subnets.values()}
        for ep in vpc.endpoints.values():  # addresses asked for are claimed before any is picked
            for subnet, address in ep.subnet_ips.items():
                pools[subnet].claim(address)
        held = claim_kept(vpc, pools, kept)
        instance_ips |= instance_addresses(t, vpc, pools)
        for nat in vpc.nat_gateways.values():
            nat_key = NatKey(vpc.name, nat.name)
            nat_ips[nat_key] = held.get(nat_key) or pools[nat.subnet].take(f"nat gateway {nat.name}", nat.line, True)
        for ep in vpc.endpoints.values():
            if ep.type == "interface":
                ep_key = EndpointKey(vpc.name, ep.name)
                ips = held.get(ep_key) or {}
                endpoint_ips[ep_key] = MappingProxyType(
                    {
                        vpc.subnets[s].az: ep.subnet_ips.get(s)
                        or ips.get(vpc.subnets[s].az)
                        or pools[s].take(f"endpoint {ep.name}", ep.line, True)
                        for s in ep.subnets
                    }
                )
        lb_ips |= load_balancer_addresses(vpc, pools, held)
    vpce_ids = endpoint_ids(t)
    pcx_ids = {p.name: names.pcx_id(p.name) for p in t.peerings()}
    return Allocation(
        MappingProxyType(instance_ips),
        MappingProxyType(nat_ips),
        MappingProxyType(endpoint_ips),
        public_addresses(t, instance_ips, nat_ips),
        MappingProxyType(vpce_ids),
        MappingProxyType(pcx_ids),
        MappingProxyType(lb_ips),
    )


def endpoint_ids(t: Topology) -> dict[EndpointKey, str]:
    """Each endpoint's vpce id: the one the EC2 API gave it when it was created live, else made
    from its name (lab.plan.names)."""
    return {
        EndpointKey(v.name, n): e.vpce_id or names.vpce_id(v.name, n)  # nothing else builds an endpoint's id
        for v in t.vpcs.values()
        for n, e in v.endpoints.items()
    }


def load_balancer_addresses(vpc: Vpc, pools: dict[str, SubnetAllocator], held: dict) -> dict[LoadBalancerKey, Mapping[str, Addr]]:
    """One private IP per NLB subnet, from the top of the subnet as for other AWS-managed ENIs."""
    found: dict[LoadBalancerKey, Mapping[str, Addr]] = {}
    for lb in vpc.load_balancers.values():
        key = LoadBalancerKey(vpc.name, lb.name)
        ips = held.get(key) or {}
        found[key] = MappingProxyType(
            {
                vpc.subnets[s].az: ips.get(vpc.subnets[s].az) or pools[s].take(f"load balancer {lb.name}", lb.line, True)
                for s in lb.subnets
            }
        )
    return found


def claim_kept(vpc: Vpc, pools: dict[str, SubnetAllocator], kept: Allocation | None) -> dict:
    """The running plan's addresses of this VPC's NAT gateways, interface endpoints and NLBs that
    still exist, claimed in their subnets before anything new is picked: a live change never
    moves an address AWS would keep. key -> address (NAT) or {AZ: address}."""
    if kept is None:
        return {}
    held: dict = {}
    subnet_of = {s.cidr: s.name for s in vpc.subnets.values()}
    for nat, address in kept.nat_ips.items():
        if nat.vpc == vpc.name and nat.name in vpc.nat_gateways:
            held[nat] = pools[vpc.nat_gateways[nat.name].subnet].claim(address)
    tables: tuple[tuple[Mapping, Mapping], ...] = (
        (kept.endpoint_ips, vpc.endpoints),
        (kept.load_balancer_ips, vpc.load_balancers),
    )
    for table, present in tables:
        for key, by_az in table.items():
            if key.vpc == vpc.name and key.name in present:
                held[key] = {az: claimed(pools, subnet_of, address) for az, address in by_az.items()}
    return held


def claimed(pools: dict[str, SubnetAllocator], subnet_of: dict, address: Addr) -> Addr | None:
    """`address` claimed in the subnet that holds it; None if no subnet does any more."""
    subnet = next((name for cidr, name in subnet_of.items() if address in cidr), None)
    return None if subnet is None else pools[subnet].claim(address)


def instance_addresses(t: Topology, vpc: Vpc, pools: dict[str, SubnetAllocator]) -> dict[str, Addr]:
    """Fixed addresses are claimed first, so an automatic one never takes an address asked for."""
    insts = [i for i in t.instances.values() if i.vpc == vpc.name]
    out = {i.name: pools[i.subnet].claim(i.private_ip) for i in insts if i.private_ip}
    for inst in insts:
        if not inst.private_ip:
            out[inst.name] = pools[inst.subnet].take(f"instance {inst.name}", inst.line)
    return out


def public_addresses(t: Topology, instance_ips: Mapping[str, Addr], nat_ips: Mapping[NatKey, Addr]) -> tuple[PublicIp, ...]:
    """Auto-assigned public IPs of instances, then one Elastic IP per NAT gateway."""
    pool = PublicIpPool(regions.region(t.region).ec2_ranges)
    out = [
        PublicIp(pool.take(i.vpc, i.name), instance_ips[i.name], i.name, i.vpc, elastic=False)
        for i in t.instances.values()
        if i.public_ip
    ]
    out += [
        PublicIp(
            pool.take(key.vpc, key.name),
            ip,
            key.name,
            key.vpc,
            elastic=True,
            allocation_id=names.eip_allocation_id(key.vpc, key.name),
        )
        for key, ip in nat_ips.items()
    ]
    return tuple(out)
