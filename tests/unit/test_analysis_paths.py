"""Observed paths from synthetic captures of the chapter's first figure (lab/data/public-private.yaml):
app1 (private subnet) reaches S3 through the VPC router, the NAT gateway, the router again, the
internet gateway and the internet. Sightings, interfaces and packet types copy a real run's captures
(the VPC router sees a routed frame on the bridge port as 'otherhost', then on the bridge).
"""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP, UDP
from synthetic_captures import OTHERHOST, TOPOLOGY, SyntheticRun

from lab.analysis.explain import explain
from lab.analysis.paths import flows, observed_path
from lab.analysis.run import load_run
from lab.errors import BadArgument, CaptureError
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.results import ServiceSaw, StopReason, Translation

APP1, DB1, NAT, EIP, S3 = "10.0.2.4", "10.0.3.4", "10.0.1.254", "13.124.153.222", "52.219.60.10"
APP1_PORT, NAT_PORT = 41234, 1024
ISN, SERVER_ISN = 1000, 5000
NO_DROPS = {
    "app-nat-a": [{"comment": "NAT_GATEWAY_NO_INBOUND", "packets": 0, "bytes": 0}],
    "app-igw": [
        {"comment": "NO_PUBLIC_IP", "packets": 0, "bytes": 0},
        {"comment": "NO_PUBLIC_IP_MAPPING", "packets": 0, "bytes": 0},
    ],
}


def out_via_nat(until: str = "s3-ap-northeast-2") -> list[tuple]:
    """app1 -> router -> NAT gateway (source NAT) -> router -> IGW (1:1 NAT) -> internet -> S3."""
    steps = [
        ("app1", "eth0", "out"),
        ("app-router", "br1p0", "in", OTHERHOST),
        ("app-router", "br1", "in"),
        ("app-router", "br0", "out", {"ttl": 63}),
        ("app-router", "br0p1", "out"),
        ("app-nat-a", "eth0", "in"),
        ("app-nat-a", "eth0", "out", {"src": NAT, "sport": NAT_PORT, "ttl": 62}),
        ("app-router", "br0p1", "in", OTHERHOST),
        ("app-router", "br0", "in"),
        ("app-router", "igw", "out", {"ttl": 61}),
        ("app-igw", "vpc", "in"),
        ("app-igw", "inet", "out", {"src": EIP, "ttl": 60}),
        ("internet", "igw0", "in"),
        ("internet", "svc0", "out", {"ttl": 59}),
        ("s3-ap-northeast-2", "inet", "in"),
    ]
    return steps[: max(i for i, s in enumerate(steps) if s[0] == until) + 1]


def back_via_nat(until: str = "app1") -> list[tuple]:
    steps = [
        ("s3-ap-northeast-2", "inet", "out"),
        ("internet", "svc0", "in"),
        ("internet", "igw0", "out"),
        ("app-igw", "inet", "in"),
        ("app-igw", "vpc", "out", {"dst": NAT}),
        ("app-router", "igw", "in"),
        ("app-router", "br0", "out"),
        ("app-router", "br0p1", "out"),
        ("app-nat-a", "eth0", "in"),
        ("app-nat-a", "eth0", "out", {"dst": APP1, "dport": APP1_PORT}),
        ("app-router", "br0p1", "in", OTHERHOST),
        ("app-router", "br0", "in"),
        ("app-router", "br1", "out"),
        ("app-router", "br1p0", "out"),
        ("app1", "eth0", "in"),
    ]
    return steps[: max(i for i, s in enumerate(steps) if s[0] == until) + 1]


def syn(ip_id: int = 100, dport: int = 443):
    return IP(src=APP1, dst=S3, id=ip_id, ttl=64) / TCP(sport=APP1_PORT, dport=dport, flags="S", seq=ISN)


def answer(flags: str, ip_id: int = 0):
    return IP(src=S3, dst=EIP, id=ip_id, ttl=64) / TCP(sport=443, dport=NAT_PORT, flags=flags, seq=SERVER_ISN, ack=ISN + 1)


