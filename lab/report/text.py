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
                if r.type == "blackhole" and r.origin == "no route":
                    continue
                hop = "blackhole" if r.type == "blackhole" else (f"via {r.via}" if r.via else f"dev {r.dev}")
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
