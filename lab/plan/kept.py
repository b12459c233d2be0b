"""What a live change keeps of the running lab's plan: every name and address already handed out.

A plan hands out link addresses, bridge ports, router interfaces and front ingresses in build order
(lab.plan.context), so a fresh compile of a changed topology could renumber things that did not
change: an S3 gateway endpoint created in the first VPC would shift the second VPC's links. AWS
never renumbers a running resource, and the realizer can only apply a difference to the kernel
(lab.realize.changes), so a live change compiles with `Kept.of(running plan)`: whatever still
exists keeps its pair, port, interface and ingress; only new things take the first free ones.
A fresh compile keeps nothing, and its plan is exactly as before.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from lab.plan import names

if TYPE_CHECKING:
    from lab.plan.allocation import Allocation
    from lab.plan.types import Plan

IfAddr = ipaddress.IPv4Interface
Pair = tuple[IfAddr, IfAddr]


@dataclass(frozen=True)
class Kept:
    """transit: key -> link pair; ports: node -> its bridge port; edges: gateway endpoint node ->
    the router's interface to it; ingresses: (front node, label) -> its ingress index."""

    transit: Mapping[str, Pair] = field(default_factory=lambda: MappingProxyType({}))
    ports: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    edges: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    ingresses: Mapping[tuple[str, str], int] = field(default_factory=lambda: MappingProxyType({}))
    allocation: Allocation | None = None
    # (NLB node, vpce id) -> the mark of that endpoint's way into the node (PrivateLink)
    nlb_ingresses: Mapping[tuple[str, str], int] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, plan: Plan) -> Kept:
        ports = {link.a[0]: link.b[1] for link in plan.links if link.role == "subnet" and link.a[1] == names.ENI}
        edges = {
            link.b[0]: link.a[1]
            for link in plan.links
            if link.b[1] == names.TO_VPC and plan.nodes[link.b[0]].kind == "gateway-endpoint"
        }
        ingresses = {(f.node, i.label): i.mark - 1 for f in plan.services for i in f.ingresses}
        nlb = {(n.node, i.label): i.mark for lb in plan.load_balancers for n in lb.nodes for i in n.ingresses}
        return cls(
            MappingProxyType(dict(plan.transit)),
            MappingProxyType(ports),
            MappingProxyType(edges),
            MappingProxyType(ingresses),
            plan.allocation,
            MappingProxyType(nlb),
        )


class TransitPairs:
    """Link pairs by key: a kept key gets its pair again; a new one the next pair no kept key holds."""

    def __init__(self, fresh: Iterator[Pair], kept: Mapping[str, Pair]):
        self.fresh, self.kept, self.held = fresh, kept, set(kept.values())
        self.given: dict[str, Pair] = {}

    def pair(self, key: str) -> Pair:
        if key in self.given:
            raise ValueError(f"transit key {key!r} asked for twice (a vpclab bug)")
        pair = self.kept.get(key) or next(p for p in self.fresh if p not in self.held)
        self.given[key] = pair
        return pair


def free_number(taken: set[int]) -> int:
    """The smallest number from 1 that is not taken."""
    return next(k for k in range(1, len(taken) + 2) if k not in taken)


def first_free(taken: Iterable[str], name_of, start: int = 0) -> int:
    """The smallest index >= start whose name (name_of(index)) is not taken."""
    used, index = set(taken), start
    while name_of(index) in used:
        index += 1
    return index
