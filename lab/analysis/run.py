"""A run's evidence in one place: the plan it realised, every packet sighting, the drop counters.

A run directory (written by the realizer, readable anywhere it is copied to) holds `plan.json`
(`lab.plan.serialize.plan_to_dict`), `captures/<node>.pcap` with `captures/interfaces.json`, and
`drops.json` (node -> nftables drop counters, named by the rule comments of `lab.plan.nftables`).
The plan stays the JSON dict: analysis needs only names, links and addresses from it, and reading
it back into `lab.plan.types` would tie old runs to today's dataclasses.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from lab.analysis.pcapread import Sighting, read_captures
from lab.errors import UnreadableRun


@dataclass
class Run:
    """One run's evidence; `load_run` reads it from a directory, tests may build it from data
    (sightings in time order, as `read_captures` returns them)."""

    plan: dict
    sightings: list[Sighting]  # ordered by time
    drops: dict[str, list[dict]] = field(default_factory=dict)
    directory: Path | None = None

    @cached_property
    def links(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(node, interface) -> the (node, interface) at the other end of its veth, both ways."""
        ends = {}
        for link in self.plan["links"]:
            a, b = tuple(link["a"]), tuple(link["b"])
            ends[a], ends[b] = b, a
        return ends

    @cached_property
    def bridge_ports(self) -> frozenset[tuple[str, str]]:
        """Ports of a bridge see frames for the bridge's MAC as 'otherhost': that is normal there."""
        return frozenset((n["name"], i["name"]) for n in self.plan["nodes"].values() for i in n["interfaces"] if i.get("bridge"))

    @cached_property
    def bridge_of(self) -> dict[tuple[str, str], str]:
        """(node, bridge port) -> the bridge (the subnet) it belongs to."""
        return {
            (n["name"], i["name"]): i["bridge"] for n in self.plan["nodes"].values() for i in n["interfaces"] if i.get("bridge")
        }

    @cached_property
    def addresses(self) -> dict[str, frozenset[str]]:
        """node -> its own IPv4 addresses (interfaces, bridges and loopback), without prefix lengths."""

        def own(node: dict) -> frozenset[str]:
            ifaddrs = [a for i in node["interfaces"] + node.get("bridges", []) for a in i["addresses"]]
            return frozenset(a.split("/")[0] for a in ifaddrs + node.get("loopback", []))

        return {name: own(node) for name, node in self.plan["nodes"].items()}

    @cached_property
    def by_fingerprint(self) -> dict[tuple, list[Sighting]]:
        """fingerprint -> every sighting of that packet, in time order."""
        index: dict[tuple, list[Sighting]] = defaultdict(list)
        for s in self.sightings:
            index[s.fingerprint].append(s)
        return dict(index)

    @cached_property
    def by_node(self) -> dict[str, list[Sighting]]:
        index: dict[str, list[Sighting]] = defaultdict(list)
        for s in self.sightings:
            index[s.node].append(s)
        return dict(index)

    def kind(self, node: str, address: str | None = None) -> tuple[str, str | None]:
        """(kind, aws_id) of a node; the VPC router answering at its resolver address is the resolver,
        as in the static explanation."""
        info = self.plan["nodes"].get(node)
        if info is None:
            return "unknown", None
        for resolver in self.plan.get("resolvers", {}).values():
            if resolver["node"] == node and address in resolver["addresses"]:
                return "resolver", info["aws_id"]
        return info["kind"], info["aws_id"]

    def component(self, node: str) -> str:
        """How the static explanation names a place: the AWS id where there is one, else the node."""
        return self.kind(node)[1] or node

    def forwards(self, node: str) -> bool:
        return bool(self.plan["nodes"].get(node, {}).get("forwarding"))

    def ingress(self, node: str, iface: str) -> dict | None:
        """The plan's ingress of a service front that `iface` of `node` is, if it is one."""
        for front in self.plan.get("services", []):
            for ingress in front["ingresses"] if front["node"] == node else []:
                if ingress["iface"] == iface:
                    return ingress
        return None

    def ingress_label(self, node: str, iface: str) -> str:
        """What a service front calls an ingress ('internet' or a vpce id); else the interface name."""
        ingress = self.ingress(node, iface)
        return ingress["label"] if ingress else iface

    def vpce_of(self, node: str, iface: str) -> str | None:
        """The vpce id of the endpoint whose ingress this is (an endpoint's ingress has a VPC)."""
        ingress = self.ingress(node, iface)
        return ingress["label"] if ingress and ingress["vpc_id"] else None

    def drop_counters(self, node: str) -> list[dict]:
        """The non-zero drop counters at a node: evidence, not proof, since they count the whole run."""
        return [c for c in self.drops.get(node, []) if c.get("packets", 0) > 0]


def load_run(run_dir: str | Path) -> Run:
    """Read a run directory; drops.json is optional (a run without nftables counters has none)."""
    directory = Path(run_dir)
    plan_file = directory / "plan.json"
    if not plan_file.exists():
        raise UnreadableRun(f"{directory}: no plan.json, so this is not a vpclab run directory")
    drops_file = directory / "drops.json"
    drops = read_json(drops_file) if drops_file.exists() else {}
    return Run(read_json(plan_file), read_captures(directory), drops, directory)


def read_json(path: Path) -> dict:
    """A run's JSON file; one that is not JSON (cut short, edited) is named, not a vpclab bug."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableRun(f"{path}: not what vpclab writes ({exc})") from None
