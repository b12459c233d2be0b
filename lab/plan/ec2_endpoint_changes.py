"""VPC endpoints changed through the EC2 API: CreateVpcEndpoint, DeleteVpcEndpoints, ModifyVpcEndpoint,
and the provider's AcceptVpcEndpointConnections / RejectVpcEndpointConnections
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpoint.html and the pages
of the other calls).

An endpoint created here is named in the model by its `Name` tag (TagSpecifications) when that is a
valid topology name not yet used in its VPC, else by its own vpce id; its id is a fresh one
(lab.plan.names.created_vpce_id from the topology's count of created resources, kept in
Endpoint.vpce_id), never an id handed out before, as AWS never reuses one. Parameters as AWS
defaults them: VpcEndpointType Gateway; PrivateDnsEnabled true for an interface endpoint to an AWS
service (false to an endpoint service, whose private DNS the lab cannot verify); the default
security group when none is given; AWS's full-access policy when none is given.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from lab.model import regions
from lab.model.ec2_errors import Ec2Error
from lab.model.endpoint_connections import IncorrectState, decide
from lab.model.loader import NAME
from lab.model.policy import MalformedPolicy, parse_policy
from lab.model.policy_text import PolicyTextError, read_policy
from lab.model.topology import Endpoint, Policy, Topology, Vpc
from lab.plan import ec2_ids, names
from lab.plan.allocation import EndpointKey
from lab.plan.ec2_change_common import ids, replanned, unsuccessful, with_part
from lab.plan.ec2_endpoints import vpc_endpoint
from lab.plan.ec2_view import View

ROUTE_TABLES_GATEWAY_ONLY = "Route table IDs are only supported for Gateway type VPC Endpoint."  # AWS's text, module docstring
POLICY_SOURCE = "(PolicyDocument of the EC2 API call)"  # where a live policy came from: no file


def create(view: View, params: dict) -> tuple[Topology, dict]:
    vpc = ec2_ids.vpc(view, params.get("VpcId"))
    kind = params.get("VpcEndpointType") or "Gateway"
    if kind not in ("Gateway", "Interface"):
        raise Ec2Error("InvalidVpcEndpointType", f"The VPC endpoint type {kind} is not one vpclab emulates (Gateway, Interface)")
    region, service, reference = service_of(view, params.get("ServiceName"))
    if params.get("IpAddressType") not in (None, "ipv4"):
        raise Ec2Error("InvalidParameter", f"IpAddressType {params['IpAddressType']}: vpclab emulates IPv4 endpoints only")
    within_quota(view, vpc, kind)
    tables = [table_of(view, vpc, r) for r in ids(params, "RouteTableIds")]
    if kind == "Interface" and tables:
        raise Ec2Error("InvalidParameter", ROUTE_TABLES_GATEWAY_ONLY)
    subnet_ips = configured_ips(view, vpc, params.get("SubnetConfigurations") or [])
    subnets = list(dict.fromkeys([ec2_ids.subnet(view, vpc, s) for s in ids(params, "SubnetIds")] + list(subnet_ips)))
    groups = [ec2_ids.group_in(view, vpc, g) for g in ids(params, "SecurityGroupIds")]
    private_dns = params.get("PrivateDnsEnabled")
    serial = view.topology.created + 1
    vpce = names.created_vpce_id(vpc.name, serial)
    endpoint = Endpoint(
        name_of(view, params, vpce, vpc),
        kind.lower(),
        region,
        service,
        tuple(tables),
        tuple(subnets),
        policy_of(params.get("PolicyDocument")),
        (kind == "Interface" and reference is None) if private_dns is None else private_dns,
        tuple(groups),
        subnet_ips,
        (params.get("DnsOptions") or {}).get("PrivateDnsOnlyForInboundResolverEndpoint"),
        reference,
        vpce_id=vpce,
    )
    changed = with_part(dataclasses.replace(view.topology, created=serial), vpc, "endpoints", endpoint.name, endpoint)
    seen = replanned(view, changed)
    answer = {"VpcEndpoint": vpc_endpoint(seen, seen.topology.vpcs[vpc.name], endpoint).data}
    return changed, answer | ({"ClientToken": params["ClientToken"]} if params.get("ClientToken") else {})


def within_quota(view: View, vpc: Vpc, kind: str) -> None:
    """AWS's default quotas: 20 gateway endpoints per Region, 50 interface endpoints per VPC
    (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-limits-endpoints.html); past them EC2
    answers VpcEndpointLimitExceeded (errors-overview.html). Each endpoint is nodes, shells and
    captures on the lab's machine too, so a loop of create calls stops where AWS stops it."""
    if kind == "Gateway":
        count, limit, scope = sum(e.type == "gateway" for v in view.vpcs() for e in v.endpoints.values()), 20, "Region"
    else:
        count, limit, scope = sum(e.type == "interface" for e in vpc.endpoints.values()), 50, "VPC"
    if count >= limit:
        raise Ec2Error(
            "VpcEndpointLimitExceeded",
            f"You've reached the limit on the number of VPC endpoints that you can create: {limit} {kind.lower()} "
            f"endpoints per {scope} (AWS's default quota)",
        )


