"""An exercise's check, made of packets and the live model: each condition of its file either sends
real traffic now (`trace`: lab.scenario.observe.trace, the same probe and captures as `path`), or
reads the learner's own traffic from the lab's captures (`seen`: any connection the learner opened,
with `aws`, `curl` or `path`), or reads the live topology (`model`: what `associate`, `accept` or
`authorize-ingress` changed). The result says which passed; rendering it in a language is
lab.exercises.render's job, so one check serves both.

A trace's or a flow's `expect` holds: `outcome` (ok, denied, timeout, ... or `fails`: anything but
ok and denied, the packets never got an answer from the service), `through` / `not_through` (hop
kinds: nat-gateway, internet-gateway, gateway-endpoint, interface-endpoint, ...), `saw` (`private`:
the service saw the source's own private IP; `public`: an address outside the VPC, a public IP or
the NAT gateway's Elastic IP), `vpce` (VPC/ENDPOINT: the service saw that endpoint's id).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lab.analysis.explain import explain
from lab.analysis.paths import flows, path_of
from lab.analysis.run import load_run
from lab.exercises.catalog import Condition, Exercise
from lab.model.endpoint_connections import find_connection
from lab.results import Outcome
from lab.scenario.observe import drop_counters, trace

ANSWERED = (Outcome.OK, Outcome.DENIED)


@dataclass(frozen=True)
class Verdict:
    condition: Condition
    passed: bool
    evidence: str  # what the packets or the model showed, in the lab's vocabulary (ids, hops)


@dataclass(frozen=True)
class CheckResult:
    exercise: Exercise
    verdicts: tuple[Verdict, ...]

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)


def run_check(exercise: Exercise, lab, topology, plan) -> CheckResult:
    """Every condition of the exercise against the running lab and its live model and plan."""
    return CheckResult(exercise, tuple(judge(c, lab, topology, plan) for c in exercise.check))


def judge(condition: Condition, lab, topology, plan) -> Verdict:
    spec = condition.spec
    if condition.kind == "model":
        passed, evidence = model_holds(spec, topology, plan)
        return Verdict(condition, passed, evidence)
    port = int(spec.get("port", 443))
    if condition.kind == "trace":
        predicted = explain(topology, plan, spec["from"], spec["to"], port)
        t = trace(lab, predicted, spec["from"], spec["to"], port)
        status = t.probe.get("http_status")
        outcome = Outcome.DENIED if status == 403 else t.outcome
        passed, evidence = path_meets(spec.get("expect", {}), outcome, t.observed, plan, spec["from"])
        evidence += f"; HTTP {status}" if status else ""
        evidence += "" if t.agrees else f"; vpclab's prediction disagrees, please report it: {'; '.join(t.disagreements)}"
        return Verdict(condition, passed, evidence)
    return learner_traffic(condition, lab, topology, plan, port)


def path_meets(expect: dict, outcome: Outcome, observed, plan, source: str) -> tuple[bool, str]:
    """Whether what the packets showed meets `expect` (module docstring), and the evidence."""
    hops = [h.kind for h in observed.path] if observed else []
    saw = observed.service_saw if observed else None
    evidence = f"{source}: {outcome}; hops " + (" -> ".join(h.node for h in observed.path) if observed else "none captured")
    evidence += f"; the service saw {saw.source_ip}" + (f" by {saw.vpce_id}" if saw and saw.vpce_id else "") if saw else ""
    wanted = expect.get("outcome", "ok")
    ok = outcome not in ANSWERED if wanted == "fails" else outcome == Outcome(wanted)
    ok = ok and all(k in hops for k in expect.get("through", []))
    ok = ok and not any(k in hops for k in expect.get("not_through", []))
    if "saw" in expect:
        ok = ok and saw is not None and saw_matches(expect["saw"], saw.source_ip, plan, source)
    if "vpce" in expect:
        vpc, _, name = expect["vpce"].partition("/")
        ok = ok and saw is not None and saw.vpce_id == plan.vpce_id(vpc, name)
    return ok, evidence


def saw_matches(wanted: str, seen: str, plan, source: str) -> bool:
    if wanted == "private":
        return seen == str(plan.eni_address(source))
    return not ipaddress.ip_address(seen).is_private  # public: a public IP or an Elastic IP


def learner_traffic(condition: Condition, lab, topology, plan, port: int) -> Verdict:
    """Passed when one connection the learner opened from `from` to an address of `to` (a name or
    a list of names, resolved as the source's resolver would) on `port` meets `expect`."""
    spec = condition.spec
    source = spec["from"]
    targets = spec["to"] if isinstance(spec["to"], list) else [spec["to"]]
    addresses = set().union(*(destinations(explain(topology, plan, source, t, port)) for t in targets))
    drop_counters(lab)  # drops.json, which load_run reads, as of now
    run = load_run(lab.run_dir)
    found = [f for f in flows(run) if f.node == source and f.dst in addresses and f.dport == port]
    if not found:
        return Verdict(condition, False, f"no connection from {source} to {', '.join(targets)} port {port} in the captures yet")
    evidence = ""
    for flow in reversed(found):  # the latest first: it is the one the learner means
        observed = path_of(run, flow)
        passed, evidence = path_meets(spec.get("expect", {}), observed.outcome, observed, plan, source)
        if passed:
            return Verdict(condition, True, evidence)
    return Verdict(condition, False, evidence)


def destinations(predicted) -> set[str]:
    """Every address the source's resolver gives for the name (a client may take any of them)."""
    found = set(predicted.dns.answer) if predicted.dns else set()
    return found | ({predicted.destination} if predicted.destination else set())


def model_holds(spec: dict, topology, plan) -> tuple[bool, str]:
    """`associated: {endpoint: VPC/NAME, route_table: TABLE}`, `connection: {endpoint: VPC/NAME,
    state: STATE}` or `ingress: {group: VPC/GROUP, port: N, cidr: CIDR}` (a rule letting TCP N in
    from all of CIDR) in the live model."""
    if "associated" in spec:
        vpc, _, name = spec["associated"]["endpoint"].partition("/")
        table = spec["associated"]["route_table"]
        tables = topology.vpcs[vpc].endpoints[name].route_tables
        return table in tables, f"{name} ({plan.vpce_id(vpc, name)}): route tables {', '.join(tables) or 'none'}"
    if "connection" in spec:
        vpc, _, name = spec["connection"]["endpoint"].partition("/")
        vpce = plan.vpce_id(vpc, name)
        find_connection(topology, f"{vpc}/{name}")  # the endpoint must connect to an endpoint service
        state = next((c.state for s in plan.endpoint_services for c in s.connections if c.vpce == vpce), "none")
        return state == spec["connection"]["state"], f"{vpc}/{name} ({vpce}): {state}"
    if "ingress" in spec:
        vpc, _, name = spec["ingress"]["group"].partition("/")
        port, cidr = int(spec["ingress"]["port"]), ipaddress.ip_network(spec["ingress"]["cidr"])
        group = topology.vpcs[vpc].security_groups[name]
        allowed = [r for r in group.ingress if covers(r, port, cidr)]
        return bool(allowed), f"security group {name}: {len(allowed)} inbound rule(s) allow TCP {port} from {cidr}"
    raise KeyError(f"unknown model condition {sorted(spec)}")


def covers(rule, port: int, cidr) -> bool:
    """An inbound rule that lets TCP `port` in from every address of `cidr` (a CIDR peer holding
    it; a prefix list or a group peer does not count: the exercise asks for the VPC's CIDR)."""
    if not isinstance(rule.peer, ipaddress.IPv4Network) or not cidr.subnet_of(rule.peer):
        return False
    if rule.protocol == "-1":
        return True
    return rule.protocol == "tcp" and (rule.from_port is None or rule.from_port <= port <= (rule.to_port or rule.from_port))
