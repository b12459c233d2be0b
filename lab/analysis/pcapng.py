"""captures/run.pcapng: a run's per-node captures merged into the one file Wireshark opens.

Every node interface gets its own Interface Description Block named `node:iface` (`app-router:br1p0`),
so `frame.interface_name` names the node and the interface where the per-node pcaps only had an
index (the pcapng spec, section 4.2: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html).
Each frame keeps its LINUX_SLL2 header (packet type, protocol), its capture time (microseconds, as
tcpdump wrote it), the direction as EPB flags (inbound or outbound) and the node as a comment.

A VPC router's subnet is a Linux bridge: a packet crossing it is captured on the bridge port
(`br1p0`) and again on the bridge device (`br1`), the same bytes microseconds apart, which Wireshark
flags as `[TCP Retransmission]`. The merged file keeps the port copy, the veth the packet really
crossed, and drops the bridge device's twin; `numbers` maps every per-node packet, twins included, to
its frame number here, so analysis can keep reading the full per-node captures (lab.analysis.pcapread
needs the bridge copies for ingress and egress) and still point at Wireshark's frames.

scapy's pcapng writer writes the blocks (scapy is already a dependency): dpkt 1.9.8 writes pcapng
with one interface only.
"""

from __future__ import annotations

import heapq
import json
import struct
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

from scapy.utils import RawPcapNgWriter

from lab.analysis.pcapread import LINKTYPE_LINUX_SLL2, OUTGOING, SLL2_LEN, read_interfaces, records
from lab.errors import UnreadableRun

MERGED = "run.pcapng"
TWIN_WINDOW = 0.1  # s: a bridge copy follows (in) or precedes (out) its port copy by microseconds
EPB_INBOUND, EPB_OUTBOUND = 1, 2  # EPB flags, direction bits
IFINDEX = struct.Struct("!4xI")
PKTTYPE_AT = 10  # byte offset of the SLL2 packet type


class Frame(NamedTuple):
    """A packet of the merged file, by where it is in its node's capture."""

    time: float
    node: str
    index: int  # type: ignore[assignment]  # position in captures/<node>.pcap (0-based)


@dataclass(frozen=True)
class Merge:
    """What the merged file holds: `frames[n - 1]` is Wireshark's frame n, and `numbers` maps each
    (node, index) of the per-node captures to its frame number (a dropped twin to its port copy's)."""

    frames: tuple[Frame, ...]
    numbers: dict[tuple[str, int], int]
    interfaces: dict[str, dict[int, str]]  # node -> ifindex -> interface name

    def interface(self, node: str, ifindex: int) -> str:
        """`node:iface`, the name of the frame's interface in the merged file."""
        return f"{node}:{self.interfaces.get(node, {}).get(ifindex) or f'if{ifindex}'}"

    def per_node(self) -> dict[str, int]:
        """node -> its frames in the merged file."""
        counts: dict[str, int] = {}
        for frame in self.frames:
            counts[frame.node] = counts.get(frame.node, 0) + 1
        return dict(sorted(counts.items()))


def twins(frames: Iterable[tuple[int, float, bytes]], port_bridge: dict[int, int]) -> dict[int, int]:
    """Bridge-device copies of packets also captured on one of that bridge's ports: index -> the port
    copy's index, for (index, time, SLL2 frame) of one node in capture order. `port_bridge` maps a
    port's ifindex to its bridge's. Copies pair first come, first paired, within TWIN_WINDOW and the
    same direction, so a real retransmission (same bytes, later) pairs with its own twin."""
    bridges = set(port_bridge.values())
    pending: dict[tuple, deque[tuple[int, bool]]] = {}
    order: deque[tuple[float, tuple, int]] = deque()
    found: dict[int, int] = {}
    for index, time, buf in frames:
        if len(buf) < SLL2_LEN:
            continue
        (ifindex,) = IFINDEX.unpack_from(buf, 0)
        is_port = ifindex in port_bridge
        if not is_port and ifindex not in bridges:
            continue
        while order and order[0][0] < time - TWIN_WINDOW:  # too old to have a twin now
            _, old_key, old_index = order.popleft()
            queue = pending.get(old_key)
            if queue and queue[0][0] == old_index:
                queue.popleft()
                if not queue:
                    del pending[old_key]
        key = (port_bridge.get(ifindex, ifindex), buf[PKTTYPE_AT] == OUTGOING, buf[0:2], buf[SLL2_LEN:])
        queue = pending.get(key)
        if queue and queue[0][1] != is_port:
            other, _ = queue.popleft()
            if not queue:
                del pending[key]
            port, bridge = (index, other) if is_port else (other, index)
            found[bridge] = port
            continue
        pending.setdefault(key, deque()).append((index, is_port))
        order.append((time, key, index))
    return found


def port_bridges(plan: dict, interfaces: dict[str, dict[int, str]]) -> dict[str, dict[int, int]]:
    """node -> {port ifindex: bridge ifindex}, from the plan's bridge ports and interfaces.json."""
    found: dict[str, dict[int, int]] = {}
    for name, node in plan.get("nodes", {}).items():
        index = {iface: i for i, iface in interfaces.get(name, {}).items()}
        pairs = {
            index[i["name"]]: index[i["bridge"]]
            for i in node.get("interfaces", [])
            if i.get("bridge") and i["name"] in index and i["bridge"] in index
        }
        if pairs:
            found[name] = pairs
    return found


