"""Terminal renderings of plans and explanations: what a learner reads, in AWS's words."""
from __future__ import annotations

from lab.analysis.explain import Explanation
from lab.plan.types import Plan


def plan_text(plan: Plan) -> str:
    lines = [f"lab plan for {plan.source} (region {plan.region}): {len(plan.nodes)} nodes, "
             f"{len(plan.links)} links", ""]
    for node in plan.nodes.values():
        aws = f" {node.aws_id}" if node.aws_id else ""
        lines.append(f"{node.name} [{node.kind}{aws}] {node.description}")
        for iface in node.bridges + node.interfaces:
            if iface.addresses:
                lines.append(f"    {iface.name:<8} {', '.join(map(str, iface.addresses))}")
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
        lines += [f"    {str(p.address):<16} -> {str(p.private_ip):<12} {'Elastic IP of' if p.elastic else 'public IP of'} "
                  f"{p.owner} (vpc {p.vpc})" for p in plan.public_ips]
    for resolver in plan.resolvers.values():
        lines += ["", f"DNS resolver of vpc {resolver.vpc} at {', '.join(map(str, resolver.addresses))}: "
                  f"{len(resolver.records)} names"]
    return "\n".join(lines)


def explanation_text(e: Explanation) -> str:
    lines = [f"{e.source} -> {e.target}" + (f" ({e.destination})" if e.destination and e.destination != e.target else "")
             + f", port {e.port}"]
    if e.dns:
        lines.append(f"  DNS: {e.dns['name']} -> {', '.join(e.dns['answer'])} ({e.dns['origin']} answer of "
                     f"the VPC resolver {e.dns['resolver']})")
    for i, hop in enumerate(e.path):
        arrow = "  " if i == 0 else "  -> "
        aws = f" ({hop.aws_id})" if hop.aws_id and hop.aws_id != hop.node else ""
        extra = f": {hop.detail}" if hop.detail else ""
        trans = f" [{'; '.join(hop.translations)}]" if hop.translations else ""
        lines.append(f"{arrow}{hop.node} [{hop.kind}]{aws}{extra}{trans}")
    if e.service_saw:
        saw = e.service_saw
        lines.append(f"  the service saw source {saw['source_ip']} via "
                     + (f"endpoint {saw['vpce_id']}" if saw["vpce_id"] else "the internet"))
    if e.explanation:
        x = e.explanation
        lines.append(f"  stops at {x['component']}: {x['message']} ({x['code']})")
    lines.append(f"predicted outcome: {e.outcome}")
    return "\n".join(lines)


def because(x: dict) -> str:
    """An explanation's message, with its code unless the message already names it."""
    message, code = x.get("message", ""), x.get("code", "")
    return message if code in message else f"{message} ({code})"


def observed_hops(path: list[dict]) -> list[str]:
    lines = []
    for i, hop in enumerate(path):
        arrow = "  " if i == 0 else "  -> "
        aws = f" ({hop['aws_id']})" if hop.get("aws_id") and hop["aws_id"] != hop["node"] else ""
        ports = ", ".join(f"{k} {hop[k]}" for k in ("ingress", "egress") if hop.get(k))
        trans = f" [{'; '.join(hop['translations'])}]" if hop.get("translations") else ""
        lines.append(f"{arrow}{hop['node']} [{hop['kind']}]{aws}" + (f" ({ports})" if ports else "") + trans)
    return lines


def trace_text(t: dict) -> str:
    """A trace: the path the packets took, what the service saw, and whether it was predicted."""
    lines = [f"{t['source']} -> {t['target']}, port {t['port']}: {t['outcome']}"
             + (f" (HTTP {t['http_status']})" if t.get("http_status") else "")]
    if t.get("error"):
        lines.append(f"  the client said: {t['error']}")
    if t.get("dns"):
        lines.append(f"  DNS inside the lab: {t['target']} -> {', '.join(t['dns']['answer'])}")
    lines.append("  observed in the captures:")
    lines += ["  " + line for line in observed_hops(t["path"])]
    if t.get("service_saw"):
        saw = t["service_saw"]
        if t["path"] and t["path"][-1]["kind"] == "service":
            via = f"endpoint {saw['vpce_id']}" if saw.get("vpce_id") else "the internet"
            lines.append(f"  the service saw source {saw['source_ip']}:{saw['source_port']} via {via}")
        else:
            lines.append(f"  {t['path'][-1]['node'] if t['path'] else 'the destination'} saw source "
                         f"{saw['source_ip']}:{saw['source_port']}")
    if t.get("explanation"):
        x = t["explanation"]
        lines.append(f"  stopped at {x.get('node') or x.get('component')}: {because(x)}")
    verdict = "agrees with the prediction" if t["agrees"] else \
        "DISAGREES with the prediction (a vpclab bug): " + "; ".join(t["disagreements"])
    lines.append(f"  {verdict}")
    if t.get("captures"):
        lines.append(f"  captures: {t['captures']}/captures (one pcap per node; vpclab inspect {t['captures']})")
    return "\n".join(lines)


