"""VPC Flow Logs of a real kept run: one lab, five traced connections, each step checking its own
flow_log expectation, then the kept run's flowlogs.txt read back and held against the packets of
the captures, parsed independently here with scapy (not lab.analysis).

The lab: vpc app with a public subnet (web1 with a public IP; group web lets 443 in, not 22), a
private one (app1; 0.0.0.0/0 to a NAT gateway, S3's prefix list to a gateway endpoint, an SQS
interface endpoint with private DNS). Traffic paths (flow-log-records.html, traffic-path, Nitro):
app1 -> DynamoDB through the NAT gateway (app1's record 1, the NAT gateway's 8), app1 -> S3
through the gateway endpoint (7), app1 -> SQS's interface endpoint (1, and records on the
endpoint's ENI), web1 -> S3 in us-east-1 through the internet gateway (8), and the internet ->
web1:22, rejected by group web: REJECT on web1's ENI.
"""

from __future__ import annotations

import os
import textwrap

import pytest
from labsafety import REPO
from scapy.layers.inet import IP, TCP
from scapy.utils import PcapReader

from lab.analysis.flowlogs import connection_records, flow_records
from lab.analysis.run import load_run
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.scenario.expect import check_flow_log
from lab.scenario.runner import run_scenario

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds a real lab: run as root"), pytest.mark.timeout(600)]

TOPOLOGY = """
region: ap-northeast-2
vpcs:
  app:
    cidr: 10.0.0.0/16
    internet_gateway: true
    enable_dns_support: true
    enable_dns_hostnames: true
    subnets:
      public-a:  {cidr: 10.0.1.0/24, az: a, route_table: public}
      private-a: {cidr: 10.0.2.0/24, az: a, route_table: private}
    route_tables:
      public:  [{destination: 0.0.0.0/0, target: igw}]
      private: [{destination: 0.0.0.0/0, target: nat-a}]
    nat_gateways:
      nat-a: {subnet: public-a}
    security_groups:
      web:
        ingress: [{protocol: tcp, port: 443, cidr: 0.0.0.0/0}]
    endpoints:
      s3-gw: {type: gateway, service: s3, route_tables: [private]}
      sqs-if: {type: interface, service: sqs, subnets: [private-a]}
    instances:
      web1: {subnet: public-a, public_ip: true, security_groups: [web]}
      app1: {subnet: private-a}
"""
SCENARIO = """
topology: topology.yaml
steps:
  - name: app1 -> DynamoDB through the NAT gateway
    from: app1
    trace: dynamodb.ap-northeast-2.amazonaws.com
    expect:
      outcome: ok
      flow_log: {{eni: app-nat-a, traffic_path: 8, action: ACCEPT}}
  - name: app1 -> S3 through the gateway endpoint
    from: app1
    trace: s3.ap-northeast-2.amazonaws.com
    expect:
      outcome: ok
      flow_log: {{eni: app1, traffic_path: 7}}
  - name: app1 -> SQS through the interface endpoint
    from: app1
    trace: sqs.ap-northeast-2.amazonaws.com
    expect:
      outcome: ok
      flow_log: {{eni: {endpoint_eni}, action: ACCEPT}}
  - name: web1 -> S3 in us-east-1 through the internet gateway
    from: web1
    trace: s3.us-east-1.amazonaws.com
    expect:
      outcome: ok
      flow_log: {{eni: web1, traffic_path: 8}}
  - name: the internet -> web1:22, which group web does not let in
    from: internet-client
    trace: {web1_ip}
    port: 22
    expect:
      outcome: timeout
      dropped_by: ENI_SG_RULES_MISMATCH
      flow_log: {{eni: web1, action: REJECT}}
"""
V2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status".split()


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """The scenario run once, kept: (result, run directory, plan)."""
    directory = tmp_path_factory.mktemp("flowlogs")
    (directory / "topology.yaml").write_text(textwrap.dedent(TOPOLOGY))
    plan = compile_plan(load_topology(directory / "topology.yaml"))
    web1_ip = next(p.address for p in plan.public_ips if p.owner == "web1")
    endpoint_eni = next(n for n in plan.nodes.values() if n.kind == "interface-endpoint").name
    (directory / "scenario.yaml").write_text(SCENARIO.format(web1_ip=web1_ip, endpoint_eni=endpoint_eni))
    result = run_scenario(directory / "scenario.yaml", keep=directory / "run")
    return result, directory / "run", plan


