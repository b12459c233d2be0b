"""Expectations of a scenario step, checked against what was observed; each failure is one
sentence that says what was expected and what the packets (or the command) showed."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from lab.analysis.flowlogs import FlowRecord, connection_records
from lab.analysis.run import load_run
from lab.plan.types import Plan
from lab.results import CommandResult, Hop, Outcome, ServiceSaw, StopReason
from lab.scenario.observe import Trace


@dataclass(frozen=True)
class Observed:
    """What a step observed, as its expectations read it: a trace's outcome, hops, stop reason,
    what the service saw and HTTP status, or a command's outcome, exit status, output and answer."""

    outcome: Outcome | None = None
    path: tuple[Hop, ...] = ()
    explanation: StopReason | None = None
    service_saw: ServiceSaw | None = None
    http_status: int | None = None
    exit: int | None = None
    output: str = ""
    dns_answer: tuple[str, ...] = ()
    flow_log: tuple[FlowRecord, ...] = ()  # the step's VPC Flow Log records, when an expectation reads them


def as_observed(result: Trace | CommandResult) -> Observed:
    if isinstance(result, CommandResult):
        return Observed(result.outcome, exit=result.exit, output=result.output, dns_answer=result.dns_answer or ())
    status = result.probe.get("http_status")
    if result.observed is None:  # nothing was sent: the name did not resolve
        return Observed(result.outcome, http_status=status)
    path = result.observed
    return Observed(result.outcome, tuple(path.path), path.explanation, path.service_saw, status)


def with_flow_log(seen: Observed, result: Trace | CommandResult, run_dir) -> Observed:
    """The step's flow log records (60 s interval), read from the captures so far: only a traced
    connection has them."""
    if not isinstance(result, Trace) or result.observed is None:
        return seen
    return replace(seen, flow_log=tuple(connection_records(load_run(run_dir), result.observed.flow)))


def resolve_address(spec: str, plan: Plan) -> str:
    """'public-ip:web1', 'elastic-ip:nat-a', 'private-ip:app1' or a literal address."""
    kind, _, owner = spec.partition(":")
    if kind in ("public-ip", "elastic-ip"):
        found = [p for p in plan.public_ips if p.owner == owner and p.elastic == (kind == "elastic-ip")]
        return str(found[0].address) if found else f"<no {kind} of {owner}>"
    if kind == "private-ip":
        if owner in plan.nodes:
            return str(plan.node(owner).addresses()[0])
        found = [p for p in plan.public_ips if p.owner == owner]
        return str(found[0].private_ip) if found else f"<no private ip of {owner}>"
    return spec


def resolve_ingress(spec: str, plan: Plan) -> str:
    """'internet', a vpce id, or an endpoint's name in the topology ('vpc/endpoint' when two VPCs
    use the name; the loader refuses an ambiguous one)."""
    vpc_name, _, name = spec.rpartition("/")
    return next((vpce for key, vpce in plan.allocation.vpce_ids.items() if key.name == name and vpc_name in ("", key.vpc)), spec)


def hop_matches(item: str, hop: Hop) -> bool:
    return item in (hop.kind, hop.node, hop.aws_id)


def check(expect: dict, seen: Observed, plan: Plan) -> list[str]:
    failures = []
    path = seen.path
    shown = " -> ".join(f"{h.node} [{h.kind}]" for h in path) or "no hop"
    if "outcome" in expect and seen.outcome != expect["outcome"]:
        why = seen.explanation.message if seen.explanation else None
        failures.append(f"expected outcome {expect['outcome']}, observed {seen.outcome}" + (f" ({why})" if why else ""))
    if "path" in expect:
        want = list(expect["path"])
        if len(want) != len(path) or not all(hop_matches(w, h) for w, h in zip(want, path)):
            failures.append(f"expected the path {' -> '.join(want)}; the packets went {shown}")
    for item in expect.get("not_via", []):
        if any(hop_matches(item, h) for h in path):
            failures.append(f"expected no hop {item}; the packets went {shown}")
    if "service_saw" in expect:
        failures += check_service_saw(expect["service_saw"], seen.service_saw, plan)
    if "dropped_by" in expect:
        code = seen.explanation.code if seen.explanation else None
        if code != expect["dropped_by"]:
            failures.append(f"expected a drop by {expect['dropped_by']}, observed {code or 'no drop'}")
    if "dns_answer" in expect:
        want = sorted(resolve_address(a, plan) for a in expect["dns_answer"])
        if sorted(seen.dns_answer) != want:
            failures.append(f"expected the DNS answer {want}, got {list(seen.dns_answer)}")
    for key, label, got in (("status", "HTTP status", seen.http_status), ("exit", "exit status", seen.exit)):
        if key in expect and got != expect[key]:
            failures.append(f"expected {label} {expect[key]}, got {got}")
    if "output_contains" in expect and expect["output_contains"] not in seen.output:
        failures.append(f"expected the output to contain {expect['output_contains']!r}; it was {seen.output[:200]!r}")
    if "flow_log" in expect:
        failures += check_flow_log(expect["flow_log"], seen.flow_log)
    return failures


def check_flow_log(want: dict, records: tuple[FlowRecord, ...]) -> list[str]:
    """Some record of the step's traffic has every value asked (eni: its node or eni- id)."""
    for r in records:
        if (
            want.get("action", r.action) == r.action
            and want.get("traffic_path", r.traffic_path) == r.traffic_path
            and want.get("eni", r.eni.node) in (r.eni.node, r.eni.eni_id)
        ):
            return []
    asked = ", ".join(f"{k} {v}" for k, v in want.items())
    seen = "; ".join(
        f"{r.eni.node} {r.direction} {r.pkt_src}:{r.sport}->{r.pkt_dst}:{r.dport} {r.action} path {r.traffic_path or '-'}"
        for r in records
    )
    return [f"expected a flow log record with {asked}; the step's records: {seen or 'none'}"]


def check_service_saw(want: dict, saw: ServiceSaw | None, plan: Plan) -> list[str]:
    if saw is None:
        return ["expected the service to see the request; it saw nothing"]
    failures = []
    if "source" in want and saw.source_ip != resolve_address(want["source"], plan):
        failures.append(
            f"expected the service to see source {want['source']} "
            f"({resolve_address(want['source'], plan)}); it saw {saw.source_ip}"
        )
    if "source_in" in want and ipaddress.IPv4Address(saw.source_ip) not in ipaddress.IPv4Network(want["source_in"]):
        failures.append(f"expected a source in {want['source_in']}; the service saw {saw.source_ip}")
    if "ingress" in want:
        ingress = resolve_ingress(want["ingress"], plan)
        got = saw.vpce_id or saw.ingress
        if got != ingress:
            failures.append(f"expected the request to arrive via {want['ingress']} ({ingress}); it came via {got}")
    return failures
