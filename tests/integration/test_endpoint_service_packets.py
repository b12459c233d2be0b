"""An endpoint service from real packets (topologies/endpoint-service.yaml): a consumer whose VPC
has the provider's very CIDR reaches a target through its interface endpoint and the NLB; the
target sees the NLB's address, and in the PROXY protocol v2 header the consumer's private IP and
the endpoint's vpce id; a pending endpoint carries nothing (counted as such) until the provider
accepts it live; a rejected one carries nothing either; the target cannot reach a consumer.

Sources: https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html,
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html
(proxy protocol), reference/aws-behaviour.md section 3.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.plan.changes import decide_connection
from lab.plan.compile import compile_plan
from lab.realize.controller import Controller
from lab.realize.lab import Lab
from lab.results import Outcome
from lab.scenario.observe import trace

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    topology = load_topology(REPO / "topologies/endpoint-service.yaml")
    with Lab(compile_plan(topology), tmp_path_factory.mktemp("es") / "run") as running:
        running.topology = topology
        yield running


def eni_ip(lab, node: str) -> str:
    return str(lab.plan.eni_address(node))


def get(lab, source: str, address: str, timeout: int = 4) -> dict | None:
    """One HTTP GET to port 80; the provider app's JSON, or None when nothing answered."""
    out = lab.node(source).cmd(f"curl -s -m {timeout} http://{address}/ ; echo rc=$?")
    body, _, rc = out.strip().rpartition("rc=")
    return json.loads(body) if rc.strip() == "0" and body.strip() else None


def dropped(lab, node: str, code: str) -> int:
    """Packets counted by `node`'s nftables drop rule `code` so far."""
    out = lab.node(node).cmd("nft -j list ruleset")
    rules = [i["rule"] for i in json.loads(out)["nftables"] if "rule" in i]
    return sum(e["counter"]["packets"] for r in rules if r.get("comment") == code for e in r["expr"] if "counter" in e)


def wait_answer(lab, source: str, address: str, timeout: float = 60.0) -> dict:
    """The first answer (the NLB's health checks bring the targets in at their own pace)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = get(lab, source, address)
        if seen is not None:
            return seen
        time.sleep(1)
    raise AssertionError(f"{source} got no answer from {address} in {timeout} s")


def test_a_consumer_with_the_providers_cidr_reaches_the_target_through_its_endpoint(lab):
    seen = wait_answer(lab, "app1", eni_ip(lab, "consumer-web-a"))
    nlb = lab.plan.load_balancer("provider", "web-nlb").node_in("ap-northeast-2a")
    assert seen["node"] in ("web1", "web2")
    assert seen["peer"].split(":")[0] == str(nlb.address)  # PrivateLink never preserves the client IP
    header = seen["proxy_protocol"]
    assert header["source"].split(":")[0] == eni_ip(lab, "app1")  # the consumer, 10.0.1.x like web1
    assert header["vpce_id"] == lab.plan.vpce_id("consumer", "web")


def test_trace_joins_the_consumer_half_and_the_provider_half_and_agrees(lab):
    address = eni_ip(lab, "consumer-web-a")
    wait_answer(lab, "app1", address)
    observed = trace(lab, explain(lab.topology, lab.plan, "app1", address, 80), "app1", address, 80)
    assert observed.outcome == Outcome.OK and observed.agrees, observed.disagreements
    path = observed.observed.path
    assert [h.kind for h in path] == ["instance", "interface-endpoint", "load-balancer", "instance"]
    saw = observed.observed.service_saw
    nlb = lab.plan.load_balancer("provider", "web-nlb").node_in("ap-northeast-2a")
    assert saw.node in ("web1", "web2") and saw.source_ip == str(nlb.address)  # the NLB's IP, from the capture at the target
    assert saw.proxy_source == eni_ip(lab, "app1") and saw.proxy_vpce_id == lab.plan.vpce_id("consumer", "web")


def test_the_endpoints_dns_name_answers_with_its_eni(lab):
    svc = lab.plan.endpoint_service("provider", "web-svc")
    vpce = lab.plan.vpce_id("consumer", "web")
    name = next(r.name for r in lab.plan.resolvers["consumer"].records if r.name.startswith(vpce) and "-ap-" not in r.name)
    assert svc.service_id in name
    assert lab.node("app1").cmd(f"dig +short {name}").split() == [eni_ip(lab, "consumer-web-a")]


def test_a_pending_endpoint_cannot_be_sidestepped_by_routing_to_the_nlb_through_the_eni(lab):
    """stage1 sends straight to the NLB node's side of the private link, with the pending ENI as
    its gateway: the ENI forwards only what it translated itself, so nothing reaches the NLB."""
    nlb = lab.plan.load_balancer("provider", "web-nlb").node_in("ap-northeast-2c")
    way = next(i for i in nlb.ingresses if i.label == lab.plan.vpce_id("staging", "web"))
    stage1 = lab.node("stage1")
    stage1.cmd(f"ip route add {way.address.ip}/32 via {eni_ip(lab, 'staging-web-c')}")
    try:
        assert get(lab, "stage1", str(way.address.ip), timeout=2) is None
    finally:
        stage1.cmd(f"ip route del {way.address.ip}/32")
    log = lab.run_dir / "services" / f"{nlb.node}-connections.jsonl"
    assert not log.exists() or lab.plan.vpce_id("staging", "web") not in log.read_text()


def test_a_pending_endpoint_carries_nothing_until_the_provider_accepts_it_at_the_prompt(lab, capsys):
    from lab.cli.prompt import LabPrompt

    address, vpce = eni_ip(lab, "staging-web-c"), lab.plan.vpce_id("staging", "web")
    before = dropped(lab, "staging-web-c", "ENDPOINT_CONNECTION_PENDING_ACCEPTANCE")
    assert get(lab, "stage1", address, timeout=2) is None
    assert dropped(lab, "staging-web-c", "ENDPOINT_CONNECTION_PENDING_ACCEPTANCE") > before
    prompt = LabPrompt(lab.topology, lab.plan, lab)
    prompt.onecmd("accept staging/web")
    assert f"accepted: endpoint staging/web ({vpce}) is now available" in capsys.readouterr().out
    lab.topology = prompt.topology
    seen = wait_answer(lab, "stage1", address)
    assert seen["proxy_protocol"]["vpce_id"] == vpce
    prompt.onecmd("accept staging/web")  # twice: refused with AWS's code, the lab unchanged
    assert "is available; accept needs pendingAcceptance (IncorrectState)" in capsys.readouterr().out
    assert get(lab, "stage1", address) is not None


def test_the_target_cannot_open_a_connection_to_a_consumer(lab):
    stage1 = eni_ip(lab, "stage1")
    assert lab.node("web1").cmd(f"curl -s -m 2 http://{stage1}/ ; echo rc=$?").strip().endswith(("rc=7", "rc=28"))
    predicted = explain(lab.topology, lab.plan, "web1", stage1, 80)
    assert predicted.explanation.code == "NO_ROUTE_TO_DESTINATION"
    observed = trace(lab, predicted, "web1", stage1, 80)
    assert observed.outcome != Outcome.OK and observed.agrees, observed.disagreements


HELD = """
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], 80, timeout=3)
c.request("GET", "/"); c.getresponse().read(); print("CONNECTED", flush=True)
sys.stdin.readline()
try:
    c.request("GET", "/"); print("ANSWER", c.getresponse().status)
