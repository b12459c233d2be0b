"""The lab's one AWS account and its credentials. The ids of the lab's resources (vpc-, subnet-,
vpce-, ...) are made by the plan's naming module, lab.plan.names."""

from __future__ import annotations

ACCOUNT_ID = "111122223333"  # the lab's one AWS account (AWS documentation's example account)
# The account root user's access key, AWS documentation's example pair: every lab node's AWS clients
# sign with it, and the service fronts verify signatures against it (lab.services.sigv4).
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