def _pcaps(run_dir: Path) -> dict[str, Path]:
    captures = run_dir / "captures"
    pcaps = {p.stem: p for p in sorted(captures.glob("*.pcap"))}
    if not pcaps:
        raise UnreadableRun(f"{captures}: no captures (expected one <node>.pcap per lab node)")
    return pcaps


def _plan(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "plan.json").read_text())
    except (OSError, ValueError):
        return {}  # without the plan no port is known to be a bridge's: nothing is dropped


def plan_merge(run_dir: str | Path) -> Merge:
    """The merged file's frames, in time order (a node's own packets in capture order on a tie)."""
    run_dir = Path(run_dir)
    pcaps = _pcaps(run_dir)
    interfaces = read_interfaces(run_dir)
    bridges = port_bridges(_plan(run_dir), interfaces)
    kept: list[list[Frame]] = []
    dropped: dict[tuple[str, int], int] = {}
    for node, path in pcaps.items():
        found = twins(((i, t, buf) for i, (t, buf) in enumerate(records(path))), bridges.get(node, {}))
        dropped.update(((node, twin), port) for twin, port in found.items())
        kept.append([Frame(t, node, i) for i, (t, _) in enumerate(records(path)) if i not in found])
    frames = tuple(heapq.merge(*kept))
    numbers = {(f.node, f.index): n for n, f in enumerate(frames, start=1)}
    for (node, twin), port in dropped.items():
        numbers[(node, twin)] = numbers[(node, port)]
    return Merge(frames, numbers, interfaces)


class _Writer(RawPcapNgWriter):
    """scapy's pcapng writer without its unnamed interface 0: every interface here has a name."""

    def __init__(self, filename: str):
        super().__init__(filename)
        self.interfaces2id = {}

    def _write_header(self, pkt) -> None:
        if not self.header_present:
            self.header_present = True
            self._write_block_shb()

    def interface(self, name: str) -> None:
        """Describe interface `name` (the next interface id) unless it is described already."""
        key = name.encode()
        if key not in self.interfaces2id:
            self._write_header(None)
            self.interfaces2id[key] = len(self.interfaces2id)
            self._write_block_idb(linktype=LINKTYPE_LINUX_SLL2, ifname=key)


def _kept(node: str, path: Path, kept: set[Frame]) -> Iterator[tuple[float, str, int, bytes, int]]:
    """(time, node, index, frame, length on the wire) of a node's packets that the merged file keeps."""
    for index, (time, buf, wire) in enumerate(records(path, lengths=True)):
        if Frame(time, node, index) in kept:
            yield time, node, index, buf, wire


def write_merged(run_dir: str | Path) -> tuple[Path, Merge]:
    """Write captures/run.pcapng from the per-node captures; returns it with its Merge."""
    run_dir = Path(run_dir)
    merge = plan_merge(run_dir)
    kept = set(merge.frames)
    pcaps = _pcaps(run_dir)
    target = run_dir / "captures" / MERGED
    partial = target.with_suffix(".pcapng.part")
    writer = _Writer(str(partial))
    try:
        for node in sorted(merge.interfaces):
            for ifindex in sorted(merge.interfaces[node]):
                writer.interface(merge.interface(node, ifindex))
        streams = [_kept(node, path, kept) for node, path in pcaps.items()]
        writer._write_header(None)
        for time, node, _, buf, wire in heapq.merge(*streams, key=lambda r: r[:3]):
            (ifindex,) = IFINDEX.unpack_from(buf, 0) if len(buf) >= SLL2_LEN else (0,)
            name = merge.interface(node, ifindex)
            writer.interface(name)
            writer._write_packet(
                buf,
                LINKTYPE_LINUX_SLL2,
                sec=Fraction(round(time * 1_000_000), 1_000_000),  # type: ignore[arg-type]  # exact microseconds
                wirelen=wire,
                ifname=name.encode(),
                direction=EPB_OUTBOUND if len(buf) > PKTTYPE_AT and buf[PKTTYPE_AT] == OUTGOING else EPB_INBOUND,
                comments=[f"node {node}".encode()],
            )
    finally:
        writer.close()
    partial.replace(target)
    return target, merge


def merged(run_dir: str | Path) -> tuple[Path, Merge]:
    """captures/run.pcapng and its Merge, writing it first when it is missing or older than a node's
    capture (a run kept before the merge existed, or a capture copied in later)."""
    run_dir = Path(run_dir)
    target = run_dir / "captures" / MERGED
    newest = max(p.stat().st_mtime for p in _pcaps(run_dir).values())
    if target.exists() and target.stat().st_mtime >= newest:
        return target, plan_merge(run_dir)
    try:
        return write_merged(run_dir)
    except OSError as exc:
        raise UnreadableRun(f"{target}: cannot write the merged capture ({exc.strerror}); copy the run where it can be") from None
