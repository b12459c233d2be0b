"""AWS's rules for a parsed topology, reported with AWS's own error codes.

Every rule collects problems instead of stopping at the first, so one run shows them all. Codes are
AWS's where AWS has one (EC2 API error codes, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html);
where AWS accepts a setting that cannot work, vpclab warns with a code of its own, prefixed `vpclab.`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from lab.errors import Problem, TopologyError
from lab.model import regions
from lab.model.checks import choices, error
from lab.model.s3_names import BUCKET_NAME_CODE, bucket_name_problem
from lab.model.topology import PrefixListRef, Route, RouteTable, Subnet, Topology, Vpc
from lab.model.validate_endpoint_services import check_endpoint_services
from lab.model.validate_endpoints import check_endpoints
from lab.model.validate_load_balancers import check_load_balancers
from lab.model.validate_security import check_group_refs, check_network_acls, check_security_groups

RESTRICTED = [ipaddress.IPv4Network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3")]


def validate(topology: Topology) -> list[Problem]:
    """Raise TopologyError if any rule is broken; return the warnings otherwise."""
    found = list(problems(topology))
    errors = [p for p in found if p.severity == "error"]
    if errors:
        raise TopologyError(errors)
    return found


def problems(t: Topology) -> Iterator[Problem]:
    for vpc in t.vpcs.values():
        yield from check_vpc_cidr(t, vpc)
        yield from check_subnets(t, vpc)
        yield from check_route_tables(t, vpc)
        yield from check_gateways(t, vpc)
        yield from check_endpoints(t, vpc)
        yield from check_endpoint_services(t, vpc)
        yield from check_security_groups(t, vpc)
        yield from check_network_acls(t, vpc)
        yield from check_peerings(t, vpc)
    yield from check_instances(t)
    yield from check_load_balancers(t)
    yield from check_services(t)


def check_vpc_cidr(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    if not 16 <= vpc.cidr.prefixlen <= 28:
        yield error(t, vpc.line, f"vpc {vpc.name} {vpc.cidr}: a VPC's CIDR block must be between /16 and /28", "InvalidVpc.Range")
    elif any(vpc.cidr.overlaps(r) for r in RESTRICTED):
        yield error(
            t,
            vpc.line,
            f"vpc {vpc.name} {vpc.cidr}: the CIDR is restricted (loopback, "
            "link-local or multicast); use an RFC 1918 or publicly routable range",
            "InvalidVpc.Range",
        )


def check_subnets(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    seen: list[Subnet] = []
    for sub in vpc.subnets.values():
        where = f"subnet {sub.name} {sub.cidr}"
        if not 16 <= sub.cidr.prefixlen <= 28:
            yield error(t, sub.line, f"{where}: a subnet's CIDR block must be between /16 and /28", "InvalidSubnet.Range")
        elif not sub.cidr.subnet_of(vpc.cidr):
            yield error(t, sub.line, f"{where} is not inside vpc {vpc.name} {vpc.cidr}", "InvalidSubnet.Range")
        for other in seen:
            if sub.cidr.overlaps(other.cidr):
                yield error(
                    t,
                    sub.line,
                    f"{where} conflicts with subnet {other.name} {other.cidr} (line {other.line})",
                    "InvalidSubnet.Conflict",
                )
        seen.append(sub)
        if sub.route_table and sub.route_table not in vpc.route_tables:
            yield error(
                t,
                sub.line,
                f"{where}: route table '{sub.route_table}' does not exist in vpc {vpc.name}{choices(vpc.route_tables)}",
                "InvalidRouteTableID.NotFound",
            )
        if sub.network_acl and sub.network_acl not in vpc.network_acls:
            yield error(
                t,
                sub.line,
                f"{where}: network acl '{sub.network_acl}' does not exist in vpc {vpc.name}{choices(vpc.network_acls)}",
                "InvalidNetworkAclID.NotFound",
            )


def route_targets(t: Topology, vpc: Vpc) -> dict[str, str]:
    """Every name a route in `vpc` may target, with its kind; a name used twice is a problem elsewhere."""
    targets = {"igw": "internet-gateway"} if vpc.internet_gateway else {}
    targets.update({n: "nat-gateway" for n in vpc.nat_gateways})
    targets.update({n: f"{e.type}-endpoint" for n, e in vpc.endpoints.items()})
    targets.update({p.name: "peering" for p in t.peerings_of(vpc.name)})
    return targets


def check_route_tables(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    targets = route_targets(t, vpc)
    for table in vpc.route_tables.values():
        seen: dict[object, Route] = {}
        for route in effective_routes(vpc, table):
            yield from check_route(t, vpc, table, route, targets)
            key = route.destination
            if isinstance(key, PrefixListRef) and key in seen and seen[key].target != route.target:
                yield error(
                    t,
                    route.line,
                    f"route table {table.name} already has a route with "
                    f"destination-prefix-list-id {key.pl_id} (to {seen[key].target}, line "
                    f"{seen[key].line}); one route per prefix list",
                    "InvalidParameter",
                )
            elif key in seen:
                yield error(
                    t,
                    route.line,
                    f"route table {table.name}: the route identified by {key} already exists (line {seen[key].line})",
                    "RouteAlreadyExists",
                )
            seen.setdefault(key, route)


def effective_routes(vpc: Vpc, table: RouteTable) -> list[Route]:
    """The table's own routes plus the prefix-list route each associated gateway endpoint adds."""
    routes = list(table.routes)
    for ep in vpc.endpoints.values():
        if ep.type == "gateway" and table.name in ep.route_tables:
            svc = regions.REGIONS.get(ep.region, None)
            if svc and ep.service in svc.services and svc.services[ep.service].prefix_list_id:
                pl = svc.services[ep.service]
                ref = PrefixListRef(pl.region, pl.service, pl.prefix_list_id or "")
                if not any(r.destination == ref and r.target == ep.name for r in routes):
                    routes.append(Route(ref, ep.name, line=ep.line))
    return routes


