"""How fast vpclab reads captures, against tshark on the same file (DESIGN.md section 7: a report
must never wait on analysis; measurements.md section 6 has dpkt + struct at 425 k packets/s and
`tshark -T fields` at 37 k/s on this kind of machine).

    /opt/vpclab/venv/bin/python benchmarks/bench_analysis.py [--packets 200000]

Writes a LINUX_SLL2 pcap shaped like the measured one (89 % TCP, 10 % UDP, 0.5 % ICMP, the rest
ARP), times the reader (every sighting built, fingerprints included), then grouping into flows,
then tshark extracting the same fields, and prints the ratio. Timings vary about 20 % between runs.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab.analysis.paths import flows  # noqa: E402
from lab.analysis.pcapread import read_pcap  # noqa: E402
from lab.analysis.run import Run  # noqa: E402

SLL2_OUT = struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 4, 6, b"\x02" * 6)  # sent by the node
SLL2_ARP = struct.pack("!HHIHBB8s", 0x0806, 0, 2, 1, 1, 6, b"\x02" * 6)
SRC, DST = bytes([10, 0, 2, 4]), bytes([52, 219, 60, 10])
TSHARK_FIELDS = [
    "frame.time_epoch",
    "sll.ifindex",
    "sll.pkttype",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ip.id",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.flags",
    "udp.srcport",
    "udp.dstport",
    "tcp.len",
]


def ipv4(proto: int, ip_id: int, l4: bytes) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ip_id, 0x4000, 64, proto, 0, SRC, DST) + l4


def frame(n: int) -> bytes:
    """Packet n of the mix: mostly TCP data segments over 1000 connections."""
    share = n % 200
    if share < 178:
        tcp = struct.pack("!HHIIBBHHH", 40000 + n % 1000, 443, n * 1448, 7, 0x50, 0x18, 502, 0, 0)
        return SLL2_OUT + ipv4(6, n & 0xFFFF, tcp + bytes(64))
    if share < 198:
        return SLL2_OUT + ipv4(17, n & 0xFFFF, struct.pack("!HHHH", 50000 + n % 500, 53, 40, 0) + bytes(32))
    if share == 198:
        return SLL2_OUT + ipv4(1, n & 0xFFFF, struct.pack("!BBHHH", 8, 0, 0, 7, n & 0xFFFF) + bytes(56))
    return SLL2_ARP + bytes(28)


def write_pcap(path: Path, count: int) -> None:
    with open(path, "wb") as file:
        file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 256, 276))
        for n in range(count):
            data = frame(n)
            file.write(struct.pack("<IIII", 1_700_000_000 + n // 100_000, n % 100_000 * 10, len(data), len(data)))
            file.write(data)


def timed(action):
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vpclab-bench-") as tmp:
        pcap = Path(tmp) / "n.pcap"
        write_pcap(pcap, args.packets)
        print(f"pcap: {args.packets} packets, {pcap.stat().st_size / 1e6:.1f} MB, LINUX_SLL2")
        sightings, read_s = timed(lambda: list(read_pcap(pcap, "n", {2: "eth0"})))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"vpclab reader: {len(sightings)} IPv4 sightings in {read_s:.2f} s = "
            f"{args.packets / read_s / 1e3:.0f} k packets/s (max RSS {rss:.0f} MB)"
        )
        plan = {
            "nodes": {
                "n": {
                    "name": "n",
                    "kind": "instance",
                    "aws_id": None,
                    "forwarding": False,
                    "interfaces": [{"name": "eth0", "addresses": ["10.0.2.4/24"]}],
                    "bridges": [],
                }
            },
            "links": [],
        }
        found, flows_s = timed(lambda: flows(Run(plan, sightings)))
        print(
            f"vpclab flows: {len(found)} connections from {len(sightings)} sightings in {flows_s:.2f} s = "
            f"{len(sightings) / flows_s / 1e3:.0f} k sightings/s"
        )
        tshark = shutil.which("tshark")
        if tshark is None:
            print("tshark: missing (apt-get install tshark to compare; measurements.md section 6 has 37 k packets/s)")
            return 0
        command = [tshark, "-r", str(pcap), "-n", "-T", "fields", "-Y", "ip"]
        command += [arg for field in TSHARK_FIELDS for arg in ("-e", field)]
        _, tshark_s = timed(lambda: subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True))
        print(
            f"tshark -T fields ({len(TSHARK_FIELDS)} fields, -Y ip): {tshark_s:.2f} s = "
            f"{args.packets / tshark_s / 1e3:.0f} k packets/s"
        )
        print(f"ratio: the vpclab reader is {tshark_s / read_s:.1f}x as fast as tshark")
    return 0


if __name__ == "__main__":
    sys.exit(main())
