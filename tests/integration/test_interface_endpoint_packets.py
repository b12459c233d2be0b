"""Interface endpoints from real packets and real clients: the ENI carries TCP only; every endpoint
name a client may use verifies over TLS (curl, the AWS CLI) from the VPC and from a peered VPC; the
service sees the client's private IP as aws:VpcSourceIp, the vpce id and no aws:SourceIp; a peered
VPC uses the interface endpoint while the gateway endpoint of the same VPC refuses it.

The lab: vpc app (isolated subnets in two AZs) with an S3 gateway endpoint and S3 and DynamoDB
interface endpoints whose group lets everything in from 10.0.0.0/8, so that only the endpoint
itself decides; vpc peer, peered, routes app's CIDR and S3's prefix list to the peering connection.
The bucket's policy denies GetObject unless aws:VpcSourceIp is in app's subnet isolated-a, and
everything not through app's endpoints (aws:SourceVpce) or not from app's VPC (aws:SourceVpc, the
endpoint's VPC even for a peered client), or with any aws:SourceIp (absent through an endpoint).
Sources: https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html (TCP
only), https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html
(endpoint names, --endpoint-url), https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html
(not usable over peering).
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.compile import compile_plan
from lab.realize.lab import Lab

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(300)]

REGION = "ap-northeast-2"
TOPOLOGY = """
region: ap-northeast-2
vpcs:
  app:
    cidr: 10.0.0.0/16
    subnets:
      isolated-a: {cidr: 10.0.3.0/24, az: a, route_table: isolated}
      isolated-c: {cidr: 10.0.13.0/24, az: c, route_table: isolated}
    route_tables:
      isolated: [{destination: 10.1.0.0/16, target: app-peer}]
    peering: {app-peer: {peer_vpc: peer}}
    security_groups:
      everything:
        description: all traffic from both VPCs, so that only the endpoint decides
        ingress: [{protocol: all, cidr: 10.0.0.0/8}]
    endpoints:
      s3-gw: {type: gateway, service: s3, route_tables: [isolated]}
      s3-if:
        type: interface
        service: s3
        subnets: [isolated-a, isolated-c]
        subnet_configurations: [{subnet: isolated-a, ipv4: 10.0.3.50}]
        security_groups: [everything]
      ddb-if: {type: interface, service: dynamodb, subnets: [isolated-a], security_groups: [everything]}
    instances: {app1: {subnet: isolated-a}}
  peer:
    cidr: 10.1.0.0/16
    subnets: {private-a: {cidr: 10.1.2.0/24, az: a, route_table: private}}
    route_tables:
      private: [{destination: 10.0.0.0/16, target: app-peer}, {destination: "pl:s3", target: app-peer}]
    instances: {peer1: {subnet: private-a}}
services:
  s3:
    buckets:
      lab-bucket: {policy: policy.json, objects: {hello.txt: "hello through an endpoint\\n"}}
  dynamodb:
    tables: {lab-table: {}}
