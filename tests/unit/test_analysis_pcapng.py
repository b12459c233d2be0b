"""captures/run.pcapng: the per-node captures merged for Wireshark, one named interface per node
interface, the bridge device's copy of a bridged packet left out (lab.analysis.pcapng)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from scapy.layers.inet import IP, TCP
from synthetic_captures import OUTGOING, SyntheticRun, sll2

from lab.analysis.pcapng import TWIN_WINDOW, merged, twins, write_merged
from lab.analysis.run import load_run

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is provisioned by scripts/provision.sh")
SYN = IP(src="10.0.1.4", dst="52.219.60.10", id=11) / TCP(sport=40000, dport=443, flags="S", seq=1)
SYN_ACK = IP(src="52.219.60.10", dst="10.0.1.4", id=12) / TCP(sport=443, dport=40000, flags="SA", seq=9, ack=2)
OUT_AND_BACK = [
    ("web1", "eth0", "out"),
    ("app-router", "br0p0", "in"),
    ("app-router", "br0", "in"),
    ("app-router", "igw", "out"),
]
BACK = [
    ("app-router", "igw", "in"),
    ("app-router", "br0", "out"),
    ("app-router", "br0p0", "out"),
    ("web1", "eth0", "in"),
]


def tshark(path, *fields: str) -> list[list[str]]:
    argv = ["tshark", "-r", str(path), "-T", "fields", *(a for f in fields for a in ("-e", f))]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


@pytest.fixture
def handshake(tmp_path):
    lab = SyntheticRun(tmp_path)
    lab.travel(SYN, OUT_AND_BACK)
    lab.travel(SYN_ACK, BACK)
    return lab.write()


def test_each_node_interface_is_named_and_bridge_copies_are_left_out(handshake):
    path, merge = write_merged(handshake)
    assert [(f.node, f.index) for f in merge.frames] == [
        ("web1", 0),
        ("app-router", 0),  # br0p0 in; br0 in (index 1) is its twin
        ("app-router", 2),
        ("app-router", 3),
        ("app-router", 5),  # br0p0 out; br0 out (index 4) is its twin
        ("web1", 1),
    ]
    assert merge.numbers[("app-router", 1)] == 2 and merge.numbers[("app-router", 4)] == 5
    assert merge.per_node() == {"app-router": 4, "web1": 2}
    if shutil.which("tshark"):
        assert tshark(path, "frame.number", "frame.interface_name", "frame.comment", "frame.packet_flags_direction") == [
            ["1", "web1:eth0", "node web1", "0x00000002"],
            ["2", "app-router:br0p0", "node app-router", "0x00000001"],
            ["3", "app-router:igw", "node app-router", "0x00000002"],
            ["4", "app-router:igw", "node app-router", "0x00000001"],
            ["5", "app-router:br0p0", "node app-router", "0x00000002"],
            ["6", "web1:eth0", "node web1", "0x00000001"],
        ]


def test_the_analysis_still_sees_both_copies(handshake):
    write_merged(handshake)
    router = [(s.iface, s.direction) for s in load_run(handshake).by_node["app-router"]]
    assert router == [("br0p0", "in"), ("br0", "in"), ("igw", "out"), ("igw", "in"), ("br0", "out"), ("br0p0", "out")]


def retransmissions(path, tmp_path) -> list[str]:
    """The interfaces of the frames Wireshark flags as retransmissions, each interface's frames read
    alone. Read whole, it flags every hop's copy of a segment: Wireshark 4.0 keys a TCP conversation
    by addresses and ports only (4.2's "Deinterlacing conversations key" can add the interface)."""
    flagged = []
    for name in sorted({row[0] for row in tshark(path, "frame.interface_name")}):
        part = tmp_path / "part.pcapng"
        filtered = ["tshark", "-r", str(path), "-Y", f'frame.interface_name == "{name}"', "-w", str(part)]
        subprocess.run(filtered, capture_output=True, check=True)
        flagged += [name for row in tshark(part, "tcp.analysis.retransmission") if row[0]]
    return flagged


@needs_tshark
def test_timestamps_are_kept_to_the_microsecond_and_no_interface_shows_a_retransmission(handshake, tmp_path):
    path, merge = write_merged(handshake)
    times = [row[0] for row in tshark(path, "frame.time_epoch")]
    assert times == [f"{f.time:.6f}000" for f in merge.frames]
    assert retransmissions(path, tmp_path) == []


@needs_tshark
def test_a_real_retransmission_stays_and_wireshark_flags_it(tmp_path):
    lab = SyntheticRun(tmp_path)
    lab.travel(SYN, OUT_AND_BACK)
    lab.travel(SYN, OUT_AND_BACK, start=lab.clock + 1.0)  # the SYN again after its RTO
    path, merge = write_merged(lab.write())
    assert merge.per_node() == {"app-router": 4, "web1": 2}
    assert retransmissions(path, tmp_path) == ["app-router:br0p0", "app-router:igw", "web1:eth0"]


def test_twins_pair_first_come_within_the_window_and_the_same_direction():
    port_bridge = {3: 9}
    ip = bytes(SYN)
    frames = [
        (0, 0.0, sll2(3, 0) + ip),  # port in
        (1, 0.00001, sll2(9, 0) + ip),  # its bridge copy
        (2, 1.0, sll2(9, OUTGOING) + ip),  # bridge out: the other direction, alone
        (3, 1.0 + TWIN_WINDOW * 2, sll2(3, OUTGOING) + ip),  # port out, too late to be its twin
        (4, 2.0, sll2(3, 0) + ip),  # port in, then a port of no bridge, then the bridge copy
        (5, 2.00001, sll2(5, 0) + ip),
        (6, 2.00002, sll2(9, 0) + ip),
        (7, 3.0, sll2(9, 0) + bytes(SYN_ACK)),  # other bytes: no twin
    ]
    assert twins(frames, port_bridge) == {1: 0, 6: 4}


def test_the_merge_is_written_on_demand_and_again_when_a_capture_is_newer(handshake):
    path, _ = merged(handshake)
    first = path.stat().st_mtime_ns
    assert merged(handshake)[0].stat().st_mtime_ns == first  # up to date: read, not rewritten
    pcap = handshake / "captures" / "web1.pcap"
    os.utime(pcap, ns=(first + 10**9, first + 10**9))
    os.utime(path, ns=(first, first))
    assert merged(handshake)[0].stat().st_mtime_ns > first
