"""What a lab is made of, as data: nodes, links, addresses, routes, rules, rulesets, DNS records.

The planner decides every value here; the realizer only applies it (DESIGN section 3). Kernel
names are the names inside each node's namespace (at most 15 characters); a node's namespace is
its own, so two nodes may both have an `eth0`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from lab.model.topology import Bucket, Policy, Table
from lab.plan import names
from lab.plan.allocation import Allocation, EndpointKey, PublicIp
from lab.plan.endpoint_service_types import EndpointConnection, EndpointServicePlan
from lab.plan.load_balancer_types import LoadBalancerPlan, NlbNode
from lab.plan.security_types import EniSecurity, SubnetAcl
from lab.plan.settings import Settings

Net = ipaddress.IPv4Network
Addr = ipaddress.IPv4Address
IfAddr = ipaddress.IPv4Interface

# Hop kinds, shared with the static explanation and the observed paths.
KINDS = (
    "instance",
    "vpc-router",
    "internet-gateway",
    "nat-gateway",
    "internet",
    "gateway-endpoint",
    "interface-endpoint",
    "load-balancer",
    "service",
    "resolver",
)  # a peering connection is a link

MAIN_TABLE = 254  # the kernel's main table: a node's own traffic and non-policy routes


@dataclass(frozen=True)
class KernelRoute:
    """One route in one kernel table, with the AWS route it stands for (`origin`)."""

    destination: Net
    dev: str | None
    via: Addr | None = None
    table: int = MAIN_TABLE
    metric: int = 0  # ties on one prefix: a static route (100) beats a prefix-list route (200)
    origin: str = ""  # e.g. 'local', 'igw-0ab...', 'pl-78a54011 -> vpce-0c1...'


@dataclass(frozen=True)
class RoutingRule:
    """`ip rule`: traffic entering on `iif` (or carrying `fwmark`) uses `table`."""

    priority: int
    table: int
    iif: str | None = None
    fwmark: int | None = None


@dataclass(frozen=True)
class RouteTable:
    """A VPC route table as a kernel table in the VPC router."""

    number: int
    aws_id: str
    name: str
    routes: tuple[KernelRoute, ...]


@dataclass(frozen=True)
class Interface:
    name: str
    addresses: tuple[IfAddr, ...] = ()
    bridge: str | None = None  # port of this bridge (in the same node) rather than an L3 interface
    mac: str | None = None
    kind: str = "veth"  # or 'stub': a device of the node alone, going nowhere (the router's `noroute`)
    eni: str | None = None  # the AWS network interface (eni-...) this interface stands for


@dataclass(frozen=True)
class Node:
    name: str  # the name at the lab prompt
    kind: str  # one of KINDS
    aws_id: str | None
    vpc: str | None
    interfaces: tuple[Interface, ...]
    bridges: tuple[Interface, ...] = ()  # bridges inside this node, with their addresses
    loopback: tuple[IfAddr, ...] = ()  # extra addresses on lo (service IPs, the resolver)
    routes: tuple[KernelRoute, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    rules: tuple[RoutingRule, ...] = ()
    nftables: str = ""  # a complete ruleset for `nft -f`, empty for none
    forwarding: bool = False
    description: str = ""

    def interface(self, name: str) -> Interface:
        return next(i for i in self.interfaces + self.bridges if i.name == name)

    def addresses(self) -> list[Addr]:
        ifs = self.interfaces + self.bridges
        return [a.ip for i in ifs for a in i.addresses] + [a.ip for a in self.loopback]


@dataclass(frozen=True)
class Link:
    """A veth pair: `a` and `b` are (node, interface) ends; `role` says what AWS thing it is."""

    a: tuple[str, str]
    b: tuple[str, str]
    role: str  # 'subnet' (ENI to its subnet), 'transit' (between gateways), 'service' (service ingress)
    description: str = ""


@dataclass(frozen=True)
class DnsRecord:
    name: str  # may start with '*.'
    addresses: tuple[Addr, ...]
    origin: str = ""  # 'public', 'ec2-private', 'ec2-public', 'vpce', 'private-dns', 'elb'


@dataclass(frozen=True)
class Resolver:
    """The VPC's Route 53 Resolver (AmazonProvidedDNS), run in the VPC router's namespace."""

    vpc: str
    node: str
    addresses: tuple[Addr, ...]  # VPC base+2 and 169.254.169.253
    records: tuple[DnsRecord, ...]


@dataclass(frozen=True)
class Ingress:
    """One way into a service front. Connections to ports 80/443 arriving on `iface` are redirected
    to this ingress's own local ports, so the service knows the ingress of every connection."""

    iface: str
    label: str  # 'internet' or a vpce id
    http_port: int
    https_port: int
    mark: int  # conntrack mark; replies are routed back out of `iface` by it
    vpc_id: str | None = None  # an endpoint's VPC, the aws:SourceVpc of its requests
    policy: Policy | None = None  # an endpoint's policy; None: AWS's default (or the internet: none)