"""
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OnlyFromIsolatedA",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::lab-bucket/*",
            "Condition": {"NotIpAddress": {"aws:VpcSourceIp": "10.0.3.0/24"}},
        },
        {  # through either endpoint of app, whichever VPC the client is in
            "Sid": "OnlyAppsEndpoints",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::lab-bucket", "arn:aws:s3:::lab-bucket/*"],
            "Condition": {"StringNotEquals": {"aws:SourceVpce": [names.vpce_id("app", "s3-if"), names.vpce_id("app", "s3-gw")]}},
        },
        {  # the endpoint's VPC, even for a client of the peered VPC
            "Sid": "OnlyAppsVpc",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::lab-bucket", "arn:aws:s3:::lab-bucket/*"],
            "Condition": {"StringNotEquals": {"aws:SourceVpc": names.vpc_id("app")}},
        },
        {  # never applies through an endpoint: S3 leaves aws:SourceIp out there
            "Sid": "NoPublicSource",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::lab-bucket", "arn:aws:s3:::lab-bucket/*"],
            "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
        },
    ],
}
S3_IF, S3_GW, DDB_IF = names.vpce_id("app", "s3-if"), names.vpce_id("app", "s3-gw"), names.vpce_id("app", "ddb-if")
S3_NAME = names.endpoint_dns_name(S3_IF, "s3", REGION)
S3_ZONAL = names.endpoint_dns_name(S3_IF, "s3", REGION, "ap-northeast-2c")
DDB_NAME = names.endpoint_dns_name(DDB_IF, "dynamodb", REGION)
ENI_A = "10.0.3.50"

# Send UDP datagrams and report what came back: "nothing", or the socket error (a port
# unreachable surfaces as ECONNREFUSED on a connected UDP socket).
UDP = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.5); s.connect((sys.argv[1], int(sys.argv[2])))
try:
    for _ in range(3):
        s.send(b"x")
    print(s.recv(100))
except socket.timeout:
    print("nothing")
except OSError as e:
    print(type(e).__name__)
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    where = tmp_path_factory.mktemp("interface")
    (where / "policy.json").write_text(json.dumps(POLICY))
    (where / "lab.yaml").write_text(TOPOLOGY)
    plan = compile_plan(load_topology(str(where / "lab.yaml")))
    with Lab(plan, where / "run") as running:
        yield running


def counted(lab, node: str, comment: str) -> int:
    lab.save_drops()
    drops = json.loads((lab.run_dir / "drops.json").read_text())
    return sum(c["packets"] for c in drops.get(node, []) if c["comment"] == comment)


def run(lab, node: str, command: str) -> str:
    return lab.node(node).cmd(f"{command} 2>&1; echo exit=$?").replace("\r\n", "\n").strip()


def requests(lab, service: str = "s3") -> list[dict]:
    path = lab.run_dir / "services" / f"{service}-{REGION}-requests.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- TCP only -----------------------------------------------------------------------------------
@pytest.mark.parametrize("node", ["app1", "peer1"])
def test_the_eni_answers_no_ping_and_counts_it(lab, node):
    before = counted(lab, "app-s3-if-a", "INTERFACE_ENDPOINT_TCP_ONLY")
    out = run(lab, node, f"ping -c 2 -W 1 {ENI_A}")
    assert "0 received" in out and out.endswith("exit=1"), out
    assert counted(lab, "app-s3-if-a", "INTERFACE_ENDPOINT_TCP_ONLY") - before >= 2


def test_udp_gets_no_answer_not_even_port_unreachable(lab, tmp_path):
    script = tmp_path / "udp.py"
    script.write_text(UDP)
    before = counted(lab, "app-s3-if-a", "INTERFACE_ENDPOINT_TCP_ONLY")
    for port in (53, 443):
        assert lab.node("app1").cmd(f"{sys.executable} {script} {ENI_A} {port}").strip() == "nothing"
    assert counted(lab, "app-s3-if-a", "INTERFACE_ENDPOINT_TCP_ONLY") - before >= 6


def test_tcp_to_a_port_the_service_does_not_serve_is_dropped(lab):
    before = counted(lab, "app-s3-if-a", "INTERFACE_ENDPOINT_PORT_NOT_SERVED")
    out = run(lab, "app1", f"curl -sS -m 2 -o /dev/null http://{ENI_A}:22/")
    assert out.endswith("exit=28"), out  # a timeout: nothing answers, not even a reset
    assert counted(lab, "app-s3-if-a", "INTERFACE_ENDPOINT_PORT_NOT_SERVED") - before >= 1


# -- every name a client may use, over verified TLS --------------------------------------------
@pytest.mark.parametrize("node", ["app1", "peer1"])
def test_the_aws_cli_takes_the_endpoint_names_as_endpoint_url(lab, node):
    """Issue 10: these failed with `Hostname mismatch`. app1's object read passes the policy (its
    address is in isolated-a); peer1's is denied by it, which proves S3 read aws:VpcSourceIp."""
    listed = run(lab, node, f"aws s3 ls s3://lab-bucket --endpoint-url https://bucket.{S3_NAME}")
    assert "hello.txt" in listed and listed.endswith("exit=0"), listed
    tables = run(lab, node, f"aws dynamodb list-tables --endpoint-url https://{DDB_NAME}")
    assert "lab-table" in tables and tables.endswith("exit=0"), tables
    got = run(lab, node, f"aws s3 cp s3://lab-bucket/hello.txt - --endpoint-url https://bucket.{S3_ZONAL}")
    if node == "app1":
        assert got == "hello through an endpoint\nexit=0"
    else:
        assert "AccessDenied" in got or "403" in got, got


