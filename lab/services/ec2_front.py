"""The front of one ingress of the EC2 API (`ec2.<region>.amazonaws.com`): the same hardened pattern
as the other fronts, but no moto behind it. What the EC2 API says is the running lab itself, which
only the lab's controller holds: every call the front accepts is sent to it
(lab.services.control) and its answer, botocore's output shape, written as EC2's XML.

Per request, as EC2 reads it (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html):
1. the Query protocol only: `Action=` and its parameters in the query string or a form body, never
   both, no parameter twice, path `/`; an action not in EC2's API is `InvalidAction`; the parameters
   read into the operation's input from botocore's model (lab.services.ec2_query);
2. SigV4 with signing name `ec2` (lab.services.sigv4): no signature is EC2's `MissingParameter`
   (AWSAccessKeyId), any key or signature it cannot verify `AuthFailure` (HTTP 401), a stale one
   `RequestExpired`;
3. through an endpoint, its policy for `ec2:<Action>` on the resources the call names (the ARNs of
   the ids it carries; `*` for a call that names none, as the Describe calls, which EC2 authorizes
   on `*`): a denial is EC2's `UnauthorizedOperation` (403);
4. `DryRun=true` stops here with EC2's `DryRunOperation` (412);
5. the controller: `{"action", "params", "region", "account", "source": {"ip", "vpce"}}`; no
   controller listening is EC2's `Unavailable` (503) saying so.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import parse_qsl

from lab.model import ids
from lab.model.accounts import root_arn
from lab.model.policy import Request, decide
from lab.services import control, ec2_query, ec2_xml, sigv4
from lab.services.access import ACCESS_KEY, VERDICT_KEY, Verdict
from lab.services.authorize import context
from lab.services.body import BODY_KEY, BodyTooLarge, buffered_body
from lab.services.catalog import ApiError
from lab.services.config import Ingress
from lab.services.s3front import raw_path

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
ACCOUNT_KEY = "vpclab.account"  # environ: the account whose key signed the call
CREDENTIALS = "AWS was not able to validate the provided access credentials"
SIGNATURE_ERRORS = {  # SignatureProblem kind -> (code, status, message)
    "skewed": ("RequestExpired", 400, "Request has expired."),
    "expired": ("RequestExpired", 400, "Request has expired."),
    "not-yet-valid": ("RequestExpired", 400, "Request is not yet valid."),
}
# Input members naming a resource -> its ARN's resource type
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html, resource types)
RESOURCE_TYPES = {
    "VpcId": "vpc",
    "SubnetId": "subnet",
    "SubnetIds": "subnet",
    "RouteTableId": "route-table",
    "RouteTableIds": "route-table",
    "AddRouteTableIds": "route-table",
    "RemoveRouteTableIds": "route-table",
    "AddSubnetIds": "subnet",
    "RemoveSubnetIds": "subnet",
    "GroupId": "security-group",
    "SecurityGroupIds": "security-group",
    "AddSecurityGroupIds": "security-group",
    "RemoveSecurityGroupIds": "security-group",
    "NetworkAclId": "network-acl",
    "VpcEndpointId": "vpc-endpoint",
    "VpcEndpointIds": "vpc-endpoint",
    "ServiceId": "vpc-endpoint-service",
}
# Calls that may name a security group by name, which EC2 takes for a default VPC only (a lab has none):
# refused as EC2 refuses them, so no call reaches a group the endpoint policy was not asked about.
BY_GROUP_NAME = frozenset(
    {"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress"}
)
STATUS_WORDS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Ec2Front:
    """WSGI app for one ingress of the EC2 front of `region`; `controller`: the control socket."""

    def __init__(self, controller: Path, ingress: Ingress, region: str):
        self.controller, self.ingress, self.region = controller, ingress, region

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        try:
            operation, pairs = self.read(environ)
            self.verify(environ)  # before the parameters: a stranger learns nothing of the API
            params = ec2_query.parse(operation, pairs)
            if operation in BY_GROUP_NAME and "GroupName" in params:
                raise ApiError("VPCIdNotSpecified", "No default VPC for this user. Specify the security group by its GroupId.")
            for resource in self.resources(params, environ[ACCOUNT_KEY]):
                self.authorize(environ, f"ec2:{operation}", resource)
            if params.get("DryRun") is True:
                raise ApiError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
            body = self.answer(environ, operation, params, request_id)
            return self.send(start_response, 200, body, request_id)
        except ApiError as error:
            return self.send(start_response, error.status, ec2_xml.error(error.code, error.message, request_id), request_id)

    # -- reading ------------------------------------------------------------------------------------

    def read(self, environ: dict) -> tuple[str, list[tuple[str, str]]]:
        if environ.get("REQUEST_METHOD") not in ("GET", "POST"):
            raise ApiError("InvalidAction", "The EC2 Query API takes GET and POST requests only")
        if raw_path(environ) != "/":
            raise ApiError("InvalidAction", f"There is no action at {raw_path(environ)}")
        try:
            body = buffered_body(environ)
        except BodyTooLarge:
            raise ApiError("RequestEntityTooLarge", "Request body is too large", 413) from None
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if body:
            if pairs or not environ.get("CONTENT_TYPE", "").startswith(FORM):
                raise ApiError("MalformedQueryString", "Parameters go in the query string or in a form body, not both")
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        pairs = [(k, v) for k, v in pairs if not k.startswith("X-Amz-")]  # a presigned request's own
        given = dict(pairs)
        if len(given) != len(pairs):
            raise ApiError("InvalidParameterValue", "A parameter is given more than once")
        operation = given.pop("Action", "")
        if not operation:
            raise ApiError("MissingAction", "The request must contain the parameter Action")
        if operation not in ec2_query.operation_names():
            raise ApiError("InvalidAction", f"The action {operation} is not valid for this web service.")
        if given.pop("Version", ec2_query.API_VERSION) != ec2_query.API_VERSION:
            raise ApiError("InvalidParameterValue", f"vpclab emulates the EC2 API version {ec2_query.API_VERSION} only")
        return operation, list(given.items())

    # -- checking -----------------------------------------------------------------------------------

    def verify(self, environ: dict) -> None:
        try:
            signed = sigv4.claimed(environ)
            if signed is None:
                raise ApiError("MissingParameter", "The request must contain the parameter AWSAccessKeyId")
            payload = hashlib.sha256(environ.get(BODY_KEY, b"")).hexdigest()
            sigv4.verify(
                environ, signed, raw_path(environ), payload, service="ec2", region=self.region, s3=False, every_account=True
            )
            environ[ACCOUNT_KEY] = ids.account_of(signed.access_key)  # the caller: whose resources it sees and changes
        except sigv4.SignatureProblem as problem:
            if problem.kind in SIGNATURE_ERRORS:
                code, status, message = SIGNATURE_ERRORS[problem.kind]
                raise ApiError(code, message, status) from None
            if problem.kind in ("malformed", "sigv2"):
                raise ApiError("IncompleteSignature", problem.detail or "The request signature is not SigV4") from None
            raise ApiError("AuthFailure", CREDENTIALS, 401) from None  # unknown key, mismatch, wrong scope

    def resources(self, params: dict, account: str) -> list[str]:
        """The ARNs of the resources the call names (as the caller's account's), or `*`."""
        found = []
        for member, kind in RESOURCE_TYPES.items():
            value = params.get(member)
            for given in value if isinstance(value, list) else [value] if isinstance(value, str) else []:
                found.append(f"arn:aws:ec2:{self.region}:{account}:{kind}/{given}")
        return list(dict.fromkeys(found)) or ["*"]

    def authorize(self, environ: dict, action: str, resource: str) -> None:
        scope = self.ingress.endpoint_scope
        if scope is None:
            environ[VERDICT_KEY] = Verdict(action, "allow", None)
            return
        caller = root_arn(environ[ACCOUNT_KEY])  # the endpoint policy's principal: the calling account's root
        request = Request(caller, action, resource, context(environ[ACCESS_KEY], self.ingress, True, self.region))
        denied_by = decide(request, scope, None)
        environ[VERDICT_KEY] = Verdict(action, "deny" if denied_by else "allow", denied_by)
        if denied_by:
            raise ApiError("UnauthorizedOperation", f"You are not authorized to perform this operation. ({denied_by})", 403)

    # -- the controller -----------------------------------------------------------------------------

    def answer(self, environ: dict, operation: str, params: dict, request_id: str) -> bytes:
        access = environ[ACCESS_KEY]
        message = {
            "action": operation,
            "params": params,
            "region": self.region,
            "account": environ[ACCOUNT_KEY],
            "source": {"ip": access.source_ip, "vpce": self.ingress.vpce_id},
        }
        try:
            answer = control.ask(self.controller, jsonable(message))
        except control.MessageTooLarge as e:
            raise ApiError("RequestEntityTooLarge", f"Request is too large for the lab's EC2 API ({e})", 413) from None
        except control.ControllerUnavailable as e:
            raise ApiError(
                "Unavailable", f"The lab's EC2 API needs the lab's controller, which is not running ({e})", 503
            ) from None
        if "error" in answer:
            error = answer["error"]
            raise ApiError(str(error.get("code")), str(error.get("message")), int(error.get("status", 400)))
        try:
            return ec2_xml.response(operation, answer.get("result") or {}, request_id)
        except (KeyError, TypeError, AttributeError, ValueError):
            log.exception("the controller's answer to %s does not fit EC2's output shape", operation)
            raise ApiError("InternalError", f"The lab's answer to {operation} is not one EC2 gives", 500) from None

    def send(self, start_response: Callable, status: int, body: bytes, request_id: str) -> Iterable[bytes]:
        headers = [
            ("Content-Type", "text/xml;charset=UTF-8"),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", request_id),
        ]
        start_response(f"{status} {STATUS_WORDS.get(status, 'Error')}", headers)
        return [body]


def jsonable(value):
    """The input as JSON carries it: timestamps ISO 8601, blobs base64 (EC2's wire forms)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
