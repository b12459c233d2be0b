"""Network Load Balancers: one node per enabled subnet (an ENI with a private IP in it, on the
subnet's bridge like an interface endpoint's ENI), forwarding in the kernel (lab.plan.load_balancer_nft)
except for PROXY protocol v2 listeners, which its proxy serves (lab.services.nlb_proxy).

Interface endpoints to an endpoint service reach a node over a private link of their own
(`LoadBalancers.connect`, in the manner of lab.plan.fronts): the node knows which endpoint every
connection came through, SNATs it to its own IP, and routes the replies back by conntrack mark.
The nodes are added last, once every endpoint has connected.
"""

from __future__ import annotations

import ipaddress

from lab.model.ids import ACCOUNT_ID
from lab.model.load_balancers import LoadBalancer, TargetGroup
from lab.model.topology import Topology, Vpc
from lab.plan import names
from lab.plan.allocation import LoadBalancerKey
from lab.plan.context import Build
from lab.plan.gateways import eni, host_route
from lab.plan.kept import free_number
from lab.plan.load_balancer_nft import load_balancer_node
from lab.plan.load_balancer_replies import steer_replies
from lab.plan.load_balancer_types import LoadBalancerPlan, NlbIngress, NlbListener, NlbNode, NlbTarget, NlbTargetGroup
from lab.plan.security_types import EniSecurity
from lab.plan.types import Interface, KernelRoute, Node, RoutingRule
from lab.plan.vpc_router import VpcWiring

Addr = ipaddress.IPv4Address
DEFAULT = ipaddress.IPv4Network("0.0.0.0/0")
PROXY_PORT_BASE = 7100  # PPv2 listener k is served by the node's proxy on 7100 + k (local only)
REPLY_TABLE_BASE = 100  # replies of ingress mark m use table 100 + m, chosen by rule 1000 + m


class LoadBalancers:
    """The lab's NLBs, and the ways into their nodes from endpoint ENIs, in the order connected."""

    def __init__(self, t: Topology):
        self.t = t
        self.ways: dict[str, list[NlbIngress]] = {}  # NLB node -> its ingresses

    def attach(self, build: Build, wiring: VpcWiring) -> None:
        """Each NLB node on its subnet's bridge (before the VPC's router is built)."""
        vpc = wiring.vpc
        for lb in vpc.load_balancers.values():
            for subnet in lb.subnets:
                wiring.attach(build, names.load_balancer_node(vpc.name, lb.name, vpc.subnets[subnet].az), subnet)

    def connect(self, build: Build, from_node: str, vpce: str, vpc: str, lb: str, az: str) -> tuple[Interface, Addr]:
        """A private link from an endpoint ENI node to the NLB's node in `az`: returns the ENI
        node's interface (`svc`) and the NLB node's address on the link, its next hop."""
        node = names.load_balancer_node(vpc, lb, az)
        (e_side, n_side), ways = build.transit_pair(f"privatelink {from_node}"), self.ways.setdefault(node, [])
        kept = {k for (n, _), k in build.kept.nlb_ingresses.items() if n == node}
        mark = build.kept.nlb_ingresses.get((node, vpce)) or free_number({w.mark for w in ways} | kept)  # as the running plan's
        dev = names.front_ingress(mark - 1)
        ways.append(NlbIngress(dev, vpce, mark, n_side, e_side.ip))
        build.link((from_node, names.TO_SERVICE), (node, dev), "privatelink", f"{vpce} to {node}")
        return Interface(names.TO_SERVICE, (e_side,)), n_side.ip

    def build(
        self, build: Build, wirings: dict[str, VpcWiring], security: dict[str, EniSecurity]
    ) -> tuple[LoadBalancerPlan, ...]:
        """Add every NLB node; returns the plans of the lab's NLBs (Plan.load_balancers).
        `security`: node -> its ENI's security groups (an NLB's nodes have an entry if it has groups)."""
        found = []
        for vpc in self.t.vpcs.values():
            for lb in vpc.load_balancers.values():
                plan = plan_load_balancer(self.t, vpc, lb, self.ways, build)
                for node in plan.nodes:
                    build.add(nlb_node(plan, node, vpc, wirings[vpc.name], security.get(node.node)))
                found.append(plan)
            steer_replies(build, wirings[vpc.name], found)
        return tuple(found)


