"""A NAT gateway forgets a TCP connection idle for 350 s and answers its next packet with RST
(nat-gateway-troubleshooting.html). Shown with the timeout shortened to 2 s: a held connection
through the NAT gateway, idle for longer, is reset, by the NAT gateway's own counted rule."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from labsafety import hold_connection, use_held

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.settings import Settings
from lab.realize.lab import Lab

TARGET = "lab-bucket.s3.ap-northeast-2.amazonaws.com"

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(90)]


def test_an_idle_connection_through_the_nat_gateway_is_reset(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    plan = compile_plan(load_topology("topologies/public-private.yaml"), Settings(nat_gateway_idle_timeout=2))
    assert "established: 2" in plan.node("app-nat-a").nftables
    with Lab(plan, tmp_path / "run") as lab:
        held = hold_connection(lab, "app1", TARGET)
        time.sleep(4)  # idle for longer than the NAT gateway keeps it
        out = use_held(held)
        # The reset ends the TLS stream: Python reports it as a reset or as an (unexpected) end.
        assert out.startswith(("RESET", "ANSWER b''")) and "HTTP/1.1" not in out, out
        lab.save_drops()
        counters = json.loads((lab.run_dir / "drops.json").read_text())["app-nat-a"]
        assert any(c["comment"] == "NAT_GATEWAY_IDLE_TIMEOUT" and c["packets"] > 0 for c in counters), counters
