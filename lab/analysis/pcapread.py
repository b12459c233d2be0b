"""Captures -> compact packet sightings, fast enough that a report never waits on them.

The realizer runs `tcpdump -i any -y LINUX_SLL2 -n -U -s <256 or more>` inside every node, so each pcap holds
what one node received and sent, each packet stamped with its interface index and its SLL2 packet
type (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html). Only the headers a path needs
are read, by struct slicing: dpkt checks the file header, then records are cut straight out of a
memory map (the one loop written by hand here: dpkt's iterator builds an object per record header
and cost a third of the time). measurements.md section 6 clocks dpkt + struct at 425 k packets/s
for a bare 5-tuple where scapy's `rdpcap` manages 5 k/s and holds the whole file in memory;
building full sightings with fingerprints runs at about 340 k/s (benchmarks/bench_analysis.py).

A `Sighting` is one packet seen once at one node. Its `fingerprint` holds only what forwarding and
kernel NAT leave alone (RFC 3022 NAT rewrites addresses, ports and checksums, nothing else), so the
same packet can be recognised at every node it crosses (DESIGN.md section 4):

    TCP   (6, ip id, seq, ack, SYN|RST|ACK bits, digest)   PSH, FIN and CWR are left out: GSO and GRO
                                                           move them when they re-cut segments
    UDP   (17, ip id, UDP length, 0, 0, digest)
    ICMP  (1, ip id, type, echo seq or code, 0, digest)    the echo id is left out: NAT treats it as
                                                           a port and may rewrite it; errors get no
                                                           digest, NAT rewrites the header they quote
    other (proto, ip id, 0, 0, 0, digest)

The digest is CRC-32 of the first 64 bytes of L4 payload, a prefix that a 256-byte snap length keeps
whole behind any IPv4 and TCP header. Addresses stay strings: `ipaddress` objects would cost more
than the rest of the parse (STYLE.md prefers them; this is the one hot loop where they lose).
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import socket
import struct
import zlib
from collections.abc import Iterator
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

import dpkt

from lab.errors import UnreadableRun

log = logging.getLogger(__name__)

LINKTYPE_LINUX_SLL2 = 276
IPV4_PROTOCOL = struct.pack("!H", 0x0800)  # the SLL2 protocol field of an IPv4 packet
OUTGOING = 4  # SLL2 packet type of a packet the node sent; 0-3 (host, broadcast, multicast, otherhost) arrived
OTHERHOST = 3
DIGEST_BYTES = 64
TCP, UDP, ICMP = 6, 17, 1
TCP_KEPT_FLAGS = 0x16  # SYN | RST | ACK
ICMP_ECHO_TYPES = (0, 8)

SLL2 = struct.Struct("!H2xIHB")  # protocol, (reserved), ifindex, hatype, pkttype
IPV4 = struct.Struct("!BxHHHxB")  # version/IHL, total length, id, flags/fragment offset, (ttl), protocol
TCP_HEADER = struct.Struct("!HHIIBB")  # ports, seq, ack, data offset, flags
UDP_HEADER = struct.Struct("!HHH")  # ports, length
ICMP_HEADER = struct.Struct("!BBxxHH")  # type, code, (checksum), echo id, echo seq
SLL2_LEN = 20
KEYLOG = "tls-keys.log"  # captures/tls-keys.log: the SSLKEYLOGFILE of every TLS client and server of a run
PCAP_HEADER_LEN = 24
MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e6),
    b"\xa1\xb2\xc3\xd4": (">", 1e6),  # microsecond timestamps
    b"\x4d\x3c\xb2\xa1": ("<", 1e9),
    b"\xa1\xb2\x3c\x4d": (">", 1e9),
}  # nanosecond timestamps


class Sighting(NamedTuple):
    """One packet seen once at one node. A tuple, because a run holds millions of them.

    `index` is the packet's position in its node's pcap (0-based); lab.analysis.pcapng's Merge.numbers
    turns it into Wireshark's frame number in captures/run.pcapng.
    For ICMP echo, `sport` and `dport` both hold the echo id, the field NAT treats as the port
    (RFC 5508 section 3.1), so a reply reverses the tuple like TCP and UDP do; other ICMP uses 0.
    `length` is the L4 payload length from the IP header, whatever the snap length kept.
    """

    time: float
    node: str
    index: int  # type: ignore[assignment]  # the packet's place in its capture; shadows tuple.index, unused here
    iface: str
    direction: str  # 'in' or 'out'
    pkttype: int
    src: str
    dst: str
    proto: int
    sport: int
    dport: int
    ip_id: int
    tcp_seq: int
    tcp_ack: int
    tcp_flags: int
    length: int
    fingerprint: tuple
    ip_length: int = 0  # the IP header's total length: what a VPC flow log counts as bytes


def read_pcap(path: str | Path, node: str, interfaces: dict[int, str] | None = None) -> Iterator[Sighting]:
    """Yield the IPv4 sightings of one node's capture, in file order; other frames are skipped."""
    names = interfaces or {}
    addresses: dict[bytes, str] = {}  # one str per address, not one per packet
    for index, (ts, buf) in enumerate(records(path)):
        if len(buf) < SLL2_LEN + 20 or buf[0:2] != IPV4_PROTOCOL:
            continue
        _, ifindex, _, pkttype = SLL2.unpack_from(buf, 0)
        src, dst = buf[32:36], buf[36:40]
        yield _sighting(
            buf,
            float(ts),
            node,
            index,
            names.get(ifindex) or f"if{ifindex}",
            pkttype,
            addresses.get(src) or addresses.setdefault(src, socket.inet_ntoa(src)),
            addresses.get(dst) or addresses.setdefault(dst, socket.inet_ntoa(dst)),
        )


