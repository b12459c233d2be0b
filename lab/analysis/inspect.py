"""`vpclab inspect RUN_DIR`: every connection of a run with its observed path, and any one packet
in full, so a flow can be followed hop by hop across NAT and endpoints (DESIGN.md section 1, user 3).

Listing uses the fast reader; only `packet_detail` dissects, with scapy, because it is one packet
and scapy's `show()` is the layer-by-layer view people know from Wireshark.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lab.analysis.paths import Flow, ObservedPath, flows, path_of
from lab.analysis.pcapread import records
from lab.analysis.run import load_run
from lab.errors import BadArgument, UnknownName


@dataclass(frozen=True)
class Inspection:
    """A run's packets per node, and its connections with their observed paths."""

    run: str
    packets: dict[str, int]  # node -> IPv4 packets captured
    flows: tuple[tuple[Flow, ObservedPath], ...]

    def to_dict(self) -> dict:
        """`vpclab inspect --json`: each flow's Flow.to_dict() with its "path"."""
        return {
            "run": self.run,
            "packets": self.packets,
            "flows": [{**flow.to_dict(), "path": path.to_dict()} for flow, path in self.flows],
        }


def inspect_run(run_dir: str | Path, flow_filter: str | None = None) -> Inspection:
    """Every connection of the run, or those that `flow_filter` keeps.

    `flow_filter` keeps the flows whose source node, address or port, destination address or port,
    or any node on their path, equals it (`app1`, `52.219.60.10`, `443`, `app-nat-a`). Each hop's `frames` are positions in
    captures/<node>.pcap, for `packet_detail` or Wireshark (+1).
    """
    run = load_run(run_dir)
    packets = Counter(s.node for s in run.sightings)
    paths = [(flow, path_of(run, flow)) for flow in flows(run)]
    chosen = [
        (f, p)
        for f, p in paths
        if flow_filter is None or flow_filter in (f.node, f.src, f.dst, str(f.sport), str(f.dport), *(h.node for h in p.path))
    ]
    return Inspection(str(run_dir), dict(sorted(packets.items())), tuple(chosen))


def packet_detail(run_dir: str | Path, node: str, index: int) -> str:
    """scapy's `show()` of packet `index` (0-based, as in a hop's `frames`) of captures/<node>.pcap."""
    path = Path(run_dir) / "captures" / f"{node}.pcap"
    if not path.exists():
        nodes = ", ".join(sorted(p.stem for p in path.parent.glob("*.pcap"))) or "none"
        raise UnknownName(f"{path}: no capture for node {node} (captured nodes: {nodes})")
    if index < 0:
        raise BadArgument(f"packet index {index}: indexes start at 0 (Wireshark's frame 1)")
    count = 0
    for count, (_, buf) in enumerate(records(path), start=1):
        if count - 1 == index:
            return _show(buf)
    raise BadArgument(f"{path} has {count} packets; there is no packet {index} (indexes start at 0)")


def _show(buf: bytes) -> str:
    # Imported here: scapy takes about a second to import, and listing flows never needs it.
    # Importing inet and dns binds IPv4, TCP, UDP, ICMP and DNS beneath the SLL2 header.
    import scapy.layers.dns  # noqa: F401
    import scapy.layers.inet  # noqa: F401
    from scapy.layers.l2 import CookedLinuxV2

    return str(CookedLinuxV2(buf).show(dump=True))  # with dump=True, show returns the text
