"""A Network Load Balancer from real packets: a client in the provider VPC reaches the targets
through the NLB node's kernel DNAT (flow hash, one connection on one target, new connections
spread over the node's AZ), and through the PROXY protocol v2 proxy (the target's application
reads the v2 header: the client as the NLB saw it; the health checks' LOCAL headers); targets
leave rotation after the unhealthy threshold and come back after the healthy one, and with every
target unhealthy the NLB fails open. The targets' security group lets the VPC's CIDR in: an NLB
without security groups reaches its targets from its nodes' IPs, which the targets' groups must
allow, health checks included (AWS: "Target security groups").

Sources: https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html,
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.realize.lab import Lab
from lab.results import Outcome
from lab.scenario.observe import trace

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(600)]

TOPOLOGY = """
region: ap-northeast-2
vpcs:
  provider:
    cidr: 10.1.0.0/16
    subnets:
      app-a: {cidr: 10.1.1.0/24, az: a}
      app-c: {cidr: 10.1.2.0/24, az: c}
    instances:
      client: {subnet: app-a, private_ip: 10.1.1.20}
      client-c: {subnet: app-c, private_ip: 10.1.2.20}
      web-a: {subnet: app-a, private_ip: 10.1.1.10, security_groups: [web]}
      web-a2: {subnet: app-a, private_ip: 10.1.1.11, security_groups: [web]}
      web-c: {subnet: app-c, private_ip: 10.1.2.10, security_groups: [web]}
    security_groups:
      web:
        description: the NLB's nodes (health checks and traffic) from anywhere in the VPC
        ingress: [{protocol: tcp, ports: 8080-8081, cidr: 10.1.0.0/16}]
    load_balancers:
      shop:
        subnets: [app-a, app-c]
        listeners:
          - {port: 80, target_group: web}
          - {port: 81, target_group: web-pp}
          - {port: 82, target_group: web-instances}
          - {port: 83, target_group: web, idle_timeout: 60}
          - {port: 84, target_group: web-pp, idle_timeout: 60}
    target_groups:
      web:
        target_type: ip
        port: 8080
        targets: [{ip: 10.1.1.10}, {ip: 10.1.1.11}, {ip: 10.1.2.10}]
        health_check: {interval: 5, timeout: 2, healthy_threshold: 2, unhealthy_threshold: 2}
        app: provider-app
      web-pp:
        target_type: ip
        port: 8081
        proxy_protocol_v2: true
        targets: [{ip: 10.1.1.10}, {ip: 10.1.1.11}]
        health_check: {interval: 5, timeout: 2, healthy_threshold: 2, unhealthy_threshold: 2}
        app: provider-app
      web-instances:
        port: 8080
        targets: [{instance: web-a}, {instance: web-a2}, {instance: web-c}]
        health_check: {interval: 5, timeout: 2, healthy_threshold: 2, unhealthy_threshold: 2}
        app: provider-app
"""
# Two requests on one connection, then N new connections: which target answered each.
CLIENT = """
import http.client, json, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = http.client.HTTPConnection(host, port, timeout=5)
same = []
for _ in range(3):
    c.request("GET", "/"); same.append(json.loads(c.getresponse().read()))
fresh = []
for _ in range(n):
    d = http.client.HTTPConnection(host, port, timeout=5)
    d.request("GET", "/"); fresh.append(json.loads(d.getresponse().read())); d.close()
