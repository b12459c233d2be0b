"""Changing a running lab the way AWS lets you: associating a gateway endpoint with a route table
adds its prefix-list route there, disassociating removes it (the route itself cannot be edited:
https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html); a provider accepting or
rejecting an endpoint connection opens or closes the consumer ENIs' way to its NLB. A change is a
new model, a new plan, and the difference between the two plans (route tables, the ENIs' rulesets),
which is all the kernel needs.
"""

from __future__ import annotations

import dataclasses

from lab.errors import BadArgument, StateConflict, UnknownName
from lab.model.endpoint_connections import decide, find_connection
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
