"""One tcpdump per node, on every interface of that node (`-i any`), from before any traffic.

LINUX_SLL2 frames carry the interface index and whether the node received or sent the packet, so
one capture per node shows each hop's ingress and egress (lab.analysis reads them). tcpdump, not
scapy: it lost nothing at the rates measured here, scapy lost most packets above ~6 kpps
(measurements.md section 5). --immediate-mode and -U avoid losing the last packets at stop (Trap 9).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from lab.errors import CaptureError
from lab.pipes import readable

SNAPLEN = 512  # headers plus the first bytes of payload: enough for fingerprints and HTTP lines


class Capture:
    def __init__(self, node, directory: Path):
        self.node, self.path = node, directory / f"{node.name}.pcap"
        self.proc: subprocess.Popen | None = None
        self.interrupted = False

    def start(self) -> None:
        self.proc = self.node.popen(
            ["tcpdump", "-i", "any", "-y", "LINUX_SLL2", "-n", "-U", "--immediate-mode",
             "-s", str(SNAPLEN), "-w", str(self.path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_ready(self, timeout: float = 10.0) -> None:
        """tcpdump says 'listening on' once its socket is bound: only then can traffic start.
        Read the raw pipe: a buffered reader could hold that line while poll() sees nothing."""
        fd, seen = self.proc.stderr.fileno(), b""
        deadline = time.monotonic() + timeout
        while b"listening on" not in seen:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise CaptureError(f"tcpdump in {self.node.name} did not start: "
                                   f"{seen.decode(errors='replace').strip() or 'no output'}")
            if readable(fd, 0.1):
                seen += os.read(fd, 4096)

    def interrupt(self) -> None:
        """SIGINT, once: tcpdump writes what it has and prints its statistics."""
        if self.proc is not None and not self.interrupted and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.interrupted = True

    def stop(self) -> dict:
        """Interrupt (unless done already), then tcpdump's own statistics: packets kept and lost."""
        if self.proc is None or (not self.interrupted and self.proc.poll() is not None):
            return {}
        self.interrupt()
        try:
            _, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        stats = {}
        for line in err.decode(errors="replace").splitlines():
            words = line.split()
            if len(words) >= 3 and words[1] == "packets" and words[0].isdigit():
                stats[" ".join(words[2:])] = int(words[0])
        return stats


def write_interfaces(directory: Path, indexes: dict[str, dict[int, str]]) -> None:
    """ifindex -> name per node: the SLL2 header only has the index."""
    (directory / "interfaces.json").write_text(json.dumps(
        {node: {str(i): name for i, name in names.items()} for node, names in indexes.items()}, indent=1))
