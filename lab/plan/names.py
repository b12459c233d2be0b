"""Every name the lab makes, in one place: node names (the names at the prompt), kernel interface
names (at most 15 characters, checked by the planner) and AWS ids. Nothing else in the code
assembles one; the layers above look them up in the plan (lab.plan.types.Plan).

AWS ids are deterministic: the same topology always gives the same vpc-/subnet-/vpce- ids, so runs,
golden plans and reports are reproducible. Real ids are 17 hex digits after the prefix (8 for prefix
lists and older resources); these are derived from the resource's path in the model.

Node names: instances keep theirs; the VPC router is `<vpc>-router`, the internet gateway
`<vpc>-igw`, NAT gateways and gateway endpoints `<vpc>-<name>`, an interface endpoint one node per
AZ, `<vpc>-<name>-<zone letter>`, and so is a Network Load Balancer's node; the internet
`internet` with its public host `internet-client`,
and each AWS service front `<service>-<region>`.

One name is not made here: a service's name (`com.amazonaws.<region>.<service>`), which the model
already needs to validate endpoints; it is made once, by lab.model.regions.service_name. For the
same reason an endpoint service's id and name are made by lab.model.accounts and offered here
(`endpoint_service_id`, `endpoint_service_name`).
"""

from __future__ import annotations

import hashlib

from lab.model.accounts import endpoint_service_id as endpoint_service_id  # made there, offered here
from lab.model.accounts import endpoint_service_name as endpoint_service_name

INTERNET = "internet"
INTERNET_CLIENT = "internet-client"
MAIN_TABLE_NAME = "(main)"  # the VPC's main route table, which the topology does not name
EDGE_TABLE_NAME = "edge"  # the router's table for traffic entering from gateways and peers
DEFAULT_SECURITY_GROUP = "default"  # every VPC's own group, used by an ENI that names none
DEFAULT_NETWORK_ACL = "(default)"  # every VPC's own ACL, used by a subnet that names none

# Kernel interface names that are the same in every node of a kind (each node has its own namespace).
ENI = "eth0"  # an instance's, NAT gateway's or endpoint's network interface
TO_VPC, TO_INTERNET, TO_SERVICE = "vpc", "inet", "svc"  # a gateway's or endpoint's sides
ROUTER_TO_IGW = "igw"
INTERNET_TO_CLIENT = "client"
FRONT_FROM_INTERNET = "inet"


def aws_id(prefix: str, *path: str) -> str:
    """e.g. aws_id('subnet', 'app', 'private-a') -> 'subnet-0a1b2c...' (17 hex digits)."""
    digest = hashlib.sha256("/".join((prefix,) + path).encode()).hexdigest()
    return f"{prefix}-0{digest[:16]}"


# -- AWS ids --------------------------------------------------------------------------------------
def vpc_id(vpc: str) -> str:
    return aws_id("vpc", vpc)


def subnet_id(vpc: str, subnet: str) -> str:
    return aws_id("subnet", vpc, subnet)


def route_table_id(vpc: str, table: str) -> str:
    return aws_id("rtb", vpc, table)


def igw_id(vpc: str) -> str:
    return aws_id("igw", vpc)


def nat_id(vpc: str, nat: str) -> str:
    return aws_id("nat", vpc, nat)


def eip_allocation_id(vpc: str, owner: str) -> str:
    return aws_id("eipalloc", vpc, owner)


def vpce_id(vpc: str, endpoint: str) -> str:
    return aws_id("vpce", vpc, endpoint)


def created_vpce_id(vpc: str, serial: int) -> str:
    """The id of the `serial`th resource the lab's EC2 API created, an endpoint in `vpc`
    (CreateVpcEndpoint): fresh, as AWS never hands an id out twice, and the same for the same
    calls on the same topology, so runs stay reproducible."""
    return aws_id("vpce", vpc, f"created-{serial}")


def security_group_id(vpc: str, group: str) -> str:
    """A security group's sg- id; the VPC's default group is `DEFAULT_SECURITY_GROUP`."""
    return aws_id("sg", vpc, group)


def network_acl_id(vpc: str, acl: str) -> str:
    """A network ACL's acl- id; the VPC's default ACL is `DEFAULT_NETWORK_ACL`."""
    return aws_id("acl", vpc, acl)


def route_table_association_id(vpc: str, subnet: str | None) -> str:
    """The rtbassoc- id of a subnet's explicit association with its route table; None: the main
    route table's own association (`Main: true` in describe-route-tables)."""
    return aws_id("rtbassoc", vpc, subnet or MAIN_TABLE_NAME)


def network_acl_association_id(vpc: str, subnet: str) -> str:
    """The aclassoc- id of a subnet's association with its network ACL (every subnet has one)."""
    return aws_id("aclassoc", vpc, subnet)


