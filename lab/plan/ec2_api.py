"""The EC2 API of a running lab, as data: one call (action, botocore input-shape params, the
caller's region and account) against the live model and plan gives an answer (botocore's output
shape) and, for a call that changes something, the changed model. Describe calls read
(lab.plan.ec2_describe); the others change (lab.plan.ec2_changes); any other EC2 action (the front
has refused what is not EC2's: InvalidAction) is EC2's UnsupportedOperation, naming what the lab
answers. The controller (lab.realize.controller) applies a changed model to the lab.
"""

from __future__ import annotations

from lab.model.ec2_errors import Ec2Error
from lab.model.topology import Topology
from lab.plan import ec2_changes, ec2_describe
from lab.plan.types import Plan


def handle(topology: Topology, plan: Plan, action: str, params: dict, region: str, account: str) -> tuple[Topology | None, dict]:
    """(the changed model, or None when nothing changes; the answer)."""
    if action in ec2_describe.actions():
        return None, ec2_describe.describe(topology, plan, action, params, region, account)
    if action in ec2_changes.actions():
        return ec2_changes.change(topology, plan, action, params, region, account)
    answered = ", ".join(sorted(ec2_describe.actions() | ec2_changes.actions()))
    raise Ec2Error("UnsupportedOperation", f"vpclab's EC2 does not emulate {action}; it answers {answered}")
