"""Registering and deregistering targets (issue 11): the model's change (elbv2's RegisterTargets
and DeregisterTargets, one target at a time), the attributes deregistration_delay and
connection_termination, the kernel's set of closed targets, the health states (a draining target
is never chosen, not even failing open), and the NLB node's live update with a short delay.
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html#deregistration-delay
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lab.errors import BadArgument, StateConflict, TopologyError, UnknownName
from lab.model.loader import load_topology
from lab.plan.changes import change_targets
from lab.plan.compile import compile_plan
from lab.scenario.loader import load_scenario
from lab.services import health, nlb_proxy
from lab.services.nlb_config import nlb_config

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "tests/data/nlb/nlb-registration.yaml"


def load(tmp_path: Path, old: str = "", new: str = ""):
    (tmp_path / "lab.yaml").write_text(LAB.read_text().replace(old, new))
    return load_topology(tmp_path / "lab.yaml")


def test_the_attributes_and_aws_defaults(tmp_path):
    topology = load_topology(LAB)
    web, keep = topology.vpcs["provider"].target_groups["web"], topology.vpcs["provider"].target_groups["keep"]
    assert (web.deregistration_delay, web.connection_termination) == (3, True)
    assert (keep.deregistration_delay, keep.connection_termination) == (3, False)
    default = load(tmp_path, "        deregistration_delay: 3\n        connection_termination: true\n", "")
    assert default.vpcs["provider"].target_groups["web"].deregistration_delay == 300  # AWS's default
    assert not default.vpcs["provider"].target_groups["web"].connection_termination
    with pytest.raises(TopologyError, match="deregistration_delay must be a whole number from 0 to 3600.*ValidationError"):
        load(tmp_path, "deregistration_delay: 3\n        connection", "deregistration_delay: 3601\n        connection")


def test_deregister_and_register_change_the_group():
    topology = load_topology(LAB)
    gone = change_targets(topology, "deregister-targets", "web web1")
    assert [t.instance for t in gone.vpcs["provider"].target_groups["web"].targets] == ["web2"]
    assert [t.instance for t in gone.vpcs["provider"].target_groups["keep"].targets] == ["web1", "web2"]
    back = change_targets(gone, "register-targets", "web web1")
    assert [t.instance for t in back.vpcs["provider"].target_groups["web"].targets] == ["web2", "web1"]


@pytest.mark.parametrize(
    ("action", "argument", "error", "words"),
    [
        ("deregister-targets", "nope web1", UnknownName, "(TargetGroupNotFound)"),
        ("deregister-targets", "web client", UnknownName, "not registered in target group web (InvalidTarget)"),
        ("register-targets", "web web1", StateConflict, "already registered"),
        ("register-targets", "web ghost", TopologyError, "InvalidTarget"),
        ("register-targets", "web", BadArgument, "takes TARGET_GROUP TARGET"),
    ],
)
def test_bad_changes_are_refused_with_elbs_codes(action, argument, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        change_targets(load_topology(LAB), action, argument)


def test_only_a_terminating_group_gives_the_node_its_set_of_closed_targets(tmp_path):
    plan = compile_plan(load_topology(LAB))
    ruleset = plan.node("provider-shop-a").nftables
    assert "set deregistered { type ipv4_addr . inet_service . inet_service; }" in ruleset  # target . port . listener
    assert (
        "ct reply ip saddr . ct reply proto-src . ct original proto-dst @deregistered counter reject with tcp reset"
        ' comment "NLB_TARGET_DEREGISTERED"'
    ) in ruleset
    plain = compile_plan(load(tmp_path, "        connection_termination: true\n", ""))
    assert "deregistered" not in plain.node("provider-shop-a").nftables


def test_a_draining_target_is_never_chosen_not_even_failing_open():
    states = {"a": health.TargetHealth(2, 2), "b": health.draining()}
    assert health.in_rotation(["a", "b"], states) == (["a"], True)
    assert not states["b"].record(True) and states["b"].state == health.DRAINING
    assert states["b"].reason == "Target.DeregistrationInProgress"


def test_the_node_drains_then_closes_live(tmp_path, monkeypatch):
    """Node.update with the map and set updates recorded instead of run: deregistered, the target
    leaves the map at once, drains for the delay, then is gone and (connection_termination) closed."""
    plan = compile_plan(load_topology(LAB))
    lb = plan.load_balancer("provider", "shop")
    config = nlb_config(lb, lb.nodes[0], tmp_path)
    assert config["groups"][0]["deregistration_delay"] == 3 and config["groups"][0]["connection_termination"]
    ran: list[str] = []

    async def nft(text: str) -> None:
        ran.append(text)

    monkeypatch.setattr(nlb_proxy, "nft", nft)
    web1 = plan.node("web1").aws_id
    changed = compile_plan(change_targets(load_topology(LAB), "deregister-targets", "web web1"))
    new = nlb_config(changed.load_balancer("provider", "shop"), lb.nodes[0], tmp_path)
    new["groups"][0]["deregistration_delay"] = 0.2

    async def scenario() -> None:
        node = nlb_proxy.Node(config)
        for group in node.groups.values():  # both targets healthy, as after their checks
            for h in group.health.values():
                h.state = health.HEALTHY
        assert await node.update(new) == f"{web1} draining"
        assert node.groups["web"].health[web1].state == health.DRAINING
        assert [t["id"] for t in node.groups["web"].rotation()] == [plan.node("web2").aws_id]
        assert str(plan.eni_address("web1")) not in ran[-1] and "flush map ip nlb tg_web" in ran[-1]
        await asyncio.sleep(0.4)
        assert web1 not in node.groups["web"].health
        assert f"add element ip nlb deregistered {{ {plan.eni_address('web1')} . 8080 . 80 }}" in "".join(ran)
        assert await node.update(config) == f"{web1} registered"
        assert node.groups["web"].health[web1].state == health.INITIAL
        assert f"delete element ip nlb deregistered {{ {plan.eni_address('web1')} . 8080 . 80 }}" in ran[-2]
        for task in node.checks.values():
            task.cancel()

    asyncio.run(scenario())


# -- scenario steps and the prompt ------------------------------------------------------------------
def scenario(tmp_path: Path, steps: str):
    path = tmp_path / "scenario.yaml"
    path.write_text(f"topology: {LAB}\nsteps:\n{steps}")
    return load_scenario(str(path))


def test_scenario_steps_deregister_then_register(tmp_path):
    loaded = scenario(
        tmp_path,
        "  - {name: web1 leaves, deregister-targets: web web1}\n  - {name: web1 is back, register-targets: web  web1}\n",
    )
    assert [(s.action, s.argument, s.source) for s in loaded.steps] == [
        ("deregister-targets", "web web1", None),
        ("register-targets", "web web1", None),
    ]


@pytest.mark.parametrize(
    ("steps", "words"),
    [
        ("  - {deregister-targets: nope web1}\n", "no such target group (TargetGroupNotFound)"),
        ("  - {deregister-targets: web}\n", "takes 'TARGET_GROUP TARGET'"),
        ("  - {deregister-targets: web web1}\n  - {deregister-targets: web web1}\n", "not registered in target group web"),
        ("  - {register-targets: web web1}\n", "already registered in target group web (IncorrectState)"),
    ],
)
def test_bad_scenario_steps_name_the_line_and_code(tmp_path, steps, words):
    with pytest.raises(TopologyError) as caught:
        scenario(tmp_path, steps)
    assert words in str(caught.value) and "scenario.yaml:" in str(caught.value)


def test_the_prompt_offers_and_refuses_the_verbs(capsys):
    from lab.cli.prompt import INTRO, LabPrompt

    assert "register-targets | deregister-targets TARGET_GROUP TARGET" in INTRO
    prompt = LabPrompt.__new__(LabPrompt)  # no lab: the change is refused before it reaches one

    class Refusing:
        topology = load_topology(LAB)

        def change(self, how):
            return how(self.topology)

    prompt.controller = Refusing()
    assert prompt.default("deregister-targets web nobody") is False
    assert "target nobody is not registered in target group web (InvalidTarget)" in capsys.readouterr().out
