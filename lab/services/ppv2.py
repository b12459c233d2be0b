"""PROXY protocol version 2, written from the specification
(https://www.haproxy.org/download/1.8/doc/proxy-protocol.txt, section 2.2), with the TLV AWS adds
behind a Network Load Balancer reached through PrivateLink: type 0xEA (PP2_TYPE_AWS) whose value is
subtype 0x01 (PP2_SUBTYPE_AWS_VPCE_ID) followed by the endpoint id in ASCII
(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#proxy-protocol).

Layout: the 12-byte signature; one byte version (high nibble, 2) and command (low nibble: 0 LOCAL,
1 PROXY); one byte address family (high nibble: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and transport
(low nibble: 0 UNSPEC, 1 STREAM, 2 DGRAM); a big-endian 16-bit length of what follows; then the
addresses (INET: source address 4, destination address 4, source port 2, destination port 2) and
TLVs (type 1, length 2 big-endian, value). Pure functions: the NLB node's proxy builds headers with
`build_header`, the provider application reads them with `parse_header`.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
VERSION = 0x2
LOCAL, PROXY = 0x0, 0x1
AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX = 0x0, 0x1, 0x2, 0x3
UNSPEC, STREAM, DGRAM = 0x0, 0x1, 0x2
ADDRESS_LENGTHS = {AF_UNSPEC: 0, AF_INET: 12, AF_INET6: 36, AF_UNIX: 216}
FIXED = 16  # signature, version/command, family/transport, length
PP2_TYPE_AWS = 0xEA
PP2_SUBTYPE_AWS_VPCE_ID = 0x01

Addr = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxyProtocolError(ValueError):
    """The bytes are not a valid PROXY protocol v2 header (the receiver must drop the connection)."""


@dataclass(frozen=True)
class Header:
    command: int  # LOCAL or PROXY
    family: int
    transport: int
    source: tuple[Addr, int] | None  # None for LOCAL and UNSPEC: no address information
    destination: tuple[Addr, int] | None
    tlvs: tuple[tuple[int, bytes], ...]
    length: int  # bytes the header took on the wire

    @property
    def vpce_id(self) -> str | None:
        """The endpoint id of AWS's TLV (0xEA, subtype 0x01), if present."""
        for kind, value in self.tlvs:
            if kind == PP2_TYPE_AWS and value[:1] == bytes([PP2_SUBTYPE_AWS_VPCE_ID]):
                return value[1:].decode("ascii")
        return None


def tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("!BH", kind, len(value)) + value


def aws_vpce_tlv(vpce_id: str) -> bytes:
    return tlv(PP2_TYPE_AWS, bytes([PP2_SUBTYPE_AWS_VPCE_ID]) + vpce_id.encode("ascii"))


def build_header(
    source: tuple[ipaddress.IPv4Address, int], destination: tuple[ipaddress.IPv4Address, int], vpce_id: str | None
) -> bytes:
    """A v2 PROXY header for a TCP connection over IPv4, as an NLB sends it: the source as the NLB
    saw it, its own destination, and AWS's TLV with the endpoint id when the connection came
    through an interface endpoint (`vpce_id`; None: no TLV)."""
    body = struct.pack("!4s4sHH", source[0].packed, destination[0].packed, source[1], destination[1])
    body += aws_vpce_tlv(vpce_id) if vpce_id else b""
    return SIGNATURE + bytes([VERSION << 4 | PROXY, AF_INET << 4 | STREAM]) + struct.pack("!H", len(body)) + body


def build_local() -> bytes:
    """A v2 LOCAL header without address information, as an NLB's health checks send it."""
    return SIGNATURE + bytes([VERSION << 4 | LOCAL, AF_UNSPEC << 4 | UNSPEC]) + struct.pack("!H", 0)


def parse_header(data: bytes) -> Header | None:
    """The header at the start of `data`; None while `data` is a prefix of a header still too
    short to decide. Raises ProxyProtocolError for anything the specification rejects."""
    if len(data) < FIXED:
        if not SIGNATURE.startswith(data[: len(SIGNATURE)]):
            raise ProxyProtocolError("no PROXY protocol v2 signature")
        return None
    if data[:12] != SIGNATURE:
        raise ProxyProtocolError("no PROXY protocol v2 signature")
    version, command, family, transport = data[12] >> 4, data[12] & 0xF, data[13] >> 4, data[13] & 0xF
    if version != VERSION:
        raise ProxyProtocolError(f"version {version}, not 2")
    if command not in (LOCAL, PROXY) or family not in ADDRESS_LENGTHS or transport > DGRAM:
        raise ProxyProtocolError(f"command {command}, family {family} or transport {transport} is not defined")
    (length,) = struct.unpack("!H", data[14:16])
    if len(data) < FIXED + length:
        return None
    rest = data[FIXED : FIXED + length]
    needed = ADDRESS_LENGTHS[family]
    if len(rest) < needed:
        raise ProxyProtocolError(f"{len(rest)} bytes follow the fixed part; family {family} needs {needed}")
    source, destination = addresses(family, rest[:needed]) if command == PROXY else (None, None)
    return Header(command, family, transport, source, destination, parse_tlvs(rest[needed:]), FIXED + length)


def addresses(family: int, raw: bytes) -> tuple[tuple[Addr, int] | None, tuple[Addr, int] | None]:
    if family == AF_INET:
        src, dst, sport, dport = struct.unpack("!4s4sHH", raw)
        return (ipaddress.IPv4Address(src), sport), (ipaddress.IPv4Address(dst), dport)
    if family == AF_INET6:
        src, dst, sport, dport = struct.unpack("!16s16sHH", raw)
        return (ipaddress.IPv6Address(src), sport), (ipaddress.IPv6Address(dst), dport)
    return None, None  # UNSPEC, or UNIX sockets (no IP to report)


def parse_tlvs(raw: bytes) -> tuple[tuple[int, bytes], ...]:
    found, at = [], 0
    while at < len(raw):
        if len(raw) - at < 3:
            raise ProxyProtocolError(f"a TLV header needs 3 bytes, {len(raw) - at} left")
        kind, size = raw[at], struct.unpack("!H", raw[at + 1 : at + 3])[0]
        if at + 3 + size > len(raw):
            raise ProxyProtocolError(f"TLV type {kind:#04x} claims {size} bytes, {len(raw) - at - 3} left")
        found.append((kind, raw[at + 3 : at + 3 + size]))
        at += 3 + size
    return tuple(found)
