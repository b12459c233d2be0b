"""Accounts, the principals that name them, and the names of endpoint services: what the model
needs to decide who may see a provider's service.

A VPC belongs to one account (12 digits; the lab's own, lab.model.ids.ACCOUNT_ID, unless the
topology names another). An endpoint service allows principals: `arn:aws:iam::<account>:root`
(the whole account) or `*` (everyone), as modify-vpc-endpoint-service-permissions takes them
(https://docs.aws.amazon.com/vpc/latest/privatelink/configure-endpoint-service.html, "Manage
permissions"). An endpoint service's id and name are made here rather than in lab.plan.names for
the reason a service's name is made in lab.model.regions: the model needs them to resolve a
consumer's endpoint to its service; lab.plan.names offers them to the layers above.
"""

from __future__ import annotations

import hashlib
import re

ACCOUNT = re.compile(r"^[0-9]{12}$")
ROOT_ARN = re.compile(r"^arn:aws:iam::(?P<account>[0-9]{12}):root$")
EVERYONE = "*"


def root_arn(account: str) -> str:
    """An account's principal, `arn:aws:iam::<account>:root`."""
    return f"arn:aws:iam::{account}:root"


def principal_problem(principal: str) -> str | None:
    """Why `principal` is not one the lab takes (an account root or `*`), or None."""
    if principal == EVERYONE or ROOT_ARN.match(principal):
        return None
    return f"'{principal}' is not a principal the lab takes: write arn:aws:iam::<12-digit account>:root, or * for everyone"


def allows(principals: tuple[str, ...], owner: str, account: str) -> bool:
    """Whether an endpoint service of `owner` allowing `principals` is visible to (may be used by)
    `account`. The owner's own account is taken as allowed: its services are its own to see
    (uncertain: ModifyVpcEndpointServicePermissions's page does not say; a lab that needs the
    other answer can put the provider's VPCs in another account)."""
    return account == owner or EVERYONE in principals or root_arn(account) in principals


def endpoint_service_id(account: str, vpc: str, service: str) -> str:
    """`vpce-svc-<17 hex digits>`, derived from the owner and the service's place in the topology,
    so runs are reproducible (as lab.plan.names.aws_id does for the other ids)."""
    digest = hashlib.sha256("/".join(("vpce-svc", account, vpc, service)).encode()).hexdigest()
    return f"vpce-svc-0{digest[:16]}"


def endpoint_service_name(region: str, service_id: str) -> str:
    """`com.amazonaws.vpce.<region>.vpce-svc-...`
    (https://docs.aws.amazon.com/vpc/latest/privatelink/create-endpoint-service.html)."""
    return f"com.amazonaws.vpce.{region}.{service_id}"


def endpoint_service_arn(region: str, account: str, service_id: str) -> str:
    """The service's ARN, `arn:aws:ec2:<region>:<account>:vpc-endpoint-service/<id>`."""
    return f"arn:aws:ec2:{region}:{account}:vpc-endpoint-service/{service_id}"
