"""Model -> plan: every node, link, address, route, rule and ruleset of a lab, as data (no root).

The allocation (addresses and ids) is made once (lab.plan.allocation); then one builder per AWS
component adds its nodes and links, in a fixed order, so the same topology always gives the same
plan. Names come from lab.plan.names. Adding a component: see docs/architecture.md, "Adding an
AWS component".
"""

from __future__ import annotations

from types import MappingProxyType

from lab.model import regions
from lab.model.ids import ACCOUNT_ID
from lab.model.topology import Topology
from lab.plan import gateways
from lab.plan.allocation import allocate
from lab.plan.context import Build
from lab.plan.dns import public_resolver, resolvers
from lab.plan.endpoint_services import service_plans
from lab.plan.endpoints import build_endpoints
from lab.plan.fronts import Fronts
from lab.plan.internet import CLIENT_NET, build_internet
from lab.plan.kept import Kept
from lab.plan.load_balancers import LoadBalancers
from lab.plan.security import eni_security, subnet_acls
from lab.plan.security_types import EniSecurity, SubnetAcl
from lab.plan.settings import Settings
from lab.plan.types import Plan
from lab.plan.vpc_router import VpcWiring, build_router


def compile_plan(topology: Topology, settings: Settings | None = None, kept: Kept | None = None) -> Plan:
    """`settings`: AWS's values unless a caller wants others (lab.plan.settings); `kept`: what a
    live change keeps of the running plan (lab.plan.kept), nothing for a new lab."""
    settings, kept = settings or Settings(), kept or Kept()
    build = Build(topology, allocate(topology, kept.allocation), settings, kept=kept)
    fronts = Fronts(topology, settings)
    load_balancers = LoadBalancers(topology)
    wirings = {vpc.name: VpcWiring.of(vpc) for vpc in topology.vpcs.values()}
    gateways.build_peerings(build, wirings)
    igw_sides = {}
    security: dict[str, EniSecurity] = {}
    acls: dict[str, SubnetAcl] = {}
    for wiring in wirings.values():
        gateways.build_instances(build, wiring)
        gateways.build_nat_gateways(build, wiring)
        igw_sides[wiring.vpc.name] = gateways.build_internet_gateway(build, wiring)
        build_endpoints(build, wiring, fronts, load_balancers)
        load_balancers.attach(build, wiring)
        vpc_security, vpc_acls = eni_security(topology, wiring.vpc, build.allocation), subnet_acls(wiring.vpc, wiring.bridges)
        build_router(build, wiring, vpc_security, vpc_acls)
        security |= vpc_security
        acls |= vpc_acls
    build_internet(build, {v: s for v, s in igw_sides.items() if s}, fronts)
    for service, region in fronts.ways:
        fronts.build(build, service, region)
    nlbs = load_balancers.build(build, wirings, security)
    build.check_names()
    a = build.allocation
    return Plan(
        topology.file,
        topology.region,
        build.nodes,
        tuple(build.links),
        a.public_ips,
        resolvers(topology, a),
        fronts.service_fronts(),
        {svc.prefix_list_id: svc.ranges for svc in regions.all_services() if svc.prefix_list_id},
        security,
        acls,
        a,
        settings,
        nlbs,
        service_plans(topology, a),
        tuple(sorted({v.account for v in topology.vpcs.values()} | {ACCOUNT_ID})),
        public_resolver(topology, a, CLIENT_NET.ip),
        MappingProxyType(build.pairs.given),
    )
