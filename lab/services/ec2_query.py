"""EC2's Query protocol read as EC2 reads it: a form (`Action=DescribeVpcs&Version=2016-11-15&
VpcId.1=vpc-...&Filter.1.Name=tag:Name&Filter.1.Value.1=app`) turned into the operation's input
as botocore's model shapes it (`{"VpcIds": [...], "Filters": [{"Name": ..., "Values": [...]}]}`).

The reading is generic, from botocore's own EC2 model: each member's wire name is its `queryName`,
else its `locationName` capitalized, else the member's name (what botocore's EC2Serializer writes),
and a list is its elements at `<name>.1`, `<name>.2`, ... (EC2's lists are always flattened; an empty
list is not sent). Wrong input is EC2's own error: an unknown parameter `UnknownParameter`, a
missing required one `MissingParameter`, a value of the wrong type `InvalidParameterValue`
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html,
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from functools import cache
from typing import Any

from lab.services.catalog import ApiError

API_VERSION = "2016-11-15"
LEAF = ""  # the key of a node's own value in the parsed tree (wire names are never empty)


# What XML 1.0 cannot hold (its Char production): C0 controls but tab, LF and CR; surrogates; U+FFFE/F.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@cache
def model():
    """botocore's EC2 service model (loaded once per process: ~0.2 s)."""
    import botocore.session

    return botocore.session.get_session().get_service_model("ec2")


def operation_names() -> frozenset[str]:
    return frozenset(model().operation_names)


def wire_name(shape, member: str) -> str:
    serialization = shape.serialization
    if "queryName" in serialization:
        return serialization["queryName"]
    if "name" in serialization:
        return serialization["name"][0].upper() + serialization["name"][1:]
    return member


def tree(pairs: list[tuple[str, str]]) -> dict:
    """`A.1.B=x` as {"A": {"1": {"B": {"": "x"}}}}; a key given twice is refused."""
    root: dict = {}
    for key, value in pairs:
        node = root
        for part in key.split("."):
            if not part:
                raise ApiError("UnknownParameter", f"The parameter {key} is not recognized")
            node = node.setdefault(part, {})
        if LEAF in node:
            raise ApiError("InvalidParameterValue", f"The parameter {key} is given more than once")
        node[LEAF] = value
    return root


def parse(operation: str, pairs: list[tuple[str, str]]) -> dict:
    """The input of `operation` from the request's parameters (Action and Version removed)."""
    for key, text in pairs:  # an answer echoes ids given (Unsuccessful items): XML 1.0 cannot carry these
        if NOT_XML.search(key) or NOT_XML.search(text):
            where = NOT_XML.sub("?", key)
            raise ApiError("InvalidParameterValue", f"The parameter {where} contains a character that is not allowed")
    shape = model().operation_model(operation).input_shape
    if shape is None:
        found = tree(pairs)
        if found:
            raise ApiError("UnknownParameter", f"The parameter {next(iter(found))} is not recognized")
        return {}
    return structure(shape, tree(pairs), "")


def structure(shape, node: dict, path: str) -> dict:
    if LEAF in node:
        raise ApiError("InvalidParameterValue", f"The parameter {path} must name its members ({path}.<Name>)")
    by_wire = {wire_name(member, name): name for name, member in shape.members.items()}
    found: dict[str, Any] = {}
    for key, child in node.items():
        where = f"{path}.{key}" if path else key
        if key not in by_wire:
            raise ApiError("UnknownParameter", f"The parameter {sent(child, where)} is not recognized")
        name = by_wire[key]
        found[name] = value(shape.members[name], child, where)
    for name in shape.required_members:
        if name not in found:
            where = wire_name(shape.members[name], name)
            raise ApiError("MissingParameter", f"The request must contain the parameter {f'{path}.{where}' if path else where}")
    return found


def list_of(shape, node: dict, path: str) -> list:
    if LEAF in node:
        raise ApiError("InvalidParameterValue", f"The parameter {path} is a list: give {path}.1, {path}.2, ...")
    indexed = []
    for key, child in node.items():
        if not key.isdigit() or int(key) < 1:
            raise ApiError("UnknownParameter", f"The parameter {sent(child, f'{path}.{key}')} is not recognized")
        indexed.append((int(key), value(shape.member, child, f"{path}.{key}")))
    return [item for _, item in sorted(indexed, key=lambda pair: pair[0])]


def map_of(shape, node: dict, path: str) -> dict:
    """Query maps: `<name>.entry.N.key` / `.value` (or the shape's own key and value names)."""
    entries = node.get("entry", {})
    if set(node) - {"entry"}:
        raise ApiError("UnknownParameter", f"The parameter {path}.{sorted(set(node) - {'entry'})[0]} is not recognized")
    key_name, value_name = wire_name(shape.key, "key"), wire_name(shape.value, "value")
    found = {}
    for index, entry in sorted(entries.items()):
        where = f"{path}.entry.{index}"
        if key_name not in entry or value_name not in entry:
            raise ApiError("MissingParameter", f"The request must contain the parameter {where}.{key_name} and .{value_name}")
        found[scalar(shape.key, entry[key_name], f"{where}.{key_name}")] = value(shape.value, entry[value_name], where)
    return found


def sent(node: dict, path: str) -> str:
    """The first parameter the request sent under `path`, as it sent it."""
    while LEAF not in node:
        key = next(iter(node))
        node, path = node[key], f"{path}.{key}"
    return path


def value(shape, node: dict, path: str) -> Any:
    if shape.type_name == "structure":
        return structure(shape, node, path)
    if shape.type_name == "list":
        return list_of(shape, node, path)
    if shape.type_name == "map":
        return map_of(shape, node, path)
    return scalar(shape, node, path)


def scalar(shape, node: dict, path: str) -> Any:
    if set(node) != {LEAF}:
        key = next(k for k in node if k)
        raise ApiError("UnknownParameter", f"The parameter {sent(node[key], f'{path}.{key}')} is not recognized")
    text = node[LEAF]
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if kind == "timestamp":
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        if kind == "blob":
            return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise ApiError("InvalidParameterValue", f"Value ({text}) for parameter {path} is invalid. Expected a {kind}.") from None
    return text
