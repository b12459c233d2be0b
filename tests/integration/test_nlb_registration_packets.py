"""Deregistration and draining from real packets (tests/data/nlb/nlb-registration.yaml): a target
deregistered live leaves rotation at once (every new connection goes to the other), a connection
it already had goes on for the group's deregistration delay (conntrack keeps it there) and is then
closed with connection_termination (a reset, counted NLB_TARGET_DEREGISTERED) or left open without
it; registered again, the target is checked and comes back.
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html#deregistration-delay
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.plan.changes import change_targets
from lab.plan.compile import compile_plan
from lab.plan.kept import Kept
from lab.realize.lab import Lab
from lab.results import Outcome
from lab.scenario.observe import trace

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "tests/data/nlb/nlb-registration.yaml"
DELAY = 3  # the groups' deregistration_delay
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(600)]

# One keep-alive connection; each line on stdin sends a request on it and prints who answered.
HELD = """
import http.client, json, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=3)
for _ in sys.stdin:
    try:
        c.request("GET", "/"); print(json.loads(c.getresponse().read())["node"], flush=True)
    except Exception as e:
        print("FAILED", type(e).__name__, flush=True)
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    topology = load_topology(LAB)
    with Lab(compile_plan(topology), tmp_path_factory.mktemp("nlbreg") / "run") as running:
        running.topology = topology
        assert wait_for(lambda: rotation(running, "web") == {"web1", "web2"} and rotation(running, "keep") == {"web1", "web2"})
        yield running


def change(lab, action: str, argument: str) -> None:
    """As the prompt's register-targets/deregister-targets do: the new plan applied as a difference."""
    lab.topology = change_targets(lab.topology, action, argument)
    lab.apply(compile_plan(lab.topology, lab.plan.settings, Kept.of(lab.plan)))


def nlb(lab) -> str:
    return lab.plan.load_balancer("provider", "shop").nodes[0].node


def states(lab, group: str) -> dict[str, str]:
    path = lab.run_dir / "services" / f"{nlb(lab)}-target-health.json"
    by_id = {t["id"]: t["state"] for t in json.loads(path.read_text())[group]["targets"]}
    return {name: by_id[lab.plan.node(name).aws_id] for name in ("web1", "web2") if lab.plan.node(name).aws_id in by_id}


def rotation(lab, group: str) -> set[str]:
    return {name for name, state in states(lab, group).items() if state == "healthy"}


