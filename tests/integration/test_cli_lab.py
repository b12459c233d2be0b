"""The lab verbs through `main(argv)`, as a user runs them: trace's JSON contract, the demo, and
inspect on a kept run (DESIGN section 1: learner, teacher, capture inspector)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lab.cli.demo import DEMO_ACTS
from lab.cli.main import main
from lab.realize import kernel
from lab.scenario.loader import load_scenario
from result_schema import problems

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(120)]
TARGET = "lab-bucket.s3.ap-northeast-2.amazonaws.com"


@pytest.fixture(autouse=True)
def at_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_trace_json_follows_the_contract(capsys, tmp_path):
    code = main(
        ["trace", "topologies/public-private.yaml", "--from", "app1", "--to", TARGET, "--json", "--keep", str(tmp_path / "run")]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert problems(data) == []  # docs/result.schema.json
    assert data["outcome"] == "ok" and data["agrees"] is True and data["http_status"] == 200
    assert [h["kind"] for h in data["path"]] == [
        "instance",
        "vpc-router",
        "nat-gateway",
        "vpc-router",
        "internet-gateway",
        "internet",
        "service",
    ]
    assert set(data["path"][0]) >= {"node", "kind", "aws_id", "ingress", "egress", "translations"}
    assert data["service_saw"]["ingress"] == "internet" and data["service_saw"]["vpce_id"] is None
    assert data["service_saw"]["source_ip"] == data["path"][4]["translations"][0]["after"].split(":")[0]
    assert data["predicted"]["outcome"] == "ok"
    assert data["captures"] == str(tmp_path / "run")
    assert (tmp_path / "run" / "captures" / "app1.pcap").stat().st_size > 24


def test_inspect_reads_a_kept_run(capsys, tmp_path):
    main(["trace", "topologies/gateway-endpoint.yaml", "--from", "app1", "--to", TARGET, "--keep", str(tmp_path / "run")])
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "run"), "--json"]) == 0
    inspection = json.loads(capsys.readouterr().out)
    assert problems(inspection, "inspection") == []  # docs/result.schema.json
    flows = inspection["flows"]
    https = [f for f in flows if f["source"] == "app1" and f["dport"] == 443]
    assert [h["kind"] for h in https[0]["path"]["path"]] == ["instance", "vpc-router", "gateway-endpoint", "service"]
    assert main(["inspect", str(tmp_path / "run"), "--flow", "443", "--json"]) == 0
    only = json.loads(capsys.readouterr().out)["flows"]
    assert only and all(443 in (f["sport"], f["dport"]) for f in only) and len(only) < len(flows)
    frame = https[0]["frames"][0]  # Wireshark's number in captures/run.pcapng
    assert main(["inspect", str(tmp_path / "run"), "--packet", str(frame)]) == 0
    assert f"frame {frame}: node app1, interface app1:eth0, sent at " in capsys.readouterr().out


@pytest.mark.timeout(300)  # nine labs, one after the other (about 50 s on an idle machine)
def test_demo_shows_the_chapters_figures_and_they_agree(capsys, tmp_path):
    """Every act passes in a real run: each traced step's packets agree with the prediction and with
    the act's expectations, the new figures included (DynamoDB, same Region only, one VPC only)."""
    assert main(["demo", "--lang", "en", "--keep", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    acts = [load_scenario(act) for act in DEMO_ACTS]
    traced = sum(step.action == "trace" for act in acts for step in act.steps)
    assert traced >= 22 and out.count("predicted by AWS's rules (vpclab explain): agrees") == traced
    assert f"9 scenarios: 9 passed, 0 failed; {sum(len(a.steps) for a in acts)} steps: " in out
    assert [line for line in out.splitlines() if line.startswith("== ")] == [f"== {a.name}" for a in acts]
    assert "HTTP 403: AccessDenied: endpoint policy of vpce-" in out
    assert "(web1's public IP) via the internet" in out and "(nat-a's Elastic IP) via the internet" in out
    assert "NO_ROUTE_TO_DESTINATION" in out
    assert "from S3, which saw the request come from 10.0.2.4 via vpce-" in out  # with the endpoint: the private IP
    assert "from DynamoDB, which saw the request come from 10.0.2.4 via vpce-" in out  # its own gateway endpoint
    assert "from S3 (us-east-1), which saw the request come from 13.124.153.222 (nat-a's Elastic IP) via the internet" in out
    assert "drop counters there: PEERING_NOT_TRANSITIVE" in out  # the peered VPC and the hub's endpoint
    assert (tmp_path / "demo" / "act2" / "captures" / "app-s3-gw.pcap").exists()
    assert (tmp_path / "demo" / "act3" / "captures" / "app-ddb-gw.pcap").exists()


def test_trace_of_an_unknown_source_is_one_clear_line(capsys):
    assert main(["trace", "topologies/public-private.yaml", "--from", "app9", "--to", TARGET]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vpclab: source app9: no such instance") and "Traceback" not in err


def test_within_a_subnet_there_is_no_router_hop(capsys, tmp_path):
    """Two instances of one subnet talk through the subnet (a bridge in the router's namespace):
    the route table is not consulted, so neither the prediction nor the observed path has a router."""
    topology = tmp_path / "same-subnet.yaml"
    topology.write_text(
        "vpcs:\n  app:\n    cidr: 10.0.0.0/16\n    subnets:\n"
        "      private-a: {cidr: 10.0.2.0/24, az: a}\n"
        "    instances:\n      app1: {subnet: private-a}\n      app2: {subnet: private-a}\n"
    )
    assert main(["trace", str(topology), "--from", "app1", "--to", "app2", "--port", "22", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [h["node"] for h in data["path"]] == ["app1", "app2"] and data["outcome"] == "refused"


def test_an_icmp_unreachable_is_read_as_such(capsys):
    """The internet has no route to a private address and says so (ICMP type 3): the observed path
    ends there with that answer, not with a silent drop."""
    assert (
        main(["trace", "topologies/public-private.yaml", "--from", "internet-client", "--to", "app1", "--port", "22", "--json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["outcome"] == "no-route" and data["dropped_at"] == "internet"
    assert data["explanation"]["code"] == "DESTINATION_UNREACHABLE" and data["agrees"]


# -- exit codes of the lab verbs (lab.errors) ---------------------------------------------------------------
def test_a_failed_scenario_step_exits_1_after_its_report(capsys, tmp_path):
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(
        f"name: a wrong expectation\ntopology: {REPO / 'topologies/public-private.yaml'}\n"
        f"steps:\n  - name: S3 through the NAT gateway is denied (it is not)\n    from: app1\n"
        f"    trace: {TARGET}\n    expect: {{outcome: denied}}\n"
    )
    assert main(["run", str(scenario)]) == 1
    out, err = capsys.readouterr()
    assert "a wrong expectation" in out
    assert err == f"vpclab: 1 of 1 scenarios failed: {scenario}\n"


def test_a_tool_that_fails_while_building_exits_3_naming_the_step(capsys, monkeypatch, tmp_path):
    """`ip` refuses one line of app1's configuration: the machine said no, not the user's input."""
    real, bad = kernel.ip_batch, "route add 10.9.0.0/16 via 10.0.1.1 dev nope table 100 metric 0"
    monkeypatch.setattr(kernel, "ip_batch", lambda node: real(node) + ([bad] if node.name == "app1" else []))
    assert (
        main(["trace", "topologies/public-private.yaml", "--from", "app1", "--to", "web1", "--keep", str(tmp_path / "run")]) == 3
    )
    assert capsys.readouterr().err == f'vpclab: configuration of app1: ip {bad}: Cannot find device "nope"\n'
