"""What every test, unit or integration, runs inside."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def runs_index_sandbox(tmp_path_factory):
    """Kept runs are listed in an index (lab.realize.runs, /var/lib/vpclab/runs): the tests keep
    theirs in a directory of the session's own, so no test run leaves entries on the machine."""
    patch = pytest.MonkeyPatch()
    patch.setenv("VPCLAB_RUNS_DIR", str(tmp_path_factory.mktemp("runs-index")))
    yield
    patch.undo()
