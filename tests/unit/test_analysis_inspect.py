"""`vpclab inspect`: a run's connections with their paths, as data, and one packet in full."""

from __future__ import annotations

import json

import pytest
from scapy.layers.inet import IP, TCP
from synthetic_captures import SyntheticRun

from lab.analysis.inspect import inspect_run, packet_detail
from lab.errors import BadArgument, UnknownName
from result_schema import problems


@pytest.fixture
def run_dir(tmp_path):
    lab = SyntheticRun(tmp_path)
    web1 = IP(src="10.0.1.4", dst="52.219.60.10", id=11) / TCP(sport=40000, dport=443, flags="S", seq=1)
    lab.travel(
        web1,
        [
            ("web1", "eth0", "out"),
            ("app-router", "br0p0", "in"),
            ("app-router", "br0", "in"),
            ("app-router", "igw", "out"),
            ("app-igw", "vpc", "in"),
            ("app-igw", "inet", "out", {"src": "13.125.240.143"}),
        ],
    )
    return lab.write()


def test_inspect_lists_flows_with_paths_as_json_ready_data(run_dir):
    report = json.loads(json.dumps(inspect_run(run_dir).to_dict()))  # the CLI prints it as JSON
    assert problems(report, "inspection") == []  # docs/result.schema.json
    assert report["packets"] == {"app-igw": 2, "app-router": 3, "web1": 1}
    (flow,) = report["flows"]
    assert (flow["source"], flow["dst"], flow["dport"]) == ("web1", "52.219.60.10", 443)
    assert flow["path"]["outcome"] == "timeout"
    assert [(h["node"], h["frames"]) for h in flow["path"]["path"]] == [
        ("web1", [0]),
        ("app-router", [0, 1, 2]),
        ("app-igw", [0, 1]),
    ]


def test_packet_detail_shows_one_packet_layer_by_layer(run_dir):
    text = packet_detail(run_dir, "app-igw", 1)
    assert "###[ cooked linux v2 ]###" in text
    assert "src       = 13.125.240.143" in text
    assert "###[ TCP ]###" in text


def test_packet_detail_errors_say_what_exists(run_dir):
    with pytest.raises(BadArgument) as caught:
        packet_detail(run_dir, "app-igw", 2)
    assert str(caught.value) == (
        f"{run_dir / 'captures' / 'app-igw.pcap'} has 2 packets; there is no packet 2 (indexes start at 0)"
    )
    with pytest.raises(UnknownName, match=r"no capture for node nope \(captured nodes: app-igw, app-nat-a, "):
        packet_detail(run_dir, "nope", 0)
