"""Terminal renderings of plans and explanations: what a learner reads, in AWS's words."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.analysis.explain import Explanation
from lab.analysis.inspect import Inspection, clock
from lab.plan.types import Plan
from lab.report.style import PLAIN, Palette
from lab.results import CommandResult, Hop, StopReason

if TYPE_CHECKING:  # named only: importing the scenario runner would load the realizer for `explain`
    from lab.scenario.loader import Scenario
    from lab.scenario.observe import Trace
    from lab.scenario.runner import ScenarioResult, StepResult


def plan_text(plan: Plan) -> str:
    lines = [f"lab plan for {plan.source} (region {plan.region}): {len(plan.nodes)} nodes, {len(plan.links)} links", ""]
    for node in plan.nodes.values():
        aws = f" {node.aws_id}" if node.aws_id else ""
        lines.append(f"{node.name} [{node.kind}{aws}] {node.description}")
        for iface in node.bridges + node.interfaces:
            if iface.addresses:
                eni = f"  {iface.eni}" if iface.eni else ""
                lines.append(f"    {iface.name:<8} {', '.join(map(str, iface.addresses))}{eni}")
        if node.loopback:
            lines.append(f"    {'lo':<8} {', '.join(map(str, node.loopback))}")
        for table in node.route_tables:
            lines.append(f"    route table {table.name} ({table.aws_id}), kernel table {table.number}:")
            for r in table.routes:
                if r.origin == "no route":
                    continue
                hop = "dropped" if r.dev == "noroute" else (f"via {r.via}" if r.via else f"dev {r.dev}")
                lines.append(f"        {str(r.destination):<18} {hop:<22} {r.origin}")
    if plan.public_ips:
        lines += ["", "public IPv4 addresses (exist only inside the lab):"]
        lines += [
            f"    {str(p.address):<16} -> {str(p.private_ip):<12} {'Elastic IP of' if p.elastic else 'public IP of'} "
            f"{p.owner} (vpc {p.vpc})"
            for p in plan.public_ips
        ]
    lines += endpoint_service_lines(plan)
    for resolver in plan.resolvers.values():
        lines += [
            "",
            f"DNS resolver of vpc {resolver.vpc} at {', '.join(map(str, resolver.addresses))}: {len(resolver.records)} names",
        ]
        lines += [  # the names a learner cannot guess: interface endpoints' own, and private DNS
            f"    {r.name} -> {', '.join(map(str, r.addresses))} ({r.origin})"
            for r in resolver.records
            if r.origin in ("vpce", "private-dns")
        ]
    return "\n".join(lines)


def endpoint_service_lines(plan: Plan) -> list[str]:
    """Each endpoint service as describe-vpc-endpoint-service-configurations shows it, with its
    consumers' connection states."""
    lines = []
    for svc in plan.endpoint_services:
        zones, principals = ", ".join(svc.availability_zones), ", ".join(svc.allowed_principals) or "none (the owner only)"
        lines += ["", f"endpoint service {svc.name} (vpc {svc.vpc}, account {svc.owner}): {svc.service_name}"]
        lines.append(f"    NLBs {', '.join(svc.load_balancers)} in {zones}; acceptance required: {svc.acceptance_required}")
        lines.append(f"    allowed principals: {principals}")
        if svc.private_dns_name:
            lines.append(f"    private DNS name {svc.private_dns_name}: {svc.private_dns_state}")
        lines += [f"    {c.vpc}/{c.endpoint} {c.vpce} (account {c.owner}): {c.state}" for c in svc.connections]
    return lines