def service_of(view: View, given: object) -> tuple[str, str, str | None]:
    """(region, service, endpoint service reference) of a ServiceName: an endpoint service of the
    lab by its name, else `com.amazonaws.<region>.<service>` (whether the lab offers it, and to
    whom, is lab.model.validate's to say, with InvalidServiceName)."""
    text = given if isinstance(given, str) else ""
    if any(s.service_name == text for s in view.topology.endpoint_services()):
        return view.topology.region, text, text
    parsed = regions.parse_service_name(text, view.region) if text.startswith("com.amazonaws.") else None
    if parsed is None:
        raise Ec2Error("InvalidServiceName", f"The Vpc Endpoint Service '{text}' does not exist")
    return parsed[0], parsed[1], None


def table_of(view: View, vpc: Vpc, given: object) -> str:
    """A route table of `vpc` an endpoint may be associated with, by its id."""
    found_vpc, table = ec2_ids.route_table(view, given)
    if found_vpc.name != vpc.name:
        raise Ec2Error(
            "InvalidRouteTableID.NotFound", f"The routeTable ID '{given}' does not exist in VPC '{view.plan.vpc_id(vpc.name)}'"
        )
    if table is None:
        raise Ec2Error(
            "vpclab.MainRouteTableNotEmulated",
            f"route table {given} is the VPC's main route table, which vpclab keeps to its local route; "
            "associate a route table of the topology",
        )
    return table


def configured_ips(view: View, vpc: Vpc, configurations: list, own: str | None = None) -> dict[str, ipaddress.IPv4Address]:
    """SubnetConfigurations: subnet -> the ENI address asked for (Ipv4), which no one else of the
    VPC may hold (`own`: the endpoint being modified, whose own ENIs' addresses are its own)."""
    found: dict[str, ipaddress.IPv4Address] = {}
    for item in configurations:
        subnet = ec2_ids.subnet(view, vpc, item.get("SubnetId"))
        try:
            found[subnet] = ipaddress.IPv4Address(item.get("Ipv4") or "")
        except ValueError:
            raise Ec2Error("InvalidParameterValue", f"Value ({item.get('Ipv4')}) for parameter Ipv4 is invalid") from None
        not_in_use(view, vpc, found[subnet], own)
    return found


def not_in_use(view: View, vpc: Vpc, address: ipaddress.IPv4Address, own: str | None) -> None:
    """An address an instance, a NAT gateway or another ENI of the VPC already has is refused, as EC2
    refuses an address in use (InvalidIPAddress.InUse, "Address ... is in use": EC2's code for it,
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html; for this call
    uncertain). Without it the running lab renumbered the instance (a change the kernel cannot make)
    or gave a NAT gateway's address to the ENI as well (two hosts with one address on the subnet)."""
    mine = set(view.plan.allocation.endpoint_ips.get(EndpointKey(vpc.name, own), {}).values()) if own else set()
    holders = (n for n in view.plan.nodes.values() if n.vpc == vpc.name and n.kind != "vpc-router")
    if address not in mine and any(address in n.addresses() for n in holders):
        raise Ec2Error("InvalidIPAddress.InUse", f"Address {address} is in use.")


