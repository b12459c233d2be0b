"""Every file in tests/data/invalid/ must be rejected with exactly the problems its header announces.

A file starts with one comment line per expected problem, as str(TopologyError) gives it minus
the file name:
    # expect: LINE: MESSAGE (CODE)                 a problem in the topology file itself
    # expect-file: REL/PATH:LINE: MESSAGE (CODE)   a problem in a file it names (a policy), REL/PATH
                                                   relative to the topology file's directory
The exact text is the contract: a user reads it, so a reworded message is a visible change. Any
exception other than TopologyError fails the test, because a traceback is a defect.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from lab.errors import TopologyError
from lab.model.loader import load_topology

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path("tests/data/invalid")
CASES = sorted(p.name for p in (REPO / CORPUS).glob("*.yaml"))


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    """Messages name files as the user typed them, so load by a path relative to a fixed directory."""
    monkeypatch.chdir(REPO)


def expected_lines(path: Path) -> list[str]:
    """The header's problems, located: `# expect:` in this file, `# expect-file:` in one beside it."""
    # Decoded leniently: one case is deliberately not UTF-8, but every header is ASCII.
    text = path.read_bytes().decode("utf-8", errors="replace")
    header = itertools.takewhile(lambda line: line.startswith("# expect"), text.splitlines())
    return [
        f"{path.parent.as_posix()}/{rest}"
        if kind == "# expect-file"
        else f"{path.as_posix()}{rest[1:] if rest.startswith('0:') else ':' + rest}"  # line 0: no line
        for kind, _, rest in (line.partition(": ") for line in header)
    ]


def rejected_as_announced(load, path: Path) -> TopologyError:
    """The TopologyError that `load` raises for the corpus file `path`, after checking that its text is
    exactly what the file's header announces."""
    expected = expected_lines(path)
    assert expected, f"{path.name} has no '# expect:' header"
    with pytest.raises(TopologyError) as caught:
        load(str(path))
    assert str(caught.value) == "\n".join(expected)
    return caught.value


def test_corpus_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", CASES)
def test_invalid_topology_is_rejected_with_exact_problems(name):
    error = rejected_as_announced(load_topology, CORPUS / name)
    assert all(p.severity == "error" for p in error.problems)


def test_missing_file_is_a_topology_error(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    assert str(caught.value) == f"{path}: cannot read the file: No such file or directory (FileNotFound)"