def explanation_text(e: Explanation) -> str:
    lines = [
        f"{e.source} -> {e.target}"
        + (f" ({e.destination})" if e.destination and e.destination != e.target else "")
        + f", port {e.port}"
    ]
    if e.dns:
        lines.append(
            f"  DNS: {e.dns.name} -> {', '.join(e.dns.answer)} ({e.dns.origin} answer of the VPC resolver {e.dns.resolver})"
        )
    for i, hop in enumerate(e.path):
        arrow = "  " if i == 0 else "  -> "
        aws = f" ({hop.aws_id})" if hop.aws_id and hop.aws_id != hop.node else ""
        extra = f": {hop.detail}" if hop.detail else ""
        trans = f" [{'; '.join(map(str, hop.translations))}]" if hop.translations else ""
        lines.append(f"{arrow}{hop.node} [{hop.kind}]{aws}{extra}{trans}")
    lines += reply_lines(e)
    if e.service_saw:
        lines.append(f"  the service saw source {e.service_saw.source_ip} via {e.service_saw.via}")
        if (saw := e.service_saw).proxy_source:
            lines.append(f"  and in the PROXY protocol v2 header: source {saw.proxy_source}, vpce id {saw.proxy_vpce_id}")
    if e.explanation:
        x = e.explanation
        lines.append(f"  stops at {x.component}: {x.message} ({x.code})")
    lines.append(f"predicted: {'reachable' if e.reachable else 'not reachable'}; a client would see {e.outcome}")
    return "\n".join(lines)


def reply_lines(e: Explanation) -> list[str]:
    """The reply's way back, where there is something to say: a network ACL of the topology let it
    through, or one stopped it before it reached the source."""
    back = e.return_path
    if not back or (len(back) == len(e.path) and not any(h.detail for h in back)):
        return []
    hops = [f"{h.node}" + (f" ({h.detail})" if h.detail else "") for h in back]
    cut = "" if len(back) == len(e.path) else " -> (dropped)"
    return ["  reply: " + " -> ".join(hops) + cut]


def observed_hops(path: list[Hop]) -> list[str]:
    lines = []
    for i, hop in enumerate(path):
        arrow = "  " if i == 0 else "  -> "
        aws = f" ({hop.aws_id})" if hop.aws_id and hop.aws_id != hop.node else ""
        ports = ", ".join(f"{k} {v}" for k, v in (("ingress", hop.ingress), ("egress", hop.egress)) if v)
        trans = f" [{'; '.join(map(str, hop.translations))}]" if hop.translations else ""
        lines.append(f"{arrow}{hop.node} [{hop.kind}]{aws}" + (f" ({ports})" if ports else "") + trans)
    return lines


def stopped(x: StopReason) -> str:
    return f"stopped at {x.node or x.component}: {x.because()}"


def trace_text(t: Trace, captures: str | None = None) -> str:
    """A trace: the path the packets took, what the service saw, and whether it was predicted."""
    status = t.probe.get("http_status")
    lines = [f"{t.source} -> {t.target}, port {t.port}: {t.outcome}" + (f" (HTTP {status})" if status else "")]
    if t.probe.get("error"):
        lines.append(f"  the client said: {t.probe['error']}")
    if t.dns_answer:
        lines.append(f"  DNS inside the lab: {t.target} -> {', '.join(t.dns_answer)}")
    lines.append("  observed in the captures:")
    path = t.observed.path if t.observed else []
    lines += ["  " + line for line in observed_hops(path)]
    if t.observed and (saw := t.observed.service_saw):
        if path and path[-1].kind == "service":
            lines.append(f"  the service saw source {saw.source_ip}:{saw.source_port} via {saw.via}")
        else:
            lines.append(f"  {path[-1].node if path else 'the destination'} saw source {saw.source_ip}:{saw.source_port}")
        if saw.proxy_source:  # an NLB's PROXY protocol v2 header (lab.analysis.privatelink_paths)
            lines.append(f"  and in the PROXY protocol v2 header: source {saw.proxy_source}, vpce id {saw.proxy_vpce_id}")
    if t.observed and t.observed.explanation:
        lines.append(f"  {stopped(t.observed.explanation)}")
    verdict = (
        "agrees with the prediction"
        if t.agrees
        else "DISAGREES with the prediction (a vpclab bug): " + "; ".join(t.disagreements)
    )
    lines.append(f"  {verdict}")
    if captures:
        lines.append(f"  captures: {captures}/captures (one pcap per node; vpclab inspect {captures})")
    return "\n".join(lines)


