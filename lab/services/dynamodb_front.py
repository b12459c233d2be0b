"""The DynamoDB front of one ingress: the operation read from X-Amz-Target exactly as DynamoDB reads
it, the signature verified, and, through an endpoint, its policy checked for every table the call
names (batch, transaction and PartiQL calls included) before moto sees it.

DynamoDB's JSON protocol: POST / with `X-Amz-Target: DynamoDB_20120810.<Operation>`; any other
target is UnknownOperationException. Permissions per operation:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/api-permissions-reference.html
(transactions need the per-item actions on each table; PartiQL calls need dynamodb:PartiQL<verb>,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html). Resource-based
policies on tables are not modelled.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from lab.model.ids import ACCOUNT_ID
from lab.model.policy import Request, Scope, decide
from lab.services import sigv4
from lab.services.access import ACCESS_KEY, VERDICT_KEY, Verdict
from lab.services.authorize import ROOT, answer, context
from lab.services.body import BodyTooLarge, buffered_body
from lab.services.config import Ingress

TARGET_PREFIX = "DynamoDB_20120810."
TRANSACT_WRITE_ACTIONS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem",
                          "Delete": "dynamodb:DeleteItem", "ConditionCheck": "dynamodb:ConditionCheckItem"}
# PartiQL's tokens: comments (skipped; an unclosed one runs to the end), a "quoted name" or a 'string'
# whole (so a FROM inside one is never taken for the keyword), a word, any other character.
PARTIQL_TOKEN = re.compile(r'--[^\n]*|/\*.*?(?:\*/|\Z)|"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|[A-Za-z0-9_.-]+|\S', re.DOTALL)
MAX_STATEMENT = 8192  # PartiQLStatement's length limit in the DynamoDB API (and a bound on tokenizing)
TABLE_NAME = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z0-9_.-]+)')


class DynamoDbError(Exception):
    def __init__(self, kind: str, message: str | None = None):
        super().__init__(message or kind)
        self.kind, self.message = kind, message


@lru_cache(maxsize=None)
def operations() -> frozenset[str]:
    import botocore.session  # the launcher has it imported already

    return frozenset(botocore.session.get_session().get_service_model("dynamodb").operation_names)


def operation(environ: dict) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    name = target.removeprefix(TARGET_PREFIX)
    if not target.startswith(TARGET_PREFIX) or name not in operations():
        raise DynamoDbError("UnknownOperationException")
    return name


def table_arn(region: str, table: str, index: str | None = None) -> str:
    if table.startswith("arn:"):
        return table
    return f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{table}" + (f"/index/{index}" if index else "")


def _table_at(words: list[str]) -> int:
    """Where a statement's table is: after UPDATE, INSERT INTO, DELETE FROM, or SELECT's FROM (0: nowhere)."""
    verb = words[0] if words else ""
    if verb == "UPDATE":
        return 1
    if verb in ("INSERT", "DELETE"):
        return 2 if words[1:2] == [{"INSERT": "INTO", "DELETE": "FROM"}[verb]] else 0
    return words.index("FROM") + 1 if verb == "SELECT" and "FROM" in words else 0


def partiql(statement: object) -> tuple[str, str]:
    """(the IAM action, the table) of one PartiQL statement, read token by token, so that a FROM in
    a string or a quoted name (`SET note='x FROM other'`) is never taken for the statement's own."""
    if not isinstance(statement, str) or len(statement) > MAX_STATEMENT:
        raise DynamoDbError("ValidationException", "Statement wasn't well formed, can't be processed")
    tokens = [t for t in PARTIQL_TOKEN.findall(statement) if not t.startswith(("--", "/*"))]
    at = _table_at([t.upper() for t in tokens])
    match = TABLE_NAME.fullmatch(tokens[at]) if 0 < at < len(tokens) else None
    if not match:
        raise DynamoDbError("ValidationException", "Statement wasn't well formed, can't be processed")
    return f"dynamodb:PartiQL{tokens[0].capitalize()}", match[1].replace('""', '"') if match[1] else match[2]


def needs(op: str, call: dict, region: str) -> list[tuple[str, str]]:
    """(action, resource) for everything the call touches."""
    items = call.get("TransactItems") or []
    if op in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{op}", table_arn(region, t)) for t in (call.get("RequestItems") or {})]
    if op == "TransactGetItems":
        return [("dynamodb:GetItem", table_arn(region, i["Get"]["TableName"])) for i in items]
    if op == "TransactWriteItems":
        return [(TRANSACT_WRITE_ACTIONS[kind], table_arn(region, item["TableName"]))
                for i in items for kind, item in i.items() if kind in TRANSACT_WRITE_ACTIONS]
    statements = {"ExecuteStatement": [call.get("Statement")],
                  "BatchExecuteStatement": [s.get("Statement") for s in call.get("Statements") or []],
                  "ExecuteTransaction": [s.get("Statement") for s in call.get("TransactStatements") or []]}
    if op in statements:
        return [(action, table_arn(region, table)) for action, table in map(partiql, statements[op])]
    if isinstance(call.get("TableName"), str):
        return [(f"dynamodb:{op}", table_arn(region, call["TableName"], call.get("IndexName")))]
    return [(f"dynamodb:{op}", call["ResourceArn"] if isinstance(call.get("ResourceArn"), str) else "*")]