def name_of(view: View, params: dict, vpce: str, vpc: Vpc) -> str:
    """The endpoint's `Name` tag if it is a valid topology name that no route target of the VPC has
    and whose nodes no node of the lab could be mistaken for (`app-router` for a tag `router`), else
    its id: AWS takes any Name, the lab must still name nodes apart."""
    tags = [t for spec in params.get("TagSpecifications") or [] for t in spec.get("Tags") or []]
    name = next((t.get("Value") for t in tags if t.get("Key") == "Name"), None)
    if not isinstance(name, str) or not NAME.match(name):
        return vpce
    taken = {"igw", *vpc.endpoints, *vpc.nat_gateways, *vpc.peerings, *(p.name for p in view.topology.peerings_of(vpc.name))}
    node = names.gateway_endpoint_node(vpc.name, name)
    clash = any(n == node or n.startswith(node + "-") for n in view.plan.nodes) or node in view.topology.instances
    return vpce if name in taken or clash else name


def policy_of(text: object) -> Policy | None:
    """A PolicyDocument, checked as AWS checks an endpoint policy; None: AWS's default policy."""
    if text is None:
        return None
    try:
        document = read_policy(str(text), "endpoint")
        parse_policy(document, "policy")
    except (PolicyTextError, MalformedPolicy) as exc:
        raise Ec2Error("InvalidPolicyDocument", f"The policy document is not valid: {exc}") from None
    return Policy(POLICY_SOURCE, document)


def delete(view: View, params: dict) -> tuple[Topology, dict]:
    """Every endpoint of the caller named is deleted; each other id is an Unsuccessful item."""
    changed, failed = view.topology, []
    for given in ids(params, "VpcEndpointIds"):
        found = ec2_ids.endpoint(view, given)
        if found is None:
            failed.append(not_found(given))
            continue
        changed = without_routes(with_part(changed, found[0], "endpoints", found[1], None), found[0].name, found[1], None)
    return forgotten(changed), {"Unsuccessful": failed}


def without_routes(t: Topology, vpc: str, endpoint: str, tables: list[str] | None) -> Topology:
    """`t` without the routes to `endpoint` written in `tables` (None: every table of the VPC): AWS
    removes a gateway endpoint's routes with it, or with its association
    (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html, "Routing")."""
    for table in list(t.vpcs[vpc].route_tables.values()):
        if tables is None or table.name in tables:
            kept = tuple(r for r in table.routes if r.target != endpoint)
            t = with_part(t, t.vpcs[vpc], "route_tables", table.name, dataclasses.replace(table, routes=kept))
    return t


def not_found(vpce: object) -> dict:
    """The Unsuccessful item of an endpoint id the caller has no endpoint of (EC2's bulk-call code:
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html)."""
    return unsuccessful(str(vpce), "InvalidVpcEndpoint.NotFound", f"The VpcEndpoint Id '{vpce}' does not exist")


def forgotten(t: Topology) -> Topology:
    """`t` without the provider's decisions on consumer endpoints that no longer exist."""
    for svc in t.endpoint_services():
        accepted = tuple(r for r in svc.accepted if exists(t, r))
        rejected = tuple(r for r in svc.rejected if exists(t, r))
        if (accepted, rejected) != (svc.accepted, svc.rejected):
            kept = dataclasses.replace(svc, accepted=accepted, rejected=rejected)
            t = with_part(t, t.vpcs[svc.vpc], "endpoint_services", svc.name, kept)
    return t


def exists(t: Topology, ref: str) -> bool:
    vpc, _, endpoint = ref.rpartition("/")
    return vpc in t.vpcs and endpoint in t.vpcs[vpc].endpoints


