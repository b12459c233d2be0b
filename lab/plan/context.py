"""What the component builders share while one plan is made (in the manner of netlab's modules:
each AWS component is one module that reads the model and the allocation and adds its nodes and
links here; none of them knows the others' internals).

Builders run in a fixed order (lab.plan.compile), so the same topology always gives the same plan:
transit addresses, bridge ports and ingress numbers are handed out in that order.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field

from lab.errors import PlanError, Problem, TopologyError
from lab.model.topology import Topology
from lab.plan import names
from lab.plan.addressing import transit_links
from lab.plan.allocation import Allocation
from lab.plan.kept import Kept, Pair, TransitPairs
from lab.plan.settings import Settings
from lab.plan.types import Link, Node

IfAddr = ipaddress.IPv4Interface
IFNAMSIZ = 15  # the kernel's longest interface name (IFNAMSIZ - 1)


@dataclass
class Build:
    """The topology, its allocation, the settings, and the nodes and links made so far."""

    t: Topology
    allocation: Allocation
    settings: Settings
    nodes: dict[str, Node] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    kept: Kept = field(default_factory=Kept)  # what a live change keeps of the running plan (lab.plan.kept)
    pairs: TransitPairs = field(init=False)

    def __post_init__(self) -> None:
        self.pairs = TransitPairs(transit_links(), self.kept.transit)

    def transit_pair(self, key: str) -> Pair:
        """The two ends of the link between gateways known as `key` (link-local /30s,
        lab.plan.addressing): the next free pair, or the one it had in the running plan."""
        return self.pairs.pair(key)

    def link(self, a: tuple[str, str], b: tuple[str, str], role: str, description: str) -> None:
        self.links.append(Link(a, b, role, description))

    def add(self, node: Node) -> None:
        if node.name in self.nodes:
            raise TopologyError(
                [
                    Problem(
                        self.t.file,
                        self.line_of(node.name),
                        f"the name '{node.name}' is taken "
                        f"twice: by {self.nodes[node.name].description} and by "
                        f"{node.description}; rename one of them",
                        "InvalidParameterValue",
                    )
                ]
            )
        self.nodes[node.name] = node

    def line_of(self, name: str) -> int:
        """The line of the instance, NAT gateway or endpoint whose node is called `name`, so a
        clash points at something the user wrote."""
        if name in self.t.instances:
            return self.t.instances[name].line
        return next((line for node, line in self.owned_names() if node == name), 0)

    def owned_names(self) -> Iterator[tuple[str, int]]:
        for vpc in self.t.vpcs.values():
            for nat in vpc.nat_gateways.values():
                yield names.nat_node(vpc.name, nat.name), nat.line
            for ep in vpc.endpoints.values():
                yield names.gateway_endpoint_node(vpc.name, ep.name), ep.line
                yield from ((names.endpoint_eni_node(vpc.name, ep.name, vpc.subnets[s].az), ep.line) for s in ep.subnets)

    def check_names(self) -> None:
        """Every kernel interface name fits in 15 characters."""
        for node in self.nodes.values():
            for iface in node.interfaces + node.bridges:
                if len(iface.name) > IFNAMSIZ:
                    raise PlanError(f"node {node.name}: interface name {iface.name} is longer than the kernel's 15 characters")