def test_every_step_meets_its_flow_log_expectation(kept):
    result, _, _ = kept
    failures = [f"{r.step.name}: {f}" for r in result.steps for f in r.failures]
    assert failures == []


def test_the_kept_run_holds_its_flow_log_in_the_default_format(kept):
    _, run_dir, plan = kept
    lines = (run_dir / "flowlogs.txt").read_text().splitlines()
    assert lines and all(len(line.split()) == len(V2) for line in lines)
    enis = {i.eni for n in plan.nodes.values() for i in n.interfaces if i.eni}
    assert {line.split()[2] for line in lines} == enis  # every ENI, with traffic or NODATA
    assert {line.split()[-1] for line in lines} <= {"OK", "NODATA", "SKIPDATA"}


def captured(run_dir, node: str, outgoing: bool) -> list[tuple[float, IP]]:
    """The IPv4 packets a node's capture holds on its ENI (eth0), sent or received, read with scapy:
    SLL2 packet type 4 is outgoing (tcpdump's LINKTYPE_LINUX_SLL2)."""
    names = __import__("json").loads((run_dir / "captures" / "interfaces.json").read_text())[node]
    eth0 = next(int(i) for i, name in names.items() if name == "eth0")
    found = []
    with PcapReader(str(run_dir / "captures" / f"{node}.pcap")) as reader:
        for frame in reader:
            raw = bytes(frame)
            ifindex, pkttype = int.from_bytes(raw[4:8], "big"), raw[10]
            if raw[0:2] == b"\x08\x00" and ifindex == eth0 and (pkttype == 4) == outgoing:
                found.append((float(frame.time), IP(raw[20:])))
    return found


def test_a_record_agrees_with_its_packets_field_by_field(kept):
    """web1's egress record of its S3 connection, every v2 field against the capture."""
    _, run_dir, plan = kept
    eni = plan.eni_id("web1")
    address = str(plan.eni_address("web1"))
    lines = [dict(zip(V2, line.split())) for line in (run_dir / "flowlogs.txt").read_text().splitlines()]
    mine = [r for r in lines if r["interface-id"] == eni and r["srcaddr"] == address and r["dstport"] == "443"]
    assert mine, "no egress record of web1 to port 443"
    record = mine[0]
    packets = [
        (t, p)
        for t, p in captured(run_dir, "web1", outgoing=True)
        if TCP in p and (p.dst, p[TCP].sport, p[TCP].dport) == (record["dstaddr"], int(record["srcport"]), 443)
    ]
    assert packets
    flags = 0
    for _, p in packets:
        flags |= int(p[TCP].flags) & 0x07
    assert record == {
        "version": "2",
        "account-id": "111122223333",
        "interface-id": eni,
        "srcaddr": address,
        "dstaddr": packets[0][1].dst,
        "srcport": str(packets[0][1][TCP].sport),
        "dstport": "443",
        "protocol": "6",
        "packets": str(len(packets)),
        "bytes": str(sum(p.len for _, p in packets)),
        "start": str(int(packets[0][0])),
        "end": str(int(packets[-1][0])),
        "action": "ACCEPT",
        "log-status": "OK",
    }
    assert flags & 0x02  # the SYN is in it


def test_traffic_paths_and_nat_fields(kept):
    _, run_dir, plan = kept
    records = [r for r in flow_records(load_run(run_dir)) if r.log_status == "OK" and r.direction == "egress"]
    paths = {(r.eni.node, r.traffic_path) for r in records if r.proto == 6}
    assert ("web1", 8) in paths  # internet gateway
    assert ("app-nat-a", 8) in paths  # the NAT gateway's way out
    assert ("app1", 7) in paths  # gateway endpoint
    assert ("app1", 1) in paths  # to the NAT gateway and to the interface endpoint, in the VPC
    endpoint = next(n.name for n in plan.nodes.values() if n.kind == "interface-endpoint")
    assert (endpoint, 1) in paths  # the endpoint's answers to app1
    nat_out = [r for r in records if r.eni.node == "app-nat-a" and r.pkt_dst == str(plan.eni_address("app1"))]
    assert nat_out and all(r.srcaddr == str(plan.eni_address("app-nat-a")) and r.pkt_src != r.srcaddr for r in nat_out)


