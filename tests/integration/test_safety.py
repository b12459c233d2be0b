"""Lab network safety, proved with real labs. DESIGN.md section 2: "Nothing is in the root namespace
but the processes that drive it"; and a lab leaves nothing behind, however it ends.

1. The root namespace is never touched: addresses, routes, rules, links, nftables, its resolv.conf
   and trust store, and how it routes the lab's addresses are the same before a lab, while it runs,
   after traffic crossed its NAT gateway, internet gateway and gateway endpoint, and after teardown;
   and every veth end of a lab is inside the lab.
2. Teardown leaves nothing, however the lab ends: normal exit, an exception in the `with` block,
   Ctrl-C or SIGTERM to `vpclab up`, and SIGKILL followed by `vpclab clean`. "Nothing" is
   `labsafety.residue`: no process that was or is in the lab's namespaces (a stray one started
   in a node included), no state file, no process running from the run directory, no root change.
3. Two labs of the same topology run side by side without mixing, and one's teardown leaves the
   other working.
4. A start that fails midway removes what it built and lets the error through.
5. `vpclab clean` leaves a lab whose vpclab still runs alone, unless told --all.

Every test has a state directory of its own (the `lab_sandbox` fixture), so it neither sees nor
touches any other lab on the machine, and a sweep at its end removes whatever a failure left.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path

import pytest
from labsafety import REPO, LabRecord, lab_prerequisite_missing, plan_addresses, residue, root_snapshot, start_stray

from lab.errors import LabError
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.realize import processes
from lab.realize.cleanup import clean
from lab.realize.errors import RealizeError
from lab.realize.lab import Lab, LabNode
from lab.realize.services import Services
from lab.realize.state import LabState
from lab.scenario.observe import probe

MISSING = lab_prerequisite_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))

PUBLIC_PRIVATE, GATEWAY_ENDPOINT = "topologies/public-private.yaml", "topologies/gateway-endpoint.yaml"
# ListObjects on lab-bucket (an unsigned request may list it, not read its objects), in S3's two
# request styles: the log records both host and path, so each lab's requests can be told apart.
VIRTUAL_HOSTED = ("lab-bucket.s3.ap-northeast-2.amazonaws.com", "/")
PATH_STYLE = ("s3.ap-northeast-2.amazonaws.com", "/lab-bucket")
CLI = "import sys; from lab.cli.main import main; sys.exit(main(sys.argv[1:]))"
# Who sends to S3 in each topology, and what the S3 front must see: the ingress, and whose public
# IP the source is (None: the sender's own private IP, kept by a gateway endpoint).
TRAFFIC = {
    PUBLIC_PRIVATE: [
        ("app1", "internet", "nat-a"),  # NAT gateway, then internet gateway: the EIP
        ("web1", "internet", "web1"),
    ],  # internet gateway: the instance's public IP
    GATEWAY_ENDPOINT: [("app1", "vpce", None), ("batch1", "vpce", None)],
}


def plan_of(topology: str):
    return compile_plan(load_topology(str(REPO / topology)))


def assert_root_unchanged(before) -> None:
    diff = before.differences(before.again())
    assert not diff, diff


def s3_requests(lab: Lab) -> list[dict]:
    """The S3 front's request log: every request it answered, with the client and the ingress."""
    log = lab.run_dir / "services" / f"{lab.plan.service_front('s3', lab.plan.region).node}-requests.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def list_bucket(lab: Lab, source: str, style: tuple[str, str] = VIRTUAL_HOSTED) -> dict:
    """One HTTPS request from `source` (its own traffic, from inside its node) that S3 answers 200."""
    host, path = style
    result = probe(lab, source, host, 443, path, sign=True)
    assert result.get("http_status") == 200, result
    return result


def styles(lab: Lab) -> list[tuple[str, str]]:
    return [(r["host"], r["path"]) for r in s3_requests(lab)]


def arrival(plan, source: str, ingress: str, public_owner: str | None) -> tuple[str, str]:
    """(ingress kind, source address) the S3 front must log for a request from `source`."""
    if public_owner is None:
        return ingress, str(plan.node(source).interfaces[0].addresses[0].ip)
    return ingress, str(next(p.address for p in plan.public_ips if p.owner == public_owner))


def veth_ends(lab: Lab) -> int:
    return sum(len(lab.node(name).cmd("ip -o link show type veth").strip().splitlines()) for name in lab.nodes)


# -- 1. the root namespace ----------------------------------------------------------------------------
@pytest.mark.timeout(60, method="signal")
@pytest.mark.parametrize("topology", list(TRAFFIC))
def test_root_namespace_is_the_same_while_the_lab_runs_after_traffic_and_after_teardown(topology, lab_sandbox):
    plan = plan_of(topology)
    before = root_snapshot(plan_addresses(plan))
    with Lab(plan, lab_sandbox.tmp / "run") as lab:
        assert_root_unchanged(before)
        # Every link a veth pair with both ends in lab nodes; a stub is a veth with both ends in its
        # node. An end anywhere else (the root, another lab) would be missing from this count.
        stubs = sum(1 for node in plan.nodes.values() for iface in node.interfaces if iface.kind == "stub")
        assert veth_ends(lab) == 2 * len(plan.links) + 2 * stubs

        for source, _, _ in TRAFFIC[topology]:
            list_bucket(lab, source)
        seen = [(r["ingress"].split("-")[0], r["source_ip"]) for r in s3_requests(lab)]
        assert seen == [arrival(plan, *traffic) for traffic in TRAFFIC[topology]]
        assert_root_unchanged(before)
        record = lab_sandbox.record(lab.state)
    assert_root_unchanged(before)
    assert residue(record) == []


