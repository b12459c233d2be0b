"""An EC2 API call the lab answers with one of EC2's error codes (`InvalidVpcID.NotFound`,
`InvalidParameterValue`, ...), raised by the pure handlers of the EC2 API (lab.plan.ec2_describe
and the controller's changes) and worded by the EC2 front as EC2's XML error
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html)."""

from __future__ import annotations

from lab.model.api_errors import ApiCallError


class Ec2Error(ApiCallError):
    """`code` as EC2 answers it, its message, and the HTTP status (400 for a client's error)."""
