"""Routes changed through the EC2 API: CreateRoute, ReplaceRoute, DeleteRoute
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateRoute.html and the pages of the
other two). A destination is an IPv4 CIDR (DestinationCidrBlock) or an AWS-managed prefix list
(DestinationPrefixListId); a target is one of the targets the lab models: the internet gateway
(GatewayId igw-), a NAT gateway (NatGatewayId) or a peering connection (VpcPeeringConnectionId).

A VPC endpoint is no target of these calls: a gateway endpoint's route is added and removed with its
route table associations only (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html, "Routing": the route
to the service's prefix list is added to each associated route table and cannot be edited), and an
interface endpoint is reached through
its network interfaces. Given as a target, EC2 answers RouteNotSupported (the text moto reproduces
from AWS in moto/ec2/exceptions.py RouteNotSupportedError); a change of a gateway endpoint's own
route is refused with InvalidParameterValue (AWS's code for it is not documented: uncertain).

EC2's texts for the other refusals, as AWS and moto give them: `The route identified by <dest>
already exists.` (RouteAlreadyExists), `no route with destination-cidr-block <dest> in route table
<rtb>` (InvalidRoute.NotFound), `There is no route defined for '<dest>' in the route table. Use
CreateRoute instead.` (ReplaceRoute, InvalidParameterValue), `cannot remove local route <cidr> in
route table <rtb>` (DeleteRoute of the local route, InvalidParameterValue: the text
hashicorp/terraform-provider-aws matches in internal/service/ec2/vpc_route.go).
"""

from __future__ import annotations

import dataclasses
import ipaddress

from lab.model.ec2_errors import Ec2Error
from lab.model.topology import PrefixListRef, Route, RouteTable, Topology, Vpc
from lab.model.validate import effective_routes
from lab.plan import ec2_ids
from lab.plan.ec2_change_common import with_part
from lab.plan.ec2_view import View

Destination = ipaddress.IPv4Network | PrefixListRef
# AWS reserves it for its own services (IMDS 169.254.169.254, the Amazon DNS server 169.254.169.253,
# Time Sync 169.254.169.123): "You can't add routes to IPv4 addresses that are an exact match or a
# subset of the following range: 169.254.168.0/22" (a wider route that includes it is allowed, and
# does not carry those addresses): https://docs.aws.amazon.com/vpc/latest/userguide/subnet-route-tables.html,
# "Rules and considerations". EC2's code for it is not documented: InvalidParameterValue (uncertain).
RESERVED = ipaddress.IPv4Network("169.254.168.0/22")
TARGETS = ("GatewayId", "NatGatewayId", "VpcPeeringConnectionId")
UNMODELLED_TARGETS = (
    "InstanceId",
    "NetworkInterfaceId",
    "TransitGatewayId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "EgressOnlyInternetGatewayId",
    "VpcEndpointId",
    "CoreNetworkArn",
    "OdbNetworkArn",
)


def table_of(view: View, params: dict) -> tuple[Vpc, RouteTable]:
    vpc, name = ec2_ids.route_table(view, params.get("RouteTableId"))
    if name is None:
        raise Ec2Error(
            "vpclab.MainRouteTableNotEmulated",
            f"route table {params.get('RouteTableId')} is the VPC's main route table, which vpclab keeps to its "
            "local route; give the subnet a route table of its own in the topology",
        )
    return vpc, vpc.route_tables[name]


def destination_of(view: View, params: dict) -> Destination:
    given = [m for m in ("DestinationCidrBlock", "DestinationPrefixListId", "DestinationIpv6CidrBlock") if params.get(m)]
    if len(given) != 1:
        raise Ec2Error(
            "MissingParameter" if not given else "InvalidParameterCombination",
            "The request must contain exactly one of destinationCidrBlock, destinationIpv6CidrBlock or destinationPrefixListId",
        )
    if given[0] == "DestinationIpv6CidrBlock":
        raise Ec2Error(
            "InvalidParameterValue", "vpclab emulates IPv4 routing only: give DestinationCidrBlock or DestinationPrefixListId"
        )
    if given[0] == "DestinationPrefixListId":
        return ec2_ids.prefix_list(view, params["DestinationPrefixListId"])
    try:
        return ipaddress.IPv4Network(params["DestinationCidrBlock"])
    except ValueError:
        cidr = params["DestinationCidrBlock"]
        raise Ec2Error(
            "InvalidParameterValue",
            f"Value ({cidr}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.",
        ) from None


def not_reserved(destination: Destination) -> None:
    """A route into AWS's reserved link-local range (RESERVED) is refused, as AWS refuses it."""
    if isinstance(destination, ipaddress.IPv4Network) and destination.subnet_of(RESERVED):
        raise Ec2Error(
            "InvalidParameterValue",
            f"The destination {destination} is in {RESERVED}, which AWS reserves for its own services "
            "(instance metadata, the Amazon DNS server): no route may go there",
        )


