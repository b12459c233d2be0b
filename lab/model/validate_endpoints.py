"""Checks of VPC endpoints: the service and region, gateway vs interface parameters, subnets one
per Availability Zone, security groups."""

from __future__ import annotations

from collections.abc import Iterator

from lab.errors import Problem
from lab.model import regions
from lab.model.checks import choices, error
from lab.model.topology import Endpoint, Topology, Vpc
from lab.model.validate_security import check_group_refs


def check_endpoints(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    by_az: dict[tuple[str, str], str] = {}
    for ep in vpc.endpoints.values():
        yield from check_endpoint_service(t, vpc, ep)
        wrong = ("subnets", ep.subnets) if ep.type == "gateway" else ("route_tables", ep.route_tables)
        if wrong[1] or (ep.type == "gateway" and ep.security_groups):
            yield error(
                t,
                ep.line,
                f"endpoint {ep.name}: {'a' if ep.type == 'gateway' else 'an'} "
                f"{ep.type} endpoint takes "
                f"{'route_tables' if ep.type == 'gateway' else 'subnets and security_groups'}, "
                f"not {wrong[0] if wrong[1] else 'security_groups'}",
                "InvalidParameter",
            )
        for rt in ep.route_tables:
            if rt not in vpc.route_tables:
                yield error(
                    t,
                    ep.line,
                    f"endpoint {ep.name}: route table '{rt}' does not exist in vpc {vpc.name}{choices(vpc.route_tables)}",
                    "InvalidRouteTableID.NotFound",
                )
        for name in ep.subnets:
            sub = vpc.subnets.get(name)
            if sub is None:
                yield error(
                    t,
                    ep.line,
                    f"endpoint {ep.name}: subnet '{name}' does not exist in vpc {vpc.name}{choices(vpc.subnets)}",
                    "InvalidSubnetID.NotFound",
                )
            elif (ep.name, sub.az) in by_az:
                yield error(
                    t,
                    ep.line,
                    f"endpoint {ep.name}: subnets {by_az[ep.name, sub.az]} and "
                    f"{name} are both in {sub.az}; an interface endpoint takes one subnet per "
                    "Availability Zone",
                    "DuplicateSubnetsInSameZone",
                )
            else:
                by_az[ep.name, sub.az] = name
        if ep.type == "interface" and not ep.subnets:
            yield error(
                t,
                ep.line,
                f"endpoint {ep.name}: an interface endpoint needs at least one subnet (one ENI is placed in each)",
                "MissingParameter",
            )
        yield from check_group_refs(t, vpc, ep.security_groups, f"endpoint {ep.name}", ep.line)


def check_endpoint_service(t: Topology, vpc: Vpc, ep: Endpoint) -> Iterator[Problem]:
    offered = regions.REGIONS.get(ep.region)
    if ep.type == "gateway" and ep.region == t.region and ep.service in regions.INTERFACE_ONLY_AWS_SERVICES:
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: endpoint type (Gateway) does not match the "
            f"service types of {ep.service_name}; only S3 and DynamoDB have gateway endpoints",
            "InvalidParameter",
        )
    elif ep.region == t.region and ep.service in regions.INTERFACE_ONLY_AWS_SERVICES:
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: {ep.service_name} is an AWS endpoint service that vpclab "
            f"does not emulate; the lab offers {', '.join(regions.region(t.region).services)}",
            "vpclab.ServiceNotEmulated",
        )
    elif ep.region != t.region or offered is None or ep.service not in offered.services:
        same = (
            (" vpclab emulates endpoints to services of the VPC's own region only (gateway endpoints are same-Region in AWS too)")
            if ep.region != t.region
            else ""
        )
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: the Vpc Endpoint Service '{ep.service_name}' does "
            f"not exist in {t.region};{same or ' the lab offers'}"
            f"{'' if same else ' ' + ', '.join(regions.region(t.region).services)}",
            "InvalidServiceName",
        )
