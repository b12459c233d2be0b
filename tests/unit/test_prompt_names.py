"""The prompt's names without root: node-name substitution (Mininet's rule), comments, Tab
completion, did-you-mean, and the tables `routes`, `nodes` and `net` print from a plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cli.common import planned
from lab.cli.prompt_nodes import complete, node_addresses, strip_comment, substitute, suggest, vocabulary
from lab.cli.prompt_views import nodes_view, routes_view, table
from lab.plan.changes import associate
from lab.plan.compile import compile_plan

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab():
    return planned(str(REPO / "topologies/gateway-endpoint.yaml"))


def test_node_names_become_private_ips_only_as_whole_words(lab):
    _, plan = lab
    addresses = node_addresses(plan)
    assert addresses["batch1"] == str(plan.eni_address("batch1"))
    assert substitute("ping -c1 batch1", addresses) == f"ping -c1 {addresses['batch1']}"
    kept = "curl https://batch1/ batch1:80 'batch1' batch10 s3.ap-northeast-2.amazonaws.com"
    assert substitute(kept, addresses) == kept
    assert "app-router" not in addresses and "internet" not in addresses  # no ENI: the name stays


def test_a_comment_starts_at_a_word(lab):
    line = "path app1 s3.ap-northeast-2.amazonaws.com"
    assert strip_comment(f"{line}   # through NAT") == line
    assert strip_comment("app1 curl https://x/#frag") == "app1 curl https://x/#frag"
    assert strip_comment("# only a comment") == ""


def test_completion_by_position(lab):
    topology, plan = lab
    words = vocabulary(topology, plan)
    commands = ["associate", "disassociate", "path", "routes", "shell"]
    assert complete("ap", "ap", commands, words) == ["app-ddb-gw", "app-igw", "app-nat-a", "app-router", "app-s3-gw", "app1"]
    assert complete("disas", "disas", commands, words) == ["disassociate "]
    assert complete("associate s3", "s3", commands, words) == ["s3-gw "]
    assert complete("associate s3-gw pr", "pr", commands, words) == ["private "]
    assert complete("routes a", "a", commands, words) == ["app "]
    assert complete("app1 ping -c1 bat", "bat", commands, words) == ["batch1 "]
    assert complete("sh bat", "bat", commands, words) == []  # on the host: no lab names


def test_did_you_mean():
    assert suggest("ap1", ["app1", "batch1", "path"]) == " (did you mean: app1?)"
    assert suggest("pth", ["app1", "batch1", "path"]) == " (did you mean: path?)"
    assert suggest("zzzz", ["app1", "path"]) == ""


def test_routes_in_aws_terms(lab):
    topology, plan = lab
    text = routes_view(topology, plan, "app", "private")
    rows = [line.split() for line in text.splitlines()[2:]]
    s3 = "pl-78a54011"  # com.amazonaws.ap-northeast-2.s3, as describe-prefix-lists names it
    assert s3 in plan.prefix_lists
    assert rows[0] == ["10.0.0.0/16", "local"]  # once, not per subnet
    assert ["0.0.0.0/0", plan.nat_gateway("app", "nat-a").aws_id] in rows
    assert [s3, plan.vpce_id("app", "s3-gw")] in rows  # the prefix list as one route
    assert not any(r[1] == "no" for r in rows)
    assert routes_view(topology, plan, "app", plan.route_table("app", "private").aws_id) == text  # by rtb- id too
    with pytest.raises(KeyError, match="no route table 'nope'"):
        routes_view(topology, plan, "app", "nope")
    with pytest.raises(KeyError, match="no VPC 'nope'"):
        routes_view(topology, plan, "nope", None)


def test_routes_follow_a_live_association(lab):
    topology, plan = lab
    changed_topology = associate(topology, "s3-gw", "public", True)  # as change_lab does
    changed = compile_plan(changed_topology, plan.settings)
    assert "pl-78a54011" not in routes_view(topology, plan, "app", "public")
    assert "pl-78a54011" in routes_view(changed_topology, changed, "app", "public")


def test_columns_fit_the_longest_name(lab):
    _, plan = lab
    lines = nodes_view(plan).splitlines()
    assert lines[0].split() == ["NODE", "KIND", "AWS", "ID", "ADDRESSES"]
    width = max(len(n) for n in plan.nodes) + 2
    assert all(line[width - 2 : width] == "  " for line in lines)
    assert table(("A", "B"), [("a-very-long-node-name-indeed", "x")]).splitlines()[1] == "a-very-long-node-name-indeed  x"