# -- 2. nothing left, however the lab ends --------------------------------------------------------------
class Boom(Exception):
    pass


@pytest.mark.timeout(60, method="signal")
@pytest.mark.parametrize("raising", [False, True], ids=["normal exit", "exception in the with block"])
def test_a_lab_in_this_process_leaves_nothing(raising, lab_sandbox):
    plan = plan_of(PUBLIC_PRIVATE)
    before = root_snapshot(plan_addresses(plan))
    with pytest.raises(Boom) if raising else nullcontext():
        with Lab(plan, lab_sandbox.tmp / "run") as lab:
            stray = start_stray(lab.node("app1"))
            list_bucket(lab, "app1")
            record = lab_sandbox.record(lab.state)
            assert stray in {p.pid for p in record.members}
            if raising:
                raise Boom("in the with block")
    assert residue(record, before) == []


@pytest.mark.timeout(60, method="signal")
@pytest.mark.parametrize(
    "sig, to_group, exit_code",
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["Ctrl-C (SIGINT to the process group)", "SIGTERM"],
)
def test_a_signalled_vpclab_tears_its_lab_down(sig, to_group, exit_code, lab_sandbox):
    before = root_snapshot(plan_addresses(plan_of(PUBLIC_PRIVATE)))
    vpclab = lab_sandbox.run_lab(PUBLIC_PRIVATE, stray_in="app1")
    record = vpclab.wait_up()
    assert vpclab.stray in {p.pid for p in record.members}
    assert_root_unchanged(before)

    vpclab.signal(sig, group=to_group)
    assert vpclab.wait() == exit_code, vpclab.stderr()
    assert "Traceback" not in vpclab.stderr()
    assert residue(record, before) == []
    assert not Path(vpclab.run_dir).exists()  # no --keep: the run directory goes too


