"""VPC Flow Logs from synthetic captures of the public-private lab (tests/unit/synthetic_captures.py):
aggregation, every default-format field, custom formats with v3-v5 fields, the NAT gateway's pkt-*
fields, REJECT from a counted security-group drop, NODATA and SKIPDATA."""

from __future__ import annotations

import json

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from synthetic_captures import SyntheticRun

from lab.analysis.flowlog_fields import DEFAULT_FORMAT, az_id, parse_format
from lab.analysis.flowlogs import connection_records, flow_records, render
from lab.analysis.run import load_run
from lab.errors import BadArgument
from lab.scenario.expect import check_flow_log

S3 = "52.219.60.10"
APP1, WEB1, NAT = "10.0.2.4", "10.0.1.4", "10.0.1.254"
NAT_EIP, WEB1_EIP = "13.124.153.222", "13.125.240.143"
CLIENT = "203.0.113.10"
V5 = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr} ${vpc-id} ${subnet-id} ${instance-id} ${tcp-flags} ${type} ${region} ${az-id} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${flow-direction} ${traffic-path} ${action}"  # noqa: E501


def via_nat_out(lab: SyntheticRun, packet, start: float | None = None) -> None:
    """app1 -> its NAT gateway -> the internet gateway -> S3, translated twice."""
    lab.travel(
        packet,
        [
            ("app1", "eth0", "out"),
            ("app-router", "br1p0", "in"),
            ("app-router", "br1", "in"),
            ("app-router", "br0", "out"),
            ("app-router", "br0p1", "out"),
            ("app-nat-a", "eth0", "in"),
            ("app-nat-a", "eth0", "out", {"src": NAT, "sport": 1024}),
            ("app-router", "br0p1", "in"),
            ("app-router", "br0", "in"),
            ("app-router", "igw", "out"),
            ("app-igw", "vpc", "in"),
            ("app-igw", "inet", "out", {"src": NAT_EIP}),
            ("internet", "igw0", "in"),
            ("internet", "svc0", "out"),
            ("s3-ap-northeast-2", "inet", "in"),
        ],
        start,
    )


def via_nat_back(lab: SyntheticRun, packet) -> None:
    lab.travel(
        packet,
        [
            ("s3-ap-northeast-2", "inet", "out"),
            ("internet", "svc0", "in"),
            ("internet", "igw0", "out"),
            ("app-igw", "inet", "in"),
            ("app-igw", "vpc", "out", {"dst": NAT}),
            ("app-router", "igw", "in"),
            ("app-router", "br0", "out"),
            ("app-router", "br0p1", "out"),
            ("app-nat-a", "eth0", "in"),
            ("app-nat-a", "eth0", "out", {"dst": APP1, "dport": 40000}),
            ("app-router", "br0p1", "in"),
            ("app-router", "br0", "in"),
            ("app-router", "br1", "out"),
            ("app-router", "br1p0", "out"),
            ("app1", "eth0", "in"),
        ],
    )


def syn(seq=100, sport=40000, payload=b""):
    return IP(src=APP1, dst=S3, id=7) / TCP(sport=sport, dport=443, flags="S", seq=seq) / payload


def synack(seq=900, ack=101):
    return IP(src=S3, dst=NAT_EIP, id=8) / TCP(sport=443, dport=1024, flags="SA", seq=seq, ack=ack)


@pytest.fixture
def nat_run(tmp_path):
    lab = SyntheticRun(tmp_path)
    via_nat_out(lab, syn(), start=1_700_000_000.5)
    via_nat_back(lab, synack())
    fin = IP(src=APP1, dst=S3, id=9) / TCP(sport=40000, dport=443, flags="FA", seq=101, ack=901) / (b"x" * 10)
    via_nat_out(lab, fin)
    return load_run(lab.write())


def by(records, node, direction):
    return [r for r in records if r.eni.node == node and r.direction == direction]


