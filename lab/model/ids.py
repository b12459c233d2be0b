"""Deterministic AWS-style ids: the same topology always gives the same vpc-/subnet-/vpce- ids,
so runs, golden plans and reports are reproducible. Real ids are 17 hex digits after the prefix
(8 for prefix lists and older resources); these are derived from the resource's path in the model.
"""
from __future__ import annotations

import hashlib

ACCOUNT_ID = "111122223333"  # the lab's one AWS account (AWS documentation's example account)
# The account root user's access key, AWS documentation's example pair: every lab node's AWS clients
# sign with it, and the service fronts verify signatures against it (lab.services.sigv4).
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def aws_id(prefix: str, *path: str) -> str:
    """e.g. aws_id('subnet', 'app', 'private-a') -> 'subnet-0a1b2c...' (17 hex digits)."""
    digest = hashlib.sha256("/".join((prefix,) + path).encode()).hexdigest()
    return f"{prefix}-0{digest[:16]}"
