"""The network, never the client, decides which ingress a request came by: from every kind of node
(the internet, a public instance, a private one behind a NAT gateway, one behind a gateway
endpoint, one through an interface endpoint, one in a peered VPC), only ports 80 and 443 of a
service front answer, and every request is logged with the ingress it truly used. Before, the front
listened on each ingress's local port on every address, so a client could pick its ingress (and its
aws:SourceVpce) by port.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.names import aws_id
from lab.realize.lab import Lab

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(240)]

TOPOLOGY = """
region: ap-northeast-2
vpcs:
  app:
    cidr: 10.0.0.0/16
    internet_gateway: true
    subnets:
      public-a:  {cidr: 10.0.1.0/24, az: a, route_table: public}
      private-a: {cidr: 10.0.2.0/24, az: a, route_table: private}
      iso-a:     {cidr: 10.0.3.0/24, az: a, route_table: isolated}
    route_tables:
      public:   [{destination: 0.0.0.0/0, target: igw}]
      private:  [{destination: 0.0.0.0/0, target: nat-a}, {destination: 10.1.0.0/16, target: app-peer}]
      isolated: [{destination: 10.1.0.0/16, target: app-peer}]
    nat_gateways: {nat-a: {subnet: public-a}}
    endpoints:
      s3-gw: {type: gateway, service: s3, route_tables: [isolated]}
      s3-if: {type: interface, service: s3, subnets: [private-a], private_dns: false, security_groups: [any-tcp]}
    peering: {app-peer: {peer_vpc: peer}}
    security_groups:  # every TCP port from both VPCs: the ENI itself must be what serves only 80 and 443
      any-tcp: {description: any TCP port, ingress: [{protocol: tcp, ports: 1-65535, cidr: 10.0.0.0/8}]}
    instances:
      web1: {subnet: public-a, public_ip: true}
      app1: {subnet: private-a}
      iso1: {subnet: iso-a}
  peer:
    cidr: 10.1.0.0/16
    subnets: {private-a: {cidr: 10.1.2.0/24, az: a, route_table: private}}
    route_tables: {private: [{destination: 10.0.0.0/16, target: app-peer}]}
    instances: {peer1: {subnet: private-a}}
services:
  s3:
    buckets:
      lab-bucket: {objects: {hello.txt: "hello\\n"}}
"""

# Connect to every port given, many at once, and print the ports that accepted (a reset or a
# silence of 1.5 s is closed). Runs inside a lab node.
SCANNER = """
import selectors, socket, sys, time
host, spec = sys.argv[1], sys.argv[2]
ports = [p for part in spec.split(",") for a, _, b in [part.partition("-")] for p in range(int(a), int(b or a) + 1)]
sel, open_ports, pending = selectors.DefaultSelector(), [], {}
def forget(s):
    sel.unregister(s); del pending[s]; s.close()
def settle(timeout):
    for key, _ in sel.select(timeout):
        if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            open_ports.append(pending[key.fileobj][0])
        forget(key.fileobj)
    for s, (_, since) in list(pending.items()):
        if time.monotonic() - since > 1.5:  # no answer: dropped on the way, closed
            forget(s)
for port in ports:
    while len(pending) >= 500:
        settle(0.2)
    s = socket.socket(); s.setblocking(False); s.connect_ex((host, port))
    pending[s] = (port, time.monotonic()); sel.register(s, selectors.EVENT_WRITE)
while pending:
    settle(0.2)
print(" ".join(map(str, sorted(open_ports))))
"""
EVERY_PORT = "1-65535"
# elsewhere: the well-known ports and everything around the fronts' local ports (8000 and up)
NEAR_PORTS = "1-1024,7900-8600,8080,8443,9000-9010,10080,10443"
VPCE_GW, VPCE_IF = aws_id("vpce", "app", "s3-gw"), aws_id("vpce", "app", "s3-if")
HOST = "lab-bucket.s3.ap-northeast-2.amazonaws.com"
SIGNED = (
    '--aws-sigv4 aws:amz:ap-northeast-2:s3 --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" '
    "-H \"x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)\""
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    plan = compile_plan(load_topology("inline.yaml", TOPOLOGY))
    with Lab(plan, tmp_path_factory.mktemp("ingress") / "run") as running:
        yield running


def scan(lab, node: str, address: str, ports: str, tmp: Path) -> list[int]:
    script = tmp / "scan.py"
    script.write_text(SCANNER)
    out = lab.node(node).cmd(f"{sys.executable} {script} {address} {ports}").strip()
    return [int(p) for p in out.split()] if out else []


def front_address(lab) -> str:
    return str(lab.plan.service_front("s3", "ap-northeast-2").addresses[0])


def eni_address(lab) -> str:
    return str(lab.plan.node("app-s3-if-a").addresses()[0])


@pytest.mark.parametrize(
    "node, to, ports",
    [
        ("internet-client", "front", EVERY_PORT),  # the internet
        ("iso1", "front", EVERY_PORT),  # behind the gateway endpoint
        ("web1", "front", NEAR_PORTS),  # public instance: internet gateway
        ("app1", "front", NEAR_PORTS),  # private instance: NAT gateway
        ("app1", "eni", NEAR_PORTS),  # the interface endpoint, in its own subnet
        ("peer1", "eni", NEAR_PORTS),  # the interface endpoint, from a peered VPC
    ],
)
def test_only_80_and_443_answer(lab, tmp_path, node, to, ports):
    address = front_address(lab) if to == "front" else eni_address(lab)
    assert scan(lab, node, address, ports, tmp_path) == [80, 443]


def curl(lab, node: str, url: str, *options: str) -> str:
    return (
        lab.node(node)
        .cmd(f"curl -sS -m 5 -o /dev/null -w '%{{http_code}}' {SIGNED} {' '.join(options)} {url}; echo \" exit=$?\"")
        .strip()
    )


def logged(lab) -> list[dict]:
    path = lab.run_dir / "services" / "s3-ap-northeast-2-requests.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_request_is_logged_with_the_ingress_it_truly_used(lab):
    before = len(logged(lab))
    eni = f"--resolve {HOST}:443:{eni_address(lab)}"
    for node, options in (("web1", ""), ("app1", ""), ("iso1", ""), ("app1", eni), ("peer1", eni)):
        assert curl(lab, node, f"https://{HOST}/hello.txt", options).startswith("200"), node
    seen = [(r["ingress"], r["key"], r["status"]) for r in logged(lab)[before:]]
    assert seen == [
        ("internet", "hello.txt", 200),
        ("internet", "hello.txt", 200),
        (VPCE_GW, "hello.txt", 200),
        (VPCE_IF, "hello.txt", 200),
        (VPCE_IF, "hello.txt", 200),
    ]


def test_a_client_cannot_choose_its_ingress_by_port(lab):
    """The old bypass: https://<front>:<an endpoint's local port>/ from the internet. Now reset."""
    before = len(logged(lab))
    ports = sorted({p for i in lab.plan.service_front("s3", "ap-northeast-2").ingresses for p in (i.http_port, i.https_port)})
    for port in ports:
        out = curl(lab, "web1", f"https://{HOST}:{port}/hello.txt")
        assert out.endswith("000 exit=7"), (port, out)  # connection refused: a reset
    assert logged(lab)[before:] == []
