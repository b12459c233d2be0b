"""The table a PartiQL statement acts on, read twice: by the front's own tokenizer (the statement as
DynamoDB reads it) and by the engine moto will run it with (py_partiql_parser, through
moto.dynamodb.parsing.partiql). The two must name the same table, or the statement is refused with
DynamoDB's ValidationException for a malformed statement: moto's parser splits on " FROM " with
spaces around it and takes the last quoted run of a DELETE's table, so `SELECT v, id<TAB>FROM<TAB>orders
FROM secret` read secret and `DELETE FROM orders"secret"` deleted from secret while the front
authorized orders. Permissions: dynamodb:PartiQL<verb> on the table (or index),
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from lab.services.dynamodb_call import DynamoDbError

# PartiQL's tokens: comments (skipped; an unclosed one runs to the end), a "quoted name" or a 'string'
# whole (so a FROM inside one is never taken for the keyword), a word, any other character.
PARTIQL_TOKEN = re.compile(r'--[^\n]*|/\*.*?(?:\*/|\Z)|"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|[A-Za-z0-9_.-]+|\S', re.DOTALL)
MAX_STATEMENT = 8192  # PartiQLStatement's length limit in the DynamoDB API (and a bound on tokenizing)
TABLE_NAME = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z0-9_.-]+)')
MALFORMED = "Statement wasn't well formed, can't be processed"


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
        raise DynamoDbError("ValidationException", MALFORMED)
    tokens = [t for t in PARTIQL_TOKEN.findall(statement) if not t.startswith(("--", "/*"))]
    at = _table_at([t.upper() for t in tokens])
    match = TABLE_NAME.fullmatch(tokens[at]) if 0 < at < len(tokens) else None
    if not match:
        raise DynamoDbError("ValidationException", MALFORMED)
    return f"dynamodb:PartiQL{tokens[0].capitalize()}", match[1].replace('""', '"') if match[1] else match[2]


class _Tables(dict):
    """Every table moto would hand the engine, empty, noting each name the engine asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def __contains__(self, name: object) -> bool:
        self.asked.add(str(name))
        return True

    def __missing__(self, name: str) -> list:
        self.asked.add(name)
        return []


def moto_tables(statement: str, parameters: list) -> set[str]:
    """The tables moto's engine reads or writes for `statement`: its own parse, run over empty tables
    that note the names it looks up, plus the tables its result would write to. moto hands the
    engine every table (and every index as "<table>.<index>") and applies what it returns."""
    from py_partiql_parser import DynamoDBStatementParser

    parser = DynamoDBStatementParser({})
    parser.documents = tables = _Tables()
    _, updates = parser.parse(statement, copy.deepcopy(parameters))
    return tables.asked | set(updates)


def statement_needs(statement: Any, parameters: object) -> tuple[str, str, bool]:
    """(the IAM action, the table as the front reads it, whether moto's engine reads the same): the
    front authorizes its own reading, as DynamoDB would, and refuses a statement moto reads otherwise.
    moto's key for an index, "<table>.<index>", is the front's unquoted `table.index` too."""
    action, table = partiql(statement)
    try:
        touched = moto_tables(statement, parameters if isinstance(parameters, list) else [])
    except Exception:  # noqa: BLE001 - whatever moto's engine cannot parse, it cannot run either
        touched = set()
    return action, table, touched == {table}


def readings(name: str) -> list[tuple[str, str | None]]:
    """Every (table, index) moto may take `name` for: itself as a table, and, split at each dot,
    an index of a table (table names may hold dots, and moto keys indexes "<table>.<index>")."""
    return [(name, None)] + [(name[:i], name[i + 1 :]) for i, c in enumerate(name) if c == "."]
