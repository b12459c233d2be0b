"""Validation of vpclab's JSON output against docs/result.schema.json, the documented contract of
`vpclab trace --json` and `vpclab run --json` (unit and integration tests both use it)."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "result.schema.json"
SCHEMA = json.loads(SCHEMA_FILE.read_text())


def problems(data: object, definition: str | None = None) -> list[str]:
    """Every way `data`, as printed (a JSON round trip), breaks the schema, or one of its $defs."""
    schema = SCHEMA if definition is None else {**SCHEMA, "$ref": f"#/$defs/{definition}"}
    if definition is not None:
        schema.pop("oneOf")
    printed = json.loads(json.dumps(data))
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in Draft202012Validator(schema).iter_errors(printed)
    ]
