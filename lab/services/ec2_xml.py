"""EC2's answers as EC2 writes them: an operation's output (botocore's output shape, a dict) as the
XML document of EC2's Query API, and EC2's error document.

    <DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
      <requestId>...</requestId>
      <vpcSet><item><vpcId>vpc-...</vpcId>...<tagSet><item><key>Name</key>...</item></tagSet></item></vpcSet>
    </DescribeVpcsResponse>

Generic, from botocore's EC2 model: an element is named by its member's `locationName` (else the
member's name), a list's elements by the list member's `locationName` (`item` throughout EC2's model),
booleans `true`/`false`, timestamps ISO 8601 in UTC, blobs base64. Errors:
`<Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors><RequestID>..</RequestID></Response>`
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html, "Error response").
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from lab.services.ec2_query import API_VERSION, model

XMLNS = f"http://ec2.amazonaws.com/doc/{API_VERSION}/"


def response(operation: str, output: dict, request_id: str) -> bytes:
    """The whole answer of `operation` with `output` (members the shape does not have are a bug)."""
    shape = model().operation_model(operation).output_shape
    inner = members(shape, output) if shape is not None else ""
    root = f"{operation}Response"
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{XMLNS}">'
    return f"{head}<requestId>{request_id}</requestId>{inner}</{root}>".encode()


def error(code: str, message: str, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
    ).encode()


def element_name(shape, member: str) -> str:
    return shape.serialization.get("name", member)


def members(shape, data: dict) -> str:
    unknown = set(data) - set(shape.members)
    if unknown:
        raise KeyError(f"{shape.name} has no member {sorted(unknown)[0]}")
    parts = []
    for name, member in shape.members.items():  # the model's order, as EC2 writes them
        if data.get(name) is not None:
            tag = element_name(member, name)
            parts.append(f"<{tag}>{body(member, data[name])}</{tag}>")
    return "".join(parts)


def body(shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "structure":
        return members(shape, value)
    if kind == "list":
        tag = element_name(shape.member, "member")
        return "".join(f"<{tag}>{body(shape.member, item)}</{tag}>" for item in value)
    if kind == "map":
        key, val = element_name(shape.key, "key"), element_name(shape.value, "value")
        return "".join(
            f"<entry><{key}>{body(shape.key, k)}</{key}><{val}>{body(shape.value, v)}</{val}></entry>" for k, v in value.items()
        )
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return timestamp(value)
    if kind == "blob":
        return base64.b64encode(value).decode()
    return escape(str(value))


def timestamp(value: datetime) -> str:
    when = value.astimezone(UTC) if value.tzinfo else value
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