def parsed_body(environ: dict) -> dict:
    try:
        call = json.loads(buffered_body(environ) or b"{}")
    except (ValueError, BodyTooLarge):
        raise DynamoDbError("SerializationException", "Start of structure or map found where not expected.") from None
    if not isinstance(call, dict):
        raise DynamoDbError("SerializationException", "Start of structure or map found where not expected.")
    return call


SIGNATURE_ERRORS = {
    "unknown-key": ("UnrecognizedClientException", "The security token included in the request is invalid."),
    "mismatch": ("InvalidSignatureException", "The request signature we calculated does not match the signature "
                 "you provided. Check your AWS Secret Access Key and signing method. Consult the service "
                 "documentation for details."),
    "wrong-region": ("InvalidSignatureException", "Credential should be scoped to a valid region."),
    "wrong-service": ("InvalidSignatureException", "Credential should be scoped to correct service: 'dynamodb'."),
    "skewed": ("InvalidSignatureException", "Signature expired: the request time is more than 15 minutes away "
               "from the server's"),
    "expired": ("InvalidSignatureException", "Signature expired"),
}


def verify(environ: dict, region: str) -> None:
    try:
        signed = sigv4.claimed(environ)
        if signed is None:
            raise DynamoDbError("MissingAuthenticationTokenException", "Request is missing Authentication Token")
        payload = hashlib.sha256(buffered_body(environ)).hexdigest()
        sigv4.verify(environ, signed, "/", payload, service="dynamodb", region=region, s3=False)
    except sigv4.SignatureProblem as problem:
        kind, message = SIGNATURE_ERRORS.get(problem.kind, ("IncompleteSignatureException", problem.detail
                                                            or "Authorization header requires a signature"))
        raise DynamoDbError(kind, message) from None
    except BodyTooLarge:
        raise DynamoDbError("ValidationException", "Request size exceeds the limit") from None


class DynamoDbFront:
    """WSGI app for one ingress of a DynamoDB front."""

    def __init__(self, backend: Callable, ingress: Ingress, region: str):
        self.backend, self.ingress, self.region = backend, ingress, region
        self.endpoint = Scope(f"endpoint policy of {ingress.vpce_id}", ingress.policy) if ingress.vpce_id else None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO", "/") == "/":
            return answer(start_response, "200 OK", "text/plain", f"healthy: dynamodb.{self.region}.amazonaws.com ".encode())
        try:
            self.check(environ)
        except DynamoDbError as error:
            return self.error(start_response, error)
        environ.update({"PATH_INFO": "/", "RAW_URI": "/", "REQUEST_URI": "/", "QUERY_STRING": "",
                        "HTTP_HOST": f"dynamodb.{self.region}.amazonaws.com"})
        return self.backend(environ, start_response)

    def check(self, environ: dict) -> None:
        if environ.get("REQUEST_METHOD") != "POST":
            raise DynamoDbError("UnknownOperationException")
        op = operation(environ)
        verify(environ, self.region)
        if self.endpoint is None:
            return
        try:
            wanted = needs(op, parsed_body(environ), self.region)
        except (KeyError, TypeError, AttributeError):
            raise DynamoDbError("ValidationException", f"1 validation error detected: the {op} request "
                                "names its tables in a shape DynamoDB does not accept") from None
        for action, resource in wanted:
            request = Request(ROOT, action, resource, context(environ[ACCESS_KEY], self.ingress, True, self.region))
            denied_by = decide(request, self.endpoint, None)
            environ[VERDICT_KEY] = Verdict(action, "deny" if denied_by else "allow", denied_by)
            if denied_by:
                raise DynamoDbError("AccessDeniedException", (
                    f"User: {ROOT} is not authorized to perform: {action} on resource: {resource} because no VPC "
                    f"endpoint policy allows the {action} action"))

    @staticmethod
    def error(start_response: Callable, error: DynamoDbError) -> Iterable[bytes]:
        namespace = "validate" if error.kind == "ValidationException" else "service"
        document = {"__type": f"com.amazon.coral.{namespace}#{error.kind}"}
        if error.message:
            document["Message" if error.kind == "AccessDeniedException" else "message"] = error.message
        return answer(start_response, "400 Bad Request", "application/x-amz-json-1.0", json.dumps(document).encode())