def inspect_text(data: Inspection) -> str:
    """Frames as Wireshark numbers them in captures/run.pcapng, each hop with its frames and time."""
    frames = data.frames or {}
    lines = [
        f"run {data.run}: {sum(frames.values())} frames in {data.capture} (Wireshark's numbers, from 1): "
        + ", ".join(f"{n} {c}" for n, c in frames.items())
    ]
    if not data.flows:
        lines.append("no flow matched")
    for flow, path in data.flows:
        lines.append("")
        lines.append(
            f"{flow.protocol} {flow.node} {flow.src}:{flow.sport} -> {flow.dst}:{flow.dport}"
            f" ({plural(len(flow.sightings), 'packet')} at {flow.node}, from {clock(flow.sightings[0].time)} UTC): {path.outcome}"
        )
        for hop, line in zip(path.path, observed_hops(path.path)):
            numbers = data.hop_frames(hop)
            when = f" at {clock(hop.time)[11:]}" if hop.time else ""
            lines.append(f"  {line}" + (f"  frames {frame_ranges(numbers)}{when}" if numbers else when))
        if path.service_saw:
            lines.append(f"    the service saw {path.service_saw.source_ip}")
        if path.explanation:
            lines.append(f"    {stopped(path.explanation)}")
    lines += ["", "one frame in full: vpclab inspect RUN_DIR --packet FRAME"]
    return "\n".join(lines)


def frame_ranges(numbers: list[int]) -> str:
    """1, 2, 3, 7 -> '1-3, 7': Wireshark's `frame.number in {1..3 7}` reads the same ranges."""
    ranges: list[list[int]] = []
    for n in numbers:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def hop_line(path: list[Hop]) -> str:
    """app1 -> app-router -> app-nat-a [10.0.2.4 -> 10.0.1.254] -> ...: a path on one line."""
    parts = []
    for hop in path:
        trans = "; ".join(map(str, hop.translations))
        parts.append(hop.node + (f" [{trans}]" if trans else ""))
    return " -> ".join(parts)


def scenario_heading(scenario: Scenario, paint: Palette = PLAIN) -> str:
    """`vpclab run` shows a scenario as its heading, then step_text per step as each finishes,
    then scenario_end; run_summary after the last file."""
    return paint.title(f"scenario {scenario.name} ({scenario.file})")


def step_text(step: StepResult, paint: Palette = PLAIN) -> str:
    """A step's PASS/FAIL line (where it ran, its line in the file, how long it took), its path, and
    every expectation it failed."""
    where = f"from {step.step.source}" if step.step.source is not None else step.step.action
    mark = paint.good("PASS") if step.passed else paint.bad("FAIL")
    lines = [f"  {mark}  {step.step.name}  ({where}, line {step.step.line}, {paint.quiet(seconds(step.seconds))})"]
    observed = step.observed
    path = [] if isinstance(observed, CommandResult) or not observed.observed else observed.observed.path
    if path:
        lines.append(f"        path: {hop_line(path)}  [{observed.outcome}]")
    lines += [f"        - {paint.bad(failure)}" for failure in step.failures]
    return "\n".join(lines)


def scenario_end(result: ScenarioResult, paint: Palette = PLAIN) -> str:
    """Where the captures are, and the scenario's verdict: `passed` or `FAILED`, its steps and time."""
    lines = [f"  captures: {result.run_dir}/captures"] if result.run_dir else []
    failed = sum(not s.passed for s in result.steps)
    verdict = paint.good("passed") if result.passed else paint.bad("FAILED")
    counts = plural(len(result.steps), "step") + (f", {failed} failed" if failed else "")
    lines.append(f"scenario {result.scenario.name}: {verdict} ({counts}, {seconds(result.seconds)})")
    return "\n".join(lines) + "\n"


def run_summary(results: list[ScenarioResult], paint: Palette = PLAIN) -> str:
    """The summary across files: scenarios and steps passed and failed, and the time they took."""
    steps = [s for r in results for s in r.steps]
    failed_scenarios = sum(not r.passed for r in results)
    failed_steps = sum(not s.passed for s in steps)
    line = (
        f"{plural(len(results), 'scenario')}: {len(results) - failed_scenarios} passed, "
        f"{failed_scenarios} failed; {plural(len(steps), 'step')}: {len(steps) - failed_steps} passed, "
        f"{failed_steps} failed; {seconds(sum(r.seconds for r in results))}"
    )
    return paint.bad(line) if failed_scenarios else paint.good(line)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def seconds(value: float) -> str:
    return f"{value:.1f} s"
