"""Scenario file -> Scenario: a topology (a file or inline), and steps with expectations.
The format is documented in docs/scenario-format.md; errors name file:line like topology errors.

    topology: ../topologies/public-private.yaml
    steps:
      - name: the private instance reaches S3 through the NAT gateway
        from: app1
        trace: lab-bucket.s3.ap-northeast-2.amazonaws.com
        expect:
          outcome: ok
          path: [instance, vpc-router, nat-gateway, vpc-router, internet-gateway, internet, service]
          service_saw: {source: elastic-ip:nat-a, ingress: internet}
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lab.model.loader import load_topology, parse_topology
from lab.model.source import Section, read_yaml
from lab.model.topology import Topology
from lab.model.validate import validate

ACTIONS = ("trace", "http", "s3", "dns", "run")
OUTCOMES = ("ok", "denied", "refused", "timeout", "no-route", "dns-failure", "error")
S3_OPS = ("ls", "get", "put")
EXPECT_KEYS = ("outcome", "path", "not_via", "service_saw", "dns_answer", "status", "output_contains",
               "exit", "dropped_by")


@dataclass(frozen=True)
class Step:
    name: str
    source: str
    action: str  # one of ACTIONS
    argument: str
    port: int | None
    expect: dict
    line: int


@dataclass(frozen=True)
class Scenario:
    file: str
    name: str
    topology: Topology
    steps: tuple[Step, ...] = field(default_factory=tuple)


def load_scenario(path: Path | str) -> Scenario:
    doc = read_yaml(path)
    doc.allow("name", "description", "topology", "steps")
    topology = scenario_topology(doc)
    steps = tuple(parse_step(sec, i) for i, sec in enumerate(doc.items("steps", "a step"), start=1))
    if not steps:
        raise doc.error("steps", f"{doc.file} has no steps", "MissingParameter")
    names = set(topology.instances) | {"internet-client"}
    for step in steps:
        if step.source not in names:
            raise Section({}, doc.file, step.line, "step").error(
                None, f"step '{step.name}': 'from: {step.source}' is not an instance of the topology "
                f"({', '.join(sorted(names))})", "InvalidParameterValue")
    return Scenario(doc.file, doc.text("name") or Path(doc.file).stem, topology, steps)


def scenario_topology(doc: Section) -> Topology:
    """A path relative to the scenario file, or the topology itself, inline."""
    value = doc.require("topology")
    if isinstance(value, str):
        return load_topology(Path(doc.file).parent / value)
    inline = doc.section("topology", "the inline topology")
    topology = parse_topology(inline)
    validate(topology)
    return topology


def parse_step(sec: Section, number: int) -> Step:
    sec.allow("name", "from", "port", "expect", *ACTIONS)
    actions = [a for a in ACTIONS if sec.has(a)]
    if len(actions) != 1:
        raise sec.error(None, f"step {number} needs exactly one of: {', '.join(ACTIONS)}", "MissingParameter")
    action = actions[0]
    argument = sec.text(action, required=True)
    if action == "s3" and argument.split()[0] not in S3_OPS:
        raise sec.error(action, f"step {number}: s3 takes '{' | '.join(S3_OPS)} bucket[/key]', not '{argument}'")
    port = sec.raw("port")
    if port is not None and (type(port) is not int or not 0 < port < 65536):
        raise sec.error("port", f"step {number}: port must be a number from 1 to 65535")
    expect = sec.section("expect", f"expectations of step {number}")
    checks = dict(expect.data) if expect else {}
    if expect:
        expect.allow(*EXPECT_KEYS)
        if checks.get("outcome") not in (None, *OUTCOMES):
            raise expect.error("outcome", f"step {number}: outcome must be one of {', '.join(OUTCOMES)}")
    return Step(sec.text("name") or f"step {number}", sec.text("from", required=True), action, argument,
                port, checks, sec.line)
