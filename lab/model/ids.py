"""The lab's AWS accounts and their credentials. The ids of the lab's resources (vpc-, subnet-,
vpce-, ...) are made by the plan's naming module, lab.plan.names."""

from __future__ import annotations

import base64
import hashlib
import re

ACCOUNT_ID = "111122223333"  # the lab's one AWS account (AWS documentation's example account)
# The account root user's access key, AWS documentation's example pair: every lab node's AWS clients
# sign with it, and the service fronts verify signatures against it (lab.services.sigv4).
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# Another account of a topology (a provider's, lab.model.accounts) signs with a key made from its
# number, so any front can tell the account from the key alone, as AWS's STS GetAccessKeyInfo can:
# AKIA, the 12 digits, 4 characters of a digest (a mistyped key is unknown, not another account's).
# Lab credentials guard nothing: every learner's node has them.
OTHER_KEY = re.compile(r"^AKIA(?P<account>[0-9]{12})(?P<check>[A-Z2-7]{4})$")


def _digest(account: str, purpose: str) -> bytes:
    return hashlib.sha256(f"vpclab {purpose} {account}".encode()).digest()


def credentials(account: str) -> tuple[str, str]:
    """(access key id, secret access key) of `account`'s root user in the lab."""
    if account == ACCOUNT_ID:
        return ACCESS_KEY_ID, SECRET_ACCESS_KEY
    check = base64.b32encode(_digest(account, "key")).decode()[:4]
    return f"AKIA{account}{check}", base64.b64encode(_digest(account, "secret")).decode()[:40]


def account_of(access_key: str) -> str | None:
    """The account whose key `access_key` is, or None for a key no account of the lab has."""
    if access_key == ACCESS_KEY_ID:
        return ACCOUNT_ID
    found = OTHER_KEY.match(access_key)
    if found is None or credentials(found["account"])[0] != access_key:
        return None
    return found["account"]
