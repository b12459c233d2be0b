"""AWS ids given to the lab's EC2 API, read back to the topology's names: `vpc-...` -> the VPC,
`rtb-...` -> (VPC, route table), and so on. An id is only ever compared with the ids the plan and
lab.plan.names give each resource, never taken apart, so the two can never disagree.

Only the caller's resources are found: those of its region and account (lab.plan.ec2_view.View).
An id of the right kind that names nothing is the kind's `.NotFound` code, one of another kind its
`.Malformed` code, with EC2's messages
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from lab.model import regions
from lab.model.ec2_errors import Ec2Error
from lab.model.topology import PrefixListRef, Vpc
from lab.plan import names
from lab.plan.ec2_view import View
from lab.plan.security import groups_of


def pick(given: object, prefix: str, malformed: str, what: str) -> str:
    """`given` as an id of `prefix`, else EC2's Malformed code for the kind."""
    if not isinstance(given, str) or not given.startswith(prefix):
        raise Ec2Error(malformed, f"Invalid {what}: '{given}' (expecting '{prefix}...')")
    return given


def found(candidates: Iterable[tuple[str, object]], given: str) -> object | None:
    return next((value for aws_id, value in candidates if aws_id == given), None)


def vpc(view: View, given: object) -> Vpc:
    wanted = pick(given, "vpc-", "InvalidVpcID.Malformed", "id")
    match = found(((view.plan.vpc_id(v.name), v) for v in view.vpcs()), wanted)
    if not isinstance(match, Vpc):
        raise Ec2Error("InvalidVpcID.NotFound", f"The vpc ID '{wanted}' does not exist")
    return match


def route_tables(view: View) -> Iterator[tuple[str, tuple[Vpc, str | None]]]:
    """(rtb id, (VPC, table name)) of every table; None names the VPC's main route table."""
    for v in view.vpcs():
        for table in (None, *v.route_tables):
            yield view.plan.route_table(v.name, table).aws_id, (v, table)


def route_table(view: View, given: object) -> tuple[Vpc, str | None]:
    wanted = pick(given, "rtb-", "InvalidRouteTableId.Malformed", "id")
    match = found(route_tables(view), wanted)
    if match is None:
        raise Ec2Error("InvalidRouteTableID.NotFound", f"The routeTable ID '{wanted}' does not exist")
    return match  # type: ignore[return-value]


def subnet(view: View, vpc_: Vpc, given: object) -> str:
    """A subnet of `vpc_`, by its id: EC2 takes no subnet of another VPC in the same call."""
    wanted = pick(given, "subnet-", "InvalidSubnetID.Malformed", "id")
    match = found(((names.subnet_id(vpc_.name, s), s) for s in vpc_.subnets), wanted)
    if match is None:
        raise Ec2Error("InvalidSubnetID.NotFound", f"The subnet ID '{wanted}' does not exist")
    return str(match)


def security_group(view: View, given: object) -> tuple[Vpc, str]:
    """A security group of the caller's VPCs, the VPC's `default` included."""
    wanted = pick(given, "sg-", "InvalidGroupId.Malformed", "security group ID")
    groups = ((names.security_group_id(v.name, g), (v, g)) for v in view.vpcs() for g in groups_of(v))
    match = found(groups, wanted)
    if match is None:
        raise Ec2Error("InvalidGroup.NotFound", f"The security group '{wanted}' does not exist")
    return match  # type: ignore[return-value]


def group_in(view: View, vpc_: Vpc, given: object) -> str:
    """A security group of `vpc_` (an endpoint's, or a rule's peer): one of another VPC is not found."""
    found_vpc, group = security_group(view, given)
    if found_vpc.name != vpc_.name:
        raise Ec2Error(
            "InvalidGroup.NotFound", f"The security group '{given}' does not exist in VPC '{view.plan.vpc_id(vpc_.name)}'"
        )
    return group


def network_acl(view: View, given: object) -> tuple[Vpc, str]:
    wanted = pick(given, "acl-", "InvalidNetworkAclId.Malformed", "id")
    acls = ((names.network_acl_id(v.name, a), (v, a)) for v in view.vpcs() for a in (names.DEFAULT_NETWORK_ACL, *v.network_acls))
    match = found(acls, wanted)
    if match is None:
        raise Ec2Error("InvalidNetworkAclID.NotFound", f"The network acl ID '{wanted}' does not exist")
    return match  # type: ignore[return-value]


def endpoints(view: View) -> Iterator[tuple[str, tuple[Vpc, str]]]:
    for v in view.vpcs():
        for ep in v.endpoints:
            yield view.plan.vpce_id(v.name, ep), (v, ep)


def endpoint(view: View, given: object) -> tuple[Vpc, str] | None:
    """The caller's endpoint of that id, None if it has none (a bulk call lists it as Unsuccessful)."""
    return found(endpoints(view), given) if isinstance(given, str) else None  # type: ignore[return-value]


def prefix_list(view: View, given: object) -> PrefixListRef:
    """An AWS-managed prefix list of the caller's region."""
    wanted = pick(given, "pl-", "InvalidPrefixListId.Malformed", "id")
    svc = regions.service_for_prefix_list(wanted)
    if svc is None or svc.region != view.region:
        raise Ec2Error("InvalidPrefixListID.NotFound", f"The prefix list ID '{wanted}' does not exist")
    return PrefixListRef(svc.region, svc.service, wanted)


def route_target(view: View, vpc_: Vpc, member: str, given: object) -> str:
    """The model's name of a route target given as `GatewayId` (igw-, vpce-), `NatGatewayId` or
    `VpcPeeringConnectionId`; the target must be usable from `vpc_`."""
    if member == "NatGatewayId":
        wanted = pick(given, "nat-", "InvalidNatGatewayID.Malformed", "id")
        match = found(((str(view.plan.nat_gateway(vpc_.name, n).aws_id), n) for n in vpc_.nat_gateways), wanted)
        code, message = "InvalidNatGatewayID.NotFound", f"The natGateway ID '{wanted}' does not exist"
    elif member == "VpcPeeringConnectionId":
        wanted = pick(given, "pcx-", "InvalidVpcPeeringConnectionId.Malformed", "id")
        peerings = [p.name for p in view.topology.peerings_of(vpc_.name)]
        match = found(((view.plan.peering_id(p), p) for p in peerings), wanted)
        code, message = "InvalidVpcPeeringConnectionID.NotFound", f"The vpcPeeringConnection ID '{wanted}' does not exist"
    else:
        wanted = str(given)
        igw = [(str(view.plan.internet_gateway(vpc_.name).aws_id), "igw")] if vpc_.internet_gateway else []
        eps = [(view.plan.vpce_id(vpc_.name, e), e) for e in vpc_.endpoints]
        match = found(igw + eps, wanted)
        code, message = "InvalidGatewayID.NotFound", f"The gateway ID '{wanted}' does not exist"
    if match is None:
        raise Ec2Error(code, message)
    return str(match)
