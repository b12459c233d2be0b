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

Expectations are checked here as far as the file alone allows, because a mistake found only after
the lab is built costs a run, and some would never be found: a `not_via` naming no hop of the lab,
or set on a step that crosses no hop vpclab follows, passes whatever the packets do.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from lab.errors import BadInput, LabError, StateConflict, UnknownName
from lab.model.dns_names import dns_name_problem, shown, target_problem
from lab.model.endpoint_connections import find_connection
from lab.model.loader import load_topology, parse_topology
from lab.model.source import BAD_VALUE, MISSING, Section, fail, is_int, read_yaml
from lab.model.topology import Topology
from lab.model.validate import validate
from lab.plan.changes import TARGET_CHANGES, associate, change_targets, decide_connection, find_endpoint, target_of
from lab.plan.compile import compile_plan
from lab.plan.names import INTERNET_CLIENT
from lab.plan.security_changes import ACTIONS as SECURITY_CHANGES
from lab.plan.security_changes import PermissionConflict, change_permission, parse_permission
from lab.plan.types import KINDS, Plan
from lab.results import Outcome
from lab.scenario.expect import resolve_address

# change the running lab, as the prompt's verbs (and `aws ec2 authorize-security-group-...`) do; no node
CONNECTION_CHANGES = ("accept", "reject")  # a provider's decision on an endpoint connection
CHANGES = ("associate", "disassociate", *SECURITY_CHANGES, *CONNECTION_CHANGES, *TARGET_CHANGES)
ACTIONS = ("trace", "http", "s3", "dns", "run", *CHANGES)
OUTCOMES = tuple(Outcome)  # the one vocabulary (lab.results), in its order
S3_OPS = ("ls", "get", "put")
EXPECT_KEYS = (
    "outcome",
    "path",
    "not_via",
    "service_saw",
    "dns_answer",
    "status",
    "output_contains",
    "exit",
    "dropped_by",
    "flow_log",
)
# What each action observes, hence what its expectations can check: traffic vpclab follows in the
# captures, or a command's exit status and output (dig's answer too).
TRAFFIC = ("outcome", "path", "not_via", "service_saw", "dropped_by", "status", "flow_log")
COMMAND = ("outcome", "exit", "output_contains")
APPLIES = {
    "trace": TRAFFIC,
    "http": TRAFFIC,
    "s3": COMMAND,
    "run": COMMAND,
    "dns": COMMAND + ("dns_answer",),
    **{change: () for change in CHANGES},
}
SERVICE_SAW_KEYS = ("source", "source_in", "ingress")
FLOW_LOG_KEYS = ("action", "traffic_path", "eni")
FLOW_LOG_ACTIONS = ("ACCEPT", "REJECT")
TRAFFIC_PATHS = range(1, 9)  # flow-log-records.html, traffic-path
ADDRESS_KINDS = ("public-ip", "elastic-ip", "private-ip")
# The languages a name may be written in (`name: {en: ..., ko: ...}`): lab.cli.language's, which
# nothing below the CLI imports (tests/unit/test_demo_acts.py keeps the two equal).
NAME_LANGUAGES = ("ko", "en")
Captions = tuple[tuple[str, str], ...]  # (language, text) pairs of a name written in several


@dataclass(frozen=True)
class Step:
    name: str
    source: str | None  # None for a change of the lab (CHANGES)
    action: str  # one of ACTIONS
    argument: str
    port: int | None
    expect: dict
    line: int
    captions: Captions = ()  # the name in each language, when written so (the demo's captions)

    def caption(self, language: str) -> str:
        """The name in `language`, else the one name (lab.cli.demo shows a step by it)."""
        return dict(self.captions).get(language, self.name)

    @property
    def node(self) -> str:
        """The node a traffic or command step runs in; a change step (built in code) has none."""
        if self.source is None:
            raise BadInput(f"step '{self.name}': {self.action} changes the lab and runs in no node")
        return self.source


@dataclass(frozen=True)
class Scenario:
    file: str
    name: str
    topology: Topology
    steps: tuple[Step, ...] = field(default_factory=tuple)
    captions: Captions = ()  # the name in each language, when written so (the demo's figure titles)

    def caption(self, language: str) -> str:
        """The name in `language`, else the one name."""
        return dict(self.captions).get(language, self.name)


