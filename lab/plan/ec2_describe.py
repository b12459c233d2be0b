"""The EC2 API's Describe* calls answered from the lab's live model and plan, as EC2 answers them:
`describe(topology, plan, action, params, region, account)` takes the call's input as botocore's
model shapes it and returns its output (botocore's output shape), ready for the EC2 front's XML.

Pure: the resources are written by lab.plan.ec2_network (VPCs, subnets, route tables, gateways),
lab.plan.ec2_security (security groups, network ACLs), lab.plan.ec2_instances (instances, network
interfaces) and lab.plan.ec2_endpoints (endpoints, prefix lists, endpoint services and their
connections), with every id from the plan or
lab.plan.names. Here: what every Describe call shares, as EC2 documents it
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests-EC2.html#query-filtering):
- an id list (`VpcIds`, ...) returns exactly those resources; an id that does not exist is the
  resource's `.NotFound` code, one of the wrong kind its `.Malformed` code;
- filters: a resource matches when it matches every filter, a filter when any of its values
  matches (`*` and `?` are wildcards), `tag:<key>` and `tag-key` on every resource with tags; a
  filter name the call does not take is `InvalidParameterValue`;
- the resources of the caller's region and account only (a lab has one region: another region
  has no VPC, and its own prefix lists and services).
Pagination is not emulated: every match is in the first page (no NextToken).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lab.model.ec2_errors import Ec2Error
from lab.model.topology import Topology
from lab.model.wildcard import Wildcard
from lab.plan import ec2_endpoints, ec2_instances, ec2_network, ec2_security
from lab.plan.ec2_view import Resource, View
from lab.plan.types import Plan


@dataclass(frozen=True)
class Call:
    """How one Describe call lists: its resources, the input members of its id list and filters,
    the output member, and the codes of an id that does not exist / is not of its kind."""

    resources: Callable[[View], Iterable[Resource]]
    ids: str | None
    filters: str | None
    output: str
    id_key: str
    not_found: str  # the code of an id that names nothing
    what: str  # how EC2's message names the resource: "The vpc ID 'vpc-1' does not exist"
    prefix: str  # of its ids: vpc-, subnet-, ...


CALLS: dict[str, Call] = {
    "DescribeVpcs": Call(ec2_network.vpcs, "VpcIds", "Filters", "Vpcs", "VpcId", "InvalidVpcID.NotFound", "vpc ID", "vpc-"),
    "DescribeSubnets": Call(
        ec2_network.subnets, "SubnetIds", "Filters", "Subnets", "SubnetId", "InvalidSubnetID.NotFound", "subnet ID", "subnet-"
    ),
    "DescribeRouteTables": Call(
        ec2_network.route_tables,
        "RouteTableIds",
        "Filters",
        "RouteTables",
        "RouteTableId",
        "InvalidRouteTableID.NotFound",
        "route table ID",
        "rtb-",
    ),
    "DescribeInternetGateways": Call(
        ec2_network.internet_gateways,
        "InternetGatewayIds",
        "Filters",
        "InternetGateways",
        "InternetGatewayId",
        "InvalidInternetGatewayID.NotFound",
        "internet gateway ID",
        "igw-",
    ),
    "DescribeNatGateways": Call(
        ec2_network.nat_gateways,
        "NatGatewayIds",
        "Filter",
        "NatGateways",
        "NatGatewayId",
        "NatGatewayNotFound",
        "NAT gateway",
        "nat-",
    ),
    "DescribeSecurityGroups": Call(
        ec2_security.security_groups,
        "GroupIds",
        "Filters",
        "SecurityGroups",
        "GroupId",
        "InvalidGroup.NotFound",
        "security group",
        "sg-",
    ),
    "DescribeNetworkAcls": Call(
        ec2_security.network_acls,
        "NetworkAclIds",
        "Filters",
        "NetworkAcls",
        "NetworkAclId",
        "InvalidNetworkAclID.NotFound",
        "network ACL ID",
        "acl-",
    ),
    "DescribeVpcEndpoints": Call(
        ec2_endpoints.vpc_endpoints,
        "VpcEndpointIds",
        "Filters",
        "VpcEndpoints",
        "VpcEndpointId",
        "InvalidVpcEndpointId.NotFound",
        "VpcEndpoint Id",
        "vpce-",
    ),
    "DescribePrefixLists": Call(
        ec2_endpoints.prefix_lists,
        "PrefixListIds",
        "Filters",
        "PrefixLists",
        "PrefixListId",
        "InvalidPrefixListId.NotFound",
        "prefix list ID",
        "pl-",
    ),
    "DescribeInstances": Call(
        ec2_instances.instances,
        "InstanceIds",
        "Filters",
        "Reservations",
        "InstanceId",
        "InvalidInstanceID.NotFound",
        "instance ID",
        "i-",
    ),
    "DescribeNetworkInterfaces": Call(
        ec2_instances.network_interfaces,
        "NetworkInterfaceIds",
        "Filters",
        "NetworkInterfaces",
        "NetworkInterfaceId",
        "InvalidNetworkInterfaceID.NotFound",
        "network interface ID",
        "eni-",
    ),
    "DescribeVpcEndpointConnections": Call(
        ec2_endpoints.endpoint_connections, None, "Filters", "VpcEndpointConnections", "VpcEndpointId", "", "", "vpce-"
    ),
}


# The filters each call takes (besides tag:<key> and tag-key), as its API reference lists them;
# every resource's facets are these (tests/unit/test_ec2_describe.py checks it).
FILTERS: dict[str, frozenset[str]] = {
    action: frozenset(names.split())
    for action, names in {
        "DescribeVpcs": "vpc-id owner-id cidr cidr-block-association.cidr-block state is-default",
        "DescribeSubnets": "vpc-id owner-id subnet-id cidr-block availability-zone state default-for-az",
        "DescribeRouteTables": "vpc-id owner-id route-table-id association.main association.subnet-id "
        "association.route-table-association-id route.destination-cidr-block route.destination-prefix-list-id "
        "route.gateway-id route.nat-gateway-id route.vpc-peering-connection-id route.state route.origin",
        "DescribeInternetGateways": "internet-gateway-id attachment.vpc-id attachment.state owner-id",
        "DescribeNatGateways": "vpc-id nat-gateway-id subnet-id state",
        "DescribeSecurityGroups": "vpc-id owner-id group-id group-name description ip-permission.protocol "
        "ip-permission.cidr ip-permission.group-id ip-permission.prefix-list-id egress.ip-permission.cidr",
        "DescribeNetworkAcls": "vpc-id owner-id network-acl-id default association.subnet-id "
        "association.association-id entry.rule-number entry.cidr entry.rule-action entry.egress",
        "DescribeVpcEndpoints": "vpc-id vpc-endpoint-id service-name vpc-endpoint-type vpc-endpoint-state ip-address-type",
        "DescribePrefixLists": "prefix-list-id prefix-list-name",
        "DescribeInstances": "instance-id vpc-id subnet-id availability-zone private-ip-address ip-address "
        "private-dns-name instance-state-name instance.group-id instance.group-name "
        "network-interface.network-interface-id owner-id",
        "DescribeNetworkInterfaces": "network-interface-id vpc-id subnet-id availability-zone interface-type description "
        "private-ip-address addresses.private-ip-address group-id requester-managed status owner-id association.public-ip",
        "DescribeVpcEndpointConnections": "service-id vpc-endpoint-id vpc-endpoint-owner vpc-endpoint-state",
        "DescribeVpcEndpointServices": "service-name service-type owner supported-ip-address-types",
    }.items()
}


def actions() -> frozenset[str]:
    """The Describe calls answered here."""
    return frozenset(CALLS) | {"DescribeVpcEndpointServices"}


def describe(topology: Topology, plan: Plan, action: str, params: dict, region: str, account: str) -> dict:
    """The output of `action` (a Describe call of `actions()`) with input `params`."""
    view = View(topology, plan, region, account)
    check_filters(params.get("Filter" if action == "DescribeNatGateways" else "Filters") or [], action)
    if action == "DescribeVpcEndpointServices":
        return ec2_endpoints.endpoint_services(view, params, matching)
    if action == "DescribeSecurityGroups" and params.get("GroupNames"):
        raise Ec2Error(
            "VPCIdNotSpecified",
            "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.",
        )
    call = CALLS[action]
    found = [r for r in call.resources(view) if matching(r, params.get(call.filters or "", []) or [], action)]
    wanted = params.get(call.ids or "") or []
    if wanted:
        found = by_ids(found, wanted, call)
    if action == "DescribeInstances":  # each instance in its reservation
        return {call.output: [{**(r.parent or {}), "Instances": [r.data]} for r in found]}
    return {call.output: [r.data for r in found]}


def by_ids(found: list[Resource], wanted: list[str], call: Call) -> list[Resource]:
    """Exactly the resources named, in the order found; the first id that names none is EC2's error."""
    ids = {r.data[call.id_key] for r in found}
    for given in wanted:
        if not given.startswith(call.prefix):
            malformed = (
                call.not_found.replace(".NotFound", ".Malformed") if ".NotFound" in call.not_found else "InvalidParameterValue"
            )
            raise Ec2Error(malformed, f'Invalid id: "{given}" (expecting "{call.prefix}...")')
        if given not in ids:
            raise Ec2Error(call.not_found, not_found_message(call, given))
    return [r for r in found if r.data[call.id_key] in wanted]


