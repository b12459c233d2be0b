"""The EC2 API's mutating calls as changes of the lab's model: `change(topology, plan, action, params,
region, account)` takes the call's input as botocore's model shapes it and returns the changed,
validated topology and the call's output (botocore's output shape), or raises Ec2Error with EC2's
code and message. Pure: the controller that received the call compiles the changed topology with
what the running plan keeps (lab.plan.kept) and applies the difference to the running lab.

The calls, one module per AWS component (each cites its pages):
- lab.plan.ec2_endpoint_changes: CreateVpcEndpoint, DeleteVpcEndpoints, ModifyVpcEndpoint,
  AcceptVpcEndpointConnections, RejectVpcEndpointConnections;
- lab.plan.ec2_route_changes: CreateRoute, ReplaceRoute, DeleteRoute;
- lab.plan.ec2_security_changes: Authorize/RevokeSecurityGroupIngress/Egress,
  CreateNetworkAclEntry, ReplaceNetworkAclEntry, DeleteNetworkAclEntry.

Every changed topology passes lab.model.validate, as a topology file does, and compiles into a plan
(the answer of a create call shows the new resource as the Describe calls show it, ids from that
plan); a rule broken there is EC2's error with the rule's own code (`RouteAlreadyExists`,
`DuplicateSubnetsInSameZone`, ...). Supported calls and what is left out: docs/ec2-api.md.
"""

from __future__ import annotations

from collections.abc import Callable

from lab.errors import TopologyError
from lab.model.ec2_errors import Ec2Error
from lab.model.topology import Topology
from lab.model.validate import validate
from lab.plan import ec2_endpoint_changes, ec2_route_changes, ec2_security_changes
from lab.plan.ec2_change_common import refusal
from lab.plan.ec2_view import View
from lab.plan.types import Plan

Handler = Callable[[View, dict], tuple[Topology, dict]]
HANDLERS: dict[str, Handler] = ec2_endpoint_changes.HANDLERS | ec2_route_changes.HANDLERS | ec2_security_changes.HANDLERS


def actions() -> frozenset[str]:
    """The mutating calls answered here."""
    return frozenset(HANDLERS)


def change(topology: Topology, plan: Plan, action: str, params: dict, region: str, account: str) -> tuple[Topology, dict]:
    """The topology after `action` with input `params` by `account` in `region`, and the answer."""
    handler = HANDLERS.get(action)
    if handler is None:
        raise Ec2Error("InvalidAction", f"The action {action} is not valid for this web service.")
    view = View(topology, plan, region, account)
    try:
        changed, answer = handler(view, params)
        validate(changed)
    except TopologyError as exc:
        raise refusal(exc) from None
    return changed, answer
