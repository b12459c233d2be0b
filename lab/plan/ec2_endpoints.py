"""VPC endpoints, AWS-managed prefix lists, endpoint services and endpoint connections as
describe-vpc-endpoints, describe-prefix-lists, describe-vpc-endpoint-services and
describe-vpc-endpoint-connections show them (botocore's VpcEndpoint, PrefixList, ServiceDetail,
VpcEndpointConnection; https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcEndpoints.html
and the pages of the other calls). Ids and DNS names from the plan, lab.plan.names and lab.plan.dns."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from lab.model import regions
from lab.model.accounts import allows
from lab.model.ec2_errors import Ec2Error
from lab.model.policy import DEFAULT_ENDPOINT_POLICY
from lab.model.topology import Endpoint, Vpc
from lab.plan import names
from lab.plan.dns import endpoint_names
from lab.plan.ec2_view import Resource, View, common, tags
from lab.plan.endpoint_services import dns_service_label

AMAZON = "amazon"  # the owner of AWS's own endpoint services


def vpc_endpoints(view: View) -> Iterator[Resource]:
    for vpc in view.vpcs():
        for ep in vpc.endpoints.values():
            yield vpc_endpoint(view, vpc, ep)


def vpc_endpoint(view: View, vpc: Vpc, ep: Endpoint) -> Resource:
    vpce = view.plan.vpce_id(vpc.name, ep.name)
    service = view.topology.endpoint_service_of(ep) if ep.endpoint_service else None
    service_name = service.service_name if service else ep.service_name
    connection = view.plan.endpoint_connection(vpce)
    state = connection[1].state if connection else "available"
    interface = ep.type == "interface"
    azs = [vpc.subnets[s].az for s in ep.subnets]
    data: dict = {
        "VpcEndpointId": vpce,
        "VpcEndpointType": "Interface" if interface else "Gateway",
        "VpcId": view.plan.vpc_id(vpc.name),
        "ServiceName": service_name,
        "State": state,
        "RouteTableIds": [view.plan.route_table(vpc.name, t).aws_id for t in ep.route_tables],
        "SubnetIds": [names.subnet_id(vpc.name, s) for s in ep.subnets],
        "Groups": [
            {"GroupId": names.security_group_id(vpc.name, g), "GroupName": g}
            for g in (ep.security_groups or ((names.DEFAULT_SECURITY_GROUP,) if interface else ()))
        ],
        "PrivateDnsEnabled": ep.private_dns if interface else False,
        "RequesterManaged": False,
        "NetworkInterfaceIds": [names.endpoint_eni_id(vpc.name, ep.name, az) for az in azs],
        "DnsEntries": [{"DnsName": n} for n, _ in endpoint_names(vpce, dns_service_label(view.topology, ep), view.region, azs)]
        if interface
        else [],
        "Tags": [] if ep.name == vpce else tags(ep.name),  # created live with no Name tag: none, as AWS shows it
        "OwnerId": vpc.account,
        "IpAddressType": "ipv4",
    }
    if service is None:  # AWS's services take a policy; an endpoint service's endpoints have none
        data["PolicyDocument"] = json.dumps(ep.policy.document if ep.policy else DEFAULT_ENDPOINT_POLICY)
    if interface:
        data["DnsOptions"] = {"DnsRecordIpType": "ipv4"}
    facets = common(view, vpc) | {
        "vpc-endpoint-id": [vpce],
        "service-name": [service_name],
        "vpc-endpoint-type": [data["VpcEndpointType"]],
        "vpc-endpoint-state": [state],
        "ip-address-type": ["ipv4"],
    }
    facets.pop("owner-id")
    return Resource(data, facets)


def prefix_lists(view: View) -> Iterator[Resource]:
    """The AWS-managed prefix lists of the caller's region (S3's and DynamoDB's)."""
    region = regions.REGIONS.get(view.region)
    for svc in region.services.values() if region else ():
        if svc.prefix_list_id:
            data = {
                "Cidrs": [str(c) for c in svc.ranges],
                "PrefixListId": svc.prefix_list_id,
                "PrefixListName": svc.prefix_list_name,
            }
            yield Resource(data, {"prefix-list-id": [svc.prefix_list_id], "prefix-list-name": [svc.prefix_list_name]})