except Exception as e:
    print("FAILED", type(e).__name__)
"""


def test_a_rejected_endpoint_carries_nothing_not_even_a_connection_opened_before(lab):
    address = eni_ip(lab, "consumer-web-a")
    wait_answer(lab, "app1", address)
    held = lab.node("app1").popen(["python3", "-c", HELD, address], stdin=-1, stdout=-1, stderr=-2, text=True)
    lab.own(held.pid, "held connection in app1")
    assert held.stdout.readline().startswith("CONNECTED")
    lab.topology, _ = Controller(lab, lab.topology).change(lambda t: decide_connection(t, "reject", "consumer/web"))
    out, _ = held.communicate("go\n", timeout=20)
    assert out.startswith("FAILED"), out
    before = dropped(lab, "consumer-web-a", "ENDPOINT_CONNECTION_REJECTED")
    assert get(lab, "app1", address, timeout=2) is None
    assert dropped(lab, "consumer-web-a", "ENDPOINT_CONNECTION_REJECTED") > before


def test_without_ppv2_the_nlbs_kernel_path_carries_the_endpoint_too(tmp_path):
    """The same lab with proxy_protocol_v2 off: the NLB node forwards in the kernel (DNAT to the
    target, SNAT to its own IP), and the replies go back out of the endpoint's link by its mark."""
    text = (REPO / "topologies/endpoint-service.yaml").read_text().replace("proxy_protocol_v2: true", "proxy_protocol_v2: false")
    (tmp_path / "lab.yaml").write_text(text)
    topology = load_topology(tmp_path / "lab.yaml")
    with Lab(compile_plan(topology), tmp_path / "run") as kernel_lab:
        address = eni_ip(kernel_lab, "consumer-web-a")
        seen = wait_answer(kernel_lab, "app1", address)
        nlb = kernel_lab.plan.load_balancer("provider", "web-nlb").node_in("ap-northeast-2a")
        assert seen["peer"].split(":")[0] == str(nlb.address) and "proxy_protocol" not in seen
        observed = trace(kernel_lab, explain(topology, kernel_lab.plan, "app1", address, 80), "app1", address, 80)
        assert observed.outcome == Outcome.OK and observed.agrees, observed.disagreements
        assert observed.observed.service_saw.source_ip == str(nlb.address)
