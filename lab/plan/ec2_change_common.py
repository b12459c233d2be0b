"""What the EC2 API's change handlers share (lab.plan.ec2_changes): a model with one part of one
VPC replaced, a broken rule as EC2's error, the changed lab as the caller will see it, and the
`Unsuccessful` item of EC2's bulk calls."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from lab.errors import PlanError, TopologyError
from lab.model.ec2_errors import Ec2Error
from lab.model.topology import Topology, Vpc
from lab.model.validate import validate
from lab.plan.compile import compile_plan
from lab.plan.ec2_view import View
from lab.plan.kept import Kept

CODE = re.compile(r"\s*\(([A-Za-z][\w.]*)\)\s*$")


def with_part(t: Topology, vpc: Vpc, part: str, key: str, value: object | None) -> Topology:
    """`t` with `vpc`'s `part` (endpoints, security_groups, ...) holding `value` at `key`; None
    removes `key`."""
    items = dict(getattr(t.vpcs[vpc.name], part))
    if value is None:
        items.pop(key, None)
    else:
        items[key] = value
    replaced: dict[str, Any] = {part: items}
    changed = dataclasses.replace(t.vpcs[vpc.name], **replaced)
    return dataclasses.replace(t, vpcs=dict(t.vpcs) | {vpc.name: changed})


def refusal(exc: TopologyError) -> Ec2Error:
    """The first broken rule of a changed topology as EC2's error: its code, and its message without
    a place in a file (the caller wrote none)."""
    problem = next(p for p in exc.problems if p.severity == "error")
    return Ec2Error(problem.code, problem.message)


def replanned(view: View, changed: Topology) -> View:
    """The caller's view of the changed lab, compiled as the controller compiles it (keeping what the
    running plan holds: lab.plan.kept), for an answer that shows a new resource's ids and names."""
    try:
        validate(changed)
        plan = compile_plan(changed, view.plan.settings, Kept.of(view.plan))
    except TopologyError as exc:
        raise refusal(exc) from None
    except PlanError as exc:  # a pool ran out: "... (AddressLimitExceeded)"
        code = CODE.search(str(exc))
        raise Ec2Error(code.group(1) if code else "InsufficientFreeAddressesInSubnet", CODE.sub("", str(exc))) from None
    return View(changed, plan, view.region, view.account)


def unsuccessful(resource: str, code: str, message: str) -> dict:
    """One item of a bulk call's `Unsuccessful` list (botocore's UnsuccessfulItem)."""
    return {"Error": {"Code": code, "Message": message}, "ResourceId": resource}


def ids(params: dict, member: str) -> list:
    """A list member of the input, each id once, in the order given."""
    return list(dict.fromkeys(params.get(member) or []))
