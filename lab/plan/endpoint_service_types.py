"""Endpoint services as the plan holds them: each service as describe-vpc-endpoint-service-
configurations shows it, and its consumers' connections (describe-vpc-endpoint-connections) with
the ENI nodes that carry them and the NLB node each reaches. Built by lab.plan.endpoint_services."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EndpointConnection:
    """A consumer endpoint's connection to a service (describe-vpc-endpoint-connections), with the
    ENI nodes that carry it and the NLB node each reaches."""

    vpc: str
    endpoint: str
    vpce: str
    owner: str  # the consumer's account (VpcEndpointOwner)
    state: str
    enis: tuple[tuple[str, str], ...]  # (ENI node, NLB node)


@dataclass(frozen=True)
class EndpointServicePlan:
    """An endpoint service as describe-vpc-endpoint-service-configurations shows it."""

    vpc: str
    name: str
    service_id: str
    service_name: str
    arn: str
    owner: str
    load_balancers: tuple[str, ...]
    availability_zones: tuple[str, ...]
    acceptance_required: bool
    allowed_principals: tuple[str, ...]
    private_dns_name: str | None
    private_dns_state: str | None  # the lab cannot verify a domain: pendingVerification
    connections: tuple[EndpointConnection, ...]

    def connection(self, vpc: str, endpoint: str) -> EndpointConnection | None:
        return next((c for c in self.connections if (c.vpc, c.endpoint) == (vpc, endpoint)), None)
