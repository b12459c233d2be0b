"""What every topology check uses: a problem at a line of the topology file, and the "did you
mean" list of the names that do exist."""

from __future__ import annotations

from lab.errors import Problem
from lab.model.topology import Topology


def error(t: Topology, line: int, message: str, code: str) -> Problem:
    return Problem(t.file, line, message, code)


def choices(names) -> str:
    return f" (it has: {', '.join(names)})" if names else ""