def load_scenario(path: Path | str) -> Scenario:
    doc = read_yaml(path)
    doc.allow("name", "description", "topology", "steps")
    topology = scenario_topology(doc)
    plan = compile_plan(topology)
    steps = tuple(parse_step(sec, i, plan, topology) for i, sec in enumerate(doc.items("steps", "a step"), start=1))
    if not steps:
        raise doc.error("steps", "the scenario has no steps (write them as a list under 'steps')", MISSING)
    names = set(topology.instances) | {INTERNET_CLIENT}
    for step in steps:
        if step.source is not None and step.source not in names:
            raise fail(
                doc.file,
                step.line,
                f"step '{step.name}': 'from: {step.source}' is not an instance of the topology ({', '.join(sorted(names))})",
                "InvalidParameterValue",
            )
    check_changes(doc.file, topology, steps)
    name, captions = read_name(doc, Path(doc.file).stem)
    return Scenario(doc.file, name, topology, steps, captions)


def read_name(sec: Section, default: str) -> tuple[str, Captions]:
    """`name: TEXT`, or the name in each language, `name: {en: TEXT, ko: TEXT}` (the demo's
    captions): then the reports of `vpclab run` use the English one, else the first written."""
    value = sec.raw("name")
    if not isinstance(value, dict):
        return sec.text("name") or default, ()
    texts = sec.mapping("name", value, f"the name of {sec.what}")
    texts.allow(*NAME_LANGUAGES)
    captions = tuple((language, texts.required_text(language)) for language in texts.data)
    blank = next((language for language, text in captions if not text.strip()), None)
    if not captions or blank:
        raise sec.error("name", f"{sec.what}: 'name' lists no text{f' in {blank}' if blank else ''}", MISSING)
    return dict(captions).get("en", captions[0][1]), captions


def check_changes(file: str, topology: Topology, steps: tuple[Step, ...]) -> None:
    """Each change applies to the topology as the steps before it left it: associating what is
    already associated is found here, before a lab is built."""
    for step in (s for s in steps if s.action in CHANGES):
        try:
            if step.action in SECURITY_CHANGES:
                topology = change_permission(topology, step.action, step.argument)
            elif step.action in CONNECTION_CHANGES:
                topology = decide_connection(topology, step.action, step.argument)
            elif step.action in TARGET_CHANGES:
                topology = targets_changed(file, step, topology)
            else:
                endpoint, table = step.argument.split()
                topology = associate(topology, endpoint, table, on=step.action == "associate")
        except StateConflict as e:
            code = e.code if isinstance(e, PermissionConflict) else "IncorrectState"
            raise fail(file, step.line, f"step '{step.name}': {e}", code) from None


def targets_changed(file: str, step: Step, topology: Topology) -> Topology:
    """A register or deregister step against the group as the steps before it left it."""
    try:
        return change_targets(topology, step.action, step.argument)
    except StateConflict:
        raise
    except LabError as e:
        code = "InvalidTarget" if "InvalidTarget" in str(e) else "ValidationError"
        raise fail(file, step.line, f"step '{step.name}': {e}", code) from None


def scenario_topology(doc: Section) -> Topology:
    """A path relative to the scenario file, or the topology itself, inline."""
    value = doc.require("topology")
    if isinstance(value, str):
        path = Path(doc.file).parent / value
        if not path.is_file():
            raise doc.error(
                "topology", f"topology '{value}': no such file {path} (a path is relative to the scenario file)", "FileNotFound"
            )
        return load_topology(path)
    if not isinstance(value, dict):
        raise doc.error("topology", f"'topology' must be a topology file's path or a topology (a mapping), not {value!r}")
    inline = doc.required_section("topology", "the inline topology")
    topology = parse_topology(inline)
    validate(topology)
    return topology