@dataclass(frozen=True)
class ServiceFront:
    """One AWS regional service in the lab: its node, public addresses and ingresses."""

    service: str
    region: str
    node: str
    addresses: tuple[Addr, ...]
    ingresses: tuple[Ingress, ...]
    buckets: tuple[Bucket, ...] = ()  # S3: the buckets of this region, created at start
    tables: tuple[Table, ...] = ()  # DynamoDB: the tables of this region


@dataclass(frozen=True)
class Plan:
    source: str
    region: str
    nodes: dict[str, Node]
    links: tuple[Link, ...]
    public_ips: tuple[PublicIp, ...]
    resolvers: dict[str, Resolver]
    services: tuple[ServiceFront, ...]
    prefix_lists: dict[str, tuple[Net, ...]]  # pl id -> CIDRs, as `describe-prefix-lists` shows
    security: dict[str, EniSecurity]  # node -> its ENI's security groups (instances, endpoint ENIs)
    network_acls: dict[str, SubnetAcl]  # subnet id -> the subnet's network ACL
    # What the plan was built from (not part of its JSON: every value is shown where it is used).
    allocation: Allocation = field(metadata={"internal": True})
    settings: Settings = field(default=Settings(), metadata={"internal": True})
    # The Network Load Balancers (lab.plan.load_balancer_types); their nodes are in `nodes`.
    load_balancers: tuple[LoadBalancerPlan, ...] = field(default=(), metadata={"internal": True})
    # The endpoint services and their consumers' connections (lab.plan.endpoint_services).
    endpoint_services: tuple[EndpointServicePlan, ...] = field(default=(), metadata={"internal": True})
    # Every AWS account of the lab (the lab's own and those the topology's VPCs name), sorted.
    accounts: tuple[str, ...] = field(default=(), metadata={"internal": True})
    # The internet's resolver, internet-client's (lab.plan.dns.public_resolver).
    public_resolver: Resolver | None = field(default=None, metadata={"internal": True})
    # Each transit link's pair by its key, for a live change to keep (lab.plan.kept).
    transit: Mapping[str, tuple[IfAddr, IfAddr]] = field(default_factory=dict, metadata={"internal": True})

    def node(self, name: str) -> Node:
        return self.nodes[name]

    # -- look-ups for the layers above: they never rebuild a name or an id ----------------------
    def every_resolver(self) -> dict[str, Resolver]:
        """Every resolver the lab runs by where it answers: each VPC's, and the internet's."""
        extra = {self.public_resolver.vpc: self.public_resolver} if self.public_resolver else {}
        return dict(self.resolvers) | extra

    def resolver_of(self, node: str) -> Resolver | None:
        """The resolver a node's /etc/resolv.conf names: its VPC's (none if the VPC has no DNS
        support), the internet's for internet-client, none for the lab's other nodes."""
        if node == names.INTERNET_CLIENT:
            return self.public_resolver
        vpc = self.nodes[node].vpc
        return self.resolvers.get(vpc) if vpc else None

    def router(self, vpc: str) -> Node:
        """The VPC's router; its aws_id is the VPC's id, and its resolver answers in it."""
        return self.nodes[names.router_node(vpc)]

    def vpc_id(self, vpc: str) -> str:
        """The VPC's id (vpc-...), which its router carries."""
        return names.vpc_id(vpc)

    def internet_gateway(self, vpc: str) -> Node:
        return self.nodes[names.igw_node(vpc)]

    def nat_gateway(self, vpc: str, nat: str) -> Node:
        return self.nodes[names.nat_node(vpc, nat)]

    def gateway_endpoint(self, vpc: str, endpoint: str) -> Node:
        return self.nodes[names.gateway_endpoint_node(vpc, endpoint)]

    def eni_address(self, node: str) -> Addr:
        """The private IP of an instance's, NAT gateway's or endpoint's network interface."""
        return self.nodes[node].interface(names.ENI).addresses[0].ip

    def eni_id(self, node: str) -> str | None:
        """The eni- id of an instance's, NAT gateway's or endpoint's network interface."""
        return self.nodes[node].interface(names.ENI).eni

    def eni_security(self, node: str) -> EniSecurity | None:
        """The security groups and rules of a node's ENI; None for a node without security groups
        (a NAT gateway, a router, a gateway endpoint...)."""
        return self.security.get(node)

    def subnet_acl(self, vpc: str, subnet: str) -> SubnetAcl:
        """The network ACL of a subnet (the VPC's default ACL when the topology names none)."""
        return self.network_acls[names.subnet_id(vpc, subnet)]

    def subnet_acl_at(self, vpc: str, address: Addr) -> SubnetAcl | None:
        """The network ACL of the subnet of `vpc` that holds `address`, if any."""
        return next((a for a in self.network_acls.values() if a.vpc == vpc and address in a.cidr), None)

    def vpce_id(self, vpc: str, endpoint: str) -> str:
        return self.allocation.vpce_ids[EndpointKey(vpc, endpoint)]

    def route_table(self, vpc: str, name: str | None) -> RouteTable:
        """A VPC route table by its topology name; None: the main route table."""
        wanted = name or names.MAIN_TABLE_NAME
        return next(t for t in self.router(vpc).route_tables if t.name == wanted)

    def peering_id(self, peering: str) -> str:
        return self.allocation.pcx_ids[peering]

    def front_of(self, node: str) -> tuple[ServiceFront, Ingress]:
        """The service front an endpoint node's private link reaches, and the ingress it arrives on."""
        link = next((k for k in self.links if k.a == (node, names.TO_SERVICE)), None)
        if link is None:
            raise KeyError(f"{node} has no private link to a service front")
        front = next(s for s in self.services if s.node == link.b[0])
        return front, next(i for i in front.ingresses if i.iface == link.b[1])

    def endpoint_ingress(self, vpce: str) -> tuple[ServiceFront, Ingress]:
        """The front and ingress of an endpoint, by its vpce id (an interface endpoint has one
        ingress per ENI; the first is returned: they carry the same policy and VPC)."""
        found = next(((s, i) for s in self.services for i in s.ingresses if i.label == vpce), None)
        if found is None:
            raise KeyError(f"no service front has an ingress from {vpce}")
        return found

    def load_balancer(self, vpc: str, name: str) -> LoadBalancerPlan:
        """A Network Load Balancer by its VPC and name."""
        return next(lb for lb in self.load_balancers if (lb.vpc, lb.name) == (vpc, name))

    def load_balancer_node(self, vpc: str, name: str, az: str) -> NlbNode | None:
        """The NLB's node in an Availability Zone (full name), None where it is not enabled."""
        return self.load_balancer(vpc, name).node_in(az)

    def load_balancer_of(self, node: str) -> tuple[LoadBalancerPlan, NlbNode] | None:
        """The NLB a lab node belongs to, and that node's plan."""
        return next(((lb, n) for lb in self.load_balancers for n in lb.nodes if n.node == node), None)

    def endpoint_service(self, vpc: str, name: str) -> EndpointServicePlan:
        return next(s for s in self.endpoint_services if (s.vpc, s.name) == (vpc, name))

    def endpoint_connection(self, vpce: str) -> tuple[EndpointServicePlan, EndpointConnection] | None:
        """The endpoint service an endpoint (by its vpce id) connects to, and the connection."""
        return next(((s, c) for s in self.endpoint_services for c in s.connections if c.vpce == vpce), None)

    def public_ip_of(self, private_ip: Addr, vpc: str) -> PublicIp | None:
        return next((p for p in self.public_ips if p.private_ip == private_ip and p.vpc == vpc), None)

    def service_front(self, service: str, region: str) -> ServiceFront | None:
        return next((s for s in self.services if (s.service, s.region) == (service, region)), None)