def pcx_id(peering: str) -> str:
    return aws_id("pcx", peering)


def instance_id(instance: str) -> str:
    return aws_id("i", instance)


def reservation_id(instance: str) -> str:
    """The r- id of the reservation an instance was launched in (one instance each, as if launched one by one)."""
    return aws_id("r", instance)


def instance_eni_id(instance: str) -> str:
    """An instance's primary network interface: its own id, as flow logs and security groups name it."""
    return aws_id("eni", instance)


def nat_eni_id(vpc: str, nat: str) -> str:
    """The network interface AWS creates for a NAT gateway (`NetworkInterfaceId` of describe-nat-gateways)."""
    return aws_id("eni", vpc, nat)


def endpoint_eni_id(vpc: str, endpoint: str, az: str) -> str:
    return aws_id("eni", vpc, endpoint, az)


def load_balancer_id(vpc: str, lb: str) -> str:
    """The 16 hex digits closing an NLB's ARN and naming it in its ENIs' descriptions (`net/<name>/<id>`)."""
    return aws_id("elb", vpc, lb)[-16:]


def load_balancer_arn(region: str, account: str, vpc: str, lb: str) -> str:
    """arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/net/<name>/<id>
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html)."""
    return f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/net/{lb}/{load_balancer_id(vpc, lb)}"


def target_group_arn(region: str, account: str, vpc: str, group: str) -> str:
    """arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>."""
    return f"arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{group}/{aws_id('tg', vpc, group)[-16:]}"


def load_balancer_dns_name(vpc: str, lb: str, region: str) -> str:
    """An internal NLB's DNS name: `internal-<name>-<id>.elb.<region>.amazonaws.com`."""
    return f"internal-{lb}-{load_balancer_id(vpc, lb)}.elb.{region}.amazonaws.com"


def load_balancer_eni_id(vpc: str, lb: str, az: str) -> str:
    """The network interface ELB creates for an NLB in one AZ (described `ELB net/<name>/<id>`)."""
    return aws_id("eni", "elb", vpc, lb, az)


# -- interface endpoint DNS names ----------------------------------------------------------------
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
S3_ENDPOINT_LABELS = ("bucket", "accesspoint", "control")  # the '*' of S3's `*.vpce-...` names


def endpoint_dns_suffix(vpce: str) -> str:
    """The 8 letters and digits AWS appends to an endpoint's id in its DNS names (`-29p5708s`),
    derived from the vpce id so that the names stay put from run to run."""
    value = int.from_bytes(hashlib.sha256(("dns/" + vpce).encode()).digest()[:8], "big")
    return "".join(BASE36[(value >> (5 * i)) % 36] for i in range(8))


def endpoint_dns_name(vpce: str, service: str, region: str, az: str | None = None) -> str:
    """An interface endpoint's regional name (`az` None) or the zonal name of one AZ, as
    describe-vpc-endpoints' DnsEntries show them: `vpce-<id>-<suffix>[-<az>].<service>.<region>.vpce.amazonaws.com`
    (https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html)."""
    zone = f"-{az}" if az else ""
    return f"{vpce}-{endpoint_dns_suffix(vpce)}{zone}.{service}.{region}.vpce.amazonaws.com"


# -- node names -----------------------------------------------------------------------------------
def router_node(vpc: str) -> str:
    return f"{vpc}-router"


def igw_node(vpc: str) -> str:
    return f"{vpc}-igw"


def nat_node(vpc: str, nat: str) -> str:
    return f"{vpc}-{nat}"


def gateway_endpoint_node(vpc: str, endpoint: str) -> str:
    return f"{vpc}-{endpoint}"


def endpoint_eni_node(vpc: str, endpoint: str, az: str) -> str:
    return f"{vpc}-{endpoint}-{az[-1]}"


def load_balancer_node(vpc: str, lb: str, az: str) -> str:
    """One NLB node per enabled Availability Zone, like an interface endpoint's ENIs."""
    return f"{vpc}-{lb}-{az[-1]}"


def front_node(service: str, region: str) -> str:
    return f"{service}-{region}"


# -- kernel interface names ----------------------------------------------------------------------
def subnet_bridge(index: int) -> str:
    return f"br{index}"


def bridge_port(bridge: str, index: int) -> str:
    return f"{bridge}p{index}"


def router_edge(kind: str, index: int) -> str:
    """The router's interface toward its `index`th gateway endpoint ('ep') or peering ('pcx')."""
    return f"{kind}{index}"


def front_ingress(index: int) -> str:
    """A service front's or NLB node's interface from its `index`th endpoint ENI."""
    return f"vpce{index}"


def internet_to_igw(index: int) -> str:
    return f"igw{index}"


def internet_to_front(index: int) -> str:
    return f"svc{index}"
