"""Every nftables ruleset the planner renders is accepted by the kernel's nftables (`nft -c`: parse,
evaluate and a dry-run transaction, nothing committed).

`nft -c` talks to the kernel over netlink, so it needs root; it runs inside a throwaway network
namespace (`unshare -n`) so that not even a failed check can touch the machine's own ruleset. The
namespace ends with the nft process: nothing to tear down.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(f"topologies/{p.name}" for p in (REPO / "topologies").glob("*.yaml"))

# What the shipped topologies lack: interface endpoint ENIs, a service front with several ingresses,
# and an internet gateway with no public IP to map (its ruleset has no maps).
INTERFACE_ENDPOINT = textwrap.dedent("""
    vpcs:
      app:
        cidr: 10.0.0.0/16
        internet_gateway: true
        subnets:
          public-a:  {cidr: 10.0.1.0/24, az: a, route_table: public}
          private-a: {cidr: 10.0.2.0/24, az: a, route_table: private}
          private-c: {cidr: 10.0.12.0/24, az: c, route_table: private}
        route_tables:
          public:  [{destination: 0.0.0.0/0, target: igw}]
          private: [{destination: 0.0.0.0/0, target: nat-a}]
        nat_gateways: {nat-a: {subnet: public-a}}
        endpoints:
          s3-gw: {type: gateway, service: s3, route_tables: [private]}
          s3-if: {type: interface, service: s3, subnets: [private-a, private-c]}
          ddb-if: {type: interface, service: dynamodb, subnets: [private-a]}
        instances:
          web1: {subnet: public-a, public_ip: true}
          app1: {subnet: private-a}
      bare:
        cidr: 10.1.0.0/16
        internet_gateway: true
        subnets: {public-a: {cidr: 10.1.1.0/24, az: a, route_table: public}}
        route_tables: {public: [{destination: 0.0.0.0/0, target: igw}]}
        instances: {bare1: {subnet: public-a}}
    """)


def missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "needs root: `nft -c` checks a ruleset against the kernel over netlink (run sudo scripts/test.sh)"
    for tool, package in (("nft", "nftables"), ("unshare", "util-linux")):
        if shutil.which(tool) is None:
            return f"needs `{tool}` (Debian package {package}; scripts/provision.sh installs it)"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        return f"cannot create a network namespace here (`unshare -n true`: {probe.stderr.strip()})"
    return None


MISSING = missing_prerequisite()
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
    return [(label, node.name, node.nftables) for label, topology in topologies
            for node in compile_plan(topology).nodes.values() if node.nftables]


RULESETS = rulesets()


def test_every_kind_of_ruleset_is_checked():
    tables = {line.split()[2] for _, _, ruleset in RULESETS for line in ruleset.splitlines()
              if line.startswith("table ip ")}
    assert tables == {"vpc_router", "internet_gateway", "nat_gateway", "gateway_endpoint", "interface_endpoint",
                      "service_front"}


@pytest.mark.parametrize("ruleset", [r for _, _, r in RULESETS],
                         ids=[f"{label}:{node}" for label, node, _ in RULESETS])
def test_nft_accepts_the_ruleset(ruleset):
    check = subprocess.run(["unshare", "-n", "nft", "-c", "-f", "-"], input=ruleset, capture_output=True,
                           text=True, timeout=30)
    assert check.returncode == 0, f"nft -c rejected the ruleset:\n{check.stderr}\n{ruleset}"
