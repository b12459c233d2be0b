"""A DynamoDB call's JSON body, read once and checked against the operation's input shape in
botocore's model, as DynamoDB checks it before acting: a value of the wrong JSON type is a
SerializationException; a required member left out, a length, range, enum or pattern outside the
model, or an AttributeValue without exactly one type, a ValidationException; members the model does
not know are dropped. The front hands moto the canonical JSON of what is left, so moto acts on
exactly what the front read and authorized, and never meets a shape that makes it raise.

Errors: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
(the `__type` namespaces and messages); nesting: "up to 32 levels deep",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from lab.services.body import BodyTooLarge, buffered_body

MAX_DEPTH = 80  # shape levels: 32 nested attributes are 64 (a map, then its AttributeValue), plus the call's own
CONTAINERS = ("structure", "map", "list")
JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "structure": dict,
    "map": dict,
    "list": list,
    "string": str,
    "blob": str,
    "boolean": bool,
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float, str),
}
TYPE_WORDS = {
    "string": "String",
    "blob": "Blob",
    "boolean": "Boolean",
    "integer": "Integer",
    "long": "Long",
    "float": "Float",
    "double": "Double",
    "timestamp": "Date",
}


class DynamoDbError(Exception):
    """An answer in DynamoDB's words: `kind` is the error's __type name, `status` its HTTP status."""

    def __init__(self, kind: str, message: str | None = None, status: int = 400):
        super().__init__(message or kind)
        self.kind, self.message, self.status = kind, message, status


@cache
def service_model():
    import botocore.session  # the launcher has it imported already

    return botocore.session.get_session().get_service_model("dynamodb")


def parsed_body(environ: dict) -> dict:
    try:
        call = json.loads(buffered_body(environ) or b"{}")
    except (ValueError, RecursionError, BodyTooLarge):
        raise DynamoDbError("SerializationException", "Start of structure or map found where not expected.") from None
    if not isinstance(call, dict):
        raise DynamoDbError("SerializationException", "Start of structure or map found where not expected.")
    return call


def read_call(environ: dict, op: str) -> dict:
    """The body of a call to `op`, checked against its input shape and with unknown members dropped."""
    checker = _Checker()
    call = checker.value(service_model().operation_model(op).input_shape, parsed_body(environ), "", 0)
    if checker.problems:
        count = len(checker.problems)
        raise DynamoDbError(
            "ValidationException", f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(checker.problems)
        )
    return call


@cache
def _pattern(pattern: str | None) -> re.Pattern | None:
    """A model's pattern as a Python regex; None for the few in Java's syntax only (\\p{Print})."""
    try:
        return re.compile(pattern) if pattern else None
    except re.error:
        return None


def _token(value: object) -> str:
    """How DynamoDB's parser names the JSON value it met."""
    if isinstance(value, bool):
        return "TRUE_VALUE" if value else "FALSE_VALUE"
    return "STRING_VALUE" if isinstance(value, str) else "NUMBER_VALUE"


def _mismatch(shape, value: object) -> DynamoDbError:
    if isinstance(value, dict):
        message = "Start of structure or map found where not expected."
    elif isinstance(value, list):
        message = "Start of list found where not expected"
    elif shape.type_name in CONTAINERS:
        message = "Unexpected field type"
    else:
        message = f"{_token(value)} can not be converted to {TYPE_WORDS.get(shape.type_name, shape.type_name)}"
    return DynamoDbError("SerializationException", message)


def _member_path(path: str, name: str) -> str:
    return f"{path}.{name[:1].lower()}{name[1:]}" if path else f"{name[:1].lower()}{name[1:]}"


def is_json_type(value: object, type_name: str) -> bool:
    """Whether a JSON value has the type a shape of `type_name` wants (a bool is no number)."""
    return isinstance(value, JSON_TYPES.get(type_name, object)) and (type_name == "boolean" or not isinstance(value, bool))


class _Checker:
    """One walk of a body along its shape; constraint problems are collected, type errors raised."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def value(self, shape, value: Any, path: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise DynamoDbError("ValidationException", "Nesting Levels have exceeded supported limits")
        if not is_json_type(value, shape.type_name):
            raise _mismatch(shape, value)
        self.constraints(shape, value, path)
        if shape.type_name == "structure":
            return self.structure(shape, value, path, depth)
        if shape.type_name == "list":
            return [self.value(shape.member, v, f"{path}.{i + 1}.member", depth + 1) for i, v in enumerate(value)]
        if shape.type_name == "map":
            for key in value:
                self.constraints(shape.key, key, f"{path}.{key}")
            return {k: self.value(shape.value, v, f"{path}.{k}", depth + 1) for k, v in value.items()}
        return value

    def structure(self, shape, value: dict, path: str, depth: int) -> dict:
        for name in shape.required_members:
            if value.get(name) is None:
                self.problems.append(
                    f"Value null at '{_member_path(path, name)}' failed to satisfy constraint: Member must not be null"
                )
        given = [name for name in shape.members if value.get(name) is not None]
        if shape.name == "AttributeValue" and len(given) != 1:
            raise DynamoDbError(
                "ValidationException",
                "Supplied AttributeValue "
                + ("is empty" if not given else "has more than one datatypes set")
                + ", must contain exactly one of the supported datatypes",
            )
        return {name: self.value(shape.members[name], value[name], _member_path(path, name), depth + 1) for name in given}

    def constraints(self, shape, value: object, path: str) -> None:
        """The model's min/max (a length, or for numbers a value), enum and pattern."""
        meta = shape.metadata
        size = len(value) if isinstance(value, (str, list, dict)) else value
        what = "length" if isinstance(value, (str, list, dict)) else "value"
        broken = []
        if "min" in meta and isinstance(size, (int, float)) and size < meta["min"]:
            broken.append(f"Member must have {what} greater than or equal to {meta['min']}")
        if "max" in meta and isinstance(size, (int, float)) and size > meta["max"]:
            broken.append(f"Member must have {what} less than or equal to {meta['max']}")
        if "enum" in meta and value not in meta["enum"]:
            broken.append(f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
        pattern = _pattern(meta.get("pattern"))
        if pattern is not None and isinstance(value, str) and not pattern.fullmatch(value):
            broken.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
        shown = f"'{value}'" if isinstance(value, str) else value if isinstance(value, (int, float)) else "null"
        self.problems += [f"Value {shown} at '{path}' failed to satisfy constraint: {b}" for b in broken]