def test_the_rejected_connection_is_reject_on_web1_only(kept):
    _, run_dir, plan = kept
    records = flow_records(load_run(run_dir))
    rejected = [r for r in records if r.action == "REJECT"]
    assert rejected and {(r.eni.node, r.direction, r.dport) for r in rejected} == {("web1", "ingress", 22)}


def test_a_wrong_expectation_fails_against_the_same_records(kept):
    """The check is not vacuous: the accepted S3 connection holds no REJECT and no traffic-path 7."""
    result, run_dir, _ = kept
    trace = result.steps[3].observed
    records = tuple(connection_records(load_run(run_dir), trace.observed.flow))
    assert {r.eni.node for r in records} == {"web1"}
    assert check_flow_log({"eni": "web1", "traffic_path": 8}, records) == []
    assert check_flow_log({"action": "REJECT"}, records)
    assert check_flow_log({"eni": "web1", "traffic_path": 7}, records)
    assert check_flow_log({"eni": "app1"}, records)


def test_amazon_dns_traffic_is_not_logged(kept):
    """Every probe resolved its name at the VPC's resolver (base+2): none of it is in the log."""
    _, run_dir, _ = kept
    lines = (run_dir / "flowlogs.txt").read_text().splitlines()
    assert not [line for line in lines if "10.0.0.2" in line.split()[3:5] or line.split()[6] == "53"]


SECURITY_SCENARIO = """
topology: {topology}
steps:
  - name: app1 -> db1:5432 arrives; db1's reset is denied by data-a's ACL on its way out
    from: app1
    trace: db1
    port: 5432
    expect:
      outcome: timeout
      flow_log: {{eni: db1, action: REJECT}}
  - name: web1 -> app1:443, which group app does not let in
    from: web1
    trace: app1
    port: 443
    expect:
      outcome: timeout
      flow_log: {{eni: app1, action: REJECT}}
  - name: web2 -> app1:8080, denied by app-a's ACL rule 90 on the way in
    from: web2
    trace: app1
    port: 8080
    expect:
      outcome: timeout
      flow_log: {{eni: app1, action: REJECT}}
"""


@pytest.fixture(scope="module")
def security_run(tmp_path_factory):
    """topologies/security-groups.yaml with three denials, kept: (result, records)."""
    directory = tmp_path_factory.mktemp("flowlogs-security")
    topology = REPO / "topologies" / "security-groups.yaml"
    (directory / "scenario.yaml").write_text(SECURITY_SCENARIO.format(topology=topology))
    result = run_scenario(directory / "scenario.yaml", keep=directory / "run")
    return result, [r for r in flow_records(load_run(directory / "run")) if r.log_status == "OK"]


def test_security_group_and_acl_denials_meet_their_expectations(security_run):
    result, _ = security_run
    assert [f"{r.step.name}: {f}" for r in result.steps for f in r.failures] == []


def test_a_nacl_denied_reply_is_accept_in_and_reject_out_on_the_same_eni(security_run):
    """AWS's example (flow-logs-records-examples.html): the request ACCEPT, the reply REJECT."""
    _, records = security_run
    db1 = {(r.direction, r.action, r.sport if r.direction == "egress" else r.dport) for r in records if r.eni.node == "db1"}
    assert db1 == {("ingress", "ACCEPT", 5432), ("egress", "REJECT", 5432)}


def test_inbound_denials_are_reject_on_the_destination_and_accept_at_the_source(security_run):
    _, records = security_run
    app1 = {(r.pkt_src, r.dport, r.direction, r.action) for r in records if r.eni.node == "app1" and r.direction == "ingress"}
    assert ("10.0.1.10", 443, "ingress", "REJECT") in app1  # group app
    assert ("10.0.1.20", 8080, "ingress", "REJECT") in app1  # app-a's ACL, rule 90
    egress = [r for r in records if r.direction == "egress" and r.dport in (443, 8080)]
    sent = {(r.eni.node, r.dport, r.action, r.traffic_path) for r in egress}
    assert {("web1", 443, "ACCEPT", 1), ("web2", 8080, "ACCEPT", 1)} <= sent
