"""The front of one ingress of a moto-backed API service (SQS, STS, Secrets Manager, KMS: one entry each
in lab.services.catalog): the same hardened pattern as the S3 and DynamoDB fronts.

Each request is read once: the operation from `X-Amz-Target` (JSON protocol) or `Action=` (query
protocol, in the query string or a form body, never both), the call's parameters, the SigV4
signature verified over exactly the bytes that came (lab.services.sigv4; the lab has no anonymous
access to these services). Through an endpoint, the endpoint policy is evaluated for the IAM action
and every resource the call names (lab.model.policy); a denial is the service's AccessDenied in its
own protocol. moto then gets the canonical form of what was authorized and nothing else it could
read: the operation in one place, the parsed parameters re-encoded, the Host of the front's region,
no other query string or body.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlencode

from lab.model.ids import ACCOUNT_ID
from lab.model.policy import Request, decide
from lab.services import sigv4
from lab.services.access import ACCESS_KEY, VERDICT_KEY, Verdict
from lab.services.authorize import ROOT, context
from lab.services.body import BODY_KEY, BodyTooLarge, buffered_body, replace_body
from lab.services.catalog import ApiError, ApiService, queue_name
from lab.services.config import Ingress
from lab.services.s3front import raw_path

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
JSON_TYPE_NAMES = {"AWS.SimpleQueueService.NonExistentQueue": "QueueDoesNotExist"}  # SQS's JSON __type where it differs
SIGNATURE_ERRORS = {  # kind -> (query-protocol code, JSON-protocol code, message)
    "unknown-key": (
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    ),
    "mismatch": (
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
        "Access Key and signing method. Consult the service documentation for details.",
    ),
    "wrong-region": ("SignatureDoesNotMatch", "InvalidSignatureException", "Credential should be scoped to a valid region."),
    "skewed": ("SignatureDoesNotMatch", "InvalidSignatureException", "Signature expired: the request time is too far away."),
    "expired": ("SignatureDoesNotMatch", "InvalidSignatureException", "Signature expired"),
}


class Call:
    """One request as the front read it: the operation, its protocol and its parameters."""

    def __init__(self, operation: str, protocol: str, params: dict):
        self.operation, self.protocol, self.params = operation, protocol, params


class ApiFront:
    """WSGI app for one ingress of an API service front."""

    def __init__(self, backend: Callable, service: ApiService, ingress: Ingress, region: str):
        self.backend, self.service, self.ingress, self.region = backend, service, ingress, region
        self.endpoint = ingress.endpoint_scope

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        protocol = "json" if "HTTP_X_AMZ_TARGET" in environ and self.service.json_target else "query"
        try:
            call = self.read(environ)
            protocol = call.protocol
            self.verify(environ, protocol)
            for resource in self.service.resources(call.operation, call.params, self.region):
                self.authorize(environ, self.service.action(call.operation), resource)
            return self.to_backend(environ, start_response, call)
        except ApiError as error:
            return self.error(start_response, error, protocol)

    # -- reading ------------------------------------------------------------------------------------

    def read(self, environ: dict) -> Call:
        if environ.get("REQUEST_METHOD") not in ("GET", "POST"):
            raise ApiError("InvalidAction", "Only GET and POST requests are supported", 400)
        try:
            body = buffered_body(environ)
        except BodyTooLarge:
            raise ApiError("RequestEntityTooLarge", "Request body is too large", 413) from None
        if "HTTP_X_AMZ_TARGET" in environ and self.service.json_target is not None:
            return self.read_json(environ, body)
        if self.service.query_version is None:
            raise ApiError("UnknownOperationException", "An X-Amz-Target header naming the operation is required")
        return self.read_query(environ, body)

    def read_json(self, environ: dict, body: bytes) -> Call:
        target, prefix = environ["HTTP_X_AMZ_TARGET"], f"{self.service.json_target}."
        operation = target.removeprefix(prefix)
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING") or raw_path(environ) != "/":
            raise ApiError("UnknownOperationException", f"{target} is not an operation at this address")
        if not target.startswith(prefix) or operation not in self.service.operations:
            raise ApiError("UnknownOperationException", f"Unknown operation {target}")
        try:
            params = json.loads(body or b"{}", object_pairs_hook=unique_keys)
        except (ValueError, RecursionError) as e:  # nested past Python's limit: refused, not a traceback
            raise ApiError("SerializationException", f"Malformed JSON body: {str(e)[:200]}") from None
        if not isinstance(params, dict):
            raise ApiError("SerializationException", "The body must be a JSON object")
        return self.checked(Call(operation, "json", params))

    def read_query(self, environ: dict, body: bytes) -> Call:
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if body:
            if pairs or not environ.get("CONTENT_TYPE", "").startswith(FORM):
                raise ApiError("MalformedQueryString", "Parameters go in the query string or in a form body, not both")
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        params = dict(pairs)
        if len(params) != len(pairs):
            raise ApiError("MalformedQueryString", "A parameter is given more than once")
        path = raw_path(environ)
        if path != "/":  # SQS's older form: the queue URL's path, with no QueueUrl parameter
            if self.service.name != "sqs" or "QueueUrl" in params:
                raise ApiError("InvalidAction", f"There is no action at {path}", 404)
            params["QueueUrl"] = f"https://sqs.{self.region}.amazonaws.com{path}"
        operation = params.pop("Action", "")
        if not operation:
            raise ApiError("MissingAction", "The request must contain the parameter Action.")
        if operation not in self.service.operations:
            raise ApiError("InvalidAction", f"The action {operation} is not valid for this web service.")
        for name in [k for k in params if k == "Version" or k.startswith("X-Amz-")]:  # a presigned URL's own
            params.pop(name)
        return self.checked(Call(operation, "query", params))

    def checked(self, call: Call) -> Call:
        if call.operation in self.service.not_emulated:
            raise ApiError("NotImplemented", f"vpclab does not emulate {self.service.name} {call.operation}", 501, sender=False)
        return call

    # -- checking -----------------------------------------------------------------------------------

    def verify(self, environ: dict, protocol: str) -> None:
        try:
            signed = sigv4.claimed(environ)
            if signed is None:
                raise ApiError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
            payload = hashlib.sha256(environ.get(BODY_KEY, b"")).hexdigest()
            sigv4.verify(
                environ, signed, raw_path(environ), payload, service=self.service.signing_name, region=self.region, s3=False
            )
        except sigv4.SignatureProblem as problem:
            query_code, json_code, message = SIGNATURE_ERRORS.get(
                problem.kind, ("IncompleteSignature", "IncompleteSignatureException", problem.detail or "Malformed signature")
            )
            if problem.kind == "wrong-service":
                message = f"Credential should be scoped to correct service: '{self.service.signing_name}'."
            json_codes = protocol == "json" and not self.service.json_query_codes
            raise ApiError(json_code if json_codes else query_code, message, 400 if json_codes else 403) from None

    def authorize(self, environ: dict, action: str, resource: str) -> None:
        if self.endpoint is None:
            environ[VERDICT_KEY] = Verdict(action, "allow", None)
            return
        request = Request(ROOT, action, resource, context(environ[ACCESS_KEY], self.ingress, True, self.region))
        denied_by = decide(request, self.endpoint, None)
        environ[VERDICT_KEY] = Verdict(action, "deny" if denied_by else "allow", denied_by)
        if denied_by:
            why = (
                "with an explicit deny in a VPC endpoint policy"
                if "explicit Deny" in denied_by
                else (f"because no VPC endpoint policy allows the {action} action")
            )
            raise ApiError(
                "AccessDenied" if self.service.query_version else "AccessDeniedException",
                f"User: {ROOT} is not authorized to perform: {action} on resource: {resource} {why}",
                403 if self.service.query_version else 400,
            )

    # -- moto ---------------------------------------------------------------------------------------

    def to_backend(self, environ: dict, start_response: Callable, call: Call) -> Iterable[bytes]:
        """moto runs `call` and reads nothing else: one encoding of it, the front's own Host."""
        if call.operation in self.service.front_answers:
            request_id = str(uuid.uuid4())
            body = self.service.front_answers[call.operation](self.region).replace("{request_id}", request_id).encode()
            start_response(
                "200 OK", [("x-amzn-RequestId", request_id), ("Content-Type", "text/xml"), ("Content-Length", str(len(body)))]
            )
            return [body]
        for name in ("HTTP_CONTENT_ENCODING", "HTTP_TRANSFER_ENCODING", "HTTP_X_AMZ_TARGET"):
            environ.pop(name, None)
        host = f"{self.service.name}.{self.region}.amazonaws.com"
        if isinstance(call.params.get("QueueUrl"), str):  # the one spelling moto reads (its name was authorized)
            call.params["QueueUrl"] = f"https://{host}/{ACCOUNT_ID}/{queue_name(call.params['QueueUrl'])}"
        if call.protocol == "json":
            replace_body(environ, json.dumps(call.params).encode())
            environ.update(
                {
                    "QUERY_STRING": f"Action={call.operation}",
                    "CONTENT_TYPE": f"application/x-amz-json-{self.service.json_version}",
                    "HTTP_X_AMZ_TARGET": f"{self.service.json_target}.{call.operation}",
                }
            )
        else:
            replace_body(environ, b"")
            query = {"Action": call.operation, "Version": self.service.query_version, **call.params}
            environ.update({"QUERY_STRING": urlencode(query), "CONTENT_TYPE": FORM})
        environ.update({"REQUEST_METHOD": "POST", "PATH_INFO": "/", "RAW_URI": "/", "REQUEST_URI": "/", "HTTP_HOST": host})
        try:
            return self.backend(environ, start_response)
        except Exception:  # noqa: BLE001 - moto (debug app) raises where the service answers an error
            log.exception("moto raised on %s %s", self.service.name, call.operation)
            raise ApiError(
                "InternalFailure", f"The lab's {self.service.name} (moto) failed on this {call.operation} call", 500, sender=False
            ) from None

    # -- answers ------------------------------------------------------------------------------------

    def error(self, start_response: Callable, error: ApiError, protocol: str) -> Iterable[bytes]:
        """The error in the request's protocol: query XML (ErrorResponse), or JSON with `__type`;
        SQS's JSON answers also carry the query code in x-amzn-query-error."""
        request_id = str(uuid.uuid4())
        kind = "Sender" if error.sender else "Receiver"
        headers = [("x-amzn-RequestId", request_id)]
        if protocol == "json":
            name = JSON_TYPE_NAMES.get(error.code, error.code)
            if self.service.json_query_codes:
                headers.append(("x-amzn-query-error", f"{error.code};{kind}"))
                document = {"__type": f"com.amazonaws.{self.service.name}#{name}", "message": error.message}
            else:
                document = {"__type": name, "Message": error.message}
            body = json.dumps(document).encode()
            headers.append(("Content-Type", f"application/x-amz-json-{self.service.json_version}"))
        else:
            body = (
                f'<ErrorResponse xmlns="{self.service.xmlns}"><Error><Type>{kind}</Type><Code>{error.code}</Code>'
                f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            ).encode()
            headers.append(("Content-Type", "text/xml"))
        start_response(
            f"{error.status} {STATUS_WORDS.get(error.status, 'Error')}", headers + [("Content-Length", str(len(body)))]
        )
        return [body]


STATUS_WORDS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose keys repeat is refused: the front and moto must not read different values."""
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a key repeats")
    return found