def test_instance_egress_aggregates_one_5_tuple_and_writes_every_v2_field(nat_run):
    records = flow_records(nat_run)
    (out,) = by(records, "app1", "egress")
    line = render(nat_run, [out])[0].split()
    assert line == [
        "2",
        "111122223333",
        "eni-0bd2c54bd55c1639c",
        APP1,
        S3,
        "40000",
        "443",
        "6",
        "2",
        str(40 + 50),  # whole IP packets: the SYN (20 + 20) and the FIN with 10 bytes (20 + 20 + 10)
        "1700000000",
        "1700000000",
        "ACCEPT",
        "OK",
    ]
    assert out.tcp_flags == 3  # SYN | FIN, OR-ed over the interval as AWS does


def test_reply_is_its_own_ingress_record_with_syn_ack_as_18(nat_run):
    (back,) = by(flow_records(nat_run), "app1", "ingress")
    assert (back.srcaddr, back.dstaddr, back.sport, back.dport, back.packets, back.tcp_flags) == (S3, APP1, 443, 40000, 1, 18)
    assert back.field("traffic-path", "x") == "-"  # AWS writes traffic-path on egress records only


def test_nat_gateway_eni_shows_original_addresses_as_pkt_fields(nat_run):
    records = flow_records(nat_run)
    lines = {
        tuple(line.split()[2:6])
        for line in render(nat_run, by(records, "app-nat-a", "ingress") + by(records, "app-nat-a", "egress"), V5)
    }
    assert (APP1, NAT, APP1, S3) in lines  # from app1: dstaddr is the NAT ENI, pkt-dstaddr S3
    assert (NAT, S3, NAT, S3) in lines  # out, translated
    assert (S3, NAT, S3, NAT) in lines  # the reply
    assert (NAT, APP1, S3, APP1) in lines  # back to app1: srcaddr the NAT ENI, pkt-srcaddr S3


def test_v5_fields_of_the_nat_gateway_egress(nat_run):
    out = [r for r in by(flow_records(nat_run), "app-nat-a", "egress") if r.pkt_dst == S3][0]
    words = render(nat_run, [out], V5)[0].split()
    assert words[0] == "5"  # the highest version among the fields
    assert words[6:] == [
        nat_run.plan["nodes"]["app-router"]["aws_id"],
        _subnet(nat_run, "public-a"),
        "-",  # a NAT gateway's ENI is requester-managed: no instance id
        "3",
        "IPv4",
        "ap-northeast-2",
        "apne2-az1",
        "-",
        "S3",
        "egress",
        "8",  # through the internet gateway (Nitro)
        "ACCEPT",
    ]


def test_traffic_path_to_the_nat_gateway_is_same_vpc(nat_run):
    (out,) = by(flow_records(nat_run), "app1", "egress")
    assert out.traffic_path == 1


def _subnet(run, name):
    return next(a["subnet_id"] for a in run.plan["network_acls"].values() if a["subnet"] == name)


def test_interval_splits_a_flow_in_two_records(tmp_path):
    lab = SyntheticRun(tmp_path)
    via_nat_out(lab, syn(), start=1_700_000_030.0)
    via_nat_out(lab, syn(seq=100, payload=b"again"), start=1_700_000_070.0)
    run = load_run(lab.write())
    assert len(by(flow_records(run, 600), "app1", "egress")) == 1
    minute = by(flow_records(run, 60), "app1", "egress")
    assert [(r.start, r.end, r.packets) for r in minute] == [(1_700_000_030, 1_700_000_030, 1), (1_700_000_070, 1_700_000_070, 1)]


def test_security_group_drop_is_reject_on_the_destination_eni(tmp_path):
    lab = SyntheticRun(tmp_path)
    probe = IP(src=CLIENT, dst=WEB1_EIP, id=3) / TCP(sport=50000, dport=22, flags="S", seq=5)
    lab.travel(
        probe,
        [
            ("internet-client", "eth0", "out"),
            ("internet", "client", "in"),
            ("internet", "igw0", "out"),
            ("app-igw", "inet", "in"),
            ("app-igw", "vpc", "out", {"dst": WEB1}),
            ("app-router", "igw", "in"),
        ],
        1_700_000_000.0,
    )
    eni = lab.plan["nodes"]["web1"]["interfaces"][0]["eni"]
    drops = {"app-router": [{"comment": f"ENI_SG_RULES_MISMATCH {eni} ingress sg-1", "packets": 1, "bytes": 44}]}
    run = load_run(lab.write(drops))
    (rejected,) = [r for r in flow_records(run) if r.log_status == "OK"]
    assert (rejected.eni.node, rejected.direction, rejected.action) == ("web1", "ingress", "REJECT")
    assert render(run, [rejected])[0].split()[3:9] == [CLIENT, WEB1, "50000", "22", "6", "1"]