def not_found_message(call: Call, given: str) -> str:
    if call.not_found == "NatGatewayNotFound":
        return f"The Nat Gateway {given} was not found"
    if call.not_found == "InvalidVpcEndpointId.NotFound":
        return f"The VpcEndpoint Id '{given}' does not exist"
    return f"The {call.what} '{given}' does not exist"


def matching(resource: Resource, filters: list[dict], action: str) -> bool:
    """Every filter matches (one of its values, wildcards allowed)."""
    for given in filters:
        name, values = given.get("Name", ""), given.get("Values", [])
        if name.startswith("tag:"):
            have = [t["Value"] for t in resource.data.get("Tags", []) if t["Key"] == name[4:]]
        elif name == "tag-key":
            have = [t["Key"] for t in resource.data.get("Tags", [])]
        else:
            have = resource.facets.get(name, [])
        if not any(Wildcard(v).fullmatch(h) for v in values for h in have):
            return False
    return True


def check_filters(filters: list[dict], action: str) -> None:
    """A filter the call does not take is refused, whatever there is to list."""
    for given in filters:
        name = given.get("Name", "")
        if not (name.startswith("tag:") or name == "tag-key" or name in FILTERS[action]):
            known = ", ".join(sorted(FILTERS[action]) + ["tag:<key>", "tag-key"])
            raise Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid for {action} (filters: {known})")
