"""The VPC router's conntrack marks of what an NLB node forwards with the client's IP kept: one
mark per node of the VPC's NLBs that keep client IPs. The router steers those connections' answers
back to the node by it (lab.plan.load_balancer_replies) and judges their packets by it
(lab.plan.security_nft: the NLB's outbound rules, not the client's; a target's rule naming the
NLB's group). Pure and on the model, so the router's filters, built before the NLB nodes, know it.
"""

from __future__ import annotations

from lab.model.topology import Vpc
from lab.plan import names

MARK_BASE = 0x4E00  # node k of the VPC: mark 0x4e00 + k (nothing else in the router marks packets)


def preserved_marks(vpc: Vpc) -> dict[str, int]:
    """NLB node -> its mark, for the nodes of the VPC's NLBs of which some kernel-path listener keeps
    the client's IP (the PPv2 proxy never does)."""
    kept = [
        lb
        for lb in vpc.load_balancers.values()
        if any(
            not g.proxy_protocol_v2 and g.client_ip_preserved for g in (vpc.target_groups[li.target_group] for li in lb.listeners)
        )
    ]
    nodes = [names.load_balancer_node(vpc.name, lb.name, vpc.subnets[s].az) for lb in kept for s in lb.subnets]
    return {node: MARK_BASE + k for k, node in enumerate(nodes)}
