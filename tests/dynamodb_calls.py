"""DynamoDB calls to a front in process, as botocore signs them from inside a VPC, with the answer
read as DynamoDB's JSON; shared by the DynamoDB front's unit tests."""

from __future__ import annotations

import json

from fronts import DDB_HOST
from signing import call, environ, signed_environ

INSIDE = ("10.0.2.4", 40000)
TARGET = "DynamoDB_20120810."


def send(
    app, target: str, body: dict | bytes, headers: dict | None = None, signed: bool = True, prefix: str = TARGET, query: str = ""
) -> tuple[int, dict]:
    """(status, JSON document) of one call; `body` as a dict is sent as JSON, as bytes as given."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-Amz-Target": prefix + target, "Content-Type": "application/x-amz-json-1.0", **(headers or {})}
    url = f"https://{DDB_HOST}/" + (f"?{query}" if query else "")
    env = (
        signed_environ("POST", url, data, headers, service="dynamodb", client=INSIDE)
        if signed
        else environ("POST", url, data, headers, client=INSIDE)
    )
    response = call(app, env)
    return response.status_code, json.loads(response.data)


def kind(answer: tuple[int, dict]) -> tuple[int, str]:
    """(status, the error's name without its namespace); '' for a success."""
    status, document = answer
    return status, document.get("__type", "").rpartition("#")[2]
