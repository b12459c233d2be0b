"""Expectations of a scenario step, checked against what was observed; each failure is one
sentence that says what was expected and what the packets (or the command) showed."""
from __future__ import annotations

import ipaddress

from lab.plan.types import Plan


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
    return next((vpce for key, vpce in plan.allocation.vpce_ids.items()
                 if key.name == name and vpc_name in ("", key.vpc)), spec)


def hop_matches(item: str, hop: dict) -> bool:
    return item in (hop.get("kind"), hop.get("node"), hop.get("aws_id"))


def check(expect: dict, observed: dict, plan: Plan) -> list[str]:
    failures = []
    path = observed.get("path", [])
    shown = " -> ".join(f"{h['node']} [{h['kind']}]" for h in path) or "no hop"
    if "outcome" in expect and observed.get("outcome") != expect["outcome"]:
        why = (observed.get("explanation") or {}).get("message")
        failures.append(f"expected outcome {expect['outcome']}, observed {observed.get('outcome')}"
                        + (f" ({why})" if why else ""))
    if "path" in expect:
        want = list(expect["path"])
        if len(want) != len(path) or not all(hop_matches(w, h) for w, h in zip(want, path)):
            failures.append(f"expected the path {' -> '.join(want)}; the packets went {shown}")
    for item in expect.get("not_via", []):
        if any(hop_matches(item, h) for h in path):
            failures.append(f"expected no hop {item}; the packets went {shown}")
    if "service_saw" in expect:
        failures += check_service_saw(expect["service_saw"], observed.get("service_saw"), plan)
    if "dropped_by" in expect:
        code = (observed.get("explanation") or {}).get("code")
        if code != expect["dropped_by"]:
            failures.append(f"expected a drop by {expect['dropped_by']}, observed {code or 'no drop'}")
    if "dns_answer" in expect:
        want = sorted(resolve_address(a, plan) for a in expect["dns_answer"])
        if sorted(observed.get("dns_answer", [])) != want:
            failures.append(f"expected the DNS answer {want}, got {observed.get('dns_answer')}")
    for key, label in (("status", "HTTP status"), ("exit", "exit status")):
        got = observed.get("http_status" if key == "status" else "exit")
        if key in expect and got != expect[key]:
            failures.append(f"expected {label} {expect[key]}, got {got}")
    if "output_contains" in expect and expect["output_contains"] not in observed.get("output", ""):
        failures.append(f"expected the output to contain {expect['output_contains']!r}; it was "
                        f"{observed.get('output', '')[:200]!r}")
    return failures


def check_service_saw(want: dict, saw: dict | None, plan: Plan) -> list[str]:
    if saw is None:
        return ["expected the service to see the request; it saw nothing"]
    failures = []
    if "source" in want and saw.get("source_ip") != resolve_address(want["source"], plan):
        failures.append(f"expected the service to see source {want['source']} "
                        f"({resolve_address(want['source'], plan)}); it saw {saw.get('source_ip')}")
    if "source_in" in want and ipaddress.IPv4Address(saw["source_ip"]) not in ipaddress.IPv4Network(want["source_in"]):
        failures.append(f"expected a source in {want['source_in']}; the service saw {saw['source_ip']}")
    if "ingress" in want:
        ingress = resolve_ingress(want["ingress"], plan)
        got = saw.get("vpce_id") or saw.get("ingress")
        if got != ingress:
            failures.append(f"expected the request to arrive via {want['ingress']} ({ingress}); it came via {got}")
    return failures
