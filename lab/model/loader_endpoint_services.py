"""Accounts and endpoint services in a topology file: a VPC's owner account, the endpoint services
a provider VPC offers, and a consumer endpoint's reference to one (docs/topology-format.md).
Structure only; who may see which service is validation's (lab.model.validate_endpoint_services)."""

from __future__ import annotations

from lab.model.accounts import ACCOUNT, principal_problem
from lab.model.ids import ACCOUNT_ID
from lab.model.source import Section
from lab.model.topology import EndpointService

ENDPOINT_SERVICE_PREFIX = "com.amazonaws.vpce."


def parse_account(sec: Section) -> str:
    """`account: "444455556666"`: the VPC's owner, 12 digits (quoted, so YAML keeps leading zeros)."""
    account = sec.text("account", ACCOUNT_ID)
    if not ACCOUNT.match(account):
        raise sec.error(
            "account", f"{sec.what}: account '{account}' is not an AWS account ID (12 digits, quoted)", "InvalidParameterValue"
        )
    return account


def parse_endpoint_service(name: str, sec: Section, vpc: str, region: str, account: str) -> EndpointService:
    """An endpoint service in front of the VPC's Network Load Balancers (CreateVpcEndpointServiceConfiguration:
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpointServiceConfiguration.html)."""
    sec.allow(
        "network_load_balancers",
        "acceptance_required",
        "allowed_principals",
        "accepted",
        "rejected",
        "private_dns_name",
        "description",
    )
    principals = sec.names("allowed_principals")
    for principal in principals:
        problem = principal_problem(principal)
        if problem:
            raise sec.error("allowed_principals", f"endpoint service {name}: {problem}", "InvalidPrincipal")
    return EndpointService(
        name,
        vpc,
        account,
        region,
        sec.names("network_load_balancers"),
        sec.flag("acceptance_required", True),
        principals,
        sec.names("accepted"),
        sec.names("rejected"),
        sec.text("private_dns_name"),
        line=sec.line,
    )


def parse_service_reference(sec: Section, endpoint: str) -> str | None:
    """An endpoint service the endpoint names: `service: {endpoint_service: VPC/SERVICE}` or its
    service name `com.amazonaws.vpce.<region>.vpce-svc-...`; None for an AWS service. Whether the
    service exists (and is visible to the endpoint's account) is validation's question."""
    raw = sec.raw("service")
    if isinstance(raw, str):
        return raw if raw.startswith(ENDPOINT_SERVICE_PREFIX) else None
    if raw is None:
        return None
    ref = sec.mapping("service", raw, f"'service' of endpoint {endpoint}")
    ref.allow("endpoint_service")
    text = ref.required_text("endpoint_service")
    if text.count("/") != 1:
        raise ref.error("endpoint_service", f"endpoint {endpoint}: name the endpoint service as VPC/SERVICE, not '{text}'")
    return text