@pytest.mark.timeout(60, method="signal")
def test_a_killed_vpclab_leaves_a_visible_lab_that_vpclab_clean_removes(lab_sandbox):
    before = root_snapshot(plan_addresses(plan_of(PUBLIC_PRIVATE)))
    vpclab = lab_sandbox.run_lab(PUBLIC_PRIVATE, stray_in="app1")
    record = vpclab.wait_up()
    vpclab.signal(signal.SIGKILL)
    vpclab.wait()

    # Left behind, and visible: the state file, and the lab's captures and the stray in its
    # namespaces. Node shells exit by themselves once their pty hangs up, the service launcher stops
    # its services once its pipe from vpclab closes.
    state = LabState.load(record.state_path)
    assert not state.owner.alive()
    captures = [p for p in state.processes if p.what.startswith("tcpdump")]
    assert captures and all(p.alive() for p in captures)
    assert vpclab.stray in {p.pid for p in record.alive_members()}
    services = [p for p in state.processes if p not in captures]
    fronts = {f"front {f.node}" for f in plan_of(PUBLIC_PRIVATE).services}  # every service in every region
    assert {p.what for p in services} == {"service launcher", "resolver app-resolver", "resolver internet-resolver"} | fronts
    assert processes.wait_gone(services, timeout=10) == []

    done = subprocess.run(
        [sys.executable, "-c", CLI, "clean"], capture_output=True, text=True, env=lab_sandbox.env(), cwd=REPO, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert residue(record, before) == []


# -- 3. two labs at once ------------------------------------------------------------------------------
@pytest.mark.timeout(60, method="signal")
def test_two_labs_side_by_side_do_not_mix_and_outlive_each_other(lab_sandbox):
    plan = plan_of(PUBLIC_PRIVATE)
    before = root_snapshot(plan_addresses(plan))
    with ExitStack() as labs:
        a = labs.enter_context(Lab(plan, lab_sandbox.tmp / "a"))
        b = labs.enter_context(Lab(plan, lab_sandbox.tmp / "b"))
        record_a, record_b = lab_sandbox.record(a.state), lab_sandbox.record(b.state)
        assert not set(a.state.netns.values()) & set(b.state.netns.values())

        # The same addresses in both: only what was asked tells whose request a front answered.
        list_bucket(a, "app1", VIRTUAL_HOSTED), list_bucket(a, "app1", VIRTUAL_HOSTED)
        list_bucket(b, "app1", PATH_STYLE)
        assert styles(a) == [VIRTUAL_HOSTED] * 2
        assert styles(b) == [PATH_STYLE]

        a.stop()
        assert residue(record_a, before) == []
        assert all(p.alive() for p in record_b.members)
        list_bucket(b, "app1", PATH_STYLE), list_bucket(b, "web1", PATH_STYLE)
        assert styles(b) == [PATH_STYLE] * 3
        record_b = lab_sandbox.record(b.state)
    assert residue(record_b, before) == []


# -- 4. a failed start ----------------------------------------------------------------------------------
# Each failure is a Services subclass given to the Lab (its `services_class`), recording the lab while
# it runs, just before the failure is seen.
def fail_in_start_services(sandbox, records):
    """Nodes, links, addresses, rulesets and captures exist; then the services step raises."""

    class NoServices(Services):
        def start(self):
            records.append(sandbox.record(self.lab.state))
            raise Boom("injected: no services today")

    return NoServices, Boom, None, "injected: no services today"


def record_the_lab(sandbox, records) -> None:
    if not records:
        records.append(sandbox.record(LabRecord.read(next(sandbox.state_dir.glob("*.json")))))


def fail_in_a_service(sandbox, records):
    """The S3 front is given a certificate that does not exist: it exits, the resolver runs."""

    class BrokenFront(Services):
        def front_config(self, front):
            config = super().front_config(front)
            return {**config, "cert": str(sandbox.tmp / "no-such-cert.pem")} if front.node == "s3-ap-northeast-2" else config

        def log_tail(self, name):  # the front has exited; every service had been started before
            record_the_lab(sandbox, records)
            return super().log_tail(name)

    return BrokenFront, RealizeError, "service s3-ap-northeast-2", "cannot load certificate"


def fail_in_the_launcher(sandbox, records):
    """The service launcher dies before it forks any service, with a last word in its log."""

    class NoLauncher(Services):
        launcher_args = ["-c", "import sys; sys.exit('injected: no launcher today')"]

        def launcher_said(self):  # the launcher is gone; everything else was built
            record_the_lab(sandbox, records)
            return super().launcher_said()

    return NoLauncher, RealizeError, "service launcher", "injected: no launcher today"


@pytest.mark.timeout(60, method="signal")
@pytest.mark.parametrize(
    "inject",
    [fail_in_start_services, fail_in_a_service, fail_in_the_launcher],
    ids=["start_services raises", "a service does not start", "the launcher dies"],
)
def test_a_failed_start_leaves_nothing_and_raises(inject, lab_sandbox):
    plan = plan_of(PUBLIC_PRIVATE)
    before = root_snapshot(plan_addresses(plan))
    records: list[LabRecord] = []
    services_class, error, step, says = inject(lab_sandbox, records)  # what the start must raise
    with pytest.raises(error) as raised:
        Lab(plan, lab_sandbox.tmp / "run", services_class=services_class).start()
    assert says in str(raised.value)
    if step is not None:
        assert isinstance(raised.value, LabError) and raised.value.step == step
    [record] = records
    assert len(record.netns) == len(plan.nodes) and record.members  # it did get that far
    assert residue(record, before) == []


@pytest.mark.timeout(60, method="signal")
def test_a_node_shell_that_cannot_start_fails_the_start_and_leaves_nothing(lab_sandbox):
    """The Lab's `node_class` for app1 fails after the other shells started: the start says which
    node, and the shells already running go with the lab."""
    plan = plan_of(PUBLIC_PRIVATE)
    before = root_snapshot(plan_addresses(plan))
    records: list[LabRecord] = []

    class NoApp1(LabNode):
        def __init__(self, name, cgroup_path, **params):
            if name == "app1":
                time.sleep(0.5)  # the shells started before it are recorded meanwhile
                record_the_lab(lab_sandbox, records)
                raise OSError("injected: no shell for app1")
            super().__init__(name, cgroup_path, **params)

    with pytest.raises(RealizeError) as raised:
        Lab(plan, lab_sandbox.tmp / "run", node_class=NoApp1).start()
    assert str(raised.value) == "shell of node app1: injected: no shell for app1"
    [record] = records
    assert record.members  # shells did start
    assert residue(record, before) == []
    assert list(lab_sandbox.state_dir.glob("*.json")) == []


# -- 5. vpclab clean and running labs -------------------------------------------------------------------
@pytest.mark.timeout(60, method="signal")
def test_clean_spares_a_lab_whose_vpclab_runs_unless_all(lab_sandbox):
    before = root_snapshot(plan_addresses(plan_of(PUBLIC_PRIVATE)))
    vpclab = lab_sandbox.run_lab(PUBLIC_PRIVATE)
    record = vpclab.wait_up()

    assert clean().removed == []
    assert record.state_path.exists() and all(p.alive() for p in record.members)

    assert [state.tag for state in clean(include_running=True).removed] == [record.tag]
    assert residue(record, before) == []
    # Its vpclab is not a lab process: still there, and it ends cleanly on what it finds left.
    assert vpclab.popen.poll() is None
    vpclab.signal(signal.SIGTERM)
    assert vpclab.wait() == 143, vpclab.stderr()
    assert "Traceback" not in vpclab.stderr()
    assert residue(record, before) == []
