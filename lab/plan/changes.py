"""Changing a running lab the way AWS lets you: associating a gateway endpoint with a route table
adds its prefix-list route there, disassociating removes it (the route itself cannot be edited:
https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html); a provider accepting or
rejecting an endpoint connection opens or closes the consumer ENIs' way to its NLB; registering or
deregistering a target changes an NLB's target group (its nodes drain what leaves). A change is a
new model, a new plan, and the difference between the two plans (route tables, the ENIs' rulesets),
which is all the kernel needs.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from lab.errors import BadArgument, StateConflict, UnknownName
from lab.model.endpoint_connections import decide, find_connection
from lab.model.load_balancers import Target, TargetGroup
from lab.model.topology import Topology
from lab.model.validate import validate


def find_endpoint(t: Topology, name: str) -> tuple[str, str]:
    """(vpc, endpoint) for an endpoint name, or 'vpc/endpoint' when two VPCs use the name."""
    vpc_name, _, ep_name = name.rpartition("/")
    found = [(v.name, ep_name) for v in t.vpcs.values() if ep_name in v.endpoints and vpc_name in ("", v.name)]
    if len(found) != 1:
        known = ", ".join(f"{v.name}/{e}" for v in t.vpcs.values() for e in v.endpoints) or "none"
        raise UnknownName(
            f"endpoint {name}: " + ("name it as VPC/ENDPOINT" if found else "no such endpoint") + f" (endpoints: {known})"
        )
    vpc, ep = found[0]
    if t.vpcs[vpc].endpoints[ep].type != "gateway":
        raise BadArgument(f"endpoint {name} is an interface endpoint: it has subnets, not route tables")
    return vpc, ep


def associate(t: Topology, endpoint: str, route_table: str, on: bool) -> Topology:
    """The topology with `endpoint` associated with (on) or disassociated from `route_table`."""
    vpc_name, ep_name = find_endpoint(t, endpoint)
    vpc = t.vpcs[vpc_name]
    if route_table not in vpc.route_tables:
        raise UnknownName(f"route table {route_table}: not in vpc {vpc_name} ({', '.join(vpc.route_tables)})")
    ep = vpc.endpoints[ep_name]
    tables = tuple(r for r in ep.route_tables if r != route_table) + ((route_table,) if on else ())
    if tables == ep.route_tables or set(tables) == set(ep.route_tables):
        state = "already" if on else "not"
        raise StateConflict(f"endpoint {ep_name} is {state} associated with route table {route_table}")
    endpoints = dict(vpc.endpoints) | {ep_name: dataclasses.replace(ep, route_tables=tables)}
    vpcs = dict(t.vpcs) | {vpc_name: dataclasses.replace(vpc, endpoints=endpoints)}
    changed = dataclasses.replace(t, vpcs=vpcs)
    validate(changed)
    return changed


def decide_connection(t: Topology, action: str, endpoint: str) -> Topology:
    """The topology after the provider accepts or rejects a consumer endpoint's connection
    (`action` 'accept' or 'reject'; `endpoint` as VPC/ENDPOINT), as accept-/reject-vpc-endpoint-
    connections do; an impossible decision raises IncorrectState (lab.model.endpoint_connections)."""
    svc, ref = find_connection(t, endpoint)
    changed = decide(t, svc, ref, action)
    validate(changed)
    return changed


TARGET_CHANGES = ("register-targets", "deregister-targets")  # elbv2's verbs, one target at a time


def change_targets(t: Topology, action: str, argument: str) -> Topology:
    """The topology after `register-targets TARGET_GROUP TARGET` or `deregister-targets ...`
    (TARGET: an instance's name in an `instance` group, an IP address in an `ip` group), as
    elbv2's RegisterTargets and DeregisterTargets do; the running NLB nodes drain a deregistered
    target for the group's deregistration delay (lab.services.nlb_proxy)."""
    words = argument.split()
    if len(words) != 2:
        raise BadArgument(f"{action} takes TARGET_GROUP TARGET (an instance name or an IP address), not '{argument}'")
    name, ref = words
    vpc = next((v for v in t.vpcs.values() if name in v.target_groups), None)
    if vpc is None:
        known = ", ".join(g for v in t.vpcs.values() for g in v.target_groups) or "none"
        raise UnknownName(f"target group {name}: no such target group (target groups: {known}) (TargetGroupNotFound)")
    group = vpc.target_groups[name]
    target = target_of(group, ref)
    same = [x for x in group.targets if (x.instance, x.ip) == (target.instance, target.ip)]
    if action == "deregister-targets" and not same:
        raise UnknownName(f"target {ref} is not registered in target group {name} (InvalidTarget)")
    if action == "register-targets" and same:
        raise StateConflict(f"target {ref} is already registered in target group {name}")
    kept = tuple(x for x in group.targets if x not in same)
    targets = kept if action == "deregister-targets" else group.targets + (target,)
    groups = dict(vpc.target_groups) | {name: dataclasses.replace(group, targets=targets)}
    changed = dataclasses.replace(t, vpcs=dict(t.vpcs) | {vpc.name: dataclasses.replace(vpc, target_groups=groups)})
    validate(changed)
    return changed


def target_of(group: TargetGroup, ref: str) -> Target:
    """A target as its group registers it: by instance name (`instance`) or IP address (`ip`)."""
    if group.target_type == "instance":
        return Target(ref, None)
    try:
        return Target(None, ipaddress.IPv4Address(ref))
    except ValueError:
        raise BadArgument(
            f"target group {group.name} registers IP addresses (target_type ip), not '{ref}' (ValidationError)"
        ) from None
