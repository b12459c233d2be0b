"""What a DynamoDB call needs authorized: an (action, resource) for every table, index, backup,
export or import it names, found from the operation's input shape in botocore's model (every member
typed as a table name or ARN, a backup, export, import or resource ARN, the keys of a batch's
RequestItems), so no member that names a table goes unchecked; and the call moto gets, each table
ARN in a name member replaced by the name.

A table ARN must be the lab's (moto runs as the lab account, lab.model.ids.ACCOUNT_ID) and in the
front's region: another region is DynamoDB's "Invalid AWS region" ValidationException, another
account has no such table here (ResourceNotFoundException). Resource "*" is only for the operations
IAM authorizes on no resource (the list and describe-limits calls); any other call that names no
table is refused. Actions and resources per operation:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/api-permissions-reference.html and
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html;
transactions need the per-item action on each table; a restore needs its own action on the source
(table or backup) and read and write on the target table,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/backuprestore_IAM.html; PartiQL:
lab.services.dynamodb_partiql.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from lab.model.ids import ACCOUNT_ID
from lab.services.dynamodb_call import DynamoDbError, service_model
from lab.services.dynamodb_partiql import MALFORMED, readings, statement_needs

TABLE_SHAPES = frozenset({"TableName", "TableArn"})
ARN_KINDS = {
    "ResourceArnString": ("", "stream"),
    "BackupArn": ("backup",),
    "ExportArn": ("export",),
    "ImportArn": ("import",),
    "BulkOperationArn": None,
}  # None: any table sub-resource
CURSORS = frozenset({"ExclusiveStartTableName", "ExclusiveStartBackupArn"})  # where a listing resumes
NO_RESOURCE = frozenset(
    {
        "ListTables",
        "ListBackups",
        "ListExports",
        "ListImports",
        "ListGlobalTables",
        "ListContributorInsights",
        "ListBulkOperations",
        "DescribeLimits",
        "DescribeEndpoints",
    }
)
TRANSACT_WRITE_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
RESTORE_TARGET_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:BatchWriteItem",
)
STATEMENTS = {"ExecuteStatement": None, "BatchExecuteStatement": "Statements", "ExecuteTransaction": "TransactStatements"}
TABLE_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
ARN = re.compile(r"arn:aws:dynamodb:([^:]*):([^:]*):table/([a-zA-Z0-9_.-]{3,255})(?:/([a-z-]+)/([^/]+))?")


def table_arn(region: str, table: str, index: str | None = None) -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{table}" + (f"/index/{index}" if index else "")


def parse_arn(value: str, region: str, kinds: tuple[str, ...] | None) -> str:
    """The table an ARN of the lab's account and this region names; `kinds`: the sub-resources
    allowed after table/<name> ("" for none; None: any)."""
    match = ARN.fullmatch(value)
    if not match or (kinds is not None and (match[4] or "") not in kinds):
        raise DynamoDbError("ValidationException", f"1 validation error detected: Invalid ARN '{value}'")
    if match[1] != region:
        raise DynamoDbError("ValidationException", f"1 validation error detected: Invalid AWS region in '{value}'")
    if match[2] != ACCOUNT_ID:
        raise DynamoDbError("ResourceNotFoundException", "Requested resource not found")
    return match[3]


def table_name(value: str, region: str) -> str:
    """The table a TableName member names: a name, or a table's ARN (not an index's or a stream's)."""
    if value.startswith("arn:"):
        return parse_arn(value, region, ("",))
    if not TABLE_NAME.fullmatch(value):
        raise DynamoDbError(
            "ValidationException",
            f"1 validation error detected: Value '{value}' at 'tableName' "
            "failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        )
    return value


def _children(shape) -> list:
    return {
        "structure": lambda: list(shape.members.values()),
        "list": lambda: [shape.member],
        "map": lambda: [shape.key, shape.value],
    }.get(shape.type_name, list)()


@cache
def resource_shapes() -> frozenset[str]:
    """The model's shapes that can hold a resource name anywhere inside (a fixed point: AttributeValue
    nests itself), so a walk never descends into an item's attributes."""
    model = service_model()
    shapes = [model.shape_for(name) for name in model.shape_names]
    holding = {s.name for s in shapes if s.name in TABLE_SHAPES or s.name in ARN_KINDS}
    while more := {s.name for s in shapes if s.name not in holding and any(c.name in holding for c in _children(s))}:
        holding |= more
    return frozenset(holding)


def _holds(shape_name: str) -> bool:
    return shape_name in resource_shapes()


def named(shape, value: Any, path: tuple = ()):
    """(path, shape name, value) of every resource-naming string in a checked call, map keys included."""
    if shape.name in TABLE_SHAPES or shape.name in ARN_KINDS:
        yield path, shape.name, value
    elif shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value and name not in CURSORS and _holds(member.name):
                yield from named(member, value[name], path + (name,))
    elif shape.type_name == "list" and _holds(shape.member.name):
        for i, item in enumerate(value):
            yield from named(shape.member, item, path + (i,))
    elif shape.type_name == "map":
        for key, item in value.items():
            if shape.key.name in TABLE_SHAPES:
                yield path + (key,), shape.key.name, key
            if _holds(shape.value.name):
                yield from named(shape.value, item, path + (key,))


def _actions(op: str, path: tuple) -> tuple[str, ...]:
    if op == "TransactGetItems":
        return ("dynamodb:GetItem",)
    if op == "TransactWriteItems":
        return (TRANSACT_WRITE_ACTIONS[path[-2]],)
    if op.startswith("RestoreTable") and path == ("TargetTableName",):
        return RESTORE_TARGET_ACTIONS
    return (f"dynamodb:{op}",)


def _resource(call: dict, path: tuple, shape_name: str, value: str, region: str) -> tuple[str, str | None]:
    """(the IAM resource, the table name moto gets in place of `value`, or None to keep it)."""
    if path[-1] == "GlobalTableName":
        return f"arn:aws:dynamodb::{ACCOUNT_ID}:global-table/{value}", None
    if shape_name in TABLE_SHAPES:
        table = table_name(value, region)
        index = call.get("IndexName") if path == ("TableName",) else None
        return table_arn(region, table, index), table
    parse_arn(value, region, ARN_KINDS[shape_name])
    return value, None


def _rename(call: dict, path: tuple, name: str) -> None:
    """Put `name` where `path` named a table: a member ending in TableName, or a RequestItems key."""
    *outer, last = path
    holder = call
    for step in outer:
        holder = holder[step]
    if isinstance(last, str) and last.endswith("TableName"):
        holder[last] = name
    elif outer == ["RequestItems"] and last != name:
        if name in holder:
            raise DynamoDbError("ValidationException", f"Table {name} is named twice in RequestItems")
        holder[name] = holder.pop(last)


def _partiql_needs(op: str, call: dict, region: str) -> tuple[list[tuple[str, str]], DynamoDbError | None]:
    statements = [call] if STATEMENTS[op] is None else call.get(STATEMENTS[op], [])
    wanted, agreed = [], True
    for statement in statements:
        action, table, same = statement_needs(statement.get("Statement"), statement.get("Parameters", []))
        wanted += [(action, table_arn(region, t, i)) for t, i in readings(table)]
        agreed &= same
    return wanted, None if agreed else DynamoDbError("ValidationException", MALFORMED)


def needs(op: str, call: dict, region: str) -> tuple[list[tuple[str, str]], DynamoDbError | None]:
    """(action, resource) for everything `call` (checked by dynamodb_call.read_call) touches, and the
    refusal to answer once they are authorized (a PartiQL statement moto would read otherwise); table
    ARNs in name members become names in `call`, for moto."""
    if op in STATEMENTS:
        return _partiql_needs(op, call, region)
    wanted = []
    for path, shape_name, value in list(named(service_model().operation_model(op).input_shape, call)):
        resource, name = _resource(call, path, shape_name, value, region)
        if name is not None:
            _rename(call, path, name)
        wanted += [(action, resource) for action in _actions(op, path)]
    if op in NO_RESOURCE:
        return [(f"dynamodb:{op}", "*")], None
    if op == "RestoreTableToPointInTime" and not {"SourceTableName", "SourceTableArn"} & call.keys():
        raise DynamoDbError(
            "ValidationException", "1 validation error detected: either SourceTableName or SourceTableArn must be given"
        )
    if not wanted:
        raise DynamoDbError("ValidationException", f"1 validation error detected: the {op} call names no table")
    return wanted, None
