"""captures/run.pcapng of a real run, read by tshark as Wireshark would: every frame on a named
`node:iface` interface, each forwarded packet once per interface it crossed (no bridge twin), every
TLS ClientHello whole, and with captures/tls-keys.log the HTTP requests of curl, the AWS CLI and
the probe in clear."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from lab.analysis.inspect import inspect_run
from lab.cli.main import main
from lab.report.text import inspect_text

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(300)]


def tshark(*args: str, fields: tuple[str, ...] = ()) -> list[list[str]]:
    argv = ["tshark", *args, "-T", "fields", *(a for f in fields for a in ("-e", f))]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    return [line.split("\t") for line in done.stdout.splitlines()]


# What makes a packet itself at one node: the same values twice there is a copy, not a packet.
IDENTITY = ("frame.comment", "frame.packet_flags_direction", "ip.src", "ip.dst", "ip.id", "ip.checksum")
IDENTITY += ("tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.len")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """endpoint-policies.yaml: HTTPS from the probe, curl and the AWS CLI, through a gateway
    endpoint and through the internet gateway (both cross the VPC router's bridges)."""
    keep = tmp_path_factory.mktemp("wireshark")
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        assert main(["run", "scenarios/endpoint-policies.yaml", "--keep", str(keep)]) == 0
    finally:
        os.chdir(cwd)
    return keep / "endpoint-policies"


def test_every_frame_is_on_a_named_node_interface(run):
    interfaces = json.loads((run / "captures" / "interfaces.json").read_text())
    names = Counter(row[0] for row in tshark("-r", str(run / "captures" / "run.pcapng"), fields=("frame.interface_name",)))
    assert names["app-router:br1p0"] > 0 and names["app1:eth0"] > 0 and names["app-s3-gw:vpc"] > 0
    for name in names:
        node, iface = name.split(":")
        assert iface in interfaces[node].values(), name
    assert names["app-router:br1"] <= 2  # the bridge device keeps only what never crossed a port


def test_no_forwarded_packet_is_in_the_file_twice_at_one_node(run):
    """What made Wireshark flag `[TCP Retransmission]` at the VPC router: its bridge port's and its
    bridge's copy of one packet. Read whole, Wireshark 4.0 still flags every further hop's copy of a
    segment (a TCP conversation is keyed by addresses and ports only; docs/architecture.md), and the
    kernel's own retransmissions (tail-loss probes) are real ones: neither is checked here."""
    rows = tshark(
        "-r",
        str(run / "captures" / "run.pcapng"),
        "-Y",
        "ip",
        fields=IDENTITY,
    )
    twice = {key: n for key, n in Counter(tuple(row) for row in rows).items() if n > 1}
    assert rows and twice == {}


def test_tls_client_hellos_are_whole_and_the_key_log_shows_the_requests(run):
    merged, keys = str(run / "captures" / "run.pcapng"), run / "captures" / "tls-keys.log"
    hellos = tshark(
        "-r",
        merged,
        "-Y",
        "tls.handshake.type == 1",
        fields=("frame.len", "frame.cap_len", "tls.handshake.extensions_server_name"),
    )
    assert hellos and all(row[0] == row[1] and row[2].endswith(".amazonaws.com") for row in hellos)
    assert tshark("-r", merged, "-Y", "http.request", fields=("http.request.method",)) == []  # encrypted without the keys
    requests = tshark(
        "-o",
        f"tls.keylog_file:{keys}",
        "-r",
        merged,
        "-Y",
        "http.request",
        fields=("frame.interface_name", "http.request.method", "http.request.uri", "http.user_agent"),
    )
    seen = {(iface, method, uri) for iface, method, uri, _ in requests}
    assert ("app1:eth0", "GET", "/hello.txt") in seen  # the AWS CLI's `s3 cp`
    agents = {agent.split("/")[0] for *_, agent in requests}
    assert {"aws-cli", "curl", "vpclab-probe"} <= agents


def test_inspect_counts_what_wireshark_counts(run):
    data = inspect_run(run)
    per_node = Counter(
        row[0].split(":")[0] for row in tshark("-r", str(run / "captures" / "run.pcapng"), fields=("frame.interface_name",))
    )
    assert data.frames == dict(sorted(per_node.items()))
    first = inspect_text(data).splitlines()[0]
    assert first.startswith(f"run {run}: {sum(per_node.values())} frames in {run}/captures/run.pcapng")