def plan_load_balancer(
    t: Topology, vpc: Vpc, lb: LoadBalancer, ways: dict[str, list[NlbIngress]], build: Build | None
) -> LoadBalancerPlan:
    ips = build.allocation.load_balancer_ips[LoadBalancerKey(vpc.name, lb.name)] if build else {}
    nodes = []
    for subnet in lb.subnets:
        az = vpc.subnets[subnet].az
        node = names.load_balancer_node(vpc.name, lb.name, az)
        address = ips.get(az, Addr(0))
        nodes.append(
            NlbNode(node, az, subnet, address, names.load_balancer_eni_id(vpc.name, lb.name, az), tuple(ways.get(node, ())))
        )
    used = [vpc.target_groups[name] for name in dict.fromkeys(listener.target_group for listener in lb.listeners)]
    groups = tuple(target_group(t, vpc, g, build) for g in used)
    ppv2 = {g.name for g in groups if g.proxy_protocol_v2}
    listeners = tuple(
        NlbListener(
            listener.port,
            listener.target_group,
            PROXY_PORT_BASE + k if listener.target_group in ppv2 else None,
            listener.idle_timeout,
        )
        for k, listener in enumerate(lb.listeners)
    )
    return LoadBalancerPlan(
        vpc.name,
        lb.name,
        names.load_balancer_arn(t.region, vpc_account(vpc), vpc.name, lb.name),
        names.load_balancer_dns_name(vpc.name, lb.name, t.region),
        lb.cross_zone,
        tuple(names.security_group_id(vpc.name, g) for g in lb.security_groups),
        tuple(nodes),
        listeners,
        groups,
        lb.enforce_inbound_on_privatelink,
    )


def vpc_account(vpc: Vpc) -> str:
    """The VPC's owner account: the topology's `account` of the VPC, else the lab's account."""
    return getattr(vpc, "account", ACCOUNT_ID)


def target_group(t: Topology, vpc: Vpc, tg: TargetGroup, build: Build | None) -> NlbTargetGroup:
    targets = []
    for target in tg.targets:
        if target.instance is not None:
            inst = t.instances[target.instance]
            address = build.allocation.instance_ips[inst.name] if build else Addr(0)
            targets.append(
                NlbTarget(names.instance_id(inst.name), inst.name, address, tg.target_port(target), vpc.subnets[inst.subnet].az)
            )
        elif target.ip is not None:
            owner = next((i for i, a in (build.allocation.instance_ips.items() if build else ()) if a == target.ip), None)
            subnet = next((s for s in vpc.subnets.values() if target.ip in s.cidr), None)
            targets.append(NlbTarget(str(target.ip), owner, target.ip, tg.target_port(target), subnet.az if subnet else None))
    return NlbTargetGroup(
        tg.name,
        names.target_group_arn(t.region, vpc_account(vpc), vpc.name, tg.name),
        tg.port,
        tg.proxy_protocol_v2,
        tg.client_ip_preserved,
        tg.health_check,
        tuple(targets),
        tg.app,
        tg.deregistration_delay,
        tg.connection_termination,
    )


def nlb_node(plan: LoadBalancerPlan, node: NlbNode, vpc: Vpc, wiring: VpcWiring, security: EniSecurity | None) -> Node:
    """The node: its ENI in the subnet, one interface per endpoint ENI reaching it, the reply
    routes of those (by mark), and its ruleset (with its security groups' inbound rules for
    PrivateLink traffic, which never crosses the VPC router's filters)."""
    ingress_ifaces = tuple(Interface(i.iface, (i.address,)) for i in node.ingresses)
    replies = tuple(
        KernelRoute(DEFAULT, i.iface, i.peer, table=REPLY_TABLE_BASE + i.mark, origin=f"reply path of {i.label}")
        for i in node.ingresses
    )
    return Node(
        node.node,
        "load-balancer",
        node.eni_id,
        vpc.name,
        (eni(vpc, node.subnet, node.node, node.address, node.eni_id), *ingress_ifaces),
        routes=host_route(wiring.subnet_gateway(node.subnet)) + replies,
        rules=tuple(RoutingRule(1000 + i.mark, REPLY_TABLE_BASE + i.mark, fwmark=i.mark) for i in node.ingresses),
        nftables=load_balancer_node(plan, node, names.ENI, security if plan.privatelink_inbound_enforced else None),
        forwarding=True,
        description=f"node of Network Load Balancer {plan.name} in {node.az} ({plan.arn})",
    )