def modify(view: View, params: dict) -> tuple[Topology, dict]:
    given = ec2_ids.pick(params.get("VpcEndpointId"), "vpce-", "InvalidVpcEndpointId.Malformed", "id")
    found = ec2_ids.endpoint(view, given)
    if found is None:
        raise Ec2Error("InvalidVpcEndpointId.NotFound", f"The VpcEndpoint Id '{given}' does not exist")
    vpc, ep = found[0], found[0].endpoints[found[1]]
    if params.get("IpAddressType") not in (None, "ipv4"):
        raise Ec2Error("InvalidParameter", f"IpAddressType {params['IpAddressType']}: vpclab emulates IPv4 endpoints only")
    added_tables = [table_of(view, vpc, r) for r in ids(params, "AddRouteTableIds")]
    removed_tables = [table_of(view, vpc, r) for r in ids(params, "RemoveRouteTableIds")]
    if ep.type == "interface" and (added_tables or removed_tables):
        raise Ec2Error("InvalidParameter", ROUTE_TABLES_GATEWAY_ONLY)
    subnet_ips = {**ep.subnet_ips, **configured_ips(view, vpc, params.get("SubnetConfigurations") or [], ep.name)}
    added = [ec2_ids.subnet(view, vpc, s) for s in ids(params, "AddSubnetIds")] + list(subnet_ips)
    removed = [ec2_ids.subnet(view, vpc, s) for s in ids(params, "RemoveSubnetIds")]
    groups_in = [ec2_ids.group_in(view, vpc, g) for g in ids(params, "AddSecurityGroupIds")]
    groups_out = [ec2_ids.group_in(view, vpc, g) for g in ids(params, "RemoveSecurityGroupIds")]
    changed = dataclasses.replace(
        ep,
        route_tables=changed_list(ep.route_tables, added_tables, removed_tables),
        subnets=changed_list(ep.subnets, added, removed),
        subnet_ips={s: a for s, a in subnet_ips.items() if s not in removed},
        security_groups=changed_list(ep.security_groups, groups_in, groups_out),
        policy=modified_policy(ep, params),
        private_dns=modified_private_dns(ep, params.get("PrivateDnsEnabled")),
        private_dns_only_for_inbound_resolver_endpoint=(params.get("DnsOptions") or {}).get(
            "PrivateDnsOnlyForInboundResolverEndpoint", ep.private_dns_only_for_inbound_resolver_endpoint
        ),
    )
    topology = with_part(view.topology, vpc, "endpoints", ep.name, changed)
    return without_routes(topology, vpc.name, ep.name, removed_tables), {"Return": True}


def changed_list(items: tuple[str, ...], added: list[str], removed: list[str]) -> tuple[str, ...]:
    """`items` with `added` appended and `removed` taken out; adding one it has, or removing one it
    lacks, changes nothing (AWS's page names no error for either: uncertain)."""
    return tuple(i for i in dict.fromkeys(items + tuple(added)) if i not in removed)


def modified_policy(ep: Endpoint, params: dict) -> Policy | None:
    """PolicyDocument replaces the policy, ResetPolicy restores AWS's default (not both)."""
    if params.get("ResetPolicy") and params.get("PolicyDocument") is not None:
        raise Ec2Error("InvalidParameterCombination", "ResetPolicy and PolicyDocument cannot be given together")
    if (params.get("ResetPolicy") or params.get("PolicyDocument") is not None) and ep.endpoint_service:
        raise Ec2Error("InvalidParameter", f"The VPC endpoint service {ep.service_name} does not support endpoint policies")
    if params.get("ResetPolicy"):
        return None
    return policy_of(params["PolicyDocument"]) if params.get("PolicyDocument") is not None else ep.policy


def modified_private_dns(ep: Endpoint, wanted: object) -> bool:
    if wanted is None:
        return ep.private_dns
    if ep.type == "gateway" and wanted:
        raise Ec2Error("InvalidParameter", "PrivateDnsEnabled applies to Interface type VPC Endpoints only")
    return bool(wanted) and ep.type == "interface"


def decide_connections(action: str):
    """AcceptVpcEndpointConnections / RejectVpcEndpointConnections by the service's owner: each
    endpoint decided, each one that cannot be an Unsuccessful item (lab.model.endpoint_connections)."""

    def handler(view: View, params: dict) -> tuple[Topology, dict]:
        given = params.get("ServiceId")
        svc = next((s for s in view.topology.endpoint_services() if s.service_id == given and s.account == view.account), None)
        if svc is None or view.region != view.topology.region:
            raise Ec2Error("InvalidVpcEndpointServiceId.NotFound", f"The VpcEndpointService Id '{given}' does not exist")
        changed, failed = view.topology, []
        connections = {c.vpce: f"{c.vpc}/{c.endpoint}" for c in view.plan.endpoint_service(svc.vpc, svc.name).connections}
        for vpce in ids(params, "VpcEndpointIds"):
            if vpce not in connections:
                failed.append(not_found(vpce))
                continue
            try:
                changed = decide(changed, changed.vpcs[svc.vpc].endpoint_services[svc.name], connections[vpce], action)
            except IncorrectState as exc:
                failed.append(unsuccessful(vpce, IncorrectState.code, str(exc)))
        return changed, {"Unsuccessful": failed}

    return handler


HANDLERS = {
    "CreateVpcEndpoint": create,
    "DeleteVpcEndpoints": delete,
    "ModifyVpcEndpoint": modify,
    "AcceptVpcEndpointConnections": decide_connections("accept"),
    "RejectVpcEndpointConnections": decide_connections("reject"),
}
