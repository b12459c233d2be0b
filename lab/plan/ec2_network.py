"""VPCs, subnets, route tables, internet gateways and NAT gateways as EC2's Describe calls show
them (botocore's output shapes: Vpc, Subnet, RouteTable, InternetGateway, NatGateway), with their
filters (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcs.html and the
pages of each call). Every id comes from the plan or lab.plan.names."""

from __future__ import annotations

from collections.abc import Iterator

from lab.model.topology import PrefixListRef, Route, RouteTable, Vpc
from lab.model.validate import effective_routes
from lab.plan import names
from lab.plan.ec2_view import Resource, View, common, flag, tags


def vpcs(view: View) -> Iterator[Resource]:
    for vpc in view.vpcs():
        vpc_id, cidr = view.plan.vpc_id(vpc.name), str(vpc.cidr)
        data = {
            "CidrBlock": cidr,
            "State": "available",
            "VpcId": vpc_id,
            "OwnerId": vpc.account,
            "InstanceTenancy": "default",
            "CidrBlockAssociationSet": [{"CidrBlock": cidr, "CidrBlockState": {"State": "associated"}}],
            "IsDefault": False,
            "Tags": tags(vpc.name),
        }
        facets = common(view, vpc) | {
            "cidr": [cidr],
            "cidr-block-association.cidr-block": [cidr],
            "state": ["available"],
            "is-default": flag(False),
        }
        yield Resource(data, facets)


def subnets(view: View) -> Iterator[Resource]:
    for vpc in view.vpcs():
        for subnet in vpc.subnets.values():
            subnet_id, cidr = names.subnet_id(vpc.name, subnet.name), str(subnet.cidr)
            data = {
                "AvailabilityZone": subnet.az,
                "AvailableIpAddressCount": subnet.cidr.num_addresses - 5 - enis_in(view, vpc, subnet.cidr),
                "CidrBlock": cidr,
                "DefaultForAz": False,
                "MapPublicIpOnLaunch": False,
                "State": "available",
                "SubnetId": subnet_id,
                "VpcId": view.plan.vpc_id(vpc.name),
                "OwnerId": vpc.account,
                "Tags": tags(subnet.name),
                "SubnetArn": f"arn:aws:ec2:{view.region}:{vpc.account}:subnet/{subnet_id}",
            }
            facets = common(view, vpc) | {
                "subnet-id": [subnet_id],
                "cidr-block": [cidr],
                "availability-zone": [subnet.az],
                "state": ["available"],
                "default-for-az": flag(False),
            }
            yield Resource(data, facets)


def enis_in(view: View, vpc: Vpc, cidr) -> int:
    """The network interfaces holding an address of the subnet (instances, NAT gateways, endpoints,
    NLBs): with the five addresses AWS reserves in every subnet, what is not available
    (https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html)."""
    return sum(
        1
        for node in view.plan.nodes.values()
        if node.vpc == vpc.name
        for i in node.interfaces
        if i.eni and any(a.ip in cidr for a in i.addresses)
    )


def route_tables(view: View) -> Iterator[Resource]:
    for vpc in view.vpcs():
        main = RouteTable(names.MAIN_TABLE_NAME, ())
        for table, is_main in [(main, True)] + [(t, False) for t in vpc.route_tables.values()]:
            yield route_table(view, vpc, table, is_main)