def parse_step(sec: Section, number: int, plan: Plan, topology: Topology) -> Step:
    sec.what = f"step {number}"
    sec.allow("name", "from", "port", "expect", *ACTIONS)
    actions = [a for a in ACTIONS if sec.has(a)]
    if not actions:
        raise sec.error(None, f"step {number} needs one of: {', '.join(ACTIONS)}", MISSING)
    if len(actions) > 1:
        raise sec.error(
            actions[1],
            f"step {number} has both {actions[0]} and {actions[1]}; a step takes exactly one of: {', '.join(ACTIONS)}",
            "InvalidParameterCombination",
        )
    action = actions[0]
    argument = sec.text(action)
    if argument is None or not argument.strip():
        raise sec.error(action, f"step {number}: '{action}' is empty", MISSING)
    if action in CHANGES:
        return parse_change(sec, number, action, argument, topology)
    if action == "s3" and (argument.split()[0] not in S3_OPS or len(argument.split()) != 2):
        raise sec.error(action, f"step {number}: s3 takes '{' | '.join(S3_OPS)} bucket[/key]', not '{argument}'")
    if action in ("trace", "http"):
        check_target(sec, action, url_host(sec, number, argument) if action == "http" else argument, plan)
    if action == "dns" and dns_name_problem(argument):
        raise sec.error(action, f"{sec.what}: dns name '{shown(argument)}': {dns_name_problem(argument)}")
    port = sec.raw("port")
    if port is not None and (not is_int(port) or not 0 < port < 65536):
        raise sec.error("port", f"step {number}: port must be a number from 1 to 65535, not {port!r}")
    if port is not None and action != "trace":
        raise sec.error("port", f"step {number}: port applies to trace only (an http step's port is in its URL)")
    checks = parse_expect(sec.section("expect", f"expectations of step {number}"), number, action, plan, topology)
    name, captions = read_name(sec, f"step {number}")
    return Step(name, sec.required_text("from"), action, argument, port, checks, sec.line, captions)


def parse_change(sec: Section, number: int, action: str, argument: str, topology: Topology) -> Step:
    """`associate: ENDPOINT ROUTE_TABLE`: a gateway endpoint and a route table the topology has;
    `authorize-ingress: GROUP --protocol tcp --port 443 --cidr 10.0.0.0/16` (and revoke-, -egress):
    a rule of a group the topology has (lab.plan.security_changes); `accept: VPC/ENDPOINT` (and
    reject): a consumer endpoint of an endpoint service. Whether the association, the rule or the
    connection's state allows the change at that point is known only while the steps run."""
    if sec.has("from") or sec.has("expect"):
        key = "from" if sec.has("from") else "expect"
        raise sec.error(
            key,
            f"step {number}: {action} changes the lab, not a node: a change step takes no '{key}'",
            "InvalidParameterCombination",
        )
    if action in SECURITY_CHANGES:
        try:
            parse_permission(topology, action, argument)
        except LabError as e:
            code = "InvalidGroup.NotFound" if isinstance(e, UnknownName) else BAD_VALUE
            raise sec.error(action, f"step {number}: {e}", code) from None
        return change_step(sec, number, action, argument)
    if action in TARGET_CHANGES:  # the group, the target's form; whether it is registered: while the steps run
        try:
            group, ref = argument.split()
            owner = next((v for v in topology.vpcs.values() if group in v.target_groups), None)
            if owner is None:
                raise UnknownName(f"target group {group}: no such target group")
            target_of(owner.target_groups[group], ref)
        except ValueError:
            raise sec.error(action, f"step {number}: {action} takes 'TARGET_GROUP TARGET', not '{argument}'") from None
        except LabError as e:
            code = "TargetGroupNotFound" if isinstance(e, UnknownName) else "ValidationError"
            raise sec.error(action, f"step {number}: {e}", code) from None
        return change_step(sec, number, action, " ".join(argument.split()))
    if action in CONNECTION_CHANGES:
        try:
            find_connection(topology, argument.strip())
        except LabError as e:
            raise sec.error(action, f"step {number}: {e}", "InvalidVpcEndpointId.NotFound") from None
        return change_step(sec, number, action, argument.strip())
    words = argument.split()
    if len(words) != 2:
        raise sec.error(action, f"step {number}: {action} takes 'ENDPOINT ROUTE_TABLE', not '{argument}'")
    try:
        vpc, _ = find_endpoint(topology, words[0])
    except LabError as e:  # no such endpoint, or an interface endpoint (it has no route tables)
        code = "InvalidVpcEndpointId.NotFound" if isinstance(e, UnknownName) else BAD_VALUE
        raise sec.error(action, f"step {number}: {e}", code) from None
    if words[1] not in topology.vpcs[vpc].route_tables:
        raise sec.error(
            action,
            f"step {number}: route table {words[1]}: not in vpc {vpc} ({', '.join(topology.vpcs[vpc].route_tables)})",
            "InvalidRouteTableID.NotFound",
        )
    return change_step(sec, number, action, argument)


