"""The service launcher's children live as the services did when each was a process of its own:
out of reach of the terminal's Ctrl-C, with SIGPIPE ignored as in any Python program (a client
that hangs up mid-answer is an exception in one thread, not the death of the service), and able
to find their files whatever the directory vpclab was started in."""

from __future__ import annotations

import os
import signal

import pytest
from labsafety import REPO, lab_prerequisite_missing, residue

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.realize.lab import Lab
from lab.scenario.observe import probe

MISSING = lab_prerequisite_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))

PLAN = compile_plan(load_topology(str(REPO / "topologies/public-private.yaml")))
BUCKET = "lab-bucket.s3.ap-northeast-2.amazonaws.com"


def served(lab: Lab, source: str = "web1") -> bool:
    return probe(lab, source, BUCKET, 443, "/", sign=True).get("http_status") == 200


def ignored(pid: int, sig: int) -> bool:
    """Whether process `pid` ignores `sig` (the SigIgn mask of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as status:
        mask = next(int(line.split()[1], 16) for line in status if line.startswith("SigIgn:"))
    return bool(mask >> (sig - 1) & 1)


def services_of(lab: Lab):
    return [p for p in lab.state.processes if p.what.split()[0] in ("front", "resolver", "service")]


@pytest.mark.timeout(60)
def test_services_are_processes_of_their_own(lab_sandbox):
    with Lab(PLAN, lab_sandbox.tmp / "run") as lab:
        record = lab_sandbox.record(lab.state)
        ours = services_of(lab)
        fronts = {f"front {f.node}" for f in lab.plan.services}  # every service in every region
        assert "front s3-ap-northeast-2" in fronts and "front sqs-us-east-1" in fronts
        assert {p.what for p in ours} == {"service launcher", "resolver app-resolver", "resolver internet-resolver"} | fronts
        # Ctrl-C goes to the terminal's foreground process group: vpclab's. The services have a session of their own.
        assert all(os.getsid(p.pid) != os.getsid(0) for p in ours)
        os.kill(next(p.pid for p in ours if p.what == "service launcher"), signal.SIGINT)  # even if it came
        assert served(lab)
        assert all(p.alive() for p in ours)
        assert all(ignored(p.pid, signal.SIGPIPE) for p in ours if p.what != "service launcher")
    assert residue(record) == []


@pytest.mark.timeout(60)
def test_a_relative_run_directory_works(lab_sandbox, monkeypatch):
    """The services enter a node's mount namespace, where the working directory is "/"."""
    monkeypatch.chdir(lab_sandbox.tmp)
    with Lab(PLAN, "relative-run") as lab:
        record = lab_sandbox.record(lab.state)
        assert lab.run_dir == lab_sandbox.tmp / "relative-run"
        assert served(lab)
    assert residue(record) == []
