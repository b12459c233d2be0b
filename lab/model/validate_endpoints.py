"""Checks of VPC endpoints: the service and region, gateway vs interface parameters, subnets one
per Availability Zone, security groups."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from lab.errors import Problem
from lab.model import regions
from lab.model.checks import choices, error
from lab.model.topology import Endpoint, Topology, Vpc
from lab.model.validate_endpoint_services import check_consumer_endpoint
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
        yield from check_subnet_configurations(t, vpc, ep)
        yield from check_dns_options(t, vpc, ep)
    yield from check_private_dns_domains(t, vpc)


def check_subnet_configurations(t: Topology, vpc: Vpc, ep: Endpoint) -> Iterator[Problem]:
    """An ENI address asked for must lie in one of the endpoint's subnets, outside AWS's five
    reserved addresses and unused (https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html)."""
    if ep.subnet_ips and ep.type == "gateway":
        yield error(
            t, ep.line, f"endpoint {ep.name}: a gateway endpoint has no network interface to configure", "InvalidParameter"
        )
        return
    taken = addresses_in_use(t, vpc, ep)
    for subnet, ip in ep.subnet_ips.items():
        sub, where = vpc.subnets.get(subnet), f"endpoint {ep.name} subnet_configurations {subnet} ipv4 {ip}"
        if subnet not in ep.subnets or sub is None:
            yield error(
                t, ep.line, f"{where}: {subnet} is not one of the endpoint's subnets: {', '.join(ep.subnets)}", "InvalidParameter"
            )
        elif ip not in sub.cidr:
            yield error(t, ep.line, f"{where}: address does not fall within subnet {subnet} {sub.cidr}", "InvalidParameterValue")
        elif int(ip) - int(sub.cidr.network_address) < 4 or ip == sub.cidr.broadcast_address:
            yield error(
                t,
                ep.line,
                f"{where} is in subnet {subnet}'s reserved address range (AWS keeps the first four addresses "
                "and the last one of every subnet)",
                "InvalidParameterValue",
            )
        elif ip in taken:
            yield error(t, ep.line, f"{where}: address is in use by {taken[ip]}", "InvalidIPAddress.InUse")


def addresses_in_use(t: Topology, vpc: Vpc, ep: Endpoint) -> dict[ipaddress.IPv4Address, str]:
    """The fixed addresses in `vpc` that others than `ep` (and endpoints after it) hold."""
    taken = {i.private_ip: f"instance {i.name}" for i in t.instances.values() if i.vpc == vpc.name and i.private_ip}
    for other in vpc.endpoints.values():
        if other.name == ep.name:
            break
        taken |= {ip: f"endpoint {other.name}" for ip in other.subnet_ips.values()}
    return taken


def check_dns_options(t: Topology, vpc: Vpc, ep: Endpoint) -> Iterator[Problem]:
    """Private DNS needs both DNS attributes of the VPC; PrivateDnsOnlyForInboundResolverEndpoint
    exists for interface endpoints of services that also have gateway endpoints, and needs one.
    AWS's messages (InvalidParameter) as CreateVpcEndpoint returns them, quoted in
    https://github.com/hashicorp/terraform-provider-aws/issues/33689 and /45846, and
    https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html (private DNS)."""
    inbound_only = ep.private_dns_only_for_inbound_resolver_endpoint
    if ep.type == "interface" and ep.private_dns and not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: Enabling private DNS requires both enableDnsSupport and enableDnsHostnames "
            f"VPC attributes set to true for vpc {vpc.name}; set enable_dns_support and enable_dns_hostnames "
            "to true, or private_dns to false",
            "InvalidParameter",
        )
    if inbound_only is None:
        return
    if ep.type == "gateway":
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: DnsOptions PrivateDnsOnlyForInboundResolverEndpoint is applicable only to "
            "Interface VPC Endpoints.",
            "InvalidParameter",
        )
    elif ep.service not in regions.GATEWAY_SERVICES:
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: PrivateDnsOnlyForInboundResolverEndpoint is available only for services that support "
            f"both gateway and interface endpoints (s3, dynamodb), not {ep.service}",
            "InvalidParameter",
        )
    elif inbound_only and not ep.private_dns:
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: private_dns_only_for_inbound_resolver_endpoint applies to private DNS, "
            "which this endpoint turns off (private_dns: false)",
            "InvalidParameter",
        )
    elif inbound_only and not any(e.type == "gateway" and e.service == ep.service for e in vpc.endpoints.values()):
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: To set PrivateDnsOnlyForInboundResolverEndpoint to true, the VPC {vpc.name} must "
            f"have a Gateway endpoint for the service. Add a gateway endpoint for {ep.service}, or set "
            "private_dns_only_for_inbound_resolver_endpoint to false",
            "InvalidParameter",
        )


def check_private_dns_domains(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    """One private hosted zone per service name in a VPC: a second interface endpoint with private
    DNS for the same service is refused (InvalidParameter, AWS's message as quoted in
    https://github.com/hashicorp/terraform-provider-aws/issues/17535)."""
    first: dict[tuple[str, str], str] = {}
    for ep in vpc.endpoints.values():
        if ep.type != "interface" or not ep.private_dns:
            continue
        key = (ep.service, ep.region)
        if key in first:
            yield error(
                t,
                ep.line,
                f"endpoint {ep.name}: private-dns-enabled cannot be set because there is already a conflicting DNS "
                f"domain for {ep.service}.{ep.region}.amazonaws.com in the VPC {vpc.name} (endpoint {first[key]} "
                "has private DNS for it); set private_dns: false on one of them",
                "InvalidParameter",
            )
        else:
            first[key] = ep.name


def offered_names(t: Topology) -> tuple[str, ...]:
    return tuple(regions.region(t.region).services)


def check_endpoint_service(t: Topology, vpc: Vpc, ep: Endpoint) -> Iterator[Problem]:
    """The service must be one AWS offers in the VPC's region and the lab emulates (S3, DynamoDB and
    the interface-only ones of lab.services.catalog); a gateway endpoint only to S3 or DynamoDB;
    an endpoint service of the topology, visible to the VPC's account (lab.model.validate_endpoint_services)."""
    if ep.endpoint_service:
        yield from check_consumer_endpoint(t, vpc, ep)
        return
    offered = regions.REGIONS.get(ep.region)
    if ep.type == "gateway" and ep.region == t.region and ep.service in regions.INTERFACE_ONLY_AWS_SERVICES:
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: endpoint type (Gateway) does not match the "
            f"service types of {ep.service_name}; only S3 and DynamoDB have gateway endpoints",
            "InvalidParameter",
        )
    elif ep.region == t.region and ep.service in regions.INTERFACE_ONLY_AWS_SERVICES and ep.service not in offered_names(t):
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
