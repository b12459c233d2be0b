"""Validation of `vpclab run --junit` output against tests/data/junit.xsd, which restates the rules
of the Jenkins xUnit plugin's junit-10.xsd (the file's header says how); unit and integration tests
both use it."""

from __future__ import annotations

from pathlib import Path

import xmlschema

SCHEMA = xmlschema.XMLSchema(Path(__file__).resolve().parent / "data" / "junit.xsd")


def junit_problems(text: str) -> list[str]:
    """Every way the document breaks the schema (empty: it validates)."""
    return [f"{e.path}: {e.reason}" for e in SCHEMA.iter_errors(text)]
