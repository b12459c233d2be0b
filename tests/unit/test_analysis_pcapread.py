"""The fast pcap reader: SLL2 header fields, IPv4 and L4 fields, and a fingerprint that survives
exactly what forwarding and kernel NAT change (addresses, ports, TTL, checksums) and nothing else."""

from __future__ import annotations

import logging
import struct

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.utils import PcapWriter
from synthetic_captures import LINUX_SLL2, OTHERHOST, OUTGOING, sll2

from lab.analysis.pcapread import Sighting, read_captures, read_pcap
from lab.errors import UnreadableRun

T0 = 1_700_000_000.25
TCP_SYN = IP(src="10.0.2.4", dst="52.219.60.10", id=4321, ttl=64) / TCP(
    sport=41234, dport=443, flags="S", seq=1000, options=[("MSS", 1460)]
)


def write(path, frames: list[bytes], linktype: int = LINUX_SLL2) -> str:
    writer = PcapWriter(str(path), linktype=linktype, sync=True)
    writer.write_header(None)
    for n, frame in enumerate(frames):
        writer.write_packet(frame, sec=int(T0), usec=250_000 + n)
    writer.close()
    return str(path)


def one(tmp_path, frame: bytes, interfaces=None) -> Sighting:
    (sighting,) = read_pcap(write(tmp_path / "n.pcap", [frame]), "n", interfaces)
    return sighting


def nat(packet, **changes):
    """What kernel NAT and forwarding leave: new addresses or ports, lower TTL, new checksums."""
    copy = IP(bytes(packet))
    for field, value in changes.items():
        setattr(copy if field in ("src", "dst", "ttl", "id") else copy.payload, field, value)
    copy.chksum = None
    copy.payload.chksum = None
    return IP(bytes(copy))


def test_tcp_fields_and_direction(tmp_path):
    s = one(tmp_path, sll2(3, OUTGOING) + bytes(TCP_SYN / b"hello"), {3: "br0p1"})
    assert s == Sighting(  # ip_length 49: IP 20 + TCP 24 (with MSS) + 5
        T0, "n", 0, "br0p1", "out", OUTGOING, "10.0.2.4", "52.219.60.10", 6, 41234, 443, 4321, 1000, 0, 0x02, 5, s.fingerprint, 49
    )
    assert one(tmp_path, sll2(3, OTHERHOST) + bytes(TCP_SYN)).direction == "in"


def test_an_unknown_interface_index_is_shown_as_such(tmp_path):
    assert one(tmp_path, sll2(9, 0) + bytes(TCP_SYN), {3: "eth0"}).iface == "if9"


def test_fingerprint_survives_nat_and_forwarding(tmp_path):
    before = one(tmp_path, sll2(2, 0) + bytes(TCP_SYN / b"GET / HTTP/1.1\r\n"))
    translated = nat(TCP_SYN / b"GET / HTTP/1.1\r\n", src="10.0.1.254", sport=1024, ttl=60)
    after = one(tmp_path, sll2(2, 0) + bytes(translated))
    assert (after.src, after.sport) == ("10.0.1.254", 1024)
    assert after.fingerprint == before.fingerprint


def test_fingerprint_tells_different_packets_apart(tmp_path):
    base = one(tmp_path, sll2(2, 0) + bytes(TCP_SYN / b"aaaa")).fingerprint
    assert one(tmp_path, sll2(2, 0) + bytes(nat(TCP_SYN / b"aaaa", id=4322))).fingerprint != base
    assert one(tmp_path, sll2(2, 0) + bytes(nat(TCP_SYN / b"aaaa", seq=1001))).fingerprint != base
    assert one(tmp_path, sll2(2, 0) + bytes(TCP_SYN / b"aaab")).fingerprint != base


def test_fingerprint_ignores_the_flags_gso_moves(tmp_path):
    """GSO keeps PSH and FIN for the last segment it cuts: the first one must still match."""
    data = IP(src="10.0.2.4", dst="52.219.60.10", id=9) / TCP(sport=1, dport=2, flags="PA", seq=5, ack=6) / (b"x" * 100)
    cut = nat(data, flags="A")
    assert one(tmp_path, sll2(2, 0) + bytes(cut)).fingerprint == one(tmp_path, sll2(2, 0) + bytes(data)).fingerprint