def handshake(lab: SyntheticRun) -> None:
    lab.travel(syn(), out_via_nat())
    lab.travel(answer("SA"), back_via_nat())
    ack = IP(src=APP1, dst=S3, id=101) / TCP(sport=APP1_PORT, dport=443, flags="A", seq=ISN + 1, ack=SERVER_ISN + 1)
    lab.travel(ack, out_via_nat())


@pytest.fixture
def lab(tmp_path) -> SyntheticRun:
    return SyntheticRun(tmp_path)


def hops(path) -> list[tuple]:
    return [(h.node, h.kind, h.ingress, h.egress) for h in path]


def test_nat_path_hop_by_hop(lab):
    handshake(lab)
    path = observed_path(load_run(lab.write(NO_DROPS)), "app1", S3, 443)
    assert hops(path.path) == [
        ("app1", "instance", None, "eth0"),
        ("app-router", "vpc-router", "br1p0", "br0p1"),
        ("app-nat-a", "nat-gateway", "eth0", "eth0"),
        ("app-router", "vpc-router", "br0p1", "igw"),
        ("app-igw", "internet-gateway", "vpc", "inet"),
        ("internet", "internet", "igw0", "svc0"),
        ("s3-ap-northeast-2", "service", "inet", None),
    ]
    assert [h.translations for h in path.path] == [
        (),
        (),
        (Translation("source", "10.0.2.4:41234", "10.0.1.254:1024"),),
        (),
        (Translation("source", "10.0.1.254:1024", "13.124.153.222:1024"),),
        (),
        (),
    ]
    nodes = lab.plan["nodes"]
    assert [h.aws_id for h in path.path][:3] == [nodes[n]["aws_id"] for n in ("app1", "app-router", "app-nat-a")]
    assert path.path[1].frames == (0, 1, 2, 3)  # br1p0, br1, br0, br0p1 in app-router.pcap


def test_nat_path_outcome_and_what_s3_saw(lab):
    handshake(lab)
    path = observed_path(load_run(lab.write(NO_DROPS)), "app1", S3, 443)
    assert (path.outcome, path.reply, path.delivered_to, path.dropped_at, path.explanation) == (
        "ok",
        True,
        "s3-ap-northeast-2",
        None,
        None,
    )
    assert path.service_saw == ServiceSaw(EIP, "internet", None, "s3-ap-northeast-2", NAT_PORT)
    assert [h.node for h in path.reply_path] == [
        "s3-ap-northeast-2",
        "internet",
        "app-igw",
        "app-router",
        "app-nat-a",
        "app-router",
        "app1",
    ]
    assert path.reply_path[2].translations == (Translation("destination", "13.124.153.222:1024", "10.0.1.254:1024"),)
    assert path.flow == {
        "source": "app1",
        "proto": "tcp",
        "src": APP1,
        "sport": APP1_PORT,
        "dst": S3,
        "dport": 443,
        "start": path.path[0].time,
        "packets": 3,
    }


def test_observed_path_lines_up_with_the_static_explanation(lab):
    """Same nodes, same kinds, same AWS ids: a difference would be a bug in vpclab (DESIGN.md section 4)."""
    handshake(lab)
    observed = observed_path(load_run(lab.write(NO_DROPS)), "app1", S3, 443)
    topology = load_topology(str(TOPOLOGY))
    predicted = explain(topology, compile_plan(topology), "app1", S3)
    assert [(h.node, h.kind, h.aws_id) for h in observed.path] == [(h.node, h.kind, h.aws_id) for h in predicted.path]
    assert observed.service_saw.source_ip == predicted.service_saw.source_ip


def test_a_packet_that_enters_a_node_and_never_leaves_was_dropped_there(lab):
    """db1's subnet has no route out: the router swallows the SYN, and no counter says why."""
    for retry, ip_id in enumerate((7, 8)):  # a retransmission: same sequence number, new IP id
        first = IP(src=DB1, dst=S3, id=ip_id) / TCP(sport=50000, dport=443, flags="S", seq=ISN)
        lab.travel(
            first,
            [("db1", "eth0", "out"), ("app-router", "br2p0", "in"), ("app-router", "br2", "in")],
            start=1_700_000_000.0 + retry,
        )
    path = observed_path(load_run(lab.write(NO_DROPS)), "db1")
    assert hops(path.path) == [("db1", "instance", None, "eth0"), ("app-router", "vpc-router", "br2p0", None)]
    assert (path.outcome, path.dropped_at, path.delivered_to, path.drop_evidence, path.reply, path.attempts) == (
        "timeout",
        "app-router",
        None,
        (),
        False,
        2,
    )
    assert path.explanation.code == "UNCOUNTED_DROP"
    assert path.explanation.node == "app-router"
    assert path.explanation.message.startswith(
        "the packet entered app-router on br2p0 and never left it; no drop counter there counted anything"
    )