def test_uncounted_drop_is_not_a_reject(tmp_path):
    """A packet lost at the router with no security-group or ACL counter (no route): no record."""
    lab = SyntheticRun(tmp_path)
    lab.travel(IP(src=CLIENT, dst=WEB1, id=3) / TCP(dport=22), [("app-router", "igw", "in")], 1_700_000_000.0)
    assert [r for r in flow_records(load_run(lab.write())) if r.log_status == "OK"] == []


def test_egress_security_group_drop_is_reject_on_the_source(tmp_path):
    lab = SyntheticRun(tmp_path)
    ping = IP(src=APP1, dst="10.0.3.4", id=4) / ICMP(id=77, seq=1)
    lab.travel(ping, [("app1", "eth0", "out"), ("app-router", "br1p0", "in")], 1_700_000_000.0)
    eni = lab.plan["nodes"]["app1"]["interfaces"][0]["eni"]
    run = load_run(lab.write({"app-router": [{"comment": f"ENI_SG_RULES_MISMATCH {eni} egress sg-1", "packets": 1}]}))
    (out,) = [r for r in flow_records(run) if r.log_status == "OK"]
    assert (out.eni.node, out.direction, out.action, out.sport, out.dport, out.traffic_path) == (
        "app1",
        "egress",
        "REJECT",
        0,
        0,
        1,
    )
    assert out.field("tcp-flags", "r") == "-"


def test_nodata_for_an_idle_eni_and_skipdata_for_a_lossy_capture(nat_run):
    records = flow_records(nat_run)
    (idle,) = [r for r in records if r.eni.node == "db1"]
    assert render(nat_run, [idle])[0].split()[3:] == ["-"] * 7 + ["1700000000", "1700000000", "-", "NODATA"]
    (nat_run.directory / "captures" / "stats.json").write_text(json.dumps({"web1": {"dropped by kernel": 3}}))
    assert {r.log_status for r in flow_records(nat_run) if r.eni.node == "web1"} == {"NODATA", "SKIPDATA"}


def test_dns_to_the_resolver_is_not_logged(tmp_path):
    lab = SyntheticRun(tmp_path)
    from scapy.layers.inet import UDP

    for resolver in ("169.254.169.253", "10.0.0.2"):  # AWS: Amazon DNS traffic is not logged, at either address
        lab.travel(IP(src=APP1, dst=resolver) / UDP(sport=5353, dport=53), [("app1", "eth0", "out")], 1_700_000_000.0)
    assert [r for r in flow_records(load_run(lab.write())) if r.log_status == "OK"] == []


def test_eni_filter_takes_an_id_or_a_node(nat_run):
    eni = nat_run.plan["nodes"]["app1"]["interfaces"][0]["eni"]
    assert {r.eni.node for r in flow_records(nat_run, eni=eni)} == {"app1"}
    assert {r.eni.eni_id for r in flow_records(nat_run, eni="app1")} == {eni}


def test_formats():
    assert parse_format(DEFAULT_FORMAT)[:3] == ["version", "account-id", "interface-id"]
    with pytest.raises(BadArgument, match="InvalidParameter.*unknown field srcadr"):
        parse_format("${version} ${srcadr}")
    with pytest.raises(BadArgument, match="InvalidParameter"):
        parse_format("version srcaddr")
    assert (az_id("ap-northeast-2a"), az_id("us-east-1c"), az_id("eu-central-1b")) == ("apne2-az1", "use1-az3", "euc1-az2")


def test_cli_prints_the_records_in_the_format_asked(nat_run, capsys):
    from lab.cli.main import main

    assert main(["flowlogs", str(nat_run.directory), "--eni", "app1", "--format", "${interface-id} ${flow-direction}"]) == 0
    eni = nat_run.plan["nodes"]["app1"]["interfaces"][0]["eni"]
    assert capsys.readouterr().out.splitlines() == [f"{eni} egress", f"{eni} ingress"]