def inspect_text(data: dict) -> str:
    lines = [f"run {data['run']}: " + ", ".join(f"{n} {c}" for n, c in data["packets"].items()) + " packets"]
    if not data["flows"]:
        lines.append("no flow matched")
    for flow in data["flows"]:
        path = flow["path"]
        lines.append("")
        lines.append(f"{flow['proto']} {flow['source']} {flow['src']}:{flow['sport']} -> {flow['dst']}:{flow['dport']}"
                     f" ({flow['packets']} packets): {path['outcome']}")
        lines += ["  " + line for line in observed_hops(path["path"])]
        if path.get("service_saw"):
            lines.append(f"    the service saw {path['service_saw']['source_ip']}")
        if path.get("explanation"):
            x = path["explanation"]
            lines.append(f"    stopped at {x.get('node')}: {because(x)}")
    return "\n".join(lines)


def hop_line(path: list[dict]) -> str:
    """app1 -> app-router -> app-nat-a [10.0.2.4 -> 10.0.1.254] -> ...: a path on one line."""
    parts = []
    for hop in path:
        trans = [t.split(" at ")[0] for t in hop.get("translations", [])]
        parts.append(hop["node"] + (f" [{'; '.join(trans)}]" if trans else ""))
    return " -> ".join(parts)


def demo_text(act) -> str:
    """One act of the demo: a title, then per step the path, what S3 saw, and the prediction."""
    lines = [f"== {act.act.title}", ""]
    for story, t in act.results:
        if t is None:  # a change of the lab, not traffic
            lines += [f"   >> {story}", ""]
            continue
        lines.append(f"   {story}")
        lines.append(f"     path:    {hop_line(t['path'])}")
        if t["outcome"] == "ok":
            saw = (t["service_saw"] or {}).get("source_ip")
            via = (t["service_saw"] or {}).get("vpce_id") or "the internet"
            lines.append(f"     result:  HTTP {t.get('http_status')} from S3, which saw the request come from "
                         f"{saw}{' (' + act.owners[saw] + ')' if saw in act.owners else ''} via {via}")
        elif t["outcome"] == "denied":
            why = (t["predicted"].get("explanation") or {}).get("message", "")
            lines.append(f"     result:  HTTP {t.get('http_status')}: {why.removeprefix('S3 answers ')}")
        else:
            x = t.get("explanation") or {}
            lines.append(f"     result:  {t['outcome']}: {because(x)}")
            why = (t["predicted"].get("explanation") or {}).get("message")
            if why:
                lines.append(f"     why:     {why}")
        verdict = "agrees" if t["agrees"] else "DISAGREES (a vpclab bug): " + "; ".join(t["disagreements"])
        lines += [f"     predicted by AWS's rules (vpclab explain): {verdict}", ""]
    return "\n".join(lines)

def scenario_text(result: dict) -> str:
    """One line per step (PASS/FAIL), the path the packets took, and every failed expectation."""
    lines = [f"scenario {result['scenario']} ({result['file']}): {'passed' if result['passed'] else 'FAILED'}"]
    for step in result["steps"]:
        lines.append(f"  {'PASS' if step['passed'] else 'FAIL'}  {step['name']}  (from {step['from']}, line {step['line']})")
        observed = step["observed"]
        if observed.get("path"):
            lines.append(f"        path: {hop_line(observed['path'])}  [{observed.get('outcome')}]")
        for failure in step["failures"]:
            lines.append(f"        - {failure}")
    if result.get("run_dir"):
        lines.append(f"  captures: {result['run_dir']}/captures")
    return "\n".join(lines)
