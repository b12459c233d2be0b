"""The docs' examples of what `vpclab validate`, `plan` and `explain` print are what they print now
(the examples that need a lab: tests/integration/test_doc_examples_lab.py), every block that looks
like vpclab's output is marked as checked or says why not, and the checker itself can tell a stale
example from a current one. The convention: docs/architecture.md, "Examples in the
docs are checked"; the code: tests/doc_examples.py.
"""

from __future__ import annotations

import pytest

import doc_examples
from doc_examples import LAB_VERBS, PURE_VERBS, Block, Example

EXAMPLES = doc_examples.all_examples()
PURE = [e for e in EXAMPLES if e.verb in PURE_VERBS]


@pytest.mark.parametrize("example", PURE, ids=str)
def test_the_example_shows_what_vpclab_prints(example, tmp_path):
    actual = doc_examples.run(example, tmp_path)
    problem = doc_examples.mismatch(example, actual)
    if problem:
        pytest.fail(
            f"{example.block}: the example of `{example.command}` is stale: {problem}. vpclab prints now:\n{actual}",
            pytrace=False,
        )


def test_the_docs_have_checked_examples_of_both_kinds():
    """A parser that found nothing would make every check above pass."""
    assert len(PURE) >= 5 and any(e.verb in LAB_VERBS for e in EXAMPLES)


def test_every_checked_command_is_one_a_test_runs():
    assert [str(e) for e in EXAMPLES if e.verb not in PURE_VERBS | LAB_VERBS or e.argv[0] != "vpclab"] == []


def test_every_block_of_vpclab_output_is_marked():
    """An example added without a marker would go stale unnoticed: mark it `<!-- checked... -->`, or
    `<!-- unchecked: why -->` when it cannot be run."""
    unmarked = [str(b) for b in doc_examples.unmarked_output()]
    assert unmarked == [], (
        f"blocks that look like vpclab's output but carry no marker: {unmarked}; put "
        "<!-- checked: COMMAND -->, <!-- copy of: PATH --> or <!-- unchecked: WHY --> on the "
        "line before each (docs/architecture.md, 'Examples in the docs are checked')"
    )


def test_every_unchecked_block_says_why():
    silent = [str(b) for doc in doc_examples.DOCS for b in doc_examples.blocks(doc) if b.kind == "unchecked" and not b.argument]
    assert silent == []


def test_every_fixture_directory_is_used():
    """A fixture directory no example names would be checked by nothing."""
    used = {e.block.directory for e in EXAMPLES}
    assert sorted(p.name for p in doc_examples.FIXTURES.iterdir() if p.name not in used) == []


@pytest.mark.parametrize(
    "block", [b for doc in doc_examples.DOCS for b in doc_examples.blocks(doc) if b.kind == "copy of"], ids=str
)
def test_a_copy_of_a_file_holds_its_data(block):
    problem = doc_examples.copy_mismatch(block)
    assert problem is None, f"{block}: the block is no longer a copy of {block.argument}: {problem}"


# The checker can fail: each case below is a stale example it must catch, or a normalised one it
# must let through.


def check(expected: str, actual: str, language: str = "") -> str | None:
    block = Block("docs/x.md", 1, language, expected, "checked", None, "vpclab plan x.yaml")
    return doc_examples.mismatch(Example(block, "vpclab plan x.yaml", expected, ()), actual)


PLAN = "lab plan\nroute table private, kernel table 1002:\n    10.0.0.0/16  dropped\n    0.0.0.0/0  via nat\n"


def test_a_whole_output_must_match_line_for_line():
    assert check(PLAN, PLAN) is None
    assert "line 2: 'route table private, kernel table 102:'" in check(PLAN.replace("1002", "102"), PLAN)
    assert "the output goes on" in check("lab plan\nroute table private, kernel table 1002:", PLAN)


def test_an_elision_stands_for_any_lines_and_only_there():
    assert check("...\n    10.0.0.0/16  dropped\n    ... (and more)", PLAN) is None
    assert check("...\n    10.0.0.0/16  blackhole\n...", PLAN) is not None
    assert check("lab plan\n    10.0.0.0/16  dropped\n...", PLAN) is not None  # not adjacent


def test_ephemeral_ports_and_drop_counts_are_normalised_but_kept_consistent():
    nat = "[10.0.2.4:{a} -> 10.0.1.254:{b}] counted 3 packets"
    assert check(nat.format(a=56923, b=56923), nat.format(a=41000, b=41000).replace("3", "2")) is None
    assert check(nat.format(a=56923, b=56923), nat.format(a=41000, b=41001)) is not None
    assert check("13.124.153.222:22 -> 10.0.1.254:22", "13.124.153.222:23 -> 10.0.1.254:23") is not None


def test_json_examples_are_compared_as_data_with_their_elisions():
    actual = '{"steps": [{"n": 1}, {"n": 2, "line": 23}, {"n": 3}], "passed": true, "port": 41234}'
    assert check('{"steps": [..., {"n": 2, "line": 23}, ...], "passed": true, "port": ...}', actual, "json") is None
    assert ".steps[1].line" in check(
        '{"steps": [{"n": 1}, {"n": 2, "line": 9}, ...], "passed": true, "port": ...}', actual, "json"
    )
    assert "keys" in check('{"steps": [...], "passed": true}', actual, "json")
    assert check('{"steps": [...], "...": ...}', actual, "json") is None
    assert check('{"steps": [{"n": 3}, ...], "...": ...}', actual, "json") is not None
