"""The state of a consumer endpoint's connection to an endpoint service, and the provider's
decisions that change it (accept-vpc-endpoint-connections, reject-vpc-endpoint-connections:
https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html, "Accept or
reject connection requests").

- `pendingAcceptance`: the service requires acceptance and the provider has not decided;
- `available`: accepted, or the service accepts every request (acceptance_required: false);
- `rejected`: the provider rejected it, possibly after accepting it (AWS lets a provider reject an
  available endpoint; only the consumer deletes one).
An impossible decision (accepting an endpoint that is not pending, rejecting a rejected one) is
refused with EC2's IncorrectState; AWS reports such a failure per endpoint in the call's
`Unsuccessful` list, whose exact code for this case AWS does not document (uncertain).
"""

from __future__ import annotations

import dataclasses

from lab.errors import StateConflict, UnknownName
from lab.model.topology import Endpoint, EndpointService, Topology

PENDING, AVAILABLE, REJECTED = "pendingAcceptance", "available", "rejected"
DROP_CODES = {PENDING: "ENDPOINT_CONNECTION_PENDING_ACCEPTANCE", REJECTED: "ENDPOINT_CONNECTION_REJECTED"}
ALLOWED_FROM = {"accept": (PENDING,), "reject": (PENDING, AVAILABLE)}


class IncorrectState(StateConflict):
    """A decision the endpoint's state does not allow; `code` is the EC2 code the lab gives."""

    code = "IncorrectState"


def connection_state(svc: EndpointService, ref: str) -> str:
    """The state of consumer endpoint `ref` ('vpc/endpoint') of `svc`."""
    if ref in svc.rejected:
        return REJECTED
    return AVAILABLE if ref in svc.accepted or not svc.acceptance_required else PENDING


def endpoint_state(t: Topology, vpc: str, ep: Endpoint) -> str | None:
    """The connection state of an endpoint to an endpoint service; None for any other endpoint."""
    svc = t.endpoint_service_of(ep)
    return connection_state(svc, f"{vpc}/{ep.name}") if svc else None


def decide(t: Topology, svc: EndpointService, ref: str, action: str) -> Topology:
    """The topology after the provider of `svc` accepts or rejects consumer endpoint `ref`."""
    state = connection_state(svc, ref)
    if state not in ALLOWED_FROM[action]:
        raise IncorrectState(
            f"cannot {action} endpoint {ref}: its connection to {svc.name} is {state}; "
            f"{action} needs {' or '.join(ALLOWED_FROM[action])}"
        )
    accepted = tuple(r for r in svc.accepted if r != ref) + ((ref,) if action == "accept" else ())
    rejected = tuple(r for r in svc.rejected if r != ref) + ((ref,) if action == "reject" else ())
    changed = dataclasses.replace(svc, accepted=accepted, rejected=rejected)
    vpc = t.vpcs[svc.vpc]
    services = dict(vpc.endpoint_services) | {svc.name: changed}
    return dataclasses.replace(t, vpcs=dict(t.vpcs) | {vpc.name: dataclasses.replace(vpc, endpoint_services=services)})


def find_connection(t: Topology, text: str) -> tuple[EndpointService, str]:
    """The service and 'vpc/endpoint' of a consumer endpoint named as VPC/ENDPOINT, or as ENDPOINT
    when one VPC alone has an endpoint of that name to an endpoint service."""
    vpc_name, _, ep_name = text.rpartition("/")
    found = [
        (svc, f"{v.name}/{e.name}")
        for v in t.vpcs.values()
        for e in v.endpoints.values()
        if e.name == ep_name and vpc_name in ("", v.name) and (svc := t.endpoint_service_of(e)) is not None
    ]
    if len(found) != 1:
        known = [f"{v.name}/{e.name}" for v in t.vpcs.values() for e in v.endpoints.values() if e.endpoint_service]
        hint = "name it as VPC/ENDPOINT" if found else "no endpoint to an endpoint service has that name"
        raise UnknownName(
            f"endpoint {text}: {hint} (endpoints to endpoint services: {', '.join(known) or 'none'}) "
            "(InvalidVpcEndpointId.NotFound)"
        )
    return found[0]
