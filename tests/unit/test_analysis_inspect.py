"""`vpclab inspect`: a run's connections with their paths, as data, and one frame in full, numbered
as Wireshark numbers the frames of captures/run.pcapng."""

from __future__ import annotations

import json
import shutil

import pytest
from scapy.layers.inet import IP, TCP
from synthetic_captures import SyntheticRun

from lab.analysis.inspect import inspect_run, packet_detail
from lab.errors import BadArgument
from lab.report.text import inspect_text
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
    assert report["frames"] == {"app-igw": 2, "app-router": 2, "web1": 1}  # the bridge copy is not in run.pcapng
    assert report["capture"] == str(run_dir / "captures" / "run.pcapng")
    (flow,) = report["flows"]
    assert (flow["source"], flow["dst"], flow["dport"]) == ("web1", "52.219.60.10", 443)
    assert flow["path"]["outcome"] == "timeout"
    assert [(h["node"], h["frames"]) for h in flow["path"]["path"]] == [
        ("web1", [0]),
        ("app-router", [0, 1, 2]),
        ("app-igw", [0, 1]),
    ]
    assert flow["frames"] == [1, 2, 3, 4, 5]


def test_the_text_numbers_frames_as_wireshark_and_its_counts_agree(run_dir):
    text = inspect_text(inspect_run(run_dir))
    assert text.splitlines()[0] == (
        f"run {run_dir}: 5 frames in {run_dir}/captures/run.pcapng (Wireshark's numbers, from 1): app-igw 2, app-router 2, web1 1"
    )
    assert "(1 packet at web1, from 2023-11-14 22:13:20.010000 UTC): timeout" in text
    assert "(egress eth0)  frames 1 at 22:13:20.010000" in text
    assert "(ingress br0p0, egress igw)  frames 2-3 at 22:13:20.010005" in text


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is provisioned by scripts/provision.sh")
def test_packet_detail_dissects_one_frame_with_tshark(run_dir):
    text = packet_detail(run_dir, 5)
    assert text.splitlines()[0] == (
        "frame 5: node app-igw, interface app-igw:inet, sent at 2023-11-14 22:13:20.010025 UTC "
        "(60 bytes captured; captures/app-igw.pcap packet 2)"
    )
    assert "Frame 5: 60 bytes on wire" in text and "on interface app-igw:inet" in text
    assert "Source Address: 13.125.240.143" in text
    assert "Transmission Control Protocol, Src Port: 40000, Dst Port: 443" in text


def test_packet_detail_without_tshark_names_the_interface_above_scapys_layers(run_dir):
    text = packet_detail(run_dir, 2, tshark=False)
    assert text.splitlines()[0].startswith("frame 2: node app-router, interface app-router:br0p0, received at ")
    assert "###[ cooked linux v2 ]###" in text
    assert "src       = 10.0.1.4" in text
    assert "###[ TCP ]###" in text


def test_packet_detail_errors_say_what_exists(run_dir):
    for frame in (0, 6):
        with pytest.raises(BadArgument) as caught:
            packet_detail(run_dir, frame)
        assert str(caught.value) == (
            f"{run_dir / 'captures' / 'run.pcapng'} has 5 frames, numbered from 1 as in Wireshark; there is no frame {frame}"
        )