def aws_service(region: str, svc: regions.RegionalService) -> Iterator[dict]:
    """One detail per endpoint type, as AWS lists S3 twice (Gateway, Interface)."""
    types = (["Gateway"] if svc.has_gateway_endpoint else []) + (["Interface"] if svc.service != "dynamodb" else [])
    for kind in types:
        detail = {
            "ServiceName": svc.service_name,
            "ServiceType": [{"ServiceType": kind}],
            "AvailabilityZones": [f"{region}{z}" for z in regions.region(region).azs],
            "Owner": AMAZON,
            "BaseEndpointDnsNames": [f"{svc.service}.{region}.vpce.amazonaws.com"] if kind == "Interface" else [],
            "VpcEndpointPolicySupported": True,
            "AcceptanceRequired": False,
            "ManagesVpcEndpoints": False,
            "SupportedIpAddressTypes": ["ipv4"],
        }
        if kind == "Interface" and svc.service != "s3":
            detail |= {"PrivateDnsName": svc.hostnames[0], "PrivateDnsNameVerificationState": "verified"}
        yield detail


def endpoint_services(view: View, params: dict, matching: Callable[[Resource, list, str], bool]) -> dict:
    """DescribeVpcEndpointServices: AWS's services of the region and the endpoint services the
    caller's account may see (its own, or whose allowed principals name it)."""
    found: list[Resource] = []
    region = regions.REGIONS.get(view.region)
    for svc in region.services.values() if region else ():
        for detail in aws_service(view.region, svc):
            found.append(Resource(detail, service_facets(detail)))
    if view.region == view.topology.region:
        for es in view.plan.endpoint_services:
            if allows(es.allowed_principals, es.owner, view.account):
                detail = {
                    "ServiceName": es.service_name,
                    "ServiceId": es.service_id,
                    "ServiceType": [{"ServiceType": "Interface"}],
                    "AvailabilityZones": list(es.availability_zones),
                    "Owner": es.owner,
                    "BaseEndpointDnsNames": [f"{es.service_id}.{view.region}.vpce.amazonaws.com"],
                    "VpcEndpointPolicySupported": False,
                    "AcceptanceRequired": es.acceptance_required,
                    "ManagesVpcEndpoints": False,
                    "SupportedIpAddressTypes": ["ipv4"],
                    "Tags": tags(es.name) if es.owner == view.account else [],
                }
                if es.private_dns_name:
                    detail |= {"PrivateDnsName": es.private_dns_name, "PrivateDnsNameVerificationState": es.private_dns_state}
                found.append(Resource(detail, service_facets(detail)))
    found = [r for r in found if matching(r, params.get("Filters") or [], "DescribeVpcEndpointServices")]
    wanted = params.get("ServiceNames") or []
    known = {r.data["ServiceName"] for r in found}
    for name in wanted:
        if name not in known:
            raise Ec2Error("InvalidServiceName", f"The Vpc Endpoint Service '{name}' does not exist")
    if wanted:
        found = [r for r in found if r.data["ServiceName"] in wanted]
    return {"ServiceNames": sorted({r.data["ServiceName"] for r in found}), "ServiceDetails": [r.data for r in found]}


def service_facets(detail: dict) -> dict[str, list[str]]:
    return {
        "service-name": [detail["ServiceName"]],
        "service-type": [t["ServiceType"] for t in detail["ServiceType"]],
        "owner": [detail["Owner"]],
        "supported-ip-address-types": ["ipv4"],
    }


def endpoint_connections(view: View) -> Iterator[Resource]:
    """The connections to the caller's own endpoint services (the provider's view)."""
    if view.region != view.topology.region:
        return
    for es in view.plan.endpoint_services:
        if es.owner != view.account:
            continue
        for c in es.connections:
            data = {
                "ServiceId": es.service_id,
                "VpcEndpointId": c.vpce,
                "VpcEndpointOwner": c.owner,
                "VpcEndpointState": c.state,
                "IpAddressType": "ipv4",
            }
            facets = {
                "service-id": [es.service_id],
                "vpc-endpoint-id": [c.vpce],
                "vpc-endpoint-owner": [c.owner],
                "vpc-endpoint-state": [c.state],
            }
            yield Resource(data, facets)
