"""`vpclab inspect RUN_DIR`: every connection of a run with its observed path, and any one frame in
full, so a flow can be followed hop by hop across NAT and endpoints (DESIGN.md section 1, user 3).

Frames are numbered as Wireshark numbers them in captures/run.pcapng (from 1; lab.analysis.pcapng
merges the per-node captures into it), so a number printed here is the one to type in Wireshark's
"Go to packet". Listing uses the fast reader; only `packet_detail` dissects one frame: with
`tshark -V` where tshark is installed (TLS decrypted with the run's key log), else with scapy's
`show()`, both under a line naming the frame's node, interface, direction and time.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lab.analysis.paths import Flow, ObservedPath, flows, path_of
from lab.analysis.pcapng import Merge, merged
from lab.analysis.pcapread import KEYLOG, OUTGOING, SLL2_LEN, records
from lab.analysis.run import load_run
from lab.errors import BadArgument
from lab.results import Hop

TSHARK_TIMEOUT = 60.0  # s: tshark reads the whole file (TLS needs every handshake before the frame)


@dataclass(frozen=True)
class Inspection:
    """A run's frames per node (in captures/run.pcapng), and its connections with their paths."""

    run: str
    packets: dict[str, int]  # node -> IPv4 packets captured (per-node pcaps, bridge copies included)
    flows: tuple[tuple[Flow, ObservedPath], ...]
    capture: str = ""  # captures/run.pcapng
    frames: dict[str, int] | None = None  # node -> its frames in run.pcapng
    numbers: dict[tuple[str, int], int] | None = None  # (node, pcap index) -> frame number in run.pcapng

    def hop_frames(self, hop: Hop) -> list[int]:
        """A hop's packets as frame numbers of run.pcapng (a bridge copy is its port copy's frame)."""
        numbers = self.numbers or {}
        return sorted({numbers[(hop.node, i)] for i in hop.frames if (hop.node, i) in numbers})

    def flow_frames(self, path: ObservedPath) -> list[int]:
        return sorted({n for hop in path.path for n in self.hop_frames(hop)})

    def to_dict(self) -> dict:
        """`vpclab inspect --json`: each flow's Flow.to_dict() with its "path" and its "frames"."""
        return {
            "run": self.run,
            "capture": self.capture,
            "packets": self.packets,
            "frames": self.frames or {},
            "flows": [{**flow.to_dict(), "path": path.to_dict(), "frames": self.flow_frames(path)} for flow, path in self.flows],
        }


def inspect_run(run_dir: str | Path, flow_filter: str | None = None) -> Inspection:
    """Every connection of the run, or those that `flow_filter` keeps.

    `flow_filter` keeps the flows whose source node, address or port, destination address or port,
    or any node on their path, equals it (`app1`, `52.219.60.10`, `443`, `app-nat-a`). Each hop's
    `frames` are positions in captures/<node>.pcap (0-based); `hop_frames` turns them into
    Wireshark's frame numbers in captures/run.pcapng.
    """
    run = load_run(run_dir)
    capture, merge = merged(run_dir)
    packets: dict[str, int] = {}
    for s in run.sightings:
        packets[s.node] = packets.get(s.node, 0) + 1
    paths = [(flow, path_of(run, flow)) for flow in flows(run)]
    chosen = [
        (f, p)
        for f, p in paths
        if flow_filter is None or flow_filter in (f.node, f.src, f.dst, str(f.sport), str(f.dport), *(h.node for h in p.path))
    ]
    return Inspection(str(run_dir), dict(sorted(packets.items())), tuple(chosen), str(capture), merge.per_node(), merge.numbers)


def packet_detail(run_dir: str | Path, frame: int, tshark: bool = True) -> str:
    """Frame `frame` of captures/run.pcapng (Wireshark's number, from 1): a line saying where and
    when it was captured, then its layers (tshark's `-V` when `tshark` and tshark is installed)."""
    capture, merge = merged(run_dir)
    if not 1 <= frame <= len(merge.frames):
        raise BadArgument(f"{capture} has {len(merge.frames)} frames, numbered from 1 as in Wireshark; there is no frame {frame}")
    where = merge.frames[frame - 1]
    buf = next(b for i, (_, b) in enumerate(records(Path(run_dir) / "captures" / f"{where.node}.pcap")) if i == where.index)
    heading = _heading(frame, merge, where.node, where.index, where.time, buf)
    tool = shutil.which("tshark") if tshark else None
    return heading + "\n" + (_tshark(tool, capture, frame) if tool else _show(buf))


def _heading(frame: int, merge: Merge, node: str, index: int, time: float, buf: bytes) -> str:
    ifindex = int.from_bytes(buf[4:8], "big") if len(buf) >= SLL2_LEN else 0
    direction = "sent" if len(buf) >= SLL2_LEN and buf[10] == OUTGOING else "received"
    return (
        f"frame {frame}: node {node}, interface {merge.interface(node, ifindex)}, "
        f"{direction} at {clock(time)} UTC ({len(buf)} bytes captured; captures/{node}.pcap packet {index + 1})"
    )


def clock(time: float) -> str:
    """A capture time as Wireshark shows it in UTC, to the microsecond: 2026-12-06 18:00:00.123456."""
    return datetime.fromtimestamp(time, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _tshark(tool: str, capture: Path, frame: int) -> str:
    """tshark's full dissection of one frame, TLS decrypted with captures/tls-keys.log when there is one."""
    argv = [tool, "-r", str(capture), "-V", "-Y", f"frame.number == {frame}"]
    keylog = capture.parent / KEYLOG
    if keylog.exists():
        argv[1:1] = ["-o", f"tls.keylog_file:{keylog}"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TSHARK_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return f"(tshark took over {TSHARK_TIMEOUT:.0f} s; open {capture} in Wireshark)"
    if done.returncode != 0:
        return f"(tshark failed: {done.stderr.strip()})"
    return done.stdout.rstrip()


def _show(buf: bytes) -> str:
    # Imported here: scapy takes about a second to import, and listing flows never needs it.
    # Importing inet and dns binds IPv4, TCP, UDP, ICMP and DNS beneath the SLL2 header.
    import scapy.layers.dns  # noqa: F401
    import scapy.layers.inet  # noqa: F401
    from scapy.layers.l2 import CookedLinuxV2

    return str(CookedLinuxV2(buf).show(dump=True))  # with dump=True, show returns the text
