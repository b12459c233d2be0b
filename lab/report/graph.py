"""The topology as AWS draws it, with a path on it: DOT text for Graphviz (`vpclab graph`, and the
picture of the HTML report). Pure: topology, plan and paths in, DOT text out; lab.report.render
runs the `dot` program.

The boxes nest as in AWS's architecture diagrams (AWS Architecture Icons, "Groups"): the region,
in it each VPC, in a VPC its Availability Zones, in an AZ its subnets (public ones green, private
ones teal), in a subnet its instances, NAT gateways, interface endpoint ENIs and NLB nodes. The internet
gateway, the gateway endpoints and the VPC's implicit router sit in the VPC outside the AZs; the
AWS services sit in their region outside every VPC, the internet outside the region. Peering
connections are edges between routers, labelled with their pcx id. Every name and id comes from
the plan (its look-ups, lab.plan.names): the drawing never makes one.

A path (a prediction of lab.analysis.explain, or a path observed in the captures) is drawn over
the topology as bold numbered edges, hop by hop; where it stops, a red octagon names the reason.
Both can be drawn at once (the report shows what was predicted next to what the packets did).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import graphviz

from lab.model.topology import Topology, Vpc
from lab.plan import names
from lab.plan.types import Node, Plan
from lab.results import Hop, StopReason

if TYPE_CHECKING:  # named only: the graph needs their fields, not their modules' imports
    from lab.analysis.explain import Explanation
    from lab.analysis.paths import ObservedPath

# After AWS Architecture Icons' group and category colours.
REGION, AZ, VPC = "#00A4A6", "#147EBA", "#8C4FFF"
PUBLIC_SUBNET, PRIVATE_SUBNET = ("#7AA116", "#F2F6E8"), ("#00A4A6", "#E6F6F7")
NODE_STYLE = {  # kind -> (shape, colour): compute orange, networking purple, services by category
    "instance": ("box", "#ED7100"),
    "vpc-router": ("circle", VPC),
    "internet-gateway": ("box", VPC),
    "nat-gateway": ("box", VPC),
    "gateway-endpoint": ("box", VPC),
    "interface-endpoint": ("box", VPC),
    "load-balancer": ("box", VPC),
    "service": ("box", "#3F8624"),
    "internet": ("ellipse", "#7D8998"),
}
PATH_STYLE = {"predicted": "#147EBA", "observed": "#D13212"}  # blue, as AWS's diagrams draw flows; red-orange
DROP = "#D13212"
STOP_TEXT = 160  # characters of the reason shown in the stop mark
NEWLINE = "\\n"  # DOT's line break inside a label (the graphviz package passes backslashes through)


@dataclass(frozen=True)
class DrawnPath:
    """A path to draw: its hops in order, why it stopped (None: it arrived), and whether it is the
    prediction or what the packets did (`predicted` | `observed`: its colour and its edges' names)."""

    kind: str
    hops: tuple[Hop, ...]
    stop: StopReason | None


def predicted_path(e: Explanation) -> DrawnPath:
    return DrawnPath("predicted", tuple(e.path), e.explanation)


def observed_path(o: ObservedPath) -> DrawnPath:
    return DrawnPath("observed", tuple(o.path), o.explanation)


def topology_dot(
    topology: Topology, plan: Plan, predicted: Explanation | None = None, observed: ObservedPath | None = None
) -> str:
    """The picture's DOT text: the topology, with the predicted and the observed path when given
    (`vpclab graph --path` gives the prediction; the HTML report gives both)."""
    paths = ([predicted_path(predicted)] if predicted else []) + ([observed_path(observed)] if observed else [])
    return topology_graph(topology, plan, paths).source


def topology_graph(topology: Topology, plan: Plan, paths: Sequence[DrawnPath] = ()) -> graphviz.Digraph:
    graph = graphviz.Digraph("vpclab", comment=f"vpclab graph of {plan.source}")
    graph.attr(rankdir="LR", compound="true", newrank="true", fontname="Helvetica", fontsize="11", nodesep="0.3")
    graph.attr("node", fontname="Helvetica", fontsize="10")
    graph.attr("edge", fontname="Helvetica", fontsize="9")
    drawn: set[str] = set()
    for region in regions(topology, plan):
        with graph.subgraph(name=f"cluster_region_{region}") as box:
            box.attr(label=f"Region {region}", style="dashed", color=REGION, fontcolor=REGION, labeljust="l")
            if region == plan.region:
                for vpc in topology.vpcs.values():
                    vpc_box(box, topology, plan, vpc, drawn)
            for front in (s for s in plan.services if s.region == region):
                node(box, plan.node(front.node), drawn)
    for rest in plan.nodes.values():  # the internet, and whatever a newer plan has that is not placed above
        node(graph, rest, drawn)
    links(graph, topology, plan)
    for path in paths:
        draw_path(graph, plan, path)
    return graph


def regions(topology: Topology, plan: Plan) -> list[str]:
    """The lab's region first (its VPCs), then every other region a service front is in."""
    return [plan.region] + sorted({s.region for s in plan.services} - {plan.region})


def vpc_box(graph: graphviz.Digraph, topology: Topology, plan: Plan, vpc: Vpc, drawn: set[str]) -> None:
    with graph.subgraph(name=f"cluster_vpc_{plan.vpc_id(vpc.name)}") as box:
        box.attr(label=f"VPC {vpc.name}  {plan.vpc_id(vpc.name)}{NEWLINE}{vpc.cidr}", style="solid", color=VPC, fontcolor=VPC)
        node(box, plan.router(vpc.name), drawn)
        if vpc.internet_gateway:
            node(box, plan.internet_gateway(vpc.name), drawn)
        for ep in vpc.endpoints.values():
            if ep.type == "gateway":
                node(box, plan.gateway_endpoint(vpc.name, ep.name), drawn)
        for az in sorted({s.az for s in vpc.subnets.values()}):
            with box.subgraph(name=f"cluster_az_{plan.vpc_id(vpc.name)}_{az}") as zone:
                zone.attr(label=f"Availability Zone {az}", style="dashed", color=AZ, fontcolor=AZ)
                for subnet in (s for s in vpc.subnets.values() if s.az == az):
                    subnet_box(zone, topology, plan, vpc, subnet.name, drawn)


def subnet_box(graph: graphviz.Digraph, topology: Topology, plan: Plan, vpc: Vpc, subnet: str, drawn: set[str]) -> None:
    """A subnet: public when its route table sends 0.0.0.0/0 to the internet gateway (AWS's
    definition of a public subnet), with every network interface in it."""
    sid = names.subnet_id(vpc.name, subnet)
    colour, fill = PUBLIC_SUBNET if is_public(vpc, subnet) else PRIVATE_SUBNET
    with graph.subgraph(name=f"cluster_subnet_{sid}") as box:
        kind = "Public" if is_public(vpc, subnet) else "Private"
        box.attr(label=f"{kind} subnet {subnet}  {sid}{NEWLINE}{vpc.subnets[subnet].cidr}", style="filled", color=colour)
        box.attr(fillcolor=fill, fontcolor=colour)
        inside = list(members(topology, plan, vpc, subnet))
        for name in inside:
            node(box, plan.node(name), drawn)
        if not inside:  # Graphviz draws no empty cluster; the id has a space, as no node's has
            box.node(f"{sid} (empty)", label="", shape="point", style="invis")


def members(topology: Topology, plan: Plan, vpc: Vpc, subnet: str) -> Iterator[str]:
    """The nodes with a network interface in the subnet: instances, NAT gateways, interface endpoint
    ENIs, and the nodes of Network Load Balancers (one per enabled subnet, each an ENI there)."""
    yield from (i.name for i in topology.instances.values() if (i.vpc, i.subnet) == (vpc.name, subnet))
    yield from (plan.nat_gateway(vpc.name, n.name).name for n in vpc.nat_gateways.values() if n.subnet == subnet)
    az = vpc.subnets[subnet].az
    for ep in vpc.endpoints.values():
        if ep.type == "interface" and subnet in ep.subnets:
            yield names.endpoint_eni_node(vpc.name, ep.name, az)
    for lb in vpc.load_balancers.values():
        if subnet in lb.subnets and (found := plan.load_balancer_node(vpc.name, lb.name, az)) is not None:
            yield found.node


def is_public(vpc: Vpc, subnet: str) -> bool:
    """A public subnet's route table has a route to an internet gateway
    (https://docs.aws.amazon.com/vpc/latest/userguide/configure-subnets.html, "Subnet types")."""
    table = vpc.route_tables.get(vpc.subnets[subnet].route_table or "")
    return table is not None and any(r.target == "igw" and str(r.destination) == "0.0.0.0/0" for r in table.routes)


def node(graph: graphviz.Digraph, n: Node, drawn: set[str]) -> None:
    """Draw a plan node once, in the first box that claims it."""
    if n.name in drawn:
        return
    drawn.add(n.name)
    shape, colour = NODE_STYLE.get(n.kind, ("box", "#7D8998"))
    graph.node(n.name, label=node_label(n), shape=shape, color=colour, style="rounded,bold" if shape == "box" else "bold")


def node_label(n: Node) -> str:
    """Its name, what it is, its AWS id and its network interface's address, as the console shows them."""
    lines = [n.name] + ([n.kind] if n.kind != n.name else [])
    if n.aws_id and n.kind != "vpc-router":  # a router's aws_id is its VPC's, on the VPC's box
        lines.append(n.aws_id)
    eni = next((i for i in n.interfaces if i.name == names.ENI and i.addresses), None)
    if eni and n.kind != "internet":
        lines.append(str(eni.addresses[0].ip))
    return NEWLINE.join(lines)


def links(graph: graphviz.Digraph, topology: Topology, plan: Plan) -> None:
    """Every link of the plan as a thin line; a peering connection's labelled with its pcx id."""
    peerings = {
        frozenset((plan.router(p.requester).name, plan.router(p.accepter).name)): plan.peering_id(p.name)
        for p in topology.peerings()
    }
    for link in plan.links:
        a, b = link.a[0], link.b[0]
        pcx = peerings.get(frozenset((a, b)))
        attrs = {"label": pcx, "style": "dashed", "color": VPC, "fontcolor": VPC} if pcx else {"color": "#AAB7B8"}
        graph.edge(a, b, dir="none", **attrs)


def draw_path(graph: graphviz.Digraph, plan: Plan, path: DrawnPath) -> None:
    """Hop i to hop i+1 as a bold edge numbered i+1 (the first hop is the source); then, if the
    path stopped, the octagon that says why, tied to the node where it stopped."""
    colour = PATH_STYLE.get(path.kind, PATH_STYLE["predicted"])
    hops = [h.node for h in path.hops]
    for number, (a, b) in enumerate(zip(hops, hops[1:]), start=1):
        graph.edge(
            a,
            b,
            label=str(number),
            color=colour,
            fontcolor=colour,
            penwidth="2.5",
            constraint="false",
            **{"class": f"hop {path.kind}-hop"},  # in the SVG: how the HTML report's test finds the path
        )
    if path.stop is not None:
        stop_mark(graph, plan, path.kind, path.stop, hops)


def stop_mark(graph: graphviz.Digraph, plan: Plan, kind: str, stop: StopReason, hops: list[str]) -> None:
    """The octagon `<kind> stop` beside the node the reason names (else the last hop): the code and
    the reason in AWS's words. A path with no hop (the name did not resolve) has nowhere to mark."""
    at = stop.node if stop.node in plan.nodes else (hops[-1] if hops else None)
    if at is None:
        return
    reason = textwrap.wrap(textwrap.shorten(stop.message, STOP_TEXT), 40)  # the whole text is in explain's output
    label = NEWLINE.join([f"stops here ({kind})", stop.code] + reason)
    graph.node(stop_id(kind), label=label, shape="octagon", style="filled", fillcolor=DROP, fontcolor="white", color=DROP)
    graph.edge(at, stop_id(kind), color=DROP, style="dashed", arrowhead="tee", constraint="false")


def stop_id(kind: str) -> str:
    """The stop mark's DOT id: with a space, so that no node of a lab (letters, digits, - and _) has it."""
    return f"{kind} stop"
