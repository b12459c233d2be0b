"""The ENIs a flow log covers (instances, NAT gateways, interface-endpoint ENIs: every interface the
plan gives an `eni`), with the ids their records carry, all read from the run's plan.

The plan JSON names no AZ and no account: those come from the topology the plan was compiled from
(plan.json's `source`) when it can still be read, else `-` and the lab's account
(lab.model.ids.ACCOUNT_ID).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path

from lab.analysis.flowlog_fields import az_id
from lab.analysis.run import Run
from lab.errors import LabError
from lab.model.ids import ACCOUNT_ID

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Eni:
    node: str
    iface: str  # the node's interface that is the ENI
    eni_id: str
    address: str  # the ENI's primary private IPv4 address
    kind: str  # the node's kind: instance, nat-gateway, interface-endpoint
    vpc: str
    vpc_id: str
    subnet_id: str
    acl_id: str  # the subnet's network ACL
    instance_id: str  # '-' for requester-managed ENIs (NAT gateway, endpoint)
    account: str
    az_id: str
    router: str  # the VPC router node whose bridge port the ENI is on
    vpc_nets: tuple[ipaddress.IPv4Network, ...]

    def covers(self, address: str) -> bool:
        """Whether an address is in one of the ENI's VPC's subnets (traffic-path 1)."""
        ip = ipaddress.IPv4Address(address)
        return any(ip in net for net in self.vpc_nets)


def enis_of(run: Run) -> list[Eni]:
    """Every ENI of the plan, by node name."""
    plan = run.plan
    zones, accounts = _topology_facts(plan.get("source"))
    result = []
    for name, node in sorted(plan["nodes"].items()):
        for iface in node["interfaces"]:
            if not iface.get("eni") or not iface["addresses"]:
                continue
            router, port = run.links[(name, iface["name"])]
            bridge = run.bridge_of.get((router, port))
            acl = next(
                (a for a in plan["network_acls"].values() if a["vpc"] == node["vpc"] and a["bridge"] == bridge),
                None,
            )
            nets = tuple(ipaddress.IPv4Network(a["cidr"]) for a in plan["network_acls"].values() if a["vpc"] == node["vpc"])
            result.append(
                Eni(
                    name,
                    iface["name"],
                    iface["eni"],
                    iface["addresses"][0].split("/")[0],
                    node["kind"],
                    node["vpc"],
                    plan["nodes"][router]["aws_id"],
                    acl["subnet_id"] if acl else "-",
                    acl["acl_id"] if acl else "-",
                    node["aws_id"] if node["kind"] == "instance" else "-",
                    "unknown" if node["kind"] == "interface-endpoint" else accounts.get(node["vpc"], ACCOUNT_ID),
                    az_id(zones.get((node["vpc"], acl["subnet"])) if acl else None),
                    router,
                    nets,
                )
            )
    return result


def _topology_facts(source: str | None) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(vpc, subnet) -> AZ name and vpc -> account, from the topology file if it is still there."""
    if not source or not Path(source).is_file():
        return {}, {}
    from lab.model.loader import load_topology

    try:
        topology = load_topology(source)
    except (LabError, OSError) as exc:
        log.warning("%s: cannot read the topology for AZs and accounts (%s); az-id is '-'", source, exc)
        return {}, {}
    zones = {(v.name, s.name): s.az for v in topology.vpcs.values() for s in v.subnets.values()}
    return zones, {v.name: getattr(v, "account", ACCOUNT_ID) for v in topology.vpcs.values()}
