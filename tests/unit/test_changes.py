"""Live changes as data: (dis)associating a gateway endpoint changes exactly the prefix-list routes
of that route table, and AWS's refusals are refused (no kernel needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import StateConflict, UnknownName
from lab.model import regions
from lab.model.loader import load_topology
from lab.plan.changes import associate, find_endpoint
from lab.plan.compile import compile_plan
from lab.plan.difference import difference
from lab.plan.kept import Kept

REPO = Path(__file__).resolve().parents[2]
S3 = regions.region("ap-northeast-2").services["s3"]


@pytest.fixture
def topology(monkeypatch):
    monkeypatch.chdir(REPO)
    return load_topology("topologies/gateway-endpoint.yaml")


def test_disassociating_removes_exactly_the_tables_prefix_list_routes(topology):
    before = compile_plan(topology)
    after = compile_plan(associate(topology, "s3-gw", "private", on=False), kept=Kept.of(before))
    diff = difference(before, after)
    assert list(diff.changed) == ["app-router"] and not diff.added and not diff.removed and not diff.links
    change = diff.changed["app-router"]
    assert change.routes_added == () and change.interfaces == () and change.nft == ""
    gone = change.routes_gone
    assert sorted(r.destination for r in gone) == sorted(S3.ranges)
    private = next(t.number for t in before.node("app-router").route_tables if t.name == "private")
    assert {r.table for r in gone} == {private}
    assert all(r.origin.startswith(S3.prefix_list_id) for r in gone)


def test_associating_again_restores_the_original_plan(topology):
    off = associate(topology, "s3-gw", "private", on=False)
    on = associate(off, "s3-gw", "private", on=True)
    assert not difference(compile_plan(topology), compile_plan(on))


@pytest.mark.parametrize(
    "endpoint, table, on, error, message",
    [
        ("s3-gw", "private", True, StateConflict, "already associated"),
        ("s3-gw", "public", False, StateConflict, "not associated"),
        ("s3-gw", "nowhere", True, UnknownName, "route table nowhere: not in vpc app"),
        ("nope", "private", True, UnknownName, "endpoint nope: no such endpoint"),
    ],
)
def test_refusals(topology, endpoint, table, on, error, message):
    """A name the lab lacks and a change it is already in are different mistakes, told apart by class."""
    with pytest.raises(error, match=message):
        associate(topology, endpoint, table, on)


def test_an_endpoint_can_be_named_with_its_vpc(topology):
    assert find_endpoint(topology, "app/s3-gw") == ("app", "s3-gw")
