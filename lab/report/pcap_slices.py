"""A traced step's packets as small pcap files next to the HTML report: `r.html` gets
`r-pcap/<NN>-<scenario file>/step-<NN>-<node>.pcap`, one per node the step's packets crossed,
that the report links to. Each holds the node's packets of the step's connection: every packet at
that node with the 5-tuple (either way) of the frames its hops name, so the handshake, the
request, the reply and any retransmission are there, and nothing of the other steps.

Only a kept run (`--keep DIR`) has captures to cut them from: without it, the lab removed its run
directory with itself, and the report says so instead. The files are what tcpdump wrote
(LINKTYPE_LINUX_SLL2, the node's interface index in every packet; the report names the interfaces).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import dpkt

from lab.analysis.pcapread import LINKTYPE_LINUX_SLL2, Sighting, read_pcap, records
from lab.errors import UnreadableRun
from lab.results import Hop

if TYPE_CHECKING:
    from lab.scenario.observe import Trace

SNAPLEN = 262144  # tcpdump's default maximum: a slice never cuts a packet its capture kept


@dataclass(frozen=True)
class Slice:
    node: str
    href: str  # relative to the report, URL-quoted
    packets: int


class SliceWriter:
    """Writes the slices of each traced step, for the scenarios whose run was kept (`run_dirs`:
    scenario number -> its run directory, or None; `names`: scenario number -> its file's stem)."""

    def __init__(self, report: Path, run_dirs: Mapping[int, str | None], names: Mapping[int, str]):
        self.base = report.parent
        self.folder = f"{report.stem}-pcap"
        self.run_dirs, self.names = run_dirs, names

    def __call__(self, scenario: int, step: int, trace: Trace) -> tuple[list[Slice], str]:
        run_dir = self.run_dirs.get(scenario)
        if not run_dir:
            return [], "not kept: the captures went with the lab (run with --keep DIR to have them here)"
        if trace.observed is None:
            return [], "no packet was sent (the name did not resolve), so there is nothing to slice"
        where = Path(self.folder, f"{scenario:02d}-{slug(self.names.get(scenario, 'run'))}")
        slices: list[Slice] = []
        for node, frames in frames_by_node(trace.observed.path + trace.observed.reply_path).items():
            target = where / f"step-{step:02d}-{slug(node)}.pcap"
            try:
                count = cut(Path(run_dir) / "captures" / f"{node}.pcap", node, frames, self.base / target)
            except (OSError, UnreadableRun) as exc:
                return slices, f"the captures of {run_dir} could not be cut: {exc}"
            slices.append(Slice(node, quote(target.as_posix()), count))
        return slices, ""


def frames_by_node(hops: Iterable[Hop]) -> dict[str, set[int]]:
    """node -> the capture frames its hops name, in the order the path first meets each node."""
    found: dict[str, set[int]] = {}
    for hop in hops:
        found.setdefault(hop.node, set()).update(hop.frames)
    return {node: frames for node, frames in found.items() if frames}


def connection(s: Sighting) -> tuple:
    return (s.proto, s.src, s.sport, s.dst, s.dport)


def reverse(s: Sighting) -> tuple:
    return (s.proto, s.dst, s.dport, s.src, s.sport)


def cut(capture: Path, node: str, frames: set[int], into: Path) -> int:
    """Write to `into` the packets of `capture` that share a connection with `frames`; how many."""
    sightings = list(read_pcap(capture, node))
    tuples = {connection(s) for s in sightings if s.index in frames}
    wanted = {s.index for s in sightings if connection(s) in tuples or reverse(s) in tuples}
    into.parent.mkdir(parents=True, exist_ok=True)
    with open(into, "wb") as file:
        writer = dpkt.pcap.Writer(file, snaplen=SNAPLEN, linktype=LINKTYPE_LINUX_SLL2, nano=True)
        for index, (ts, buf) in enumerate(records(capture)):
            if index in wanted:
                writer.writepkt(buf, ts)
    return len(wanted)


def slug(text: str) -> str:
    """A file-name-safe, readable form of `text` (a scenario file's stem, a node name)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "_"
