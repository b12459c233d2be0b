"""The configs of a lab's load-balancer processes, made from the plan (pure: unit-tested without a
lab): one `nlb` process per NLB node (health checks, its rotation maps, the PPv2 proxy) and one
`provider-app` per target node of a group that names the app.
"""

from __future__ import annotations

from pathlib import Path

from lab.plan.load_balancer_nft import group_map
from lab.plan.load_balancer_types import LoadBalancerPlan, NlbNode
from lab.plan.types import Plan

PROVIDER_APP = "provider-app"


def nlb_config(lb: LoadBalancerPlan, node: NlbNode, directory: Path) -> dict:
    """What node `node` of `lb` checks, fills its maps with, and proxies."""
    groups = [
        {
            "name": g.name,
            "map": group_map(g),
            "proxy_protocol_v2": g.proxy_protocol_v2,
            "interval": g.health_check.interval,
            "timeout": g.health_check.timeout,
            "healthy_threshold": g.health_check.healthy_threshold,
            "unhealthy_threshold": g.health_check.unhealthy_threshold,
            "deregistration_delay": g.deregistration_delay,
            "connection_termination": g.connection_termination,
            "targets": [
                {
                    "id": t.target_id,
                    "address": str(t.address),
                    "port": t.port,
                    "health_port": g.health_port(t),
                    "candidate": t in lb.candidates(node, g),
                    "enabled": any(t.az == n.az for n in lb.nodes),  # in an enabled AZ: checked
                }
                for t in g.targets
            ],
        }
        for g in lb.target_groups
    ]
    return {
        "node": node.node,
        "load_balancer": lb.arn,
        "address": str(node.address),
        "groups": groups,
        "listeners": [
            {"port": li.port, "group": li.target_group, "proxy_port": li.proxy_port, "idle_timeout": li.idle_timeout}
            for li in lb.listeners
        ],
        "ingresses": [{"address": str(i.address.ip), "label": i.label} for i in node.ingresses],
        "health_file": str(directory / f"{node.node}-target-health.json"),
        "connection_log": str(directory / f"{node.node}-connections.jsonl"),
    }


def provider_app_configs(plan: Plan, directory: Path) -> dict[str, dict]:
    """Node -> the provider application's config: the ports its target groups send to."""
    ports: dict[str, set[int]] = {}
    for lb in plan.load_balancers:
        for g in lb.target_groups:
            if g.app == PROVIDER_APP:
                for t in g.targets:
                    if t.node is not None:
                        ports.setdefault(t.node, set()).update({t.port, g.health_port(t)})
    return {
        node: {"node": node, "ports": sorted(found), "request_log": str(directory / f"{node}-{PROVIDER_APP}.jsonl")}
        for node, found in ports.items()
    }
