"""An EC2 API call the lab answers with one of EC2's error codes (`InvalidVpcID.NotFound`,
`InvalidParameterValue`, ...), raised by the pure handlers of the EC2 API (lab.plan.ec2_describe
and the controller's changes) and worded by the EC2 front as EC2's XML error
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html)."""

from __future__ import annotations

from lab.errors import BadInput


class Ec2Error(BadInput):
    """`code` as EC2 answers it, its message, and the HTTP status (400 for a client's error)."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{message} ({code})")
        self.code, self.message, self.status = code, message, status

    def as_answer(self) -> dict:
        """The controller's answer for this error (lab.services.control)."""
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}