def test_cli_refuses_a_bad_format_and_an_unknown_eni(nat_run, capsys):
    from lab.cli.main import main

    assert main(["flowlogs", str(nat_run.directory), "--format", "${version} ${nope}"]) == 2
    assert "InvalidParameter" in capsys.readouterr().err
    assert main(["flowlogs", str(nat_run.directory), "--eni", "eni-0000"]) == 2
    assert "InvalidNetworkInterfaceID.NotFound" in capsys.readouterr().err
    assert main(["flowlogs", str(nat_run.directory / "nothing")]) == 2


def test_connection_records_follow_one_connection_across_the_nat_gateway(nat_run):
    flow = {"source": "app1", "proto": "tcp", "src": APP1, "sport": 40000, "dst": S3, "dport": 443, "start": 0}
    records = connection_records(nat_run, flow)
    assert {(r.eni.node, r.direction) for r in records} == {
        ("app1", "egress"),
        ("app1", "ingress"),
        ("app-nat-a", "ingress"),
        ("app-nat-a", "egress"),
    }
    assert check_flow_log({"eni": "app-nat-a", "traffic_path": 8, "action": "ACCEPT"}, tuple(records)) == []
    (failure,) = check_flow_log({"action": "REJECT"}, tuple(records))
    assert failure.startswith("expected a flow log record with action REJECT; the step's records: ")
    assert f"app1 egress {APP1}:40000->{S3}:443 ACCEPT path 1" in failure


def test_nacl_denied_reply_is_accept_then_reject_on_the_same_eni(tmp_path):
    """AWS's example: allowed in, the reply denied out by the subnet's ACL (stateless): the ENI's
    ingress record ACCEPT and its egress record REJECT."""
    lab = SyntheticRun(tmp_path)
    db1 = "10.0.3.4"
    request = IP(src=APP1, dst=db1, id=11) / TCP(sport=41000, dport=5432, flags="S", seq=1)
    steps = [("app1", "eth0", "out"), ("app-router", "br1p0", "in"), ("app-router", "br2p0", "out"), ("db1", "eth0", "in")]
    lab.travel(request, steps, 1_700_000_000.0)
    reply = IP(src=db1, dst=APP1, id=12) / TCP(sport=5432, dport=41000, flags="SA", seq=7, ack=2)
    lab.travel(reply, [("db1", "eth0", "out"), ("app-router", "br2p0", "in")])
    acl = next(a["acl_id"] for a in lab.plan["network_acls"].values() if a["subnet"] == "isolated-a")
    run = load_run(lab.write({"app-router": [{"comment": f"SUBNET_ACL_RESTRICTION {acl} egress rule 100", "packets": 1}]}))
    seen = {(r.eni.node, r.direction, r.action) for r in flow_records(run) if r.log_status == "OK"}
    assert seen == {
        ("app1", "egress", "ACCEPT"),
        ("db1", "ingress", "ACCEPT"),
        ("db1", "egress", "REJECT"),
    }
    flow = {"source": "app1", "proto": "tcp", "src": APP1, "sport": 41000, "dst": db1, "dport": 5432, "start": 0}
    step = {(r.eni.node, r.direction, r.action) for r in connection_records(run, flow)}
    assert step == seen  # the reply app1 never got is still the step's


def test_another_enis_counter_does_not_make_a_drop_a_reject(tmp_path):
    """A packet for db1 lost at the router while only web1's security group counted drops: no REJECT
    on db1 (nor anywhere), since no rule between the two ENIs counted anything."""
    lab = SyntheticRun(tmp_path)
    lost = IP(src=APP1, dst="10.0.3.4", id=13) / TCP(sport=41001, dport=5432, flags="S", seq=1)
    lab.travel(lost, [("app1", "eth0", "out"), ("app-router", "br1p0", "in")], 1_700_000_000.0)
    web1 = lab.plan["nodes"]["web1"]["interfaces"][0]["eni"]
    run = load_run(lab.write({"app-router": [{"comment": f"ENI_SG_RULES_MISMATCH {web1} ingress sg-1", "packets": 4}]}))
    assert [(r.eni.node, r.action) for r in flow_records(run) if r.log_status == "OK"] == [("app1", "ACCEPT")]
