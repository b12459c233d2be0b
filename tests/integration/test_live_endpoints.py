"""Endpoints created and deleted while the lab runs (lab.realize.changes through the controller):
the new endpoint's nodes, links, routes, DNS records, front ingress and certificate come up without
touching what was there, the next packet takes the new path (from the captures), and deleting the
endpoint gives the old path back. What already existed keeps its names and addresses throughout.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.model.topology import Topology
from lab.plan.compile import compile_plan
from lab.realize.controller import Controller
from lab.realize.lab import Lab
from lab.scenario.observe import trace

REPO = Path(__file__).resolve().parents[2]
BUCKET = "lab-bucket.s3.ap-northeast-2.amazonaws.com"
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(240)]


def without(t: Topology, vpc: str, endpoint: str) -> Topology:
    v = t.vpcs[vpc]
    endpoints = {k: e for k, e in v.endpoints.items() if k != endpoint}
    return dataclasses.replace(t, vpcs=dict(t.vpcs) | {vpc: dataclasses.replace(v, endpoints=endpoints)})


def with_endpoint(t: Topology, vpc: str, endpoint) -> Topology:
    v = t.vpcs[vpc]
    return dataclasses.replace(
        t, vpcs=dict(t.vpcs) | {vpc: dataclasses.replace(v, endpoints=dict(v.endpoints) | {endpoint.name: endpoint})}
    )


def path_of(live: Controller, source: str, target: str, port: int = 443):
    result = trace(live.lab, explain(live.topology, live.plan, source, target, port), source, target, port)
    assert result.agrees, result.disagreements
    return [h["kind"] for h in result.to_dict(None)["path"]], result


def interfaces(plan) -> dict:
    return {(n.name, i.name): i.addresses for n in plan.nodes.values() for i in n.interfaces}


def test_a_gateway_endpoint_created_live_takes_the_next_packet_and_its_deletion_gives_nat_back(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    full = load_topology("topologies/gateway-endpoint.yaml")
    endpoint = full.vpcs["app"].endpoints["s3-gw"]
    start = without(full, "app", "s3-gw")
    with Lab(compile_plan(start), tmp_path / "run") as lab, Controller(lab, start) as live:
        kinds, _ = path_of(live, "app1", BUCKET)
        assert "nat-gateway" in kinds
        before = interfaces(live.plan)

        live.change(lambda t: with_endpoint(t, "app", endpoint))
        kinds, result = path_of(live, "app1", BUCKET)
        assert kinds == ["instance", "vpc-router", "gateway-endpoint", "service"]
        saw = result.observed.service_saw
        assert saw.source_ip == str(live.plan.node("app1").addresses()[0])
        assert saw.ingress == live.plan.vpce_id("app", "s3-gw")  # the front took the new ingress live
        assert {k: interfaces(live.plan)[k] for k in before} == before  # nothing that was there moved

        live.change(lambda t: without(t, "app", "s3-gw"))
        kinds, _ = path_of(live, "app1", BUCKET)
        assert "nat-gateway" in kinds and "gateway-endpoint" not in kinds
        assert interfaces(live.plan) == before
        assert not any(n.startswith("app-s3-gw") for n in lab.nodes)  # its node is gone, namespace and all
    assert (tmp_path / "run" / "captures" / "app-s3-gw.pcap").exists()  # its capture stays, evidence


def test_an_interface_endpoint_created_live_answers_its_private_dns_and_its_names_verify(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    full = load_topology("topologies/interface-endpoint.yaml")
    endpoint = full.vpcs["app"].endpoints["s3-if"]
    start = without(full, "app", "s3-if")
    with Lab(compile_plan(start), tmp_path / "run") as lab, Controller(lab, start) as live:
        live.change(lambda t: with_endpoint(t, "app", endpoint))
        enis = {str(a) for key, ips in live.plan.allocation.endpoint_ips.items() if key.name == "s3-if" for a in ips.values()}
        vpce = live.plan.vpce_id("app", "s3-if")
        records = live.plan.resolvers["app"].records
        name = next(r.name for r in records if r.origin == "vpce" and vpce in r.name and "*" not in r.name)
        url = f"https://bucket.{name}/lab-bucket/hello.txt"
        out = lab.node("app1").cmd(f"dig +short {name}; curl -s -o /dev/null -w '%{{http_code}}' {url}")
        assert out.split()[0] in enis, out  # the resolver took the new records live
        assert out.split()[-1] in ("200", "403"), out  # TLS verified the new endpoint's name; S3 answered


DENY_OUTSIDE_VPCE = """{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
 "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lab-bucket/*",
 "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}}}]}"""


def test_a_bucket_policy_put_with_the_aws_cli_is_enforced_and_predicted_then_deleted(tmp_path, monkeypatch):
    """s3api put-bucket-policy from an instance: the next GET is denied by S3 (403, from the request
    log's decision) and explain predicts the same; delete-bucket-policy lets it through again."""
    monkeypatch.chdir(REPO)
    topology = load_topology("topologies/public-private.yaml")
    with Lab(compile_plan(topology), tmp_path / "run") as lab, Controller(lab, topology) as live:
        node = lab.node("app1")
        put = node.cmd(f"aws s3api put-bucket-policy --bucket lab-bucket --policy '{DENY_OUTSIDE_VPCE}'; echo rc=$?")
        assert put.strip().endswith("rc=0"), put
        assert live.topology.buckets["lab-bucket"].policy is not None
        predicted = explain(live.topology, live.plan, "app1", BUCKET, 443, "/hello.txt")
        assert predicted.outcome.value == "denied"
        got = node.cmd("aws s3 cp s3://lab-bucket/hello.txt - 2>&1; echo rc=$?")
        assert "(403)" in got and got.strip().endswith("rc=1"), got  # HeadObject: S3 sends no body with a 403
        bad = node.cmd("aws s3api put-bucket-policy --bucket lab-bucket --policy '{\"Statement\": []}' 2>&1")
        assert "MalformedPolicy" in bad, bad
        node.cmd("aws s3api delete-bucket-policy --bucket lab-bucket")
        assert live.topology.buckets["lab-bucket"].policy is None
        assert "hello from S3" in node.cmd("aws s3 cp s3://lab-bucket/hello.txt -")


def test_an_endpoint_to_an_endpoint_service_created_live_reaches_the_target_once_accepted(tmp_path, monkeypatch):
    """A consumer endpoint to the provider's service made while the lab runs: its ENI joins the NLB
    node's ways in (a PrivateLink link of its own, the others untouched); pending, it carries
    nothing; accepted, the trace crosses the NLB to a target, predicted and observed alike."""
    from lab.plan.changes import decide_connection

    monkeypatch.chdir(REPO)
    full = load_topology("topologies/endpoint-service.yaml")
    endpoint = full.vpcs["staging"].endpoints["web"]
    start = without(full, "staging", "web")
    with Lab(compile_plan(start), tmp_path / "run") as lab, Controller(lab, start) as live:
        before = interfaces(live.plan)
        live.change(lambda t: with_endpoint(t, "staging", endpoint))
        assert {k: interfaces(live.plan)[k] for k in before} == before
        eni = next(n for n in live.plan.nodes if n.startswith("staging-web-"))
        address = str(live.plan.node(eni).addresses()[0])
        kinds, _ = path_of(live, "stage1", address, 80)
        assert "load-balancer" not in kinds  # pendingAcceptance: nowhere
        live.change(lambda t: decide_connection(t, "accept", "staging/web"))
        kinds, _ = path_of(live, "stage1", address, 80)
        assert kinds == ["instance", "interface-endpoint", "load-balancer", "instance"]