@pytest.mark.parametrize("host", [S3_NAME, f"bucket.{S3_NAME}", f"lab-bucket.bucket.{S3_NAME}", S3_ZONAL])
def test_curl_verifies_every_s3_endpoint_name(lab, host):
    path = "/hello.txt" if host.startswith("lab-bucket.") else "/lab-bucket/hello.txt"
    out = run(lab, "peer1", f"curl -sS -m 5 -o /dev/null -w '%{{http_code}}' https://{host}{path}")
    assert out == "403exit=0", out  # verified TLS and an answer: anonymous, S3 says AccessDenied


# -- what the service sees --------------------------------------------------------------------
def test_s3_sees_the_private_ip_and_the_vpce_and_no_source_ip(lab):
    before = len(requests(lab))
    assert run(lab, "app1", f"aws s3 cp s3://lab-bucket/hello.txt - --endpoint-url https://bucket.{S3_NAME}").endswith("exit=0")
    assert run(lab, "peer1", f"aws s3 cp s3://lab-bucket/hello.txt - --endpoint-url https://bucket.{S3_NAME}").endswith("exit=1")
    seen = [(r["source_ip"], r["vpce_id"], r["status"], r["denied_by"]) for r in requests(lab)[before:]]
    assert seen[0][:3] == ("10.0.3.4", S3_IF, 200)  # the CLI's HEAD, then its GET
    assert seen[-1][:3] == ("10.1.2.4", S3_IF, 403)  # its HEAD, denied: no GET follows
    assert "OnlyFromIsolatedA" in json.dumps(seen[-1][3])  # the VpcSourceIp statement, never NoPublicSource


# -- a peered VPC: the interface endpoint serves it, the gateway endpoint does not -------------
def test_from_a_peered_vpc_the_interface_endpoint_works_and_the_gateway_endpoint_does_not(lab):
    before_gw = counted(lab, "app-router", "PEERING_NOT_TRANSITIVE")
    # the same GET of the same object, side by side
    by_gateway = run(
        lab, "peer1", "curl -sS -m 3 -o /dev/null -w '%{http_code}' https://lab-bucket.s3.ap-northeast-2.amazonaws.com/hello.txt"
    )
    by_interface = run(
        lab, "peer1", f"curl -sS -m 3 -o /dev/null -w '%{{http_code}}' https://lab-bucket.bucket.{S3_NAME}/hello.txt"
    )
    by_eni_ip = run(
        lab,
        "peer1",
        f"curl -sS -m 3 -o /dev/null -w '%{{http_code}}' --resolve lab-bucket.s3.ap-northeast-2.amazonaws.com:443:{ENI_A} "
        "https://lab-bucket.s3.ap-northeast-2.amazonaws.com/hello.txt",
    )
    assert by_gateway.endswith("000exit=28"), by_gateway  # timed out: dropped at app's router
    assert counted(lab, "app-router", "PEERING_NOT_TRANSITIVE") - before_gw >= 1
    assert by_interface == "403exit=0" and by_eni_ip == "403exit=0", (by_interface, by_eni_ip)
    # and from app itself the public name takes the gateway endpoint (PrivateDnsOnlyForInboundResolverEndpoint)
    before = len(requests(lab))
    assert run(lab, "app1", "curl -sS -m 3 -o /dev/null https://lab-bucket.s3.ap-northeast-2.amazonaws.com/hello.txt").endswith(
        "exit=0"
    )
    assert run(lab, "app1", f"curl -sS -m 3 -o /dev/null https://lab-bucket.bucket.{S3_NAME}/hello.txt").endswith("exit=0")
    assert [r["vpce_id"] for r in requests(lab)[before:]] == [S3_GW, S3_IF]


# -- adversarial -------------------------------------------------------------------------------
def test_an_address_routed_through_the_eni_reaches_no_service(lab):
    """A client that makes the ENI its gateway for some other address (here a TEST-NET one, port 443)
    must not reach S3 through it: an ENI takes only what is addressed to it."""
    node = lab.node("app1")
    node.cmd(f"ip route add 198.51.100.7/32 via {ENI_A}")
    try:
        before = len(requests(lab))
        out = run(lab, "app1", "curl -sS -k -m 3 -o /dev/null -w '%{http_code}' https://198.51.100.7/")
        assert out.endswith("000exit=28"), out
        assert len(requests(lab)) == before
    finally:
        node.cmd("ip route del 198.51.100.7/32")


def test_the_ruleset_forwards_only_what_is_addressed_to_the_eni(lab):
    ruleset = lab.plan.node("app-s3-if-a").nftables
    assert f"ip daddr {ENI_A} tcp dport {{ 80, 443 }} dnat ip to" in ruleset
