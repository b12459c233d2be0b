"""The internet's host resolves public names as a learner's computer does, and runs the AWS CLI
against the lab's EC2 API from there, as the book's readers run `aws ec2 ...` from their laptops."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.realize.controller import Controller
from lab.realize.lab import Lab

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(120)]


def test_internet_client_resolves_public_names_and_calls_the_ec2_api(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    topology = load_topology("topologies/public-private.yaml")
    with Lab(compile_plan(topology), tmp_path / "run") as lab, Controller(lab, topology):
        client = lab.node("internet-client")
        ec2 = lab.plan.public_resolver.records
        answer = client.cmd("dig +short +time=1 +tries=2 ec2.ap-northeast-2.amazonaws.com").split()
        assert answer and answer[0] in {str(a) for r in ec2 if r.name == "ec2.ap-northeast-2.amazonaws.com" for a in r.addresses}
        private = client.cmd("dig +short +time=1 +tries=2 ip-10-0-2-4.ap-northeast-2.compute.internal")
        assert private.strip() == ""  # a VPC's private hostname is nobody's business on the internet
        out = client.cmd("aws ec2 describe-vpcs --filters Name=tag:Name,Values=app --query 'Vpcs[0].VpcId' --output text 2>&1")
        assert out.strip() == lab.plan.vpc_id("app"), out
    queries = (tmp_path / "run" / "services" / "internet-dns.jsonl").read_text()
    assert "ec2.ap-northeast-2.amazonaws.com" in queries  # the internet's resolver answered it
