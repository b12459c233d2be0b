"""Imports point down the layers, with no cycle anywhere in the package, even through imports made inside functions (an
import inside a function or under TYPE_CHECKING hides a cycle from Python, not from a reader), and nothing outside the CLI
imports the CLI: the benchmarks and the library are its callers' tools, not its dependents.

Read from the source (ast), so a function-level import counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every lab module `path` imports, anywhere in it (`from lab.x import y` counts lab.x.y when
    lab.x.y is a module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {n for n in names if n == "lab" or n.startswith("lab.")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in (REPO / "lab").rglob("*.py")}
    return {name: imported(path) & set(modules) - {name} for name, path in modules.items()}


def cycle_from(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    """A path of imports from `start` back to itself, if there is one (depth-first)."""
    stack, seen = [(start, [start])], set()
    while stack:
        name, path = stack.pop()
        for nxt in edges.get(name, ()):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_the_package_has_no_import_cycle():
    edges = graph()
    assert edges["lab.plan.compile"]  # the walk read the package
    cycles = [c for c in (cycle_from(name, edges) for name in edges) if c]
    assert cycles == [], " -> ".join(cycles[0])


def test_cycle_from_finds_a_cycle_and_only_a_cycle():
    edges = {"lab.a": {"lab.b"}, "lab.b": {"lab.c"}, "lab.c": {"lab.a"}, "lab.d": {"lab.a"}}
    assert cycle_from("lab.a", edges) == ["lab.a", "lab.b", "lab.c", "lab.a"] and cycle_from("lab.d", edges) is None


def test_nothing_outside_the_cli_imports_the_cli():
    sources = [p for p in (REPO / "lab").rglob("*.py") if "cli" not in p.relative_to(REPO / "lab").parts]
    sources += list((REPO / "benchmarks").rglob("*.py"))
    importers = sorted(
        str(p.relative_to(REPO)) for p in sources if any(n == "lab.cli" or n.startswith("lab.cli.") for n in imported(p))
    )
    assert importers == []
