"""Model -> plan: every node, link, address, route, rule and ruleset of a lab, as data (no root).

Node names (the names at the prompt): instances keep theirs; the VPC router is `<vpc>-router`,
the internet gateway `<vpc>-igw`, NAT gateways and endpoints `<vpc>-<name>` (an interface
endpoint gets one node per AZ, `<vpc>-<name>-<zone letter>`), the internet `internet` with its
public host `internet-client`, and each AWS service front `<service>-<region>`.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from lab.errors import PlanError, Problem, TopologyError
from lab.model import regions
from lab.model.ids import aws_id
from lab.model.topology import Topology, Vpc
from lab.plan import nftables
from lab.plan.addressing import RESOLVER_LINK_LOCAL, PublicIpPool, SubnetAllocator, mac_for, transit_links
from lab.plan.dns import vpc_records
from lab.plan.routing import NO_ROUTE_DEV, NextHop, vpc_router_tables
from lab.plan.types import (
    Ingress, Interface, KernelRoute, Link, Node, Plan, PublicIp, Resolver, RoutingRule, ServiceFront,
)

IfAddr = ipaddress.IPv4Interface
DEFAULT = ipaddress.IPv4Network("0.0.0.0/0")
CLIENT_NET = ipaddress.IPv4Interface("203.0.113.1/24")  # TEST-NET-3 (RFC 5737): "somewhere on the internet"
CLIENT_HOST = ipaddress.IPv4Interface("203.0.113.10/24")
FIRST_PORT = 8000  # a service front's local ports: two per ingress, from here up to the ephemeral ports
MAX_INGRESSES = (32768 - FIRST_PORT) // 2


def compile_plan(topology: Topology) -> Plan:
    return Planner(topology).plan()


def host_route(gateway: ipaddress.IPv4Address, dev: str = "eth0") -> tuple[KernelRoute, ...]:
    return (KernelRoute(DEFAULT, dev, gateway, origin="subnet router"),)


class Planner:
    """Builds a Plan in a fixed order, so the same topology always gives the same plan."""

    def __init__(self, t: Topology):
        self.t = t
        self.nodes: dict[str, Node] = {}
        self.links: list[Link] = []
        self.transit: Iterator = transit_links()
        self.ips: dict[str, ipaddress.IPv4Address] = {}  # instance -> private IP
        self.enis: dict[str, ipaddress.IPv4Address] = {}  # 'vpc/nat' -> NAT gateway private IP
        self.endpoint_enis: dict[str, dict[str, ipaddress.IPv4Address]] = {}  # 'vpc/ep' -> {az: IP}
        self.public_ips: list[PublicIp] = []
        self.fronts = self.needed_fronts()
        self.front_ingress: dict[tuple[str, str], list[tuple[str, IfAddr, str]]] = {k: [] for k in self.fronts}
        self.vpce_ids = {(v.name, e): aws_id("vpce", v.name, e) for v in t.vpcs.values() for e in v.endpoints}
        # vpce id -> (its VPC's id, its policy): what the service front needs to evaluate requests
        self.endpoint_policies = {aws_id("vpce", v.name, e): (aws_id("vpc", v.name), ep.policy)
                                  for v in t.vpcs.values() for e, ep in v.endpoints.items()}

    def plan(self) -> Plan:
        self.allocate_private_ips()
        self.allocate_public_ips()
        peer_links = self.peering_links()
        internet_links = {}
        for vpc in self.t.vpcs.values():
            internet_links[vpc.name] = self.add_vpc(vpc, peer_links)
        self.add_internet(internet_links)
        self.check_names()
        return Plan(self.t.file, self.t.region, self.nodes, tuple(self.links), tuple(self.public_ips),
                    self.resolvers(), self.service_fronts(), self.prefix_lists())

    # -- addresses -------------------------------------------------------------------------
    def allocate_private_ips(self) -> None:
        for vpc in self.t.vpcs.values():
            pools = {s.name: SubnetAllocator(s, self.t.file) for s in vpc.subnets.values()}
            insts = [i for i in self.t.instances.values() if i.vpc == vpc.name]
            for inst in insts:
                if inst.private_ip:
                    self.ips[inst.name] = pools[inst.subnet].claim(inst.private_ip)
            for inst in insts:
                if not inst.private_ip:
                    self.ips[inst.name] = pools[inst.subnet].take(f"instance {inst.name}", inst.line)
            for nat in vpc.nat_gateways.values():
                self.enis[f"{vpc.name}/{nat.name}"] = pools[nat.subnet].take(f"nat gateway {nat.name}", nat.line, True)
            for ep in vpc.endpoints.values():
                if ep.type == "interface":
                    self.endpoint_enis[f"{vpc.name}/{ep.name}"] = {
                        vpc.subnets[s].az: pools[s].take(f"endpoint {ep.name}", ep.line, True) for s in ep.subnets}

    def allocate_public_ips(self) -> None:
        pool = PublicIpPool(regions.region(self.t.region).ec2_ranges)
        for inst in self.t.instances.values():
            if inst.public_ip:
                self.public_ips.append(PublicIp(pool.take(inst.vpc, inst.name), self.ips[inst.name],
                                                inst.name, inst.vpc, elastic=False))
        for vpc in self.t.vpcs.values():
            for nat in vpc.nat_gateways.values():
                self.public_ips.append(PublicIp(pool.take(vpc.name, nat.name), self.enis[f"{vpc.name}/{nat.name}"],
                                                nat.name, vpc.name, elastic=True,
                                                allocation_id=aws_id("eipalloc", vpc.name, nat.name)))

    # -- a VPC -----------------------------------------------------------------------------
    def add_vpc(self, vpc: Vpc, peer_links: dict) -> tuple[IfAddr, IfAddr] | None:
        router = f"{vpc.name}-router"
        bridges = {s.name: f"br{i}" for i, s in enumerate(vpc.subnets.values())}
        ports: dict[str, list[Interface]] = {s: [] for s in vpc.subnets}
        router_ifs: list[Interface] = []
        hops: dict[str, NextHop] = {}

        def attach(node: str, subnet: str) -> None:
            port = f"{bridges[subnet]}p{len(ports[subnet])}"
            ports[subnet].append(Interface(port, bridge=bridges[subnet]))
            self.links.append(Link((node, "eth0"), (router, port), "subnet",
                                   f"{node} ENI in subnet {subnet} ({aws_id('subnet', vpc.name, subnet)})"))

        for inst in self.t.instances.values():
            if inst.vpc == vpc.name:
                attach(inst.name, inst.subnet)
                self.add_eni_node(inst.name, "instance", aws_id("i", inst.name), vpc, inst.subnet,
                                  self.ips[inst.name], f"EC2 instance in subnet {inst.subnet}")
        for nat in vpc.nat_gateways.values():
            name, ip = f"{vpc.name}-{nat.name}", self.enis[f"{vpc.name}/{nat.name}"]
            attach(name, nat.subnet)
            self.add_eni_node(name, "nat-gateway", aws_id("nat", vpc.name, nat.name), vpc, nat.subnet, ip,
                              f"NAT gateway in subnet {nat.subnet}",
                              nftables.nat_gateway(ip, vpc.cidr, "eth0"))
            hops[nat.name] = NextHop(bridges[nat.subnet], ip, aws_id("nat", vpc.name, nat.name))
        igw_link = self.add_internet_gateway(vpc, router, router_ifs, hops) if vpc.internet_gateway else None
        self.add_endpoints(vpc, router, router_ifs, hops, attach)
        for pcx_name, (dev, mine, theirs) in peer_links.get(vpc.name, {}).items():
            router_ifs.append(Interface(dev, (mine,)))
            hops[pcx_name] = NextHop(dev, theirs.ip, aws_id("pcx", pcx_name))
        edges = [i.name for i in router_ifs]
        tables, rules = vpc_router_tables(vpc, bridges, hops, edges)
        bridge_ifs = tuple(Interface(bridges[s.name], (IfAddr(f"{s.cidr.network_address + 1}/{s.cidr.prefixlen}"),))
                           for s in vpc.subnets.values())
        resolver = (IfAddr(f"{vpc.cidr.network_address + 2}/32"), IfAddr(f"{RESOLVER_LINK_LOCAL}/32")) \
            if vpc.enable_dns_support else ()
        self.add(Node(router, "vpc-router", aws_id("vpc", vpc.name), vpc.name,
                      tuple(router_ifs) + tuple(p for s in vpc.subnets for p in ports[s])
                      + (Interface(NO_ROUTE_DEV, kind="stub"),), bridge_ifs,
                      loopback=resolver, route_tables=tuple(tables), rules=tuple(rules), forwarding=True,
                      nftables=nftables.vpc_router(vpc.cidr, NO_ROUTE_DEV,
                                                   [dev for dev, _, _ in peer_links.get(vpc.name, {}).values()]),
                      description=f"the implicit router of vpc {vpc.name} {vpc.cidr}, and its DNS resolver"))
        return igw_link

    def add_eni_node(self, name: str, kind: str, aws: str, vpc: Vpc, subnet: str,
                     ip: ipaddress.IPv4Address, description: str, ruleset: str = "") -> None:
        cidr = vpc.subnets[subnet].cidr
        eth0 = Interface("eth0", (IfAddr(f"{ip}/{cidr.prefixlen}"),), mac=mac_for(vpc.name, name))
        self.add(Node(name, kind, aws, vpc.name, (eth0,), routes=host_route(cidr.network_address + 1),
                      nftables=ruleset, forwarding=kind != "instance", description=description))

    def add_internet_gateway(self, vpc: Vpc, router: str, router_ifs: list, hops: dict) -> tuple[IfAddr, IfAddr]:
        name, (r_side, g_side), (g_out, i_side) = f"{vpc.name}-igw", next(self.transit), next(self.transit)
        router_ifs.append(Interface("igw", (r_side,)))
        hops["igw"] = NextHop("igw", g_side.ip, aws_id("igw", vpc.name))
        mine = [p for p in self.public_ips if p.vpc == vpc.name]
        self.links.append(Link((router, "igw"), (name, "vpc"), "transit", f"vpc {vpc.name} router to its internet gateway"))
        self.add(Node(name, "internet-gateway", aws_id("igw", vpc.name), vpc.name,
                      (Interface("vpc", (g_side,)), Interface("inet", (g_out,))),
                      routes=(KernelRoute(vpc.cidr, "vpc", r_side.ip, origin="vpc"),
                              KernelRoute(DEFAULT, "inet", i_side.ip, origin="internet")),
                      nftables=nftables.internet_gateway(mine, "vpc", "inet"), forwarding=True,
                      description=f"internet gateway of vpc {vpc.name}: 1:1 NAT for "
                      f"{len(mine)} public IP{'' if len(mine) == 1 else 's'}"))
        return g_out, i_side

    def add_endpoints(self, vpc: Vpc, router: str, router_ifs: list, hops: dict, attach) -> None:
        for ep in vpc.endpoints.values():
            vpce = self.vpce_ids[vpc.name, ep.name]
            svc = regions.region(ep.region).services[ep.service]
            if ep.type == "gateway":
                name = f"{vpc.name}-{ep.name}"
                dev = f"ep{sum(1 for i in router_ifs if i.name.startswith('ep'))}"
                r_side, e_side = next(self.transit)
                router_ifs.append(Interface(dev, (r_side,)))
                hops[ep.name] = NextHop(dev, e_side.ip, vpce)
                self.links.append(Link((router, dev), (name, "vpc"), "transit", f"route target {vpce}"))
                out, svc_side = self.connect_front(name, svc, vpce)
                self.add(Node(name, "gateway-endpoint", vpce, vpc.name, (Interface("vpc", (e_side,)), out),
                              routes=(KernelRoute(vpc.cidr, "vpc", r_side.ip, origin="vpc"),)
                              + tuple(KernelRoute(c, "svc", svc_side, origin=svc.prefix_list_id) for c in svc.ranges),
                              nftables=nftables.gateway_endpoint([s.cidr for s in vpc.subnets.values()], "vpc", "svc"),
                              forwarding=True, description=f"gateway endpoint {ep.name} for {svc.service_name}"))
                continue
            for subnet in ep.subnets:
                az = vpc.subnets[subnet].az
                name, ip = f"{vpc.name}-{ep.name}-{az[-1]}", self.endpoint_enis[f"{vpc.name}/{ep.name}"][az]
                attach(name, subnet)
                cidr = vpc.subnets[subnet].cidr
                out, svc_side = self.connect_front(name, svc, vpce)
                self.add(Node(name, "interface-endpoint", aws_id("eni", vpc.name, ep.name, az), vpc.name,
                              (Interface("eth0", (IfAddr(f"{ip}/{cidr.prefixlen}"),), mac=mac_for(vpc.name, name)), out),
                              routes=host_route(cidr.network_address + 1)
                              + tuple(KernelRoute(IfAddr(f"{a}/32").network, "svc", svc_side, origin="service")
                                      for a in svc.addresses),
                              nftables=nftables.interface_endpoint("eth0", svc.addresses[0]), forwarding=True,
                              description=f"ENI of interface endpoint {ep.name} ({vpce}) in {az}"))

    def connect_front(self, node: str, svc: regions.RegionalService, vpce: str) -> tuple[Interface, ipaddress.IPv4Address]:
        """A private link from an endpoint node to the service front, one per endpoint ENI."""
        key = (svc.service, svc.region)
        front, (e_side, s_side) = f"{svc.service}-{svc.region}", next(self.transit)
        dev = f"vpce{len(self.front_ingress[key])}"
        self.front_ingress[key].append((dev, s_side, vpce))
        self.links.append(Link((node, "svc"), (front, dev), "service", f"{vpce} to {svc.service_name}"))
        return Interface("svc", (e_side,)), s_side.ip

    def peering_links(self) -> dict[str, dict[str, tuple[str, IfAddr, IfAddr]]]:
        """vpc -> {pcx name: (router interface, own address, peer's address)}."""
        out: dict[str, dict] = {v: {} for v in self.t.vpcs}
        for pcx in self.t.peerings():
            a, b = next(self.transit)
            dev_a, dev_b = f"pcx{len(out[pcx.requester])}", f"pcx{len(out[pcx.accepter])}"
            out[pcx.requester][pcx.name] = (dev_a, a, b)
            out[pcx.accepter][pcx.name] = (dev_b, b, a)
            self.links.append(Link((f"{pcx.requester}-router", dev_a), (f"{pcx.accepter}-router", dev_b),
                                   "transit", f"peering connection {aws_id('pcx', pcx.name)}"))
        return out

    # -- the internet and the service fronts ----------------------------------------------------
    def needed_fronts(self) -> list[tuple[str, str]]:
        """Service fronts the lab runs: S3 of the lab's region always, plus whatever is used."""
        wanted = [("s3", self.t.region)] + [("s3", b.region) for b in self.t.buckets.values()] \
            + [("dynamodb", tb.region) for tb in self.t.tables.values()] \
            + [(e.service, e.region) for v in self.t.vpcs.values() for e in v.endpoints.values()]
        return list(dict.fromkeys(wanted))

    def add_internet(self, igw_links: dict) -> None:
        ifs, routes = [Interface("client", (CLIENT_NET,))], []
        for i, (vpc, pair) in enumerate((v, p) for v, p in igw_links.items() if p):
            g_out, i_side = pair
            ifs.append(Interface(f"igw{i}", (i_side,)))
            self.links.append(Link((f"{vpc}-igw", "inet"), ("internet", f"igw{i}"), "transit",
                                   f"internet gateway {aws_id('igw', vpc)} to the internet"))
            routes += [KernelRoute(IfAddr(f"{p.address}/32").network, f"igw{i}", g_out.ip, origin=aws_id("igw", vpc))
                       for p in self.public_ips if p.vpc == vpc]
        for i, (service, region) in enumerate(self.fronts):
            i_side, s_side = next(self.transit)
            ifs.append(Interface(f"svc{i}", (i_side,)))
            self.front_ingress[service, region].insert(0, ("inet", s_side, "internet"))
            self.links.append(Link(("internet", f"svc{i}"), (f"{service}-{region}", "inet"), "service",
                                   f"the internet to {service} {region}"))
            svc = regions.region(region).services[service]
            routes += [KernelRoute(c, f"svc{i}", s_side.ip, origin=svc.service_name) for c in svc.ranges]
        self.add(Node("internet", "internet", None, None, tuple(ifs), routes=tuple(routes), forwarding=True,
                      description="the public internet: routes to every public IP and AWS service range"))
        self.links.append(Link(("internet-client", "eth0"), ("internet", "client"), "transit", "a host on the internet"))
        self.add(Node("internet-client", "internet", None, None, (Interface("eth0", (CLIENT_HOST,)),),
                      routes=host_route(CLIENT_NET.ip), description="a host somewhere on the internet"))
        for service, region in self.fronts:
            self.add_front(service, region)

    def add_front(self, service: str, region: str) -> None:
        svc = regions.region(region).services[service]
        ingresses = self.ingresses(service, region)
        ifs = tuple(Interface(dev, (addr,)) for dev, addr, _ in self.front_ingress[service, region])
        routes, rules = [], []
        for ingress, (_, addr, _) in zip(ingresses, self.front_ingress[service, region]):
            peer = addr.network.network_address + (2 if addr.ip == addr.network.network_address + 1 else 1)
            routes.append(KernelRoute(DEFAULT, ingress.iface, peer, table=100 + ingress.mark, origin="reply path"))
            rules.append(RoutingRule(1000 + ingress.mark, 100 + ingress.mark, fwmark=ingress.mark))
            if ingress.label == "internet":  # replies are routed once unmarked, then re-routed by mark
                routes.append(KernelRoute(DEFAULT, ingress.iface, peer, origin="internet"))
        self.add(Node(f"{service}-{region}", "service", svc.service_name, None, ifs,
                      loopback=tuple(IfAddr(f"{a}/32") for a in svc.addresses), routes=tuple(routes),
                      rules=tuple(rules), nftables=nftables.service_front(ingresses),
                      description=f"{svc.service_name}: the regional front of {service} at {', '.join(map(str, svc.addresses))}"))

    def ingresses(self, service: str, region: str) -> list[Ingress]:
        """Ingress k gets local ports 8000+2k (HTTP) and 8001+2k (HTTPS) and conntrack mark k+1: no two
        ingresses share a port however many there are (8000+k and 8400+k collided from the 401st:
        a 500-VPC lab's endpoint would have answered as another), and all stay below the kernel's
        ephemeral ports (net.ipv4.ip_local_port_range starts at 32768)."""
        found = self.front_ingress[service, region]
        if len(found) > MAX_INGRESSES:
            raise PlanError(f"{service} {region}: {len(found)} ways in (the internet and one per "
                            f"endpoint); a lab's front has room for {MAX_INGRESSES}")
        return [Ingress(dev, label, FIRST_PORT + 2 * k, FIRST_PORT + 2 * k + 1, k + 1,
                        *self.endpoint_policies.get(label, (None, None)))
                for k, (dev, _, label) in enumerate(found)]

    def service_fronts(self) -> tuple[ServiceFront, ...]:
        return tuple(ServiceFront(s, r, f"{s}-{r}", regions.region(r).services[s].addresses,
                                  tuple(self.ingresses(s, r)),
                                  tuple(b for b in self.t.buckets.values() if s == "s3" and b.region == r),
                                  tuple(t for t in self.t.tables.values() if s == "dynamodb" and t.region == r))
                     for s, r in self.fronts)

    def resolvers(self) -> dict[str, Resolver]:
        out = {}
        for vpc in self.t.vpcs.values():
            if vpc.enable_dns_support:
                records = vpc_records(self.t, vpc, self.ips, self.public_ips, self.endpoint_enis, self.vpce_ids)
                out[vpc.name] = Resolver(vpc.name, f"{vpc.name}-router",
                                         (vpc.cidr.network_address + 2, RESOLVER_LINK_LOCAL), tuple(records))
        return out

    def prefix_lists(self) -> dict[str, tuple[ipaddress.IPv4Network, ...]]:
        return {svc.prefix_list_id: svc.ranges for svc in regions.all_services()}

    def add(self, node: Node) -> None:
        if node.name in self.nodes:
            raise TopologyError([Problem(self.t.file, self.line_of(node.name), f"the name '{node.name}' is taken "
                                         f"twice: by {self.nodes[node.name].description} and by "
                                         f"{node.description}; rename one of them", "InvalidParameterValue")])
        self.nodes[node.name] = node

    def line_of(self, name: str) -> int:
        """The line of the instance, NAT gateway or endpoint whose node is called `name` (see the
        module docstring for how node names are made), so a clash points at something the user wrote."""
        if name in self.t.instances:
            return self.t.instances[name].line
        for vpc in self.t.vpcs.values():
            owned = [(f"{vpc.name}-{nat.name}", nat.line) for nat in vpc.nat_gateways.values()]
            for ep in vpc.endpoints.values():
                owned += [(f"{vpc.name}-{ep.name}", ep.line)]
                owned += [(f"{vpc.name}-{ep.name}-{vpc.subnets[s].az[-1]}", ep.line) for s in ep.subnets]
            for generated, line in owned:
                if generated == name:
                    return line
        return 0

    def check_names(self) -> None:
        """Every kernel interface name fits in 15 characters (IFNAMSIZ - 1)."""
        for node in self.nodes.values():
            for iface in node.interfaces + node.bridges:
                if len(iface.name) > 15:
                    raise PlanError(f"node {node.name}: interface name {iface.name} is longer than the "
                                    "kernel's 15 characters")
