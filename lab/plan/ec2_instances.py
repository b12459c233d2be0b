"""Instances and network interfaces as describe-instances and describe-network-interfaces show them
(botocore's Instance and NetworkInterface; https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html,
API_DescribeNetworkInterfaces.html): every ENI of the lab, an instance's, a NAT gateway's, an
interface endpoint's and an NLB's, with the interface type and description AWS gives the ones it
manages (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/requester-managed-eni.html). Each
instance is a reservation of its own. Ids from the plan and lab.plan.names."""

from __future__ import annotations

from collections.abc import Iterator

from lab.model.topology import Vpc
from lab.plan import names
from lab.plan.dns import private_hostname, public_hostname
from lab.plan.ec2_view import Resource, View, flag, tags

RUNNING = {"Code": 16, "Name": "running"}


def instances(view: View) -> Iterator[Resource]:
    for vpc in view.vpcs():
        for inst in (i for i in view.topology.instances.values() if i.vpc == vpc.name):
            node, eni = view.plan.node(inst.name), interface(view, vpc, inst.name, inst.subnet, "interface", "", False)
            az = vpc.subnets[inst.subnet].az
            data = {
                "InstanceId": node.aws_id,
                "State": RUNNING,
                "PrivateDnsName": private_hostname(view.plan.eni_address(inst.name), view.region),
                "PublicDnsName": public_hostname(eni.public, view.region) if eni.public else "",
                "Placement": {"AvailabilityZone": az, "Tenancy": "default"},
                "SubnetId": eni.data["SubnetId"],
                "VpcId": eni.data["VpcId"],
                "PrivateIpAddress": eni.data["PrivateIpAddress"],
                "SecurityGroups": eni.data["Groups"],
                "NetworkInterfaces": [
                    {k: v for k, v in eni.data.items() if k not in ("AvailabilityZone", "RequesterManaged", "TagSet")}
                    | {"Attachment": {"DeviceIndex": 0, "Status": "attached"}}
                ],
                "SourceDestCheck": True,
                "Tags": tags(inst.name),
            }
            if eni.public:
                data["PublicIpAddress"] = str(eni.public)
            facets = {
                "instance-id": [node.aws_id or ""],
                "vpc-id": [data["VpcId"]],
                "subnet-id": [data["SubnetId"]],
                "availability-zone": [az],
                "private-ip-address": [data["PrivateIpAddress"]],
                "ip-address": [str(eni.public)] if eni.public else [],
                "private-dns-name": [data["PrivateDnsName"]],
                "instance-state-name": ["running"],
                "instance.group-id": [g["GroupId"] for g in data["SecurityGroups"]],
                "instance.group-name": [g["GroupName"] for g in data["SecurityGroups"]],
                "network-interface.network-interface-id": [eni.data["NetworkInterfaceId"]],
                "owner-id": [vpc.account],
            }
            yield Resource(data, facets, parent={"ReservationId": names.reservation_id(inst.name), "OwnerId": vpc.account})


class Eni:
    """One network interface's output and its public IP (None: none)."""

    def __init__(self, data: dict, public):
        self.data, self.public = data, public


def interface(view: View, vpc: Vpc, node: str, subnet: str, kind: str, description: str, managed: bool) -> Eni:
    address = view.plan.eni_address(node)
    public = view.plan.public_ip_of(address, vpc.name)
    security = view.plan.eni_security(node)
    groups = [{"GroupId": g, "GroupName": n} for g, n in zip(security.groups, security.group_names)] if security else []
    data: dict = {
        "NetworkInterfaceId": view.plan.eni_id(node),
        "SubnetId": names.subnet_id(vpc.name, subnet),
        "VpcId": view.plan.vpc_id(vpc.name),
        "AvailabilityZone": vpc.subnets[subnet].az,
        "Description": description,
        "InterfaceType": kind,
        "OwnerId": vpc.account,
        "PrivateIpAddress": str(address),
        "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": str(address)}],
        "PrivateDnsName": private_hostname(address, view.region),
        "Groups": groups,
        "RequesterManaged": managed,
        "SourceDestCheck": not security or security.checked,
        "Status": "in-use",
        "TagSet": [],
    }
    if public is not None:
        data["Association"] = {"PublicIp": str(public.address), "IpOwnerId": "amazon" if not public.elastic else vpc.account}
    return Eni(data, public.address if public else None)


def network_interfaces(view: View) -> Iterator[Resource]:
    for vpc in view.vpcs():
        for eni in enis(view, vpc):
            data = eni.data
            facets = {
                "network-interface-id": [data["NetworkInterfaceId"]],
                "vpc-id": [data["VpcId"]],
                "subnet-id": [data["SubnetId"]],
                "availability-zone": [data["AvailabilityZone"]],
                "interface-type": [data["InterfaceType"]],
                "description": [data["Description"]],
                "private-ip-address": [data["PrivateIpAddress"]],
                "addresses.private-ip-address": [data["PrivateIpAddress"]],
                "group-id": [g["GroupId"] for g in data["Groups"]],
                "requester-managed": flag(data["RequesterManaged"]),
                "status": ["in-use"],
                "owner-id": [vpc.account],
                "association.public-ip": [str(eni.public)] if eni.public else [],
            }
            yield Resource(data, facets)


def enis(view: View, vpc: Vpc) -> Iterator[Eni]:
    """The VPC's ENIs: instances', NAT gateways', interface endpoints', NLB nodes'."""
    for inst in (i for i in view.topology.instances.values() if i.vpc == vpc.name):
        yield interface(view, vpc, inst.name, inst.subnet, "interface", "", False)
    for nat in vpc.nat_gateways.values():
        gateway = view.plan.nat_gateway(vpc.name, nat.name)
        yield interface(view, vpc, gateway.name, nat.subnet, "nat_gateway", f"Interface for NAT Gateway {gateway.aws_id}", True)
    for ep in (e for e in vpc.endpoints.values() if e.type == "interface"):
        vpce = view.plan.vpce_id(vpc.name, ep.name)
        for subnet in ep.subnets:
            eni_node = names.endpoint_eni_node(vpc.name, ep.name, vpc.subnets[subnet].az)
            if eni_node in view.plan.nodes:
                yield interface(view, vpc, eni_node, subnet, "vpc_endpoint", f"VPC Endpoint Interface {vpce}", True)
    for lb in (b for b in view.plan.load_balancers if b.vpc == vpc.name):
        for n in lb.nodes:
            described = "ELB " + lb.arn.split(":loadbalancer/", 1)[1]  # ELB net/<name>/<id>
            yield interface(view, vpc, n.node, n.subnet, "network_load_balancer", described, True)
