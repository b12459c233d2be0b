"""Static path explanation, like VPC Reachability Analyzer: no packets, only the model and the plan.

It walks AWS's semantics hop by hop: the source VPC's DNS answer, longest prefix match in the route
table of the subnet the packet is in (a prefix-list route beats 0.0.0.0/0, a more specific CIDR beats
the prefix list, a static route beats a prefix-list route of the same prefix), NAT gateway source
translation, the internet gateway's 1:1 NAT (only for addresses that have a public IP), gateway
endpoints and peering (only the peer's own subnets are reachable: not transitive), the security
groups of the ENIs the packet leaves and reaches and the network ACLs of the subnets it leaves and
enters (lab.analysis.explain_security). It stops at the first component that drops the packet and
names it with an explanation code; the codes that a packet-level drop can also report are the
comments of the nftables drop rules (lab.plan.nftables). Once the request has arrived, the reply
is walked back to the source: network ACLs are stateless and judge it again.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from lab.analysis.explain_load_balancer import to_load_balancer
from lab.analysis.explain_privatelink import connection_of, through_endpoint_service
from lab.analysis.explain_routes import lookup
from lab.analysis.explain_security import EGRESS, INGRESS, NAT_GATEWAY_PORTS, Filters, Packet
from lab.analysis.explanation import Explanation, Stop
from lab.analysis.s3_policy import denial
from lab.errors import UnknownName
from lab.model import regions
from lab.model.topology import Topology, Vpc
from lab.model.validate import route_targets
from lab.plan.addressing import RESOLVER_LINK_LOCAL
from lab.plan.dns import resolve
from lab.plan.names import INTERNET, INTERNET_CLIENT
from lab.plan.nftables import SERVICE_PORTS
from lab.plan.types import Ingress, Plan, ServiceFront
from lab.results import MAX_HOPS, DnsAnswer, Hop, Outcome, ServiceSaw, StopReason, Translation

Addr = ipaddress.IPv4Address


def explain(
    topology: Topology, plan: Plan, source: str, target: str, port: int = 443, http_path: str = "/", signed: bool = True
) -> Explanation:
    """The predicted path; to S3 on 80/443 also S3's policy decision for a GET of `http_path`,
    signed like an AWS client's (what `vpclab trace` sends) or not (curl's)."""
    walker = Walker(topology, plan, source, port, http_path, signed)
    result = Explanation(source, target, None, port, True, Outcome.OK, walker.path, None)
    try:
        dst = walker.destination(target, result)
        result.destination = str(dst)
        walker.run(dst, result)
    except Stop as stop:
        result.outcome, result.reachable = stop.outcome, stop.outcome == Outcome.DENIED
        result.explanation = replace(stop.reason, node=stop.reason.node or walker.path[-1].node)
    return result


class Walker:
    """Walks from an instance, or from the internet's host (`internet-client`), which has no VPC
    resolver: its targets are addresses or node names."""

    def __init__(self, t: Topology, plan: Plan, source: str, port: int, http_path: str = "/", signed: bool = True):
        self.t, self.plan, self.port, self.http_path, self.signed = t, plan, port, http_path, signed
        self.filters = Filters(plan)
        self.source_eni: str | None = None  # the ENI whose groups the packet has yet to leave by
        self.came_by: tuple[str, str] | None = None  # (vpc, route target) it entered the destination's VPC by
        if source == INTERNET_CLIENT:
            self.inst = self.vpc = None
            self.src_ip = plan.eni_address(source)
            self.path: list[Hop] = [self.node_hop(source, f"{self.src_ip} on the internet")]
            return
        if source not in t.instances:
            raise UnknownName(
                f"source {source}: no such instance (instances: {', '.join(t.instances)}, "
                f"or {INTERNET_CLIENT}) (InvalidInstanceID.NotFound)"
            )
        self.inst = t.instances[source]
        self.vpc = t.vpcs[self.inst.vpc]
        self.src_ip = plan.eni_address(source)
        self.path = [self.node_hop(source, f"{self.src_ip} in subnet {self.inst.subnet}")]

    def vpc_id(self, vpc: str) -> str:
        return self.plan.vpc_id(vpc)

    def router_hop(self, vpc: str, detail: str, kind: str = "vpc-router") -> Hop:
        """The VPC's router (kind 'resolver' where its DNS server answers)."""
        router = self.plan.router(vpc)
        return Hop(router.name, kind, router.aws_id, detail)

    def node_hop(self, name: str, detail: str = "", translations: tuple[Translation, ...] = ()) -> Hop:
        node = self.plan.node(name)
        return Hop(node.name, node.kind, node.aws_id, detail, translations)

    # -- where to -----------------------------------------------------------------------------
    def destination(self, target: str, result: Explanation) -> Addr:
        try:
            return Addr(target)
        except ValueError:
            pass
        if target in self.plan.nodes:
            return (
                self.plan.node(target).addresses()[0]
                if self.plan.node(target).kind != "service"
                else self.plan.node(target).loopback[0].ip
            )
        if "." not in target or self.vpc is None:
            raise UnknownName(
                f"target {target}: not a node, an IPv4 address or a host name (nodes: {', '.join(self.plan.nodes)})"
            )
        resolver = self.plan.resolvers.get(self.vpc.name)
        if resolver is None:
            raise Stop(
                Outcome.DNS_FAILURE,
                "DNS_DISABLED",
                self.vpc_id(self.vpc.name),
                f"vpc {self.vpc.name} has enable_dns_support: false; the Amazon DNS server does not answer",
            )
        record = resolve(resolver.records, target)
        if record is None:
            raise Stop(
                Outcome.DNS_FAILURE,
                "DNS_NXDOMAIN",
                self.vpc_id(self.vpc.name),
                f"the VPC resolver ({resolver.addresses[0]}) has no answer for {target}",
            )
        result.dns = DnsAnswer(target, tuple(str(a) for a in record.addresses), record.origin, str(resolver.addresses[0]))
        return record.addresses[0]

    # -- the walk -----------------------------------------------------------------------------
    def run(self, dst: Addr, result: Explanation) -> None:
        self.packet = Packet(self.src_ip, dst, self.port)
        if self.vpc is None or self.inst is None:
            self.path.append(self.node_hop(INTERNET))
            return self.on_internet(self.src_ip, dst, result)
        vpc, src, subnet = self.vpc, self.src_ip, self.inst.subnet
        node = self.source_eni = self.inst.name
        if dst == RESOLVER_LINK_LOCAL:  # answered inside the VPC whatever the route table says (vpc-dns.html)
            self.path.append(self.router_hop(vpc.name, f"{dst}: the Amazon DNS server's link-local address, not routed"))
            return self.deliver_local(vpc, dst, src, result)
        for _ in range(MAX_HOPS):
            here = vpc.subnets[subnet].cidr
            if dst in here:
                return self.deliver_local(vpc, dst, src, result, subnet)
            target = self.route(vpc, subnet, dst)
            if target is None:  # the local route
                return self.deliver_local(vpc, dst, src, result, subnet)
            kind = route_targets(self.t, vpc)[target]  # the model's kinds, as validation checked them
            if kind == "nat-gateway":
                nat = self.plan.nat_gateway(vpc.name, target)
                nat_ip, nat_subnet = self.plan.eni_address(nat.name), vpc.nat_gateways[target].subnet
                self.cross(vpc.name, subnet, nat_subnet)
                self.leave_eni(vpc.name)
                self.path.append(
                    self.node_hop(
                        nat.name,
                        "source NAT to its private IP, ports 1024-65535",
                        (Translation("source", str(src), str(nat_ip)),),
                    )
                )
                src, subnet = nat_ip, nat_subnet
                self.packet = self.packet.translated(nat_ip, NAT_GATEWAY_PORTS)
                continue
            self.cross(vpc.name, subnet, None)  # leaving the VPC's subnets: a gateway, an endpoint, a peer
            self.leave_eni(vpc.name)
            if kind == "internet-gateway":
                return self.through_igw(vpc, src, dst, result)
            if kind == "gateway-endpoint":
                return self.through_gateway_endpoint(vpc, target, src, dst, result)
            if kind == "peering":
                return self.through_peering(vpc, target, src, dst, result)
        raise Stop(Outcome.TIMEOUT, "ROUTING_LOOP", node, "the path loops")  # pragma: no cover

    def route(self, vpc: Vpc, subnet: str, dst: Addr) -> str | None:
        """Longest prefix match in the subnet's route table (lab.analysis.explain_routes); None as
        target means `local`."""
        choice = lookup(self.plan, vpc, subnet, dst)
        router = self.router_hop(vpc.name, f"route table {choice.table}")
        self.path.append(router)
        if not choice.found:
            raise Stop(
                Outcome.TIMEOUT,
                "NO_ROUTE_TO_DESTINATION",
                choice.rtb,
                f"route table {choice.table} of subnet {subnet} has no route to {dst}",
                f"route table {choice.table}",
            )
        self.path[-1] = replace(router, detail=f"{router.detail}: {choice.text}")
        return choice.target

    def route_back(self, vpc: Vpc, address: Addr) -> None:
        """The reply leaves by the route table of the destination's subnet: where the request came
        in from a peering connection or the internet gateway, that table needs a route back to the
        client (a peering needs routes on both sides), or the reply dies in the router."""
        came_by, owner = self.came_by, self.plan.subnet_acl_at(vpc.name, address)
        if came_by is None or came_by[0] != vpc.name or owner is None:
            return
        choice, client = lookup(self.plan, vpc, owner.subnet, self.packet.source), self.packet.source
        if choice.found and choice.target == came_by[1]:
            return
        table = f"route table {choice.table} of subnet {owner.subnet}"
        if not choice.found:
            code, why = "NO_ROUTE_TO_DESTINATION", f"has no route back: {table} has no route to {client}"
        else:  # AWS routes each direction by its own table: the answer goes elsewhere, the client never sees it
            code, why = "REPLY_ROUTED_ELSEWHERE", f"is routed away: {table} sends it by {choice.text}"
        message = f"the reply from {address} to {client} {why}, but the request came in by {came_by[1]}"
        self.filters.block(len(self.path) - 1, StopReason(code, choice.rtb, None, message, f"route table {choice.table}"))

    # -- security groups and network ACLs (lab.analysis.explain_security) ------------------------
    # As in the lab's VPC router (lab.plan.security_nft): the ACLs of the subnet left and entered,
    # then the source ENI's groups outbound, then the destination ENI's inbound. The ENIs are ports
    # of the router's subnet bridges, so a packet a group drops stops in the router, even within a subnet.
    def leave_eni(self, vpc: str) -> None:
        """The source ENI's security groups, outbound, once (a NAT gateway's packets have none)."""
        node, self.source_eni = self.source_eni, None
        if node is not None:
            self.note(0, self.screened(vpc, *self.filters.eni(node, EGRESS, self.packet)))

    def reach_eni(self, vpc: str, node: str) -> str:
        """The destination ENI's security groups, inbound: words for its hop's detail."""
        return self.screened(vpc, *self.filters.eni(node, INGRESS, self.packet))

    def screened(self, vpc: str, detail: str, denied: StopReason | None) -> str:
        if denied is not None:
            if self.path[-1].kind != "vpc-router":  # within a subnet: the bridge's port in the router
                self.path.append(self.router_hop(vpc, "the subnet's bridge, whose ports carry the ENIs' security groups"))
            raise Stop.dropped(denied)
        return detail

    def cross(self, vpc: str, left: str | None, entered: str | None) -> None:
        """The network ACLs of the subnet the packet leaves and the one it enters, at the router."""
        detail, denied = self.filters.cross(vpc, left, entered, self.packet, len(self.path) - 1)
        if denied is not None:
            raise Stop.dropped(denied)
        self.note(-1, detail)

    def note(self, at: int, detail: str) -> None:
        if detail:
            hop = self.path[at]
            self.path[at] = replace(hop, detail=f"{hop.detail}; {detail}" if hop.detail else detail)

    def arrive(self, result: Explanation) -> None:
        """The request is there: the reply walks back, and stateless network ACLs judge it again."""
        result.return_path, denied = self.filters.reply(self.path)
        if denied is not None:
            raise Stop.dropped(replace(denied, node=result.return_path[-1].node))

    # -- leaving the VPC ----------------------------------------------------------------------
    def through_igw(self, vpc: Vpc, src: Addr, dst: Addr, result: Explanation) -> None:
        igw = self.plan.internet_gateway(vpc.name)
        public = self.plan.public_ip_of(src, vpc.name)
        if public is None:
            self.path.append(self.node_hop(igw.name))
            raise Stop(
                Outcome.TIMEOUT,
                "NO_PUBLIC_IP",
                igw.aws_id or igw.name,
                f"{src} has no public IPv4 address, so the internet gateway has nothing to translate it to and drops the packet",
            )
        self.path.append(self.node_hop(igw.name, "1:1 NAT", (Translation("source", str(src), str(public.address)),)))
        self.packet = self.packet.translated(public.address, self.packet.source_ports)
        self.path.append(self.node_hop(INTERNET))
        self.on_internet(public.address, dst, result)

    def on_internet(self, src: Addr, dst: Addr, result: Explanation) -> None:
        svc = regions.service_for_address(dst)
        front = svc and self.plan.service_front(svc.service, svc.region)
        if front and dst in front.addresses:
            return self.at_service(front, src, None, result)
        target = next((p for p in self.plan.public_ips if p.address == dst), None)
        if target is not None:
            return self.into_vpc_from_internet(target, src, result)
        if dst in self.plan.node(INTERNET_CLIENT).addresses():
            self.path.append(self.node_hop(INTERNET_CLIENT))
            return self.arrive(result)
        # The lab's internet router answers ICMP network unreachable, as an internet router would.
        raise Stop(Outcome.NO_ROUTE, "NO_ROUTE_TO_DESTINATION", INTERNET, f"nothing in the lab's internet answers at {dst}")

    def into_vpc_from_internet(self, public, src: Addr, result: Explanation) -> None:
        igw = self.plan.internet_gateway(public.vpc)
        self.path.append(
            self.node_hop(igw.name, "1:1 NAT", (Translation("destination", str(public.address), str(public.private_ip)),))
        )
        self.path.append(self.router_hop(public.vpc, "local"))
        self.packet = replace(self.packet, destination=public.private_ip)
        self.came_by = (public.vpc, "igw")
        owner_subnet = self.plan.subnet_acl_at(public.vpc, public.private_ip)
        self.cross(public.vpc, None, owner_subnet.subnet if owner_subnet else None)
        if public.elastic:
            nat = self.plan.nat_gateway(public.vpc, public.owner)
            self.path.append(self.node_hop(nat.name))
            raise Stop(
                Outcome.TIMEOUT,
                "NAT_GATEWAY_NO_INBOUND",
                nat.name,
                "a NAT gateway does not accept connections initiated from outside",
            )
        allowed = self.reach_eni(public.vpc, public.owner)
        self.route_back(self.t.vpcs[public.vpc], public.private_ip)
        self.path.append(self.node_hop(public.owner, allowed))
        self.arrive(result)

    def through_gateway_endpoint(self, vpc: Vpc, name: str, src: Addr, dst: Addr, result: Explanation) -> None:
        ep = vpc.endpoints[name]
        node = self.plan.gateway_endpoint(vpc.name, name)
        vpce = self.plan.vpce_id(vpc.name, name)
        self.path.append(self.node_hop(node.name, ep.service_name))
        front = self.plan.service_front(ep.service, ep.region)
        if front is None or dst not in front.addresses:
            raise Stop(Outcome.TIMEOUT, "NO_ROUTE_TO_DESTINATION", vpce, f"{ep.service_name} does not answer at {dst}")
        self.at_service(front, src, self.plan.endpoint_ingress(vpce)[1], result)

    def through_peering(self, vpc: Vpc, name: str, src: Addr, dst: Addr, result: Explanation) -> None:
        pcx = next(p for p in self.t.peerings_of(vpc.name) if p.name == name)
        peer = self.t.vpcs[pcx.accepter if pcx.requester == vpc.name else pcx.requester]
        # A peering connection is a link between the two routers, not a hop of its own.
        pcx_id = self.plan.peering_id(name)
        self.path.append(
            self.router_hop(peer.name, f"from peering connection {pcx_id}: only vpc {peer.name}'s own addresses are reachable")
        )
        self.came_by = (peer.name, name)
        if dst not in peer.cidr:
            raise Stop(
                Outcome.TIMEOUT,
                "PEERING_NOT_TRANSITIVE",
                pcx_id,
                f"{dst} is outside vpc {peer.name} {peer.cidr}: a peering connection reaches only the "
                "peer's own addresses, never its internet gateway, NAT gateway or gateway endpoints",
            )
        self.deliver_local(peer, dst, src, result, None)

    # -- arriving -------------------------------------------------------------------------------
    def deliver_local(self, vpc: Vpc, dst: Addr, src: Addr, result: Explanation, from_subnet: str | None = None) -> None:
        """To an address of `vpc`, from its subnet `from_subnet` (None: from outside its subnets)."""
        if dst == vpc.cidr.network_address + 2 or dst == RESOLVER_LINK_LOCAL:
            if vpc.name not in self.plan.resolvers:
                raise Stop(
                    Outcome.TIMEOUT,
                    "DNS_DISABLED",
                    self.vpc_id(vpc.name),
                    f"vpc {vpc.name} has enable_dns_support: false; nothing answers at {dst}",
                )
            hop = self.router_hop(vpc.name, "AmazonProvidedDNS", kind="resolver")
            if self.path[-1].node == hop.node:  # the router node is where the resolver answers
                self.path.pop()
            self.path.append(hop)
            return self.arrive(result)  # network ACLs do not filter it either (vpc-network-acls.html)
        node = next(
            (n for n in self.plan.nodes.values() if n.vpc == vpc.name and dst in n.addresses() and n.kind != "vpc-router"), None
        )
        if node is None:
            raise Stop(
                Outcome.TIMEOUT,
                "NO_SUCH_ADDRESS",
                self.vpc_id(vpc.name),
                f"no network interface in vpc {vpc.name} has the address {dst}",
            )
        entered = self.plan.subnet_acl_at(vpc.name, dst)
        self.cross(vpc.name, from_subnet, entered.subnet if entered else None)
        self.leave_eni(vpc.name)
        allowed = self.reach_eni(vpc.name, node.name)
        self.route_back(vpc, dst)
        if node.kind == "load-balancer":
            return to_load_balancer(self, node, src, result, allowed)
        if node.kind == "interface-endpoint" and connection_of(self.plan, node.name):  # to an endpoint service
            return through_endpoint_service(self, node, src, result, allowed)
        if node.kind == "interface-endpoint" and self.port not in SERVICE_PORTS:
            self.path.append(self.node_hop(node.name, allowed))
            raise Stop(
                Outcome.TIMEOUT,
                "INTERFACE_ENDPOINT_PORT_NOT_SERVED",
                node.aws_id or node.name,
                f"the ENI of an interface endpoint forwards only ports {' and '.join(map(str, SERVICE_PORTS))} to its "
                f"service; nothing answers on {self.port}",
            )
        if node.kind == "interface-endpoint":
            front, ingress = self.plan.front_of(node.name)
            self.path.append(self.node_hop(node.name, "; ".join(filter(None, (f"ENI of {ingress.label}", allowed)))))
            return self.at_service(front, src, ingress, result)
        self.path.append(self.node_hop(node.name, allowed))
        self.arrive(result)

    def at_service(self, front: ServiceFront, src: Addr, ingress: Ingress | None, result: Explanation) -> None:
        """`ingress`: the endpoint's way into the front; None: from the internet."""
        self.path.append(self.node_hop(front.node))
        self.arrive(result)
        vpce = ingress.label if ingress else None
        result.service_saw = ServiceSaw(str(src), vpce or "internet", vpce)
        if front.service == "s3" and self.port in (80, 443):
            host = result.dns.name if result.dns else None
            result.request, denied_by = denial(self.t, host, self.http_path, self.port == 443, str(src), ingress, self.signed)
            if denied_by:
                raise Stop(
                    Outcome.DENIED, "ACCESS_DENIED", denied_by.split(":")[0], f"S3 answers AccessDenied: {denied_by}", denied_by
                )
