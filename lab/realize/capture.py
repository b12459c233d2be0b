"""One tcpdump per node, on every interface of that node (`-i any`), from before any traffic.

LINUX_SLL2 frames carry the interface index and whether the node received or sent the packet, so
one capture per node shows each hop's ingress and egress (lab.analysis reads them). tcpdump, not
scapy: it lost nothing at the rates measured here, scapy lost most packets above ~6 kpps
(measurements.md section 5). --immediate-mode and -U avoid losing the last packets at stop (Trap 9).

Each tcpdump is started by its node's shell, all at once, its stderr ('listening on', and its
statistics at the end) in `captures/<node>.log`: started from vpclab, each cost a fork of vpclab
and a pipe held open for the lab's life (in a 703-node lab, over a second and 703 descriptors).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import time
from pathlib import Path

from lab.analysis.pcapread import KEYLOG
from lab.errors import CaptureError
from lab.realize.state import Owned, owned

log = logging.getLogger(__name__)

# Headers and the payload's first ~950 bytes: the whole TLS ClientHello of the lab's clients (a
# 589-byte frame; 512 cut it and its SNI), so Wireshark reads the SNI and, with captures/tls-keys.log,
# decrypts the session. Not more: at iperf3 rates 2048 lost 4 % of the packets and 4096 22 %, 1024
# 53 in 3.5 million (docs/benchmarks.md, 2026-12-06; docs/architecture.md has the sizes).
SNAPLEN = 1024
MERGE_AT_TEARDOWN = 256 << 20  # bytes of per-node captures merged into run.pcapng when the lab stops


class Capture:
    def __init__(self, node, directory: Path):
        self.node, self.path = node, directory / f"{node.name}.pcap"
        self.log = directory / f"{node.name}.log"
        self.proc: Owned | None = None
        self.interrupted = False

    def command(self) -> str:
        """For the node's shell: tcpdump in the background, then its pid (for `started`). It ignores
        SIGHUP (tcpdump keeps an ignored SIGHUP ignored), so that it outlives a shell that exits
        because a killed vpclab hung up its pty: the lab's captures then still prove its namespaces
        to `vpclab clean`, as when vpclab started them itself."""
        argv = [
            "tcpdump",
            "-i",
            "any",
            "-y",
            "LINUX_SLL2",
            "-n",
            "-U",
            "--immediate-mode",
            "-s",
            str(SNAPLEN),
            "-w",
            str(self.path),
        ]
        return f"(trap '' HUP; exec {shlex.join(argv)}) </dev/null >/dev/null 2>{shlex.quote(str(self.log))} & echo pid=$!"

    def started(self, shell_output: str) -> Owned:
        """What the shell said after `command`: the capture's process, as the lab records it."""
        words = [w for w in shell_output.split() if w.startswith("pid=")]
        if not words:
            raise CaptureError(f"tcpdump in {self.node.name} did not start: {shell_output.strip() or 'no output'}")
        self.proc = owned(int(words[-1][4:]), f"tcpdump in {self.node.name}")
        return self.proc

    def ready(self) -> bool:
        """tcpdump says 'listening on' once its socket is bound: only then can traffic start."""
        said = self.said()
        if "listening on" in said:
            return True
        if self.proc is None or not self.proc.alive():
            raise CaptureError(f"tcpdump in {self.node.name} did not start: {said.strip() or 'no output'}")
        return False

    def said(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def interrupt(self) -> None:
        """SIGINT, once: tcpdump writes what it has and prints its statistics."""
        if self.proc is not None and not self.interrupted and self.proc.alive():
            os.kill(self.proc.pid, signal.SIGINT)
            self.interrupted = True

    def stop(self, timeout: float = 5.0) -> dict:
        """Interrupt (unless done already), wait until it is gone (SIGKILL after `timeout`), then
        tcpdump's own statistics: packets kept and lost."""
        if self.proc is None or (not self.interrupted and not self.proc.alive()):
            return {}
        self.interrupt()
        deadline = time.monotonic() + timeout
        while self.proc.alive():
            if time.monotonic() > deadline:
                os.kill(self.proc.pid, signal.SIGKILL)
                deadline = float("inf")
            time.sleep(0.01)
        stats = {}
        for line in self.said().splitlines():
            words = line.split()
            if len(words) >= 3 and words[1] == "packets" and words[0].isdigit():
                stats[" ".join(words[2:])] = int(words[0])
        return stats


def wait_ready(captures: list[Capture], timeout: float = 10.0) -> None:
    """Until every capture listens; one that died, or is not listening after `timeout`, fails."""
    deadline = time.monotonic() + timeout
    waiting = list(captures)
    while waiting := [c for c in waiting if not c.ready()]:
        if time.monotonic() > deadline:
            raise CaptureError(
                f"tcpdump in {waiting[0].node.name} did not start in {timeout:.0f} s: {waiting[0].said().strip() or 'no output'}"
            )
        time.sleep(0.01)


def keylog_path(directory: Path) -> Path:
    """The SSLKEYLOGFILE every process of the lab gets (curl, botocore, Python's ssl, the fronts)."""
    return directory / KEYLOG


def merge(directory: Path) -> None:
    """captures/run.pcapng from the per-node pcaps (lab.analysis.pcapng), once the captures stopped.
    A failure is logged, never raised: the per-node captures are the evidence and stay either way.
    Captures over MERGE_AT_TEARDOWN bytes (a throughput run) are left for `vpclab inspect` to merge
    on demand: the merge writes ~90 k frames/s, so teardown would wait tens of seconds."""
    from lab.analysis.pcapng import write_merged  # imported at teardown only: it loads scapy's writer

    size = sum(p.stat().st_size for p in directory.glob("*.pcap"))
    if size > MERGE_AT_TEARDOWN:
        log.warning("%s: %d MB of captures; `vpclab inspect` writes run.pcapng on demand", directory, size >> 20)
        return
    try:
        write_merged(directory.parent)
    except Exception:  # noqa: BLE001 - `vpclab inspect` writes it again on demand
        log.exception("%s: could not merge the captures into one pcapng", directory)


def write_interfaces(directory: Path, indexes: dict[str, dict[int, str]]) -> None:
    """ifindex -> name per node: the SLL2 header only has the index."""
    (directory / "interfaces.json").write_text(
        json.dumps({node: {str(i): name for i, name in names.items()} for node, names in indexes.items()}, indent=1)
    )