def wait_for(predicate, timeout: float = 40.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def answered_by(lab, port: int, n: int = 10) -> set[str]:
    address = lab.plan.load_balancer("provider", "shop").nodes[0].address
    out = lab.node("client").cmd(f"for i in $(seq {n}); do curl -s -m 3 http://{address}:{port}/ | tr -d '\\n'; echo; done")
    return {json.loads(line)["node"] for line in out.splitlines() if line.startswith("{")}


def dropped(lab, comment: str) -> int:
    out = lab.node(nlb(lab)).cmd("nft -j list ruleset")
    rules = [i["rule"] for i in json.loads(out)["nftables"] if "rule" in i]
    return sum(e["counter"]["packets"] for r in rules if r.get("comment") == comment for e in r["expr"] if "counter" in e)


def held(lab, port: int, tmp_path: Path):
    """A keep-alive connection from the client; returns (ask, the target it is on)."""
    script = tmp_path / f"held{port}.py"
    script.write_text(HELD)
    address = lab.plan.load_balancer("provider", "shop").nodes[0].address
    proc = lab.node("client").popen(["python3", str(script), str(address), str(port)], stdin=-1, stdout=-1, stderr=-2, text=True)
    lab.own(proc.pid, "held connection in client")

    def ask() -> str:
        proc.stdin.write("go\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()

    return proc, ask, ask()


def held_on(lab, port: int, target: str, tmp_path: Path):
    """A held connection through `port` that landed on `target` (new ones until one does)."""
    for _ in range(20):
        proc, ask, on = held(lab, port, tmp_path)
        if on == target:
            return proc, ask
        proc.stdin.close()
        proc.wait(timeout=10)
    raise AssertionError(f"no connection through {port} landed on {target}")


@pytest.mark.parametrize(("group", "port", "closes"), [("web", 80, True), ("keep", 81, False)])
def test_a_deregistered_target_drains_then_its_connections_close_or_not(lab, tmp_path, group, port, closes):
    proc, ask, target = held(lab, port, tmp_path)
    other = ({"web1", "web2"} - {target}).pop()
    before = dropped(lab, "NLB_TARGET_DEREGISTERED")
    # adversarial: the same instance and port in the other group, through the other listener, keeps its connection
    beside, ask_beside = held_on(lab, 81 if port == 80 else 80, target, tmp_path)
    try:
        change(lab, "deregister-targets", f"{group} {target}")
        assert states(lab, group)[target] == "draining"
        assert answered_by(lab, port) == {other}  # new connections: the other target, at once
        assert ask() == target  # the open connection goes on while the target drains
        assert wait_for(lambda: target not in states(lab, group), DELAY + 5)  # then it is gone
        time.sleep(0.5)
        if closes:
            assert ask().startswith("FAILED")  # closed: reset at its next packet
            assert dropped(lab, "NLB_TARGET_DEREGISTERED") > before
        else:
            assert ask() == target  # left open: AWS's default (connection_termination false)
            assert dropped(lab, "NLB_TARGET_DEREGISTERED") == before
        assert ask_beside() == target  # registered in its own group all along
    finally:
        for p in (proc, beside):
            p.stdin.close()
            p.wait(timeout=10)
    change(lab, "register-targets", f"{group} {target}")  # back: checked, then in rotation again
    assert states(lab, group)[target] == "initial"
    assert wait_for(lambda: rotation(lab, group) == {"web1", "web2"})
    assert wait_for(lambda: answered_by(lab, port, 16) == {"web1", "web2"}, 20)


def test_at_the_prompt_deregister_and_register_targets(lab, capsys):
    """The prompt's verbs, through the lab's controller: the same drain, said in words."""
    from lab.cli.prompt import LabPrompt

    prompt = LabPrompt(lab.topology, lab.plan, lab)
    prompt.onecmd("deregister-targets keep web2")
    out = capsys.readouterr().out
    assert "deregistered: web2 in keep is draining" in out and "deregistration delay (3 s), then left open" in out
    assert states(lab, "keep")["web2"] == "draining" and answered_by(lab, 81) == {"web1"}
    prompt.onecmd("deregister-targets keep web2")  # twice: AWS's code, nothing changes
    assert "not registered in target group keep (InvalidTarget)" in capsys.readouterr().out
    prompt.onecmd("register-targets keep web2")
    assert "registered: web2 in keep is initial" in capsys.readouterr().out
    assert wait_for(lambda: rotation(lab, "keep") == {"web1", "web2"})
    lab.topology = prompt.topology


def test_with_itself_the_only_target_an_instance_cannot_reach_the_nlb_as_predicted(lab):
    """web2 deregistered, web1 is web's only target: web1's own connection through the NLB keeps its
    IP and comes back to it from its own address, which it never answers (AWS: NAT loopback is not
    supported with client IP preservation). explain predicts the timeout and trace sees it."""
    change(lab, "deregister-targets", "web web2")
    try:
        address = str(lab.plan.load_balancer("provider", "shop").nodes[0].address)
        predicted = explain(lab.topology, lab.plan, "web1", address, 80)
        assert predicted.explanation.code == "NLB_LOOPBACK_NOT_SUPPORTED"
        observed = trace(lab, predicted, "web1", address, 80)
        assert observed.outcome == Outcome.TIMEOUT and observed.agrees, observed.disagreements
        assert answered_by(lab, 80) == {"web1"}  # from the client: fine
    finally:
        change(lab, "register-targets", "web web2")