def route_table(view: View, vpc: Vpc, table: RouteTable, is_main: bool) -> Resource:
    rtb = view.plan.route_table(vpc.name, None if is_main else table.name).aws_id
    routes = [{"DestinationCidrBlock": str(vpc.cidr), "GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"}]
    routes += [aws_route(view, vpc, r) for r in effective_routes(vpc, table)]
    associated = [s.name for s in vpc.subnets.values() if s.route_table == (None if is_main else table.name)]
    # a subnet on the main table without naming it is associated implicitly: EC2 lists only the main
    # association and the explicit ones (https://docs.aws.amazon.com/vpc/latest/userguide/RouteTables.html)
    associations = [main_association(vpc, rtb)] if is_main else []
    associations += [
        {
            "Main": False,
            "RouteTableAssociationId": names.route_table_association_id(vpc.name, s),
            "RouteTableId": rtb,
            "SubnetId": names.subnet_id(vpc.name, s),
            "AssociationState": {"State": "associated"},
        }
        for s in ([] if is_main else associated)
    ]
    data = {
        "Associations": associations,
        "PropagatingVgws": [],
        "RouteTableId": rtb,
        "Routes": routes,
        "Tags": [] if is_main else tags(table.name),
        "VpcId": view.plan.vpc_id(vpc.name),
        "OwnerId": vpc.account,
    }
    facets = common(view, vpc) | {
        "route-table-id": [rtb],
        "association.main": flag(is_main),
        "association.subnet-id": [a["SubnetId"] for a in associations if "SubnetId" in a],
        "association.route-table-association-id": [a["RouteTableAssociationId"] for a in associations],
        "route.destination-cidr-block": [r["DestinationCidrBlock"] for r in routes if "DestinationCidrBlock" in r],
        "route.destination-prefix-list-id": [r["DestinationPrefixListId"] for r in routes if "DestinationPrefixListId" in r],
        "route.gateway-id": [r["GatewayId"] for r in routes if "GatewayId" in r],
        "route.nat-gateway-id": [r["NatGatewayId"] for r in routes if "NatGatewayId" in r],
        "route.vpc-peering-connection-id": [r["VpcPeeringConnectionId"] for r in routes if "VpcPeeringConnectionId" in r],
        "route.state": ["active"],
        "route.origin": sorted({r["Origin"] for r in routes}),
    }
    return Resource(data, facets)


def main_association(vpc: Vpc, rtb: str) -> dict:
    return {
        "Main": True,
        "RouteTableAssociationId": names.route_table_association_id(vpc.name, None),
        "RouteTableId": rtb,
        "AssociationState": {"State": "associated"},
    }


def aws_route(view: View, vpc: Vpc, route: Route) -> dict:
    """One route as EC2 shows it: its destination (a CIDR or a prefix list) and its target's id
    under the member EC2 uses for the target's kind."""
    found: dict = (
        {"DestinationPrefixListId": route.destination.pl_id}
        if isinstance(route.destination, PrefixListRef)
        else {"DestinationCidrBlock": str(route.destination)}
    )
    target = route.target
    if target == "igw":
        found["GatewayId"] = view.plan.internet_gateway(vpc.name).aws_id
    elif target in vpc.nat_gateways:
        found["NatGatewayId"] = view.plan.nat_gateway(vpc.name, target).aws_id
    elif target in vpc.endpoints:
        found["GatewayId"] = view.plan.vpce_id(vpc.name, target)
    else:
        found["VpcPeeringConnectionId"] = view.plan.peering_id(target)
    return found | {"Origin": "CreateRoute", "State": "active"}


def internet_gateways(view: View) -> Iterator[Resource]:
    for vpc in view.vpcs():
        if not vpc.internet_gateway:
            continue
        node = view.plan.internet_gateway(vpc.name)
        igw = node.aws_id or ""
        data = {
            "Attachments": [{"State": "available", "VpcId": view.plan.vpc_id(vpc.name)}],
            "InternetGatewayId": igw,
            "OwnerId": vpc.account,
            "Tags": tags(node.name),  # the topology names no gateway: its node's name
        }
        facets = {
            "internet-gateway-id": [igw],
            "attachment.vpc-id": [view.plan.vpc_id(vpc.name)],
            "attachment.state": ["available"],
            "owner-id": [vpc.account],
        }
        yield Resource(data, facets)


def nat_gateways(view: View) -> Iterator[Resource]:
    for vpc in view.vpcs():
        for nat in vpc.nat_gateways.values():
            node = view.plan.nat_gateway(vpc.name, nat.name)
            private_ip = view.plan.eni_address(node.name)
            public = view.plan.public_ip_of(private_ip, vpc.name)
            address = {
                "NetworkInterfaceId": view.plan.eni_id(node.name),
                "PrivateIp": str(private_ip),
                "IsPrimary": True,
                "Status": "succeeded",
            }
            if public is not None:
                address |= {"AllocationId": public.allocation_id, "PublicIp": str(public.address)}
            subnet_id = names.subnet_id(vpc.name, nat.subnet)
            data = {
                "NatGatewayAddresses": [{k: v for k, v in address.items() if v is not None}],
                "NatGatewayId": node.aws_id,
                "State": "available",
                "SubnetId": subnet_id,
                "VpcId": view.plan.vpc_id(vpc.name),
                "Tags": tags(nat.name),
                "ConnectivityType": "public",
            }
            facets = common(view, vpc) | {
                "nat-gateway-id": [node.aws_id or ""],
                "subnet-id": [subnet_id],
                "state": ["available"],
            }
            facets.pop("owner-id")  # DescribeNatGateways has no owner-id filter
            yield Resource(data, facets)
