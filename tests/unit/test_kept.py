"""A live change keeps every name and address already handed out (lab.plan.kept): compiling the
changed topology with the running plan's Kept moves nothing that still exists, so the realizer only
adds and removes (no kernel needed)."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest

from lab.model.loader import load_topology
from lab.model.topology import Topology
from lab.plan.compile import compile_plan
from lab.plan.kept import Kept

REPO = Path(__file__).resolve().parents[2]


def without_endpoint(t: Topology, vpc: str, endpoint: str) -> Topology:
    v = t.vpcs[vpc]
    endpoints = {k: e for k, e in v.endpoints.items() if k != endpoint}
    return dataclasses.replace(t, vpcs=dict(t.vpcs) | {vpc: dataclasses.replace(v, endpoints=endpoints)})


def interfaces(plan) -> dict[tuple[str, str], tuple]:
    return {(n.name, i.name): (i.addresses, i.bridge) for n in plan.nodes.values() for i in n.interfaces + n.bridges}


@pytest.fixture(params=["interface-endpoint", "gateway-endpoint", "twin-vpcs", "endpoint-service"])
def topology(request, monkeypatch) -> Topology:
    monkeypatch.chdir(REPO)
    path = REPO / "topologies" / f"{request.param}.yaml"
    if not path.exists():
        path = REPO / "scenarios" / f"{request.param}.yaml"
    return load_topology(str(path))


def first_endpoint(t: Topology) -> tuple[str, str]:
    return next((v.name, e) for v in t.vpcs.values() for e in v.endpoints)


def test_a_fresh_compile_keeps_nothing_and_is_unchanged(topology):
    plan = compile_plan(topology)
    assert compile_plan(topology, kept=Kept()) == plan


def test_an_endpoint_created_live_moves_nothing_that_was_there(topology):
    vpc, endpoint = first_endpoint(topology)
    running = compile_plan(without_endpoint(topology, vpc, endpoint))
    changed = compile_plan(topology, kept=Kept.of(running))
    before, after = interfaces(running), interfaces(changed)
    assert {k: after[k] for k in before} == before  # every interface still there, same addresses
    link_local = ipaddress.IPv4Network("169.254.0.0/16")  # the links the plan hands out (VPCs may overlap)
    new = {a.ip for k, v in after.items() if k not in before for a in v[0] if a.ip in link_local}
    old = {a.ip for v in before.values() for a in v[0] if a.ip in link_local}
    assert new and not new & old  # the new links took free pairs
    for front in running.services:  # every ingress keeps its interface, ports and mark
        now = {i.label: i for i in next(f for f in changed.services if f.node == front.node).ingresses}
        assert all(now[i.label] == i for i in front.ingresses)


def test_an_endpoint_deleted_live_leaves_the_others_where_they_were(topology):
    vpc, endpoint = first_endpoint(topology)
    running = compile_plan(topology)
    changed = compile_plan(without_endpoint(topology, vpc, endpoint), kept=Kept.of(running))
    before, after = interfaces(running), interfaces(changed)
    assert set(after) < set(before)
    assert {k: before[k] for k in after} == after
    for front in changed.services:  # every remaining ingress keeps its ports and mark
        was = {i.label: i for i in next(f for f in running.services if f.node == front.node).ingresses}
        assert all(was[i.label] == i for i in front.ingresses)
