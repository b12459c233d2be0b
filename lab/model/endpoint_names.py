"""An interface endpoint's own DNS names, read back: which service and region a name such as
`bucket.vpce-0eca40032a538aaa9-fphs5fu3.s3.ap-northeast-2.vpce.amazonaws.com` leads to, so that
a client signs for the right region and S3 finds the bucket in it. The names are made by
lab.plan.names.endpoint_dns_name; this module depends on nothing, so the S3 request model can use it.
"""

from __future__ import annotations

import re

# An interface endpoint's own names (lab.plan.names.endpoint_dns_name), with S3's leading label
# (`bucket`, `accesspoint`, `control`, or `<bucket>.bucket`) when there is one:
# https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html
ENDPOINT_NAME = re.compile(
    r"(?:(?P<label>[a-z0-9.-]+)\.)?vpce-[0-9a-f]+-[a-z0-9]{8}(?:-[a-z0-9-]+)?"
    r"\.(?P<service>[a-z0-9-]+)\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9])\.vpce\.amazonaws\.com"
)


def endpoint_name_parts(name: str) -> re.Match[str] | None:
    """The parts of an interface endpoint's DNS name (label, service, region), or None for any other name."""
    return ENDPOINT_NAME.fullmatch(name.lower().rstrip("."))
