"""The AWS-shaped model of a lab: plain frozen values over `ipaddress` types, no Linux in sight.

Every object keeps the line of the topology file it came from (`line`, not part of equality), so
that validation and later layers can point the user at the exact place. Names of subnets, route
tables, gateways and endpoints are scoped to their VPC; instance names are global (they name nodes
at the prompt). The AWS ids (vpc-..., subnet-...) are derived from names by `lab.plan.names`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from lab.model import regions
from lab.model.accounts import endpoint_service_id, endpoint_service_name
from lab.model.ids import ACCOUNT_ID
from lab.model.load_balancers import LoadBalancer, TargetGroup

Net = ipaddress.IPv4Network
Addr = ipaddress.IPv4Address


@dataclass(frozen=True)
class PrefixListRef:
    """A route or rule destination naming an AWS-managed prefix list: `pl:s3` or `pl-78a54011`."""

    region: str
    service: str
    pl_id: str

    def __str__(self) -> str:
        return self.pl_id


@dataclass(frozen=True)
class Route:
    destination: Net | PrefixListRef
    target: str  # 'igw', a NAT gateway, a gateway endpoint or a peering connection, by name
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class RouteTable:
    name: str
    routes: tuple[Route, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Subnet:
    name: str
    cidr: Net
    az: str  # full AZ name, e.g. ap-northeast-2a
    route_table: str | None  # None: the VPC's main route table (only the local route)
    network_acl: str | None  # None: the VPC's default network ACL (allow all, both ways)
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class NatGateway:
    name: str
    subnet: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Instance:
    name: str
    vpc: str
    subnet: str
    private_ip: Addr | None  # None: the planner picks one
    public_ip: bool  # an auto-assigned public IPv4 address, mapped 1:1 by the internet gateway
    security_groups: tuple[str, ...]  # empty: the VPC's default security group
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class SecurityGroupRule:
    """One allow rule; `peer` is a CIDR, a prefix list or another security group's name."""

    protocol: str  # 'tcp', 'udp', 'icmp' or '-1' (all)
    from_port: int | None  # tcp/udp: the lowest port; icmp: the type (None: all), as AWS's FromPort
    to_port: int | None  # tcp/udp: the highest port; icmp: the code (None: all), as AWS's ToPort
    peer: Net | PrefixListRef | str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class SecurityGroup:
    name: str
    description: str
    ingress: tuple[SecurityGroupRule, ...]
    egress: tuple[SecurityGroupRule, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class NetworkAclEntry:
    rule_number: int
    protocol: str
    from_port: int | None  # as in SecurityGroupRule
    to_port: int | None
    cidr: Net
    action: str  # 'allow' or 'deny'
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class NetworkAcl:
    name: str
    ingress: tuple[NetworkAclEntry, ...]
    egress: tuple[NetworkAclEntry, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Policy:
    """An IAM-style policy document loaded from a JSON file next to the topology."""

    path: str
    document: dict = field(compare=False, hash=False)
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Endpoint:
    """A VPC endpoint: `gateway` (route tables) or `interface` (one ENI per listed subnet)."""

    name: str
    type: str
    region: str
    service: str  # 's3', 'dynamodb'
    route_tables: tuple[str, ...]
    subnets: tuple[str, ...]
    policy: Policy | None  # None: AWS's default full-access policy
    private_dns: bool
    security_groups: tuple[str, ...]
    # subnet -> the ENI's IPv4 address asked for (SubnetConfigurations); other subnets: AWS picks
    subnet_ips: dict[str, Addr] = field(default_factory=dict, compare=False)
    # DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint as written; None: AWS's default (lab.model.dns_options)
    private_dns_only_for_inbound_resolver_endpoint: bool | None = None
    # An endpoint to an endpoint service (PrivateLink to a provider's NLB): the service as written,
    # `vpc/service` or its service name `com.amazonaws.vpce.<region>.vpce-svc-...`; None: an AWS service
    endpoint_service: str | None = None
    # The vpce- id of an endpoint created live through the lab's EC2 API (lab.plan.ec2_endpoint_changes):
    # a fresh id, never one handed out before; None: derived from the endpoint's name (lab.plan.names.vpce_id)
    vpce_id: str | None = None
    line: int = field(default=0, compare=False)

    @property
    def service_name(self) -> str:
        return self.endpoint_service or regions.service_name(self.region, self.service)


@dataclass(frozen=True)
class EndpointService:
    """A provider's endpoint service (VPC endpoint service configuration) in front of its Network
    Load Balancers; owned by the account of the VPC that holds them. The provider's decisions on
    endpoint connections are `accepted` and `rejected` ('vpc/endpoint' of the consumers), as
    accept-/reject-vpc-endpoint-connections take them
    (https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html)."""

    name: str
    vpc: str
    account: str
    region: str
    network_load_balancers: tuple[str, ...]  # NLB names in `vpc`
    acceptance_required: bool
    allowed_principals: tuple[str, ...]  # 'arn:aws:iam::<account>:root' or '*'
    accepted: tuple[str, ...]
    rejected: tuple[str, ...]
    private_dns_name: str | None
    line: int = field(default=0, compare=False)

    @property
    def service_id(self) -> str:
        return endpoint_service_id(self.account, self.vpc, self.name)

    @property
    def service_name(self) -> str:
        return endpoint_service_name(self.region, self.service_id)


@dataclass(frozen=True)
class Peering:
    """A VPC peering connection, declared in the requester VPC; both sides may route to it by name."""

    name: str
    requester: str
    accepter: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Vpc:
    name: str
    cidr: Net
    enable_dns_support: bool
    enable_dns_hostnames: bool
    internet_gateway: bool
    subnets: dict[str, Subnet] = field(compare=False)
    route_tables: dict[str, RouteTable] = field(compare=False)
    nat_gateways: dict[str, NatGateway] = field(compare=False)
    endpoints: dict[str, Endpoint] = field(compare=False)
    security_groups: dict[str, SecurityGroup] = field(compare=False)
    network_acls: dict[str, NetworkAcl] = field(compare=False)
    peerings: dict[str, Peering] = field(compare=False)
    endpoint_services: dict[str, EndpointService] = field(default_factory=dict, compare=False)
    account: str = ACCOUNT_ID  # the owner account (OwnerId of describe-vpcs)
    line: int = field(default=0, compare=False)
    # Network Load Balancers and their target groups (lab.model.load_balancers)
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict, compare=False)
    target_groups: dict[str, TargetGroup] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    policy: Policy | None
    objects: dict[str, str] = field(compare=False)  # key -> text content, created at start
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Table:
    name: str
    region: str
    partition_key: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Topology:
    file: str
    region: str
    vpcs: dict[str, Vpc] = field(compare=False)
    instances: dict[str, Instance] = field(compare=False)
    buckets: dict[str, Bucket] = field(compare=False)
    tables: dict[str, Table] = field(compare=False)
    # How many resources the lab's EC2 API has created so far: each takes the next number into its
    # id (lab.plan.names.created_vpce_id), so no id is handed out twice, as AWS never reuses one
    created: int = field(default=0, compare=False)

    def peerings(self) -> list[Peering]:
        return [p for vpc in self.vpcs.values() for p in vpc.peerings.values()]

    def endpoint_services(self) -> list[EndpointService]:
        return [s for vpc in self.vpcs.values() for s in vpc.endpoint_services.values()]

    def endpoint_service_of(self, ep: Endpoint) -> EndpointService | None:
        """The endpoint service an endpoint names (`vpc/service` or the service name), if any."""
        ref = ep.endpoint_service
        return next((s for s in self.endpoint_services() if ref in (f"{s.vpc}/{s.name}", s.service_name)), None)

    def peerings_of(self, vpc: str) -> list[Peering]:
        """Peering connections usable as route targets in `vpc` (it is either side of them)."""
        return [p for p in self.peerings() if vpc in (p.requester, p.accepter)]


def private_dns_only_for_inbound_resolver(vpc: Vpc, ep: Endpoint) -> bool:
    """Whether `ep`'s private DNS answers only a Route 53 inbound Resolver endpoint, leaving the
    VPC's own clients on the service's public names (and so on the gateway endpoint). As written,
    else AWS's default: on for a private-DNS endpoint whose VPC also has a gateway endpoint for the
    service (https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html,
    "Private DNS"; https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DnsOptionsSpecification.html).
    S3's guide states the default; DynamoDB, the other service with both kinds of endpoint, gets the
    same, as the API reference describes the option for every such service (DynamoDB's default is
    not stated there: uncertain)."""
    if ep.private_dns_only_for_inbound_resolver_endpoint is not None:
        return ep.private_dns_only_for_inbound_resolver_endpoint
    gateways = {(e.service, e.region) for e in vpc.endpoints.values() if e.type == "gateway"}
    return ep.type == "interface" and ep.private_dns and (ep.service, ep.region) in gateways
