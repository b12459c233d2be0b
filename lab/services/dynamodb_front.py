"""The DynamoDB front of one ingress: the operation read from X-Amz-Target exactly as DynamoDB reads
it, the signature verified, the body checked against the operation's input shape
(lab.services.dynamodb_call), and, through an endpoint, its policy checked for every table the call
names (lab.services.dynamodb_tables; batch, transaction and PartiQL calls included) before moto sees it.

DynamoDB's JSON protocol: POST / with `X-Amz-Target: DynamoDB_20120810.<Operation>`; any other
target is UnknownOperationException. moto then gets exactly that operation and the body the front
checked: its request parser takes `Action` from the query string first and, given an empty query
string, parses the body as one (so `"x": "&Action=DeleteTable&"` in a DescribeTable call deleted
the table), and it reads a form-encoded or gzip body its own way; the front sends `Action=<operation>`,
the JSON content type and the canonical JSON body, and nothing else moto would read. Resource-based
policies on tables are not modelled.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable

from lab.model.policy import Request, decide
from lab.services import sigv4
from lab.services.access import ACCESS_KEY, VERDICT_KEY, Verdict
from lab.services.authorize import ROOT, answer, context
from lab.services.body import BodyTooLarge, buffered_body, replace_body
from lab.services.config import Ingress
from lab.services.dynamodb_call import DynamoDbError, read_call, service_model
from lab.services.dynamodb_partiql import partiql
from lab.services.dynamodb_tables import needs

__all__ = ["DynamoDbError", "DynamoDbFront", "operation", "partiql"]

log = logging.getLogger(__name__)

TARGET_PREFIX = "DynamoDB_20120810."
JSON_1_0 = "application/x-amz-json-1.0"
# The error's __type namespace, as DynamoDB writes it (Programming.Errors.html), and the key of its message.
NAMESPACES = {
    "ValidationException": "com.amazon.coral.validate",
    "ResourceNotFoundException": "com.amazonaws.dynamodb.v20120810",
    "InternalServerError": "com.amazonaws.dynamodb.v20120810",
}
CAPITAL_MESSAGE = frozenset({"AccessDeniedException", "SerializationException"})


def operation(environ: dict) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    name = target.removeprefix(TARGET_PREFIX)
    if not target.startswith(TARGET_PREFIX) or name not in service_model().operation_names:
        raise DynamoDbError("UnknownOperationException")
    return name


SIGNATURE_ERRORS = {
    "unknown-key": ("UnrecognizedClientException", "The security token included in the request is invalid."),
    "mismatch": (
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature "
        "you provided. Check your AWS Secret Access Key and signing method. Consult the service "
        "documentation for details.",
    ),
    "wrong-region": ("InvalidSignatureException", "Credential should be scoped to a valid region."),
    "wrong-service": ("InvalidSignatureException", "Credential should be scoped to correct service: 'dynamodb'."),
    "skewed": ("InvalidSignatureException", "Signature expired: the request time is more than 15 minutes away from the server's"),
    "expired": ("InvalidSignatureException", "Signature expired"),
}


def verify(environ: dict, region: str) -> None:
    try:
        signed = sigv4.claimed(environ)
        if signed is None:
            raise DynamoDbError("MissingAuthenticationTokenException", "Request is missing Authentication Token")
        sigv4.check_claims(environ, signed, service="dynamodb", region=region, s3=False)  # before any body is read
        payload = hashlib.sha256(buffered_body(environ)).hexdigest()
        sigv4.verify(environ, signed, "/", payload, service="dynamodb", region=region, s3=False)
    except sigv4.SignatureProblem as problem:
        kind, message = SIGNATURE_ERRORS.get(
            problem.kind, ("IncompleteSignatureException", problem.detail or "Authorization header requires a signature")
        )
        raise DynamoDbError(kind, message) from None
    except BodyTooLarge:
        raise DynamoDbError("ValidationException", "Request size exceeds the limit") from None


class DynamoDbFront:
    """WSGI app for one ingress of a DynamoDB front."""

    def __init__(self, backend: Callable, ingress: Ingress, region: str):
        self.backend, self.ingress, self.region = backend, ingress, region
        self.endpoint = ingress.endpoint_scope

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO", "/") == "/":
            return answer(start_response, "200 OK", "text/plain", f"healthy: dynamodb.{self.region}.amazonaws.com ".encode())
        try:
            op, call = self.check(environ)
            return self.to_backend(environ, start_response, op, call)
        except DynamoDbError as error:
            return self.error(start_response, error)

    def check(self, environ: dict) -> tuple[str, dict]:
        """The operation and its checked call, once everything it touches is authorized."""
        if environ.get("REQUEST_METHOD") != "POST":
            raise DynamoDbError("UnknownOperationException")
        op = operation(environ)
        verify(environ, self.region)
        call = read_call(environ, op)
        wanted, refusal = needs(op, call, self.region)
        for action, resource in wanted if self.endpoint is not None else ():
            self.authorize(environ, action, resource)
        if refusal is not None:
            raise refusal
        return op, call

    def authorize(self, environ: dict, action: str, resource: str) -> None:
        request = Request(ROOT, action, resource, context(environ[ACCESS_KEY], self.ingress, True, self.region))
        denied_by = decide(request, self.endpoint, None)
        environ[VERDICT_KEY] = Verdict(action, "deny" if denied_by else "allow", denied_by)
        if denied_by:
            raise DynamoDbError(
                "AccessDeniedException",
                (
                    f"User: {ROOT} is not authorized to perform: {action} on resource: {resource} because no VPC "
                    f"endpoint policy allows the {action} action"
                ),
            )

    def to_backend(self, environ: dict, start_response: Callable, op: str, call: dict) -> Iterable[bytes]:
        """moto runs `op` on `call` and nothing else it could read from the request."""
        replace_body(environ, json.dumps(call).encode())
        for name in ("HTTP_CONTENT_ENCODING", "HTTP_TRANSFER_ENCODING"):
            environ.pop(name, None)
        environ.update(
            {
                "PATH_INFO": "/",
                "RAW_URI": "/",
                "REQUEST_URI": "/",
                "QUERY_STRING": f"Action={op}",
                "CONTENT_TYPE": JSON_1_0,
                "HTTP_X_AMZ_TARGET": TARGET_PREFIX + op,
                "HTTP_HOST": f"dynamodb.{self.region}.amazonaws.com",
            }
        )
        try:
            return self.backend(environ, start_response)
        except NotImplementedError:
            log.warning("moto does not implement %s", op)
            raise DynamoDbError("InternalServerError", f"The lab's DynamoDB (moto) does not implement {op}", status=500) from None
        except Exception:  # noqa: BLE001 - moto (debug app) raises where DynamoDB answers an error
            log.exception("moto raised on %s", op)
            raise DynamoDbError(
                "InternalServerError",
                f"The lab's DynamoDB (moto) failed on this {op} call; the front's log has its traceback",
                status=500,
            ) from None

    @staticmethod
    def error(start_response: Callable, error: DynamoDbError) -> Iterable[bytes]:
        document = {"__type": f"{NAMESPACES.get(error.kind, 'com.amazon.coral.service')}#{error.kind}"}
        if error.message:
            document["Message" if error.kind in CAPITAL_MESSAGE else "message"] = error.message
        status = "500 Internal Server Error" if error.status == 500 else "400 Bad Request"
        return answer(start_response, status, JSON_1_0, json.dumps(document).encode())
