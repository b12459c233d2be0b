"""What the EC2 Describe handlers share: the lab as one caller sees it (its region and account) and
one described resource (its output dict and the values each filter of its call matches)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.model.topology import Topology, Vpc
from lab.plan.types import Plan


@dataclass(frozen=True)
class Resource:
    """`data`: the resource in the call's output shape; `facets`: filter name -> the values it has."""

    data: dict
    facets: dict[str, list[str]] = field(default_factory=dict)
    parent: dict | None = None  # what holds it in the output: an instance's reservation


@dataclass(frozen=True)
class View:
    topology: Topology
    plan: Plan
    region: str
    account: str

    def vpcs(self) -> list[Vpc]:
        """The caller's VPCs: the lab's VPCs live in its region, each owned by its account."""
        if self.region != self.topology.region:
            return []
        return [v for v in self.topology.vpcs.values() if v.account == self.account]


def tags(name: str) -> list[dict]:
    """A resource's tags: its topology name as `Name` (`--filters Name=tag:Name,Values=<name>`)."""
    return [{"Key": "Name", "Value": name}]


def common(view: View, vpc: Vpc) -> dict[str, list[str]]:
    """The filters every resource in a VPC takes (its own id's filter is added by each kind)."""
    return {"vpc-id": [view.plan.vpc_id(vpc.name)], "owner-id": [vpc.account]}


def flag(value: bool) -> list[str]:
    return ["true" if value else "false"]