print(json.dumps({"same": same, "fresh": fresh}))
"""
# One request to port `sys.argv[3]`, `sys.argv[2]` seconds of silence, then another on the same connection.
IDLE = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[3])), timeout=5)
s.sendall(b"GET / HTTP/1.1\\r\\nHost: nlb\\r\\n\\r\\n"); first = s.recv(4096)
while not first.endswith(b"}\\n"):  # the whole answer (its JSON body ends the response)
    first += s.recv(4096)
time.sleep(float(sys.argv[2]))
try:
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: nlb\\r\\n\\r\\n"); print("answered" if s.recv(4096) else "closed")
except (ConnectionResetError, BrokenPipeError):
    print("reset")
"""
STOP = (  # the application stops answering on 8080: the kernel resets connections to it
    "nft add table ip stopped; nft add chain ip stopped in '{ type filter hook input priority 0; }'; "
    "nft add rule ip stopped in tcp dport 8080 reject with tcp reset"
)
START = "nft delete table ip stopped"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    where = tmp_path_factory.mktemp("nlb")
    (where / "lab.yaml").write_text(TOPOLOGY)
    plan = compile_plan(load_topology(str(where / "lab.yaml")))
    with Lab(plan, where / "run") as running:
        (where / "client.py").write_text(CLIENT)
        running.client_script = str(where / "client.py")
        yield running


def nlb_ip(lab, az: str = "ap-northeast-2a") -> str:
    node = lab.plan.load_balancer_node("provider", "shop", az)
    assert node is not None
    return str(node.address)


def ask(lab, port: int, n: int = 12, client: str = "client", az: str = "ap-northeast-2a") -> dict:
    out = lab.node(client).cmd(f"python3 {lab.client_script} {nlb_ip(lab, az)} {port} {n} 2>&1")
    return json.loads(out.strip().splitlines()[-1])


def health(lab, node: str = "provider-shop-a") -> dict:
    return json.loads((lab.run_dir / "services" / f"{node}-target-health.json").read_text())


def states(lab, group: str, node: str = "provider-shop-a") -> dict[str, str]:
    return {t["id"]: t["state"] for t in health(lab, node)[group]["targets"]}


