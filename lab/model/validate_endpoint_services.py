"""Checks of endpoint services (the provider side of PrivateLink) and of the consumer endpoints
that name them, with the codes CreateVpcEndpointServiceConfiguration and CreateVpcEndpoint give.

- A service fronts Network Load Balancers of its own VPC; its Availability Zones are theirs.
- A consumer whose account the service does not allow cannot see it: CreateVpcEndpoint answers
  InvalidServiceName, as for a service that does not exist
  (https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html, "Manage permissions").
- An endpoint subnet in an AZ the service lacks: InvalidParameter, "The VPC endpoint service ...
  does not support the availability zone of the subnet: subnet-..." (AWS's text as quoted in
  https://github.com/aws/aws-sdk-go-v2/issues/1024).
- Private DNS on a consumer endpoint needs the service's private DNS name, verified. The lab cannot
  verify a domain (no public DNS holds the TXT record), so a service's name stays
  `pendingVerification` and private DNS on its endpoints is refused as AWS refuses it then
  (https://docs.aws.amazon.com/vpc/latest/privatelink/manage-dns-names.html).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lab.errors import Problem
from lab.model.accounts import allows
from lab.model.checks import choices, error
from lab.model.topology import Endpoint, EndpointService, Topology, Vpc

DOMAIN = re.compile(r"^(?!-)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$")
PRIVATE_DNS_STATE = "pendingVerification"  # the lab cannot verify a domain (module docstring)


def service_azs(vpc: Vpc, svc: EndpointService) -> list[str]:
    """The AZs the service offers: those of its load balancers' subnets, sorted."""
    lbs = [vpc.load_balancers[n] for n in svc.network_load_balancers if n in vpc.load_balancers]
    return sorted({vpc.subnets[s].az for lb in lbs for s in lb.subnets if s in vpc.subnets})


def check_endpoint_services(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    for svc in vpc.endpoint_services.values():
        where = f"endpoint service {svc.name}"
        if not svc.network_load_balancers:
            yield error(t, svc.line, f"{where}: give its network_load_balancers (at least one)", "MissingParameter")
        for lb in svc.network_load_balancers:
            if lb not in vpc.load_balancers:
                yield error(
                    t,
                    svc.line,
                    f"{where}: load balancer '{lb}' does not exist in vpc {vpc.name}{choices(vpc.load_balancers)}",
                    "InvalidParameter",
                )
        if svc.private_dns_name is not None and not DOMAIN.match(svc.private_dns_name):
            yield error(
                t, svc.line, f"{where}: private_dns_name '{svc.private_dns_name}' is not a domain name", "InvalidParameter"
            )
        yield from check_decisions(t, svc)


def check_decisions(t: Topology, svc: EndpointService) -> Iterator[Problem]:
    """`accepted` and `rejected` name consumer endpoints of this service, each at most once."""
    for key in ("accepted", "rejected"):
        for ref in getattr(svc, key):
            ep = consumer(t, ref)
            if ep is None or t.endpoint_service_of(ep) != svc:
                yield error(
                    t,
                    svc.line,
                    f"endpoint service {svc.name}: {key} names '{ref}', which is not an endpoint (VPC/ENDPOINT) to this service",
                    "InvalidVpcEndpointId.NotFound",
                )
    both = set(svc.accepted) & set(svc.rejected)
    if both:
        yield error(
            t,
            svc.line,
            f"endpoint service {svc.name}: {', '.join(sorted(both))} is both accepted and rejected",
            "InvalidParameter",
        )


def consumer(t: Topology, ref: str) -> Endpoint | None:
    vpc, _, name = ref.partition("/")
    return t.vpcs[vpc].endpoints.get(name) if vpc in t.vpcs else None


def check_consumer_endpoint(t: Topology, vpc: Vpc, ep: Endpoint) -> Iterator[Problem]:
    """A consumer endpoint: the service exists and is visible to the VPC's account, the endpoint is
    an interface endpoint, its subnets are in the service's AZs, private DNS only when possible."""
    svc = t.endpoint_service_of(ep)
    if svc is None or not allows(svc.allowed_principals, svc.account, vpc.account):
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: The Vpc Endpoint Service '{ep.endpoint_service}' does not exist"
            + (
                f" (account {vpc.account} of vpc {vpc.name} is not among its allowed_principals)"
                if svc
                else f" in {t.region}; name a service of the topology as VPC/SERVICE or by its service name"
            ),
            "InvalidServiceName",
        )
        return
    if ep.type != "interface":
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: endpoint type (Gateway) does not match the service types of {svc.service_name} (Interface)",
            "InvalidParameter",
        )
    provider = t.vpcs[svc.vpc]
    azs = service_azs(provider, svc)
    for subnet in (vpc.subnets[s] for s in ep.subnets if s in vpc.subnets):
        if subnet.az not in azs:
            yield error(
                t,
                ep.line,
                f"endpoint {ep.name}: The VPC endpoint service {svc.service_name} does not support the availability "
                f"zone of the subnet: {subnet.name} ({subnet.az}; the service offers {', '.join(azs) or 'none'})",
                "InvalidParameter",
            )
    if ep.private_dns:
        yield error(
            t,
            ep.line,
            f"endpoint {ep.name}: Private DNS can't be enabled because the service {svc.service_name} "
            + (
                f"has not verified its private DNS name {svc.private_dns_name} (the lab cannot verify a domain: "
                f"it stays {PRIVATE_DNS_STATE})"
                if svc.private_dns_name
                else "does not provide a private DNS name"
            )
            + "; set private_dns: false and use the endpoint's own DNS names",
            "InvalidParameter",
        )