def check_route(t: Topology, vpc: Vpc, table: RouteTable, route: Route, targets: dict) -> Iterator[Problem]:
    dest, where = route.destination, f"route table {table.name}: route {route.destination} -> {route.target}"
    if isinstance(dest, ipaddress.IPv4Network):
        if dest == vpc.cidr:
            yield error(
                t,
                route.line,
                f"{where}: the route identified by {dest} already exists (it is the VPC's local route)",
                "RouteAlreadyExists",
            )
            return
        if dest.subnet_of(vpc.cidr):
            yield error(
                t,
                route.line,
                f"{where}: the destination is inside the VPC's own CIDR "
                f"{vpc.cidr}; AWS allows that only for a whole subnet's CIDR toward a middlebox "
                "(NAT gateway, network interface, Gateway Load Balancer endpoint), which vpclab "
                "does not emulate yet",
                "InvalidParameterValue",
            )
            return
    kind = targets.get(route.target)
    if kind is None:
        hint = " (the vpc has no internet gateway: set internet_gateway: true)" if route.target == "igw" else ""
        yield error(
            t,
            route.line,
            f"{where}: no gateway named '{route.target}' in vpc {vpc.name}{hint}{choices(targets)}",
            "InvalidGatewayID.NotFound",
        )
    elif kind == "interface-endpoint":
        yield error(
            t,
            route.line,
            f"{where}: an interface endpoint is not a route target; clients reach it through its private IPs and DNS names",
            "InvalidParameterValue",
        )
    elif kind == "gateway-endpoint":
        ep = vpc.endpoints[route.target]
        if not (isinstance(dest, PrefixListRef) and dest.service == ep.service and dest.region == ep.region):
            yield error(
                t,
                route.line,
                f"{where}: a gateway endpoint is reached only through the route "
                f"its prefix list gets when the table is associated (route_tables of endpoint "
                f"{ep.name}); its destination is {ep.service_name}'s prefix list",
                "InvalidParameterValue",
            )