def change_step(sec: Section, number: int, action: str, argument: str) -> Step:
    name, captions = read_name(sec, f"step {number}")
    return Step(name, None, action, argument, None, {}, sec.line, captions)


class HttpUrl(NamedTuple):
    """Where an http step goes: the host, the port (the scheme's when the URL has none), and the
    path with its query."""

    host: str
    port: int
    path: str


def http_url(text: str) -> HttpUrl | None:
    """`text` read as an http or https URL with a host and a port from 1 to 65535, or None."""
    url = urlsplit(text)
    try:
        port = url.port
    except ValueError:  # not a number, or above 65535
        return None
    if url.scheme not in ("http", "https") or not url.hostname or port == 0:
        return None
    return HttpUrl(
        url.hostname, port or (443 if url.scheme == "https" else 80), (url.path or "/") + (f"?{url.query}" if url.query else "")
    )


def url_host(sec: Section, number: int, argument: str) -> str:
    url = http_url(argument)
    if url is None:
        raise sec.error("http", f"step {number}: http takes a URL such as https://HOST/PATH, not '{argument}'")
    return url.host


def check_target(sec: Section, action: str, target: str, plan: Plan) -> None:
    """What the static explanation can follow: an address, a node, or a name the source's VPC resolves."""
    problem = target_problem(target)
    if problem:
        raise sec.error(action, f"{sec.what}: {action} target {problem}")
    try:
        ipaddress.IPv4Address(target)
        return
    except ValueError:
        pass
    from_internet = sec.raw("from") == INTERNET_CLIENT
    if target in plan.nodes or ("." in target and not from_internet):
        return
    why = (
        "internet-client has no VPC resolver: give a node or an address"
        if from_internet and "." in target
        else f"not a node of the lab ({', '.join(plan.nodes)}), an IPv4 address or a host name"
    )
    raise sec.error(action, f"{sec.what}: {action} target '{target}': {why}")


def parse_expect(expect: Section | None, number: int, action: str, plan: Plan, topology: Topology) -> dict:
    """The expectations as plain values, each checked for its type and for what it names."""
    if expect is None:
        return {}
    expect.allow(*EXPECT_KEYS)
    checks = dict(expect.data)
    for key, value in checks.items():
        if key not in APPLIES[action]:
            raise expect.error(
                key, f"step {number}: '{key}' does not apply to {action} steps (they can check: {', '.join(APPLIES[action])})"
            )
        if value is None:
            raise expect.error(key, f"step {number}: '{key}' is empty", MISSING)
    if checks.get("outcome", "ok") not in OUTCOMES:
        raise expect.error("outcome", f"step {number}: outcome must be one of {', '.join(OUTCOMES)}, not {checks['outcome']!r}")
    for key in ("status", "exit"):
        if key in checks and not is_int(checks[key]):
            raise expect.error(key, f"step {number}: '{key}' must be a number, not {checks[key]!r}")
    for key in ("output_contains", "dropped_by"):
        if key in checks:
            expect.text(key)
    hops = set(KINDS) | set(plan.nodes) | {n.aws_id for n in plan.nodes.values() if n.aws_id}
    for key in ("path", "not_via", "dns_answer"):
        if key in checks:
            checks[key] = list(expect.names(key))
    for item in checks.get("path", []) + checks.get("not_via", []):
        if item not in hops:
            raise expect.error(
                "path" if item in checks.get("path", []) else "not_via",
                f"step {number}: '{item}' is not a hop kind, node or AWS id of this lab (nodes: {', '.join(plan.nodes)})",
            )
    for item in checks.get("dns_answer", []):
        address_spec(expect, "dns_answer", item, number, plan)
    if "service_saw" in checks:
        checks["service_saw"] = parse_service_saw(expect, number, plan, topology)
    if "flow_log" in checks:
        checks["flow_log"] = parse_flow_log(expect, number, plan)
    return checks