def test_a_counted_drop_names_the_rule(lab):
    lab.travel(syn(), out_via_nat(until="app-igw")[:-1])  # into the IGW, never out
    drops = {
        "app-igw": [
            {"comment": "NO_PUBLIC_IP", "packets": 1, "bytes": 60},
            {"comment": "NO_PUBLIC_IP_MAPPING", "packets": 0, "bytes": 0},
        ]
    }
    path = observed_path(load_run(lab.write(drops)), "app1")
    assert (path.outcome, path.dropped_at) == ("timeout", "app-igw")
    assert path.drop_evidence == ({"comment": "NO_PUBLIC_IP", "packets": 1, "bytes": 60},)
    assert path.explanation == StopReason(
        "NO_PUBLIC_IP",
        lab.plan["nodes"]["app-igw"]["aws_id"],
        "app-igw",
        "the packet entered app-igw on vpc and never left it; drop counters there: NO_PUBLIC_IP 1 packet",
        "NO_PUBLIC_IP",
        ({"comment": "NO_PUBLIC_IP", "packets": 1, "bytes": 60},),
    )


def test_refused_names_who_reset(lab):
    lab.travel(syn(dport=8443), out_via_nat())
    reset = answer("RA")
    reset[TCP].sport, reset[TCP].seq = 8443, 0
    lab.travel(reset, back_via_nat())
    path = observed_path(load_run(lab.write(NO_DROPS)), "app1", S3, 8443)
    assert (path.outcome, path.reply, path.delivered_to) == ("refused", False, "s3-ap-northeast-2")
    assert path.explanation.code == "CONNECTION_REFUSED"
    assert path.explanation.node == "s3-ap-northeast-2"
    assert path.explanation.component == "com.amazonaws.ap-northeast-2.s3"


def test_a_lost_reply_is_followed_to_where_it_died(lab):
    lab.travel(syn(), out_via_nat())
    lab.travel(answer("SA"), back_via_nat(until="app-igw")[:-1])  # into the IGW from the internet, never out
    drops = {"app-igw": [{"comment": "NO_PUBLIC_IP_MAPPING", "packets": 1, "bytes": 60}]}
    path = observed_path(load_run(lab.write(drops)), "app1")
    assert (path.outcome, path.delivered_to, path.dropped_at) == ("timeout", "s3-ap-northeast-2", None)
    assert [h.node for h in path.reply_path] == ["s3-ap-northeast-2", "internet", "app-igw"]
    assert (path.explanation.code, path.explanation.node) == ("NO_PUBLIC_IP_MAPPING", "app-igw")
    assert path.explanation.message.startswith("the reply entered app-igw on inet and never left it")


def test_a_frame_flooded_to_every_bridge_port_follows_the_one_that_was_taken_in(lab):
    """A bridge that has not learned the NAT gateway's MAC yet floods the frame; web1 drops its copy."""
    steps = out_via_nat()
    flood = steps.index(("app-router", "br0p1", "out"))
    steps[flood:flood] = [("app-router", "br0p0", "out"), ("web1", "eth0", "in", OTHERHOST)]
    lab.travel(syn(), steps)
    path = observed_path(load_run(lab.write(NO_DROPS)), "app1")
    assert [h.node for h in path.path][:3] == ["app1", "app-router", "app-nat-a"]
    assert path.path[1].egress == "br0p1"
    assert path.delivered_to == "s3-ap-northeast-2"


def test_a_packet_missing_from_the_next_capture_is_reported_as_not_captured(lab):
    lab.travel(syn(), out_via_nat(until="app-router")[:5])  # leaves the router towards the NAT gateway
    path = observed_path(load_run(lab.write(NO_DROPS)), "app1")
    assert path.explanation.code == "NOT_CAPTURED"
    assert path.explanation.message == (
        "the packet left app-router on br0p1, but the capture at "
        "app-nat-a/eth0 never shows it arriving (capture loss or a capture missing)"
    )