def target_of(view: View, vpc: Vpc, params: dict) -> str:
    """The model's name of the one target given."""
    given = [m for m in TARGETS + UNMODELLED_TARGETS if params.get(m)]
    if len(given) != 1:
        raise Ec2Error(
            "MissingParameter" if not given else "InvalidParameterCombination",
            "The request must contain exactly one of gatewayId, natGatewayId, vpcPeeringConnectionId, "
            "networkInterfaceId, instanceId, transitGatewayId, vpcEndpointId, ...",
        )
    member, value = given[0], params[given[0]]
    if member in UNMODELLED_TARGETS:
        if member == "VpcEndpointId" and ec2_ids.endpoint(view, value):
            raise not_supported(value)
        raise Ec2Error(
            "vpclab.RouteTargetNotEmulated", f"{member} is a route target vpclab does not emulate; use {', '.join(TARGETS)}"
        )
    target = ec2_ids.route_target(view, vpc, member, value)
    if target in vpc.endpoints:
        raise not_supported(value)
    return target


def not_supported(vpce: object) -> Ec2Error:
    return Ec2Error(
        "RouteNotSupported",
        f"Route table contains unsupported route target: {vpce}. VPC Endpoints of this type cannot be used as route targets.",
    )


def describe(destination: Destination) -> tuple[str, str]:
    """('destination-cidr-block' or 'destination-prefix-list-id', the value) for EC2's texts."""
    if isinstance(destination, PrefixListRef):
        return "destination-prefix-list-id", destination.pl_id
    return "destination-cidr-block", str(destination)


def endpoint_route(vpc: Vpc, table: RouteTable, destination: Destination) -> Route | None:
    """The route a gateway endpoint adds to `table` for `destination`, if it has one."""
    return next(
        (r for r in effective_routes(vpc, table) if r.destination == destination and r.target in vpc.endpoints),
        None,
    )


def owned_by_endpoint(view: View, vpc: Vpc, table: RouteTable, destination: Destination) -> None:
    route = endpoint_route(vpc, table, destination)
    if route is not None:
        raise Ec2Error(
            "InvalidParameterValue",
            f"the route to {describe(destination)[1]} belongs to gateway endpoint {view.plan.vpce_id(vpc.name, route.target)}: "
            "routes to a gateway endpoint change only with its route tables (modify-vpc-endpoint "
            "--add-route-table-ids/--remove-route-table-ids)",
        )


def with_routes(t: Topology, vpc: Vpc, table: RouteTable, routes: tuple[Route, ...]) -> Topology:
    return with_part(t, vpc, "route_tables", table.name, dataclasses.replace(table, routes=routes))


def create(view: View, params: dict) -> tuple[Topology, dict]:
    vpc, table = table_of(view, params)
    destination, target = destination_of(view, params), target_of(view, vpc, params)
    not_reserved(destination)
    if destination == vpc.cidr or any(r.destination == destination for r in effective_routes(vpc, table)):
        raise Ec2Error("RouteAlreadyExists", f"The route identified by {describe(destination)[1]} already exists.")
    return with_routes(view.topology, vpc, table, table.routes + (Route(destination, target),)), {"Return": True}


def replace(view: View, params: dict) -> tuple[Topology, dict]:
    vpc, table = table_of(view, params)
    destination = destination_of(view, params)
    not_reserved(destination)
    if params.get("LocalTarget"):
        raise Ec2Error("vpclab.RouteTargetNotEmulated", "LocalTarget (a route to the VPC's local CIDR) is not emulated by vpclab")
    owned_by_endpoint(view, vpc, table, destination)
    target = target_of(view, vpc, params)
    if not any(r.destination == destination for r in table.routes):
        raise Ec2Error(
            "InvalidParameterValue",
            f"There is no route defined for '{describe(destination)[1]}' in the route table. Use CreateRoute instead.",
        )
    routes = tuple(Route(destination, target) if r.destination == destination else r for r in table.routes)
    return with_routes(view.topology, vpc, table, routes), {}


def delete(view: View, params: dict) -> tuple[Topology, dict]:
    vpc, table = table_of(view, params)
    destination = destination_of(view, params)
    rtb = params["RouteTableId"]
    if destination == vpc.cidr:
        raise Ec2Error("InvalidParameterValue", f"cannot remove local route {destination} in route table {rtb}")
    owned_by_endpoint(view, vpc, table, destination)
    if not any(r.destination == destination for r in table.routes):
        kind, value = describe(destination)
        raise Ec2Error("InvalidRoute.NotFound", f"no route with {kind} {value} in route table {rtb}")
    routes = tuple(r for r in table.routes if r.destination != destination)
    return with_routes(view.topology, vpc, table, routes), {}


HANDLERS = {"CreateRoute": create, "ReplaceRoute": replace, "DeleteRoute": delete}