def wait_for(predicate, timeout: float = 40.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def healthy_all(lab) -> bool:
    """Every target healthy as both nodes see it (each node checks every target on its own)."""
    return all(
        set(states(lab, g, node).values()) == {"healthy"}
        for g in ("web", "web-pp", "web-instances")
        for node in ("provider-shop-a", "provider-shop-c")
    )


def test_the_kernel_path_reaches_a_target_of_the_nodes_az_from_the_nlbs_ip(lab):
    assert wait_for(lambda: healthy_all(lab))
    seen = ask(lab, 80)
    nodes = {r["node"] for r in seen["fresh"]}
    assert nodes == {"web-a", "web-a2"}  # new connections spread; web-c is in the other AZ (no cross-zone)
    for r in seen["fresh"]:
        assert r["peer"].split(":")[0] == nlb_ip(lab)  # IP targets over TCP: client IP not preserved
        assert r["local"].endswith(":8080") and "proxy_protocol" not in r


@pytest.mark.parametrize(
    ("client", "az", "targets"),
    [
        ("client", "ap-northeast-2a", {"web-a", "web-a2"}),  # client, node and targets in one subnet
        ("client-c", "ap-northeast-2a", {"web-a", "web-a2"}),  # the answer is routed, from the node's subnet
        ("client", "ap-northeast-2c", {"web-c"}),  # the node and its target in another subnet than the client
    ],
)
def test_instance_targets_see_the_clients_own_ip(lab, client, az, targets):
    """Client IP preservation, on by default for instance targets: the target sees the client's
    address, and its answer still goes back through the NLB node (the client spoke to the NLB)."""
    seen = ask(lab, 82, n=8, client=client, az=az)
    own = str(lab.plan.eni_address(client))
    assert {r["node"] for r in seen["fresh"]} == targets
    assert all(r["peer"].split(":")[0] == own for r in seen["same"] + seen["fresh"])


def test_one_connection_stays_on_one_target(lab):
    same = ask(lab, 80, n=0)["same"]
    assert len({r["node"] for r in same}) == 1 and [r["request_on_connection"] for r in same] == [1, 2, 3]


def test_ppv2_the_target_reads_the_client_as_the_nlb_saw_it(lab):
    seen = ask(lab, 81, n=6)
    for r in seen["same"] + seen["fresh"]:
        pp = r["proxy_protocol"]
        assert pp["command"] == "PROXY" and pp["source"].startswith("10.1.1.20:")
        assert pp["destination"] == f"{nlb_ip(lab)}:81" and pp["vpce_id"] is None
        assert r["peer"].split(":")[0] == nlb_ip(lab)
    assert {r["node"] for r in seen["fresh"]} <= {"web-a", "web-a2"}


def test_ppv2_health_checks_send_local(lab):
    entries = [json.loads(line) for line in (lab.run_dir / "services" / "web-a-provider-app.jsonl").read_text().splitlines()]
    local = [e for e in entries if e.get("proxy_protocol", {}).get("command") == "LOCAL"]
    assert local and all(e["local"].endswith(":8081") and e["request"] is None for e in local)
    plain = [e for e in entries if e["local"].endswith(":8080") and e["request"] is None]
    assert plain and all("proxy_protocol" not in e for e in plain)  # no PPv2: a bare TCP connect


def test_a_stopped_target_leaves_rotation_and_comes_back(lab):
    lab.node("web-a2").cmd(STOP)
    try:
        assert wait_for(lambda: states(lab, "web")["10.1.1.11"] == "unhealthy")
        assert {r["node"] for r in ask(lab, 80)["fresh"]} == {"web-a"}
    finally:
        lab.node("web-a2").cmd(START)
    assert wait_for(lambda: states(lab, "web")["10.1.1.11"] == "healthy")
    assert {r["node"] for r in ask(lab, 80, n=16)["fresh"]} == {"web-a", "web-a2"}


def counted(lab, node: str, comment: str) -> int:
    lab.save_drops()
    drops = json.loads((lab.run_dir / "drops.json").read_text())
    return sum(c["packets"] for c in drops.get(node, []) if c["comment"] == comment)


def test_a_zone_without_a_healthy_target_drops_and_counts(lab):
    """Without cross-zone, node c sends only to web-c; with web-c unhealthy and healthy targets in
    zone a, the NLB does not fail open: node c has no target (AWS takes its IP out of DNS)."""
    lab.node("web-c").cmd(STOP)
    try:
        assert wait_for(lambda: states(lab, "web")["10.1.2.10"] == "unhealthy")
        assert health(lab, "provider-shop-c")["web"]["failed_open"] is False
        before = counted(lab, "provider-shop-c", "NLB_NO_HEALTHY_TARGET")
        out = lab.node("client").cmd(f"curl -s -m 3 http://{nlb_ip(lab, 'ap-northeast-2c')}/; echo rc=$?")
        assert out.strip().endswith("rc=28")  # curl's timeout: the SYN went nowhere
        assert counted(lab, "provider-shop-c", "NLB_NO_HEALTHY_TARGET") > before
        assert {r["node"] for r in ask(lab, 80, n=4)["fresh"]} <= {"web-a", "web-a2"}  # zone a unaffected
    finally:
        lab.node("web-c").cmd(START)
    assert wait_for(lambda: healthy_all(lab))


def test_the_nlb_node_is_no_router(lab):
    """Adversarial: a client that routes through the NLB's IP to reach a target on a port no listener
    serves gets nothing through: the node forwards only what its listeners translated."""
    before = counted(lab, "provider-shop-a", "NLB_NO_LISTENER")
    client = lab.node("client")
    client.cmd(f"ip route add 10.1.2.10/32 via {nlb_ip(lab)}")
    try:
        out = client.cmd("curl -s -m 3 http://10.1.2.10:8080/; echo rc=$?")
    finally:
        client.cmd(f"ip route del 10.1.2.10/32 via {nlb_ip(lab)}")
    assert out.strip().endswith("rc=28")
    assert counted(lab, "provider-shop-a", "NLB_NO_LISTENER") > before
    assert json.loads(client.cmd("curl -s -m 3 http://10.1.2.10:8080/"))["node"] == "web-c"  # directly: fine


@pytest.mark.parametrize(
    ("port", "outcome"),
    [(82, Outcome.OK), (80, Outcome.OK), (85, Outcome.TIMEOUT)],
)
def test_explain_predicts_a_client_of_the_vpc_through_the_nlb_as_trace_observes(lab, port, outcome):
    """To the node of zone c, whose groups have one target there (web-c, 10.1.2.10): 82, instance
    targets, the client's IP kept; 80, IP targets, the node's IP; 85, no listener: dropped in the
    node, not reset (NLB_NO_LISTENER)."""
    assert wait_for(lambda: healthy_all(lab))
    topology, address = load_topology(lab.plan.source), nlb_ip(lab, "ap-northeast-2c")
    predicted = explain(topology, lab.plan, "client", address, port)
    assert predicted.outcome == outcome, predicted.explanation
    observed = trace(lab, predicted, "client", address, port)
    assert observed.outcome == outcome and observed.agrees, observed.disagreements
    if outcome == Outcome.OK:
        kept = str(lab.plan.eni_address("client")) if port == 82 else address
        assert observed.observed.service_saw.source_ip == predicted.service_saw.source_ip == kept
        assert observed.observed.path[-1].node == "web-c"
    else:
        assert observed.observed.explanation.code == predicted.explanation.code == "NLB_NO_LISTENER"


def test_an_idle_connection_is_forgotten_and_reset(lab, tmp_path):
    """The listener's idle timeout (60 s here, AWS's least; 350 s by default): the NLB forgets the
    connection, and the client's next segment is answered with a reset, counted NLB_IDLE_TIMEOUT.
    On the PPv2 listener (84) the node's proxy holds the connection: it resets both sides when
    the timeout passes, and its connection log says so. Both wait at once."""
    (tmp_path / "idle.py").write_text(IDLE)
    before = counted(lab, "provider-shop-a", "NLB_IDLE_TIMEOUT")
    client = lab.node("client")
    for port in (83, 84):
        assert client.cmd(f"python3 {tmp_path / 'idle.py'} {nlb_ip(lab)} 5 {port}").strip().endswith("answered")
    waiting = [
        client.popen(["python3", str(tmp_path / "idle.py"), nlb_ip(lab), "65", str(port)], stdout=-1, stderr=-2, text=True)
        for port in (83, 84)
    ]
    for proc in waiting:
        lab.own(proc.pid, "idle client")
    kernel, proxied = (proc.communicate(timeout=90)[0].strip() for proc in waiting)
    assert kernel.endswith("reset") and counted(lab, "provider-shop-a", "NLB_IDLE_TIMEOUT") > before
    assert proxied.endswith("reset"), proxied
    log = (lab.run_dir / "services" / "provider-shop-a-connections.jsonl").read_text().splitlines()
    closed = [json.loads(line) for line in log if '"NLB_IDLE_TIMEOUT"' in line]
    assert closed and closed[-1]["event"] == "closed" and closed[-1]["idle"] == 60 and closed[-1]["listener"].endswith(":84")


def test_all_unhealthy_fails_open(lab):
    nodes = ("web-a", "web-a2", "web-c")
    for node in nodes:
        lab.node(node).cmd(STOP)
    try:
        assert wait_for(lambda: set(states(lab, "web").values()) == {"unhealthy"})
        assert health(lab)["web"]["failed_open"] is True
        listed = lab.node("provider-shop-a").cmd("nft list map ip nlb tg_web")
        assert "10.1.1.10 . 8080" in listed and "10.1.1.11 . 8080" in listed and "10.1.2.10" not in listed
    finally:
        for node in nodes:
            lab.node(node).cmd(START)
    assert wait_for(lambda: healthy_all(lab))
    assert health(lab)["web"]["failed_open"] is False
