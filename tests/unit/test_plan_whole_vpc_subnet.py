"""A subnet as large as its VPC: AWS allows it ("The size of the subnet's IPv4 CIDR block can be the
same as a VPC's IPv4 CIDR block", create-subnet), so the plan must be one the kernel accepts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan

WHOLE_VPC = Path(__file__).resolve().parents[1] / "data" / "whole-vpc-subnet.yaml"


def kernel_route_clashes(plan) -> list:
    """Routes the kernel would refuse as 'File exists': one prefix twice in one table at one metric."""
    clashes = []
    for node in plan.nodes.values():
        routes = list(node.routes) + [r for table in node.route_tables for r in table.routes]
        counts = Counter((r.table, r.destination, r.metric) for r in routes)
        clashes += [(node.name, key) for key, n in counts.items() if n > 1]
    return clashes


def test_a_subnet_equal_to_its_vpc_gives_routes_the_kernel_takes():
    plan = compile_plan(load_topology(WHOLE_VPC))
    assert kernel_route_clashes(plan) == []
    router = next(n for n in plan.nodes.values() if n.kind == "vpc-router")
    public = next(t for t in router.route_tables if t.name == "public")
    assert [(str(r.destination), r.origin) for r in public.routes if r.origin == "local"] == [("10.0.0.0/24", "local")]