def test_udp_and_icmp(tmp_path):
    dns = one(
        tmp_path,
        sll2(2, OUTGOING) + bytes(IP(src="10.0.2.4", dst="10.0.0.2", id=0) / UDP(sport=5353, dport=53) / b"\x12\x34query"),
    )
    assert (dns.proto, dns.sport, dns.dport, dns.length, dns.tcp_flags) == (17, 5353, 53, 7, 0)
    echo = IP(src="10.0.2.4", dst="52.219.60.10", id=77) / ICMP(type=8, id=0x3CF6, seq=1) / b"ping"
    seen = one(tmp_path, sll2(2, OUTGOING) + bytes(echo))
    assert (seen.proto, seen.sport, seen.dport, seen.length) == (1, 0x3CF6, 0x3CF6, 4)
    renumbered = one(
        tmp_path,
        sll2(2, 0) + bytes(IP(src="10.0.1.254", dst="52.219.60.10", id=77, ttl=63) / ICMP(type=8, id=0x1111, seq=1) / b"ping"),
    )
    assert renumbered.fingerprint == seen.fingerprint  # NAT may rewrite the echo id like a port


def test_non_ipv4_frames_are_skipped_but_keep_their_place(tmp_path):
    arp = sll2(2, 1, protocol=0x0806) + bytes(28)
    path = write(tmp_path / "n.pcap", [arp, sll2(2, OUTGOING) + bytes(TCP_SYN)])
    assert [s.index for s in read_pcap(path, "n")] == [1]  # Wireshark's frame 2


def test_a_capture_cut_mid_record_keeps_what_is_whole(tmp_path, caplog):
    path = write(tmp_path / "n.pcap", [sll2(2, OUTGOING) + bytes(TCP_SYN)] * 2)
    with open(path, "rb+") as file:
        file.truncate(len(file.read()) - len(bytes(TCP_SYN)) - 26)  # into the second record's header
    with caplog.at_level(logging.WARNING):
        assert len(list(read_pcap(path, "n"))) == 1
    assert "cut short" in caplog.text


def test_a_capture_cut_mid_payload_keeps_what_is_whole(tmp_path, caplog):
    path = write(tmp_path / "n.pcap", [sll2(2, OUTGOING) + bytes(TCP_SYN)] * 2)
    with open(path, "rb+") as file:
        file.truncate(len(file.read()) - 3)
    with caplog.at_level(logging.WARNING):
        assert len(list(read_pcap(path, "n"))) == 1
    assert "cut short" in caplog.text


def test_a_capture_with_no_packet_yet_is_empty(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert list(read_pcap(write(tmp_path / "n.pcap", []), "n")) == []
    assert caplog.text == ""


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nanoseconds", [False, True])
def test_both_byte_orders_and_both_timestamp_resolutions(tmp_path, order, nanoseconds):
    """tcpdump writes the machine's byte order with microseconds; other writers differ."""
    frame = sll2(2, OUTGOING) + bytes(TCP_SYN)
    magic, fraction = (0xA1B23C4D, 250_000_000) if nanoseconds else (0xA1B2C3D4, 250_000)
    header = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, LINUX_SLL2)
    record = struct.pack(order + "IIII", int(T0), fraction, len(frame), len(frame)) + frame
    path = tmp_path / "n.pcap"
    path.write_bytes(header + record + record)
    times = [s.time for s in read_pcap(path, "n")]
    assert times == [T0, T0]


def test_wrong_link_type_says_how_to_capture(tmp_path):
    path = write(tmp_path / "eth.pcap", [bytes(14) + bytes(TCP_SYN)], linktype=1)
    with pytest.raises(UnreadableRun) as caught:
        list(read_pcap(path, "n"))
    assert str(caught.value) == (
        f"{path}: link type 1 is not LINUX_SLL2 (276); capture with "
        "`tcpdump -i any -y LINUX_SLL2` so each packet names its interface"
    )


def test_not_a_pcap(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_bytes(b"not a capture at all")
    with pytest.raises(UnreadableRun, match=r"x\.pcap: not a pcap file"):
        list(read_pcap(path, "n"))


def test_read_captures_merges_nodes_in_time_order(tmp_path):
    captures = tmp_path / "captures"
    captures.mkdir()
    write(captures / "a.pcap", [sll2(2, OUTGOING) + bytes(TCP_SYN)])
    writer = PcapWriter(str(captures / "b.pcap"), linktype=LINUX_SLL2, sync=True)
    writer.write_header(None)
    writer.write_packet(sll2(5, 0) + bytes(TCP_SYN), sec=int(T0) - 1, usec=0)
    writer.close()
    (captures / "interfaces.json").write_text('{"b": {"5": "br1p0"}}')
    assert [(s.node, s.iface) for s in read_captures(tmp_path)] == [("b", "br1p0"), ("a", "if2")]


def test_a_run_without_captures(tmp_path):
    with pytest.raises(UnreadableRun) as caught:
        read_captures(tmp_path)
    assert str(caught.value) == f"{tmp_path / 'captures'}: no captures (expected one <node>.pcap per lab node)"
