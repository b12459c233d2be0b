"""An AWS API call the lab refuses in the service's own words: its error code (EC2's
`InvalidVpcID.NotFound`, S3's `MalformedPolicy`), message and HTTP status. The pure handlers of the
calls that change a running lab raise it; the lab's controller sends it back to the front that
asked (lab.services.control), which words it as its service does (EC2's XML, S3's XML)."""

from __future__ import annotations

from lab.errors import BadInput


class ApiCallError(BadInput):
    """`code` as the service answers it, its message, and the HTTP status (400 for a client's error)."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{message} ({code})")
        self.code, self.message, self.status = code, message, status

    def as_answer(self) -> dict:
        """The controller's answer for this error (lab.services.control)."""
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}
