"""Every nftables comment a plan writes fits nft's limit (128 characters, NFT_USERDATA_MAXLEN): a longer
one makes `nft -f` refuse the whole ruleset, and the lab does not start. The longest come from an ENI
in the most security groups AWS allows by default (5 per network interface, amazon-vpc-limits.html)
and from the shipped topologies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from topologies import entries, public_vpc, vpcs

REPO = Path(__file__).resolve().parents[2]
NFT_COMMENT_MAX = 128
COMMENT = re.compile(r'comment "([^"]*)"')


def five_groups():
    groups = "\n".join(f"group-number-{k}: {{ingress: [{{protocol: tcp, port: 443, cidr: 10.0.0.0/16}}]}}" for k in range(5))
    names = ", ".join(f"group-number-{k}" for k in range(5))
    more = entries("security_groups", groups) + entries("instances", f"busy: {{subnet: public-a, security_groups: [{names}]}}")
    return load_topology("inline.yaml", vpcs(public_vpc(more=more)))


def comments(plan) -> list[tuple[str, str]]:
    return [(node.name, c) for node in plan.nodes.values() for c in COMMENT.findall(node.nftables)]


@pytest.mark.parametrize("name", ["five groups on one ENI"] + sorted(p.name for p in (REPO / "topologies").glob("*.yaml")))
def test_every_nft_comment_fits_in_128_characters(name, monkeypatch):
    monkeypatch.chdir(REPO)
    topology = five_groups() if name == "five groups on one ENI" else load_topology(f"topologies/{name}")
    found = comments(compile_plan(topology))
    assert found  # the drop rules carry their reasons
    too_long = [(node, c) for node, c in found if len(c) > NFT_COMMENT_MAX]
    assert too_long == []
