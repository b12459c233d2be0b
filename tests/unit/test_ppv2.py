"""PROXY protocol v2 (https://www.haproxy.org/download/1.8/doc/proxy-protocol.txt section 2.2) and
AWS's TLV 0xEA/0x01 (the vpce id): the header builder and the parser against bytes written by hand
from the specification and against the hexdump quoted in ../shared/reference/aws-behaviour.md
section 3, and against each other."""

from __future__ import annotations

import ipaddress

import pytest

from lab.services import ppv2

IP = ipaddress.IPv4Address
SIG = bytes.fromhex("0D0A0D0A000D0A515549540A")


def test_the_signature_is_the_specifications_twelve_bytes():
    assert ppv2.SIGNATURE == SIG


def test_a_proxy_header_with_the_aws_tlv_is_byte_exact():
    built = ppv2.build_header((IP("10.9.0.7"), 51000), (IP("10.1.1.254"), 80), "vpce-0123456789abcdef0")
    vpce = b"vpce-0123456789abcdef0"
    body = bytes([10, 9, 0, 7, 10, 1, 1, 254]) + (51000).to_bytes(2, "big") + (80).to_bytes(2, "big")
    tlv = bytes([0xEA]) + (1 + len(vpce)).to_bytes(2, "big") + b"\x01" + vpce
    assert built == SIG + b"\x21\x11" + (len(body) + len(tlv)).to_bytes(2, "big") + body + tlv


def test_without_an_endpoint_there_is_no_tlv():
    built = ppv2.build_header((IP("10.1.1.5"), 40000), (IP("10.1.1.254"), 80), None)
    assert built[12:16] == b"\x21\x11\x00\x0c" and len(built) == 28


def test_a_local_header_carries_no_address():
    assert ppv2.build_local() == SIG + b"\x20\x00\x00\x00"
    header = ppv2.parse_header(ppv2.build_local())
    assert header is not None and header.command == ppv2.LOCAL and header.source is None and header.length == 16


def test_the_parser_reads_the_reference_hexdump():
    """172.31.16.36:50188 -> 100.88.88.32:22, a CRC32C TLV, AWS's TLV, then NOOP padding."""
    rest = (
        bytes.fromhex("2111 0054 ac1f1024 64585820 c40c 0016 03 0004 9986dda1")
        + bytes.fromhex("ea 0017 01")
        + b"vpce-05817dacce3419e0c"
        + bytes.fromhex("04 0024")
        + bytes(36)
    )
    header = ppv2.parse_header(SIG + rest + b"SSH-2.0-")
    assert header is not None
    assert header.command == ppv2.PROXY and (header.family, header.transport) == (ppv2.AF_INET, ppv2.STREAM)
    assert header.source == (IP("172.31.16.36"), 50188) and header.destination == (IP("100.88.88.32"), 22)
    assert header.vpce_id == "vpce-05817dacce3419e0c"
    assert [t for t, _ in header.tlvs] == [0x03, 0xEA, 0x04]
    assert header.length == 16 + 0x54


def test_round_trip():
    built = ppv2.build_header((IP("192.168.7.9"), 1), (IP("10.0.0.1"), 65535), "vpce-0aaaabbbbccccdddd")
    header = ppv2.parse_header(built + b"GET / HTTP/1.1\r\n")
    assert header is not None and header.length == len(built)
    assert (header.source, header.destination, header.vpce_id) == (
        (IP("192.168.7.9"), 1),
        (IP("10.0.0.1"), 65535),
        "vpce-0aaaabbbbccccdddd",
    )


def test_an_ipv6_header_is_read():
    src, dst = ipaddress.IPv6Address("fd00::1"), ipaddress.IPv6Address("fd00::2")
    raw = SIG + b"\x21\x21\x00\x24" + src.packed + dst.packed + (1000).to_bytes(2, "big") + (443).to_bytes(2, "big")
    header = ppv2.parse_header(raw)
    assert header is not None and header.source == (src, 1000) and header.destination == (dst, 443)


@pytest.mark.parametrize("cut", [0, 1, 11, 12, 15, 16, 27])
def test_a_prefix_asks_for_more(cut):
    built = ppv2.build_header((IP("10.0.0.1"), 1), (IP("10.0.0.2"), 2), None)
    assert ppv2.parse_header(built[:cut]) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "signature"),
        (SIG + b"\x11\x11\x00\x00", "version 1"),
        (SIG + b"\x22\x11\x00\x0c" + bytes(12), "command 2"),
        (SIG + b"\x21\x41\x00\x0c" + bytes(12), "family 4"),
        (SIG + b"\x21\x11\x00\x08" + bytes(8), "needs 12"),
        (SIG + b"\x21\x11\x00\x0e" + bytes(12) + b"\xea\x00", "3 bytes"),
        (SIG + b"\x21\x11\x00\x10" + bytes(12) + b"\xea\x00\x09\x01", "claims 9"),
    ],
)
def test_what_the_specification_rejects(raw, message):
    with pytest.raises(ppv2.ProxyProtocolError, match=message):
        ppv2.parse_header(raw)


def test_a_tlv_of_another_subtype_is_no_vpce_id():
    raw = SIG + b"\x21\x11\x00\x13" + bytes(12) + b"\xea\x00\x04\x02abc"
    header = ppv2.parse_header(raw)
    assert header is not None and header.vpce_id is None