def check_gateways(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    names: dict[str, str] = {}
    peerings = {p.name: p for p in t.peerings_of(vpc.name)}
    for kind, group in (("nat gateway", vpc.nat_gateways), ("endpoint", vpc.endpoints), ("peering connection", peerings)):
        for name, obj in group.items():
            if name == "igw" or name in names:
                yield error(
                    t,
                    obj.line,
                    f"{kind} name '{name}' is already used by "
                    f"{names.get(name, 'the internet gateway')} in vpc {vpc.name}; route "
                    "targets need distinct names",
                    "InvalidParameterValue",
                )
            names[name] = f"{kind} {name}"
    for nat in vpc.nat_gateways.values():
        sub = vpc.subnets.get(nat.subnet)
        if sub is None:
            yield error(
                t,
                nat.line,
                f"nat gateway {nat.name}: subnet '{nat.subnet}' does not exist in vpc {vpc.name}{choices(vpc.subnets)}",
                "InvalidSubnetID.NotFound",
            )
        elif not routes_to_igw(vpc, sub.route_table):
            yield Problem(
                t.file,
                nat.line,
                f"nat gateway {nat.name} is in subnet {sub.name}, whose route "
                "table has no default route to the internet gateway: AWS accepts it, but "
                "nothing it translates can reach the internet",
                "vpclab.NatGatewayNotPublic",
                "warning",
            )


def routes_to_igw(vpc: Vpc, table: str | None) -> bool:
    routes = vpc.route_tables[table].routes if table in vpc.route_tables else ()
    return vpc.internet_gateway and any(
        r.target == "igw" and isinstance(r.destination, ipaddress.IPv4Network) and r.destination.prefixlen == 0 for r in routes
    )


def check_peerings(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    for pcx in vpc.peerings.values():
        first = next(p for p in t.peerings() if p.name == pcx.name)
        if first is not pcx:  # one name, one pcx id: peering names are unique in a topology
            yield error(
                t,
                pcx.line,
                f"peering connection name '{pcx.name}' is already used in vpc {first.requester} (line {first.line})",
                "InvalidParameterValue",
            )
        peer = t.vpcs.get(pcx.accepter)
        if peer is None:
            yield error(
                t,
                pcx.line,
                f"peering connection {pcx.name}: vpc '{pcx.accepter}' does not exist{choices(t.vpcs)}",
                "InvalidVpcID.NotFound",
            )
        elif peer.name == vpc.name:
            yield error(t, pcx.line, f"peering connection {pcx.name}: a VPC cannot peer with itself", "InvalidParameterValue")
        elif peer.cidr.overlaps(vpc.cidr):
            yield error(
                t,
                pcx.line,
                f"peering connection {pcx.name}: vpc {vpc.name} {vpc.cidr} and vpc "
                f"{peer.name} {peer.cidr} overlap; peered VPCs need distinct CIDR blocks",
                "InvalidParameterValue",
            )


def check_instances(t: Topology) -> Iterator[Problem]:
    taken: dict[tuple[str, ipaddress.IPv4Address], str] = {}  # (vpc, address): VPCs may overlap
    for inst in t.instances.values():
        vpc = t.vpcs[inst.vpc]
        sub = vpc.subnets.get(inst.subnet)
        yield from check_group_refs(t, vpc, inst.security_groups, f"instance {inst.name}", inst.line)
        if sub is None:
            yield error(
                t,
                inst.line,
                f"instance {inst.name}: subnet '{inst.subnet}' does not exist in vpc {vpc.name}{choices(vpc.subnets)}",
                "InvalidSubnetID.NotFound",
            )
            continue
        ip = inst.private_ip
        if ip is None:
            continue
        where = f"instance {inst.name} private_ip {ip}"
        if ip not in sub.cidr:
            yield error(
                t, inst.line, f"{where}: address does not fall within subnet {sub.name} {sub.cidr}", "InvalidParameterValue"
            )
        elif int(ip) - int(sub.cidr.network_address) < 4 or ip == sub.cidr.broadcast_address:
            yield error(
                t,
                inst.line,
                f"{where} is in subnet {sub.name}'s reserved address range (AWS "
                "keeps the first four addresses and the last one of every subnet)",
                "InvalidParameterValue",
            )
        elif (vpc.name, ip) in taken:
            yield error(t, inst.line, f"{where}: address is in use by {taken[vpc.name, ip]}", "InvalidIPAddress.InUse")
        else:
            taken[vpc.name, ip] = f"instance {inst.name}"


def check_services(t: Topology) -> Iterator[Problem]:
    for bucket in t.buckets.values():
        name = bucket.name
        broken = bucket_name_problem(name)
        if broken:
            yield error(t, bucket.line, f"bucket '{name}': {broken}", BUCKET_NAME_CODE)
        if bucket.region not in regions.REGIONS:
            yield error(
                t,
                bucket.line,
                f"bucket '{name}': region '{bucket.region}' is not one the lab emulates ({', '.join(regions.REGIONS)})",
                "InvalidLocationConstraint",
            )
    for table in t.tables.values():
        if table.region not in regions.REGIONS:
            yield error(
                t,
                table.line,
                f"table '{table.name}': region '{table.region}' is not one the lab emulates ({', '.join(regions.REGIONS)})",
                "InvalidParameterValue",
            )