def _sighting(buf: bytes, ts: float, node: str, index: int, iface: str, pkttype: int, src: str, dst: str) -> Sighting:
    """Slice the IPv4 header and the start of the L4 header; a packet cut short keeps zeros."""
    ver_ihl, total, ip_id, frag, proto = IPV4.unpack_from(buf, SLL2_LEN)
    l4 = SLL2_LEN + (ver_ihl & 0x0F) * 4
    end = SLL2_LEN + total
    sport = dport = seq = ack = flags = a = b = hlen = 0
    first = not frag & 0x1FFF  # a later fragment carries no L4 header
    if proto == TCP and first and len(buf) >= l4 + 14:
        sport, dport, seq, ack, offset, flags = TCP_HEADER.unpack_from(buf, l4)
        hlen, a, b = (offset >> 4) * 4, seq, ack
    elif proto == UDP and first and len(buf) >= l4 + 6:
        sport, dport, a = UDP_HEADER.unpack_from(buf, l4)
        hlen = 8
    elif proto == ICMP and first and len(buf) >= l4 + 8:
        kind, code, echo_id, echo_seq = ICMP_HEADER.unpack_from(buf, l4)
        hlen, a = 8, kind
        if kind in ICMP_ECHO_TYPES:
            sport = dport = echo_id
            b = echo_seq
        else:
            b, end = code, l4  # no digest: NAT rewrites the quoted header
    start = l4 + hlen
    digest = zlib.crc32(buf[start : min(end, start + DIGEST_BYTES)]) if end > start else 0
    return Sighting(
        ts,
        node,
        index,
        iface,
        "out" if pkttype == OUTGOING else "in",
        pkttype,
        src,
        dst,
        proto,
        sport,
        dport,
        ip_id,
        seq,
        ack,
        flags,
        max(total - (l4 - SLL2_LEN) - hlen, 0),
        (proto, ip_id, a, b, flags & TCP_KEPT_FLAGS, digest),
        total,
    )


def _reader(file, path) -> dpkt.pcap.Reader:
    try:
        reader = dpkt.pcap.Reader(file)
    except (ValueError, dpkt.UnpackError) as exc:
        raise UnreadableRun(f"{path}: not a pcap file ({exc}); vpclab reads what `tcpdump -w` writes") from None
    if reader.datalink() != LINKTYPE_LINUX_SLL2:
        raise UnreadableRun(
            f"{path}: link type {reader.datalink()} is not LINUX_SLL2 ({LINKTYPE_LINUX_SLL2}); "
            "capture with `tcpdump -i any -y LINUX_SLL2` so each packet names its interface"
        )
    return reader


def records(path: str | Path, lengths: bool = False) -> Iterator[tuple]:
    """(time, frame) of every record of an SLL2 pcap, ending quietly where a capture stopped in the
    middle of writing one; with `lengths`, (time, frame, length on the wire), for writers that must
    say how much the snap length cut. dpkt checks the file header; the records are then sliced
    straight out of a memory map: dpkt's own iterator builds a header object per record and took a
    third of the time."""
    with open(path, "rb") as file:
        _reader(file, path)
        file.seek(0)
        magic = file.read(4)
        if magic not in MAGICS:
            raise UnreadableRun(f"{path}: pcap magic {magic.hex()} is not tcpdump's; vpclab reads what `tcpdump -w` writes")
        order, divisor = MAGICS[magic]
        size = os.fstat(file.fileno()).st_size
        if size <= PCAP_HEADER_LEN:
            return
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            record = struct.Struct(order + "IIII")
            offset = PCAP_HEADER_LEN
            while offset + 16 <= size:
                seconds, fraction, caplen, wirelen = record.unpack_from(data, offset)
                start, offset = offset + 16, offset + 16 + caplen
                if offset > size:
                    break
                if lengths:
                    yield seconds + fraction / divisor, data[start:offset], wirelen
                else:
                    yield seconds + fraction / divisor, data[start:offset]
            if offset != size:
                log.warning("%s: the last packet record is cut short (capture stopped mid-write); ignored", path)


def read_interfaces(run_dir: str | Path) -> dict[str, dict[int, str]]:
    """`captures/interfaces.json`: node -> {ifindex: name}; empty (names `if<N>`) when it is missing."""
    path = Path(run_dir) / "captures" / "interfaces.json"
    if not path.exists():
        log.warning("%s is missing: interfaces are shown by index", path)
        return {}
    data = json.loads(path.read_text())
    return {node: {int(k): v for k, v in ifs.items()} for node, ifs in data.items()}


def read_captures(run_dir: str | Path) -> list[Sighting]:
    """Every sighting of a run, ordered by capture time.

    All nodes share one kernel clock, so times compare across pcaps. The sort is stable over the
    pcaps read one after another, so equal times keep each node's own order.
    """
    captures = Path(run_dir) / "captures"
    pcaps = sorted(captures.glob("*.pcap"))
    if not pcaps:
        raise UnreadableRun(f"{captures}: no captures (expected one <node>.pcap per lab node)")
    interfaces = read_interfaces(run_dir)
    sightings: list[Sighting] = []
    for pcap in pcaps:
        sightings.extend(read_pcap(pcap, pcap.stem, interfaces.get(pcap.stem)))
    sightings.sort(key=attrgetter("time"))
    return sightings
