"""Run directories written the way the realizer writes them, with packets crafted by scapy.

Each node gets captures/<node>.pcap in LINUX_SLL2 (link type 276), with the 20-byte SLL2 header
packed here by hand from the spec (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html),
so the reader is checked against the format, not against scapy's idea of it. A packet's journey
is written as a list of steps, each a sighting at one node, optionally rewriting the packet (NAT)
from there on; times advance by a few microseconds per step, as on a real veth chain.
"""

from __future__ import annotations

import json
import struct
from collections import defaultdict
from pathlib import Path

from scapy.layers.inet import IP
from scapy.utils import PcapWriter

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.serialize import plan_to_dict

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "lab" / "data" / "public-private.yaml"
LINUX_SLL2 = 276
HOST, OTHERHOST, OUTGOING = 0, 3, 4
ARPHRD_ETHER = 1
STEP = 0.000005  # s between two sightings of one packet


def public_private_plan() -> dict:
    """The plan of the chapter's first figure, as the realizer writes it to plan.json."""
    return json.loads(json.dumps(plan_to_dict(compile_plan(load_topology(str(TOPOLOGY))))))


def sll2(ifindex: int, pkttype: int, protocol: int = 0x0800, mac: bytes = b"\x02\x00\x00\x00\x00\x01") -> bytes:
    """protocol (2), reserved (2), interface index (4), ARPHRD type (2), packet type (1),
    address length (1), address padded to 8."""
    return struct.pack("!HHIHBB8s", protocol, 0, ifindex, ARPHRD_ETHER, pkttype, len(mac), mac)


class SyntheticRun:
    def __init__(self, directory: Path, plan: dict | None = None):
        self.directory = directory
        self.plan = plan or public_private_plan()
        self.frames: dict[str, list[tuple[float, bytes]]] = defaultdict(list)
        self.ifindex = {
            name: {"lo": 1} | {i["name"]: n for n, i in enumerate(node["interfaces"] + node["bridges"], 2)}
            for name, node in self.plan["nodes"].items()
        }
        self.clock = 1_700_000_000.0

    def travel(self, packet, steps: list[tuple], start: float | None = None) -> float:
        """steps: (node, iface, 'in'|'out'[, rewrite dict][, pkttype]); returns the last time used."""
        self.clock = start if start is not None else self.clock + 0.01
        for step in steps:
            node, iface, direction, *rest = step
            rewrite = next((r for r in rest if isinstance(r, dict)), None)
            pkttype = next((r for r in rest if isinstance(r, int)), OUTGOING if direction == "out" else HOST)
            if rewrite:
                packet = rewritten(packet, rewrite)
            self.see(node, iface, pkttype, bytes(packet), self.clock)
            self.clock += STEP
        return self.clock

    def see(self, node: str, iface: str, pkttype: int, ip: bytes, time: float, protocol: int = 0x0800) -> None:
        self.frames[node].append((time, sll2(self.ifindex[node][iface], pkttype, protocol) + ip))

    def write(self, drops: dict | None = None) -> Path:
        captures = self.directory / "captures"
        captures.mkdir(parents=True, exist_ok=True)
        (self.directory / "plan.json").write_text(json.dumps(self.plan))
        (self.directory / "drops.json").write_text(json.dumps(drops or {}))
        (captures / "interfaces.json").write_text(
            json.dumps({node: {str(i): name for name, i in names.items()} for node, names in self.ifindex.items()})
        )
        for node in self.plan["nodes"]:
            writer = PcapWriter(str(captures / f"{node}.pcap"), linktype=LINUX_SLL2, sync=True)
            writer.write_header(None)
            for time, frame in sorted(self.frames[node], key=lambda f: f[0]):
                writer.write_packet(frame, sec=int(time), usec=round((time % 1) * 1e6))
            writer.close()
        return self.directory


def rewritten(packet, changes: dict):
    """A copy with IP or L4 fields changed and checksums recomputed, as kernel NAT leaves it."""
    copy = packet.copy()
    for field, value in changes.items():
        layer = copy[IP] if field in ("src", "dst", "id", "ttl") else copy[IP].payload
        setattr(layer, field, value)
    del copy[IP].chksum
    if hasattr(copy[IP].payload, "chksum"):
        del copy[IP].payload.chksum
    return IP(bytes(copy))
