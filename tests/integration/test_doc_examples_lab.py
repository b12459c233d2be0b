"""The docs' examples of what `vpclab run`, `trace` and `demo` print are what they print now: each
is run as the doc shows it, in a lab of its own, and compared with the doc (ephemeral ports and
drop counts normalised; the convention: docs/architecture.md, "Examples in the docs are checked").
The examples that need no lab are checked in tests/unit/test_doc_examples.py.
"""

from __future__ import annotations

import os

import pytest
from labsafety import lab_prerequisite_missing

import doc_examples

LAB = [e for e in doc_examples.all_examples() if e.verb in doc_examples.LAB_VERBS]
MISSING = lab_prerequisite_missing()
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"),
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
    pytest.mark.timeout(120),
]


@pytest.mark.parametrize("example", LAB, ids=str)
def test_the_example_shows_what_vpclab_prints(example, tmp_path, lab_sandbox):
    actual = doc_examples.run(example, tmp_path)
    problem = doc_examples.mismatch(example, actual)
    if problem:
        pytest.fail(
            f"{example.block}: the example of `{example.command}` is stale: {problem}. vpclab prints now:\n{actual}",
            pytrace=False,
        )
