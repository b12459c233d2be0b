"""Every nftables ruleset the planner renders is accepted by the kernel's nftables (`nft -c`: parse,
evaluate and a dry-run transaction, nothing committed).

`nft -c` talks to the kernel over netlink, so it needs root; it runs inside a throwaway network
namespace (`unshare -n`) so that not even a failed check can touch the machine's own ruleset. The
namespace ends with the nft process: nothing to tear down.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from labsafety import prerequisite_missing

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from topologies import nat_vpc, public_vpc

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(f"topologies/{p.name}" for p in (REPO / "topologies").glob("*.yaml"))

# What the shipped topologies lack: interface endpoint ENIs, a service front with several ingresses,
# and an internet gateway with no public IP to map (its ruleset has no maps).
INTERFACE_ENDPOINT = nat_vpc(
    subnets="private-c: {cidr: 10.0.12.0/24, az: c, route_table: private}",
    endpoints="""
        s3-gw: {type: gateway, service: s3, route_tables: [private]}
        s3-if: {type: interface, service: s3, subnets: [private-a, private-c]}
        ddb-if: {type: interface, service: dynamodb, subnets: [private-a]}
        """,
    instances="""
        web1: {subnet: public-a, public_ip: true}
        app1: {subnet: private-a}
        """,
    other_vpcs=public_vpc("bare", "10.1.0.0/16", "10.1.1.0/24", more="instances: {bare1: {subnet: public-a}}"),
)


MISSING = prerequisite_missing(
    "`nft -c` checks a ruleset against the kernel over netlink", (("nft", "nftables"), ("unshare", "util-linux"))
)
pytestmark = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))


def rulesets() -> list[tuple[str, str, str]]:
    """(topology, node, ruleset) for every node that has a ruleset."""
    cwd = os.getcwd()
    os.chdir(REPO)  # topologies name their files relative to the repository root
    try:
        topologies = [(path, load_topology(path)) for path in SHIPPED]
    finally:
        os.chdir(cwd)
    topologies.append(("inline", load_topology("inline.yaml", INTERFACE_ENDPOINT)))
    return [
        (label, node.name, node.nftables)
        for label, topology in topologies
        for node in compile_plan(topology).nodes.values()
        if node.nftables
    ]


RULESETS = rulesets()


def test_every_kind_of_ruleset_is_checked():
    tables = {
        tuple(line.split()[1:3]) for _, _, ruleset in RULESETS for line in ruleset.splitlines() if line.startswith("table ")
    }
    assert tables == {
        ("ip", t)
        for t in (
            "vpc_router",
            "vpc_filters",
            "internet_gateway",
            "nat_gateway",
            "gateway_endpoint",
            "interface_endpoint",
            "service_front",
            "nlb",
        )
    } | {("bridge", "eni_check")}


@pytest.mark.parametrize("ruleset", [r for _, _, r in RULESETS], ids=[f"{label}:{node}" for label, node, _ in RULESETS])
def test_nft_accepts_the_ruleset(ruleset):
    check = subprocess.run(["unshare", "-n", "nft", "-c", "-f", "-"], input=ruleset, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, f"nft -c rejected the ruleset:\n{check.stderr}\n{ruleset}"