def parse_flow_log(expect: Section, number: int, plan: Plan) -> dict:
    """`flow_log: {action: REJECT, traffic_path: 8, eni: NODE}`: a VPC Flow Log record of the step's
    traffic with these values (docs/flow-logs.md); `eni` is a node with an ENI, or its eni- id."""
    sec = expect.required_section("flow_log", f"flow_log of step {number}")
    sec.allow(*FLOW_LOG_KEYS)
    want: dict = {}
    if sec.has("action"):
        action = sec.required_text("action")
        if action not in FLOW_LOG_ACTIONS:
            raise sec.error("action", f"step {number}: flow_log action must be ACCEPT or REJECT, not {action!r}")
        want["action"] = action
    if sec.has("traffic_path"):
        path = sec.data["traffic_path"]
        if not is_int(path) or int(path) not in TRAFFIC_PATHS:
            raise sec.error("traffic_path", f"step {number}: flow_log traffic_path is a number from 1 to 8, not {path!r}")
        want["traffic_path"] = int(path)
    if sec.has("eni"):
        eni = sec.required_text("eni")
        enis = {i.eni: n.name for n in plan.nodes.values() for i in n.interfaces if i.eni}
        if eni not in enis and eni not in enis.values():
            known = ", ".join(sorted(enis.values()))
            raise sec.error("eni", f"step {number}: flow_log eni '{eni}' is no ENI of the lab (nodes with one: {known})")
        want["eni"] = eni
    if not want:
        raise sec.error(None, f"step {number}: flow_log names none of {', '.join(FLOW_LOG_KEYS)}", MISSING)
    return want


def ingress_spec(sec: Section, number: int, spec: str, topology: Topology) -> str:
    """'internet', a vpce id, or one endpoint of the topology (VPC/ENDPOINT when the name repeats)."""
    vpc_name, _, name = spec.rpartition("/")
    found = [v.name for v in topology.vpcs.values() if name in v.endpoints and vpc_name in ("", v.name)]
    if spec == "internet" or (spec.startswith("vpce-") and not found) or len(found) == 1:
        return spec
    known = ", ".join(f"{v.name}/{e}" for v in topology.vpcs.values() for e in v.endpoints) or "none"
    problem = "names an endpoint in several VPCs: write VPC/ENDPOINT" if found else "is no endpoint of the lab"
    raise sec.error("ingress", f"step {number}: ingress '{spec}' {problem} (internet, a vpce id, or: {known})")


def parse_service_saw(expect: Section, number: int, plan: Plan, topology: Topology) -> dict:
    sec = expect.required_section("service_saw", f"service_saw of step {number}")
    sec.allow(*SERVICE_SAW_KEYS)
    want: dict[str, str] = {}
    if sec.has("source"):
        want["source"] = address_spec(sec, "source", sec.required_text("source"), number, plan)
    if sec.has("source_in"):
        want["source_in"] = str(sec.network("source_in"))
    if sec.has("ingress"):
        want["ingress"] = ingress_spec(sec, number, sec.required_text("ingress"), topology)
    return want


def address_spec(sec: Section, key: str, spec: str, number: int, plan: Plan) -> str:
    """public-ip:NAME, elastic-ip:NAME, private-ip:NAME that the lab has, or an IPv4 address."""
    kind, colon, owner = spec.partition(":")
    if colon and kind in ADDRESS_KINDS:
        if resolve_address(spec, plan).startswith("<"):
            raise sec.error(key, f"step {number}: {spec}: the lab has no {kind} of '{owner}'")
        return spec
    try:
        ipaddress.IPv4Address(spec)
    except ValueError:
        raise sec.error(
            key, f"step {number}: '{spec}' is not an IPv4 address, nor {', '.join(k + ':NAME' for k in ADDRESS_KINDS)}"
        ) from None
    return spec