def test_flows_are_opened_by_their_source_only(lab):
    """The NAT gateway's translated packets and S3's answers are parts of app1's connection, not flows."""
    handshake(lab)
    second = syn(ip_id=300)
    second[TCP].sport, second[TCP].seq = 41235, 9000
    lab.travel(second, [("app1", "eth0", "out")])
    found = [(f.node, f.src, f.sport, f.dst, f.dport, len(f.sightings)) for f in flows(load_run(lab.write()))]
    assert found == [("app1", APP1, APP1_PORT, S3, 443, 3), ("app1", APP1, 41235, S3, 443, 1)]


def test_a_new_syn_on_a_used_5_tuple_is_a_new_connection(lab):
    lab.travel(syn(), [("app1", "eth0", "out")])
    again = syn(ip_id=500)
    again[TCP].seq = 777777
    lab.travel(again, [("app1", "eth0", "out")])
    assert [f.sightings[0].tcp_seq for f in flows(load_run(lab.write()))] == [ISN, 777777]


def test_since_skips_earlier_connections(lab):
    lab.travel(syn(), [("app1", "eth0", "out")], start=1_700_000_000.0)
    later = syn(ip_id=500)
    later[TCP].sport = 41240
    lab.travel(later, [("app1", "eth0", "out")], start=1_700_000_100.0)
    assert observed_path(load_run(lab.write()), "app1", since=1_700_000_050.0).flow["sport"] == 41240


def test_no_matching_connection_is_a_clear_error(lab):
    lab.travel(syn(), [("app1", "eth0", "out")])
    run = load_run(lab.write())
    with pytest.raises(CaptureError) as caught:
        observed_path(run, "app1", S3, 80)
    assert str(caught.value) == (
        "no tcp connection from app1 to 52.219.60.10:80 in the captures (app1 opened: tcp 52.219.60.10:443)"
    )
    with pytest.raises(BadArgument, match="protocol 'sctp': expected one of tcp, udp, icmp"):
        observed_path(run, "app1", proto="sctp")


def test_a_dns_query_is_answered_by_the_resolver_in_the_vpc_router(lab):
    query = IP(src=APP1, dst="10.0.0.2", id=0) / UDP(sport=5353, dport=53) / b"\x12\x34query"
    lab.travel(query, [("app1", "eth0", "out"), ("app-router", "br1p0", "in", OTHERHOST), ("app-router", "br1", "in")])
    response = IP(src="10.0.0.2", dst=APP1, id=0) / UDP(sport=53, dport=5353) / b"\x12\x34answer"
    lab.travel(response, [("app-router", "br1", "out"), ("app-router", "br1p0", "out"), ("app1", "eth0", "in")])
    path = observed_path(load_run(lab.write()), "app1", proto="udp")
    assert hops(path.path) == [("app1", "instance", None, "eth0"), ("app-router", "resolver", "br1p0", None)]
    assert hops(path.reply_path) == [("app-router", "vpc-router", None, "br1p0"), ("app1", "instance", "eth0", None)]
    assert (path.outcome, path.reply, path.delivered_to, path.attempts) == ("ok", True, "app-router", 1)


def test_a_security_drop_comment_is_a_code_then_its_rule(lab):
    """`SUBNET_ACL_RESTRICTION <acl> <direction> rule <n>`: the first word is the code (what a
    scenario's dropped_by compares), the rest names the component, the direction and the rule."""
    lab.travel(syn(), out_via_nat(until="app-igw")[:-1])
    comment = "SUBNET_ACL_RESTRICTION acl-0123456789abcdef0 egress rule 100"
    path = observed_path(load_run(lab.write({"app-igw": [{"comment": comment, "packets": 1, "bytes": 60}]})), "app1")
    reason = path.explanation
    assert (reason.code, reason.component, reason.rule) == (
        "SUBNET_ACL_RESTRICTION",
        "acl-0123456789abcdef0",
        "acl-0123456789abcdef0 egress rule 100",
    )
