"""`vpclab exercise start N` driven as a learner drives it, through a pseudo-terminal (pexpect):
the goal with the lab's ids, `hint`, `check` failing then passing after `associate`, `reset`
bringing back the starting lab (the check fails again), and from another terminal `vpclab exercise
list` (progress kept), `hint` and `check` (which says where to type it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.cli.common import planned
from lab.exercises.catalog import find

pexpect = pytest.importorskip("pexpect")

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds a real lab: run as root"), pytest.mark.timeout(300)]
PROMPT = "vpclab> "
# the CLI's own entry point from this tree (not an installed script: it may point at another tree)
VPCLAB = [sys.executable, "-c", "import sys; from lab.cli.main import entry_point; sys.argv[0] = 'vpclab'; entry_point()"]


def vpclab(env, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*VPCLAB, *argv], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)


def run(term, line: str, timeout: float = 60) -> str:
    term.sendline(line)
    term.expect_exact(PROMPT, timeout=timeout)
    return term.before


def test_start_check_hint_reset_and_another_terminal(tmp_path):
    env = {
        **os.environ,
        "VPCLAB_STATE_DIR": str(tmp_path / "state"),
        "VPCLAB_EXERCISES_DIR": str(tmp_path / "progress"),
        "TERM": "dumb",
        "COLUMNS": "200",
    }
    plan = planned(str(find(3).topology))[1]
    argv = [*VPCLAB[1:], "exercise", "start", "3", "--lang", "en"]
    child = pexpect.spawn(VPCLAB[0], argv, cwd=REPO, env=env, encoding="utf-8", timeout=90)
    child.setwinsize(50, 200)
    try:
        child.expect("Exercise 3. Changing the path with an S3 gateway endpoint")
        child.expect_exact(PROMPT)
        assert plan.vpce_id("app", "s3-gw") in child.before and "associate s3-gw private" in child.before
        assert "Hint 1/2" in run(child, "hint")
        assert "Not passed yet. For the hint that helps, type: hint 1" in run(child, "check")

        other = vpclab(env, "exercise", "check")  # Korean: the default, from another terminal
        assert other.returncode == 0 and "check와 reset은 그 랩의 vpclab> 프롬프트에서" in other.stdout
        hint = vpclab(env, "exercise", "hint", "--lang", "en")
        assert "Hint 2/2" in hint.stdout and plan.vpce_id("app", "s3-gw") in hint.stdout

        assert "associated" in run(child, "associate s3-gw private")
        assert "Exercise 3 passed." in run(child, "check")
        listed = vpclab(env, "exercise", "list", "--lang", "en").stdout.splitlines()
        assert listed[2].startswith("done") and not listed[1].startswith("done")

        child.sendline("reset")
        child.expect("Rebuilding exercise 3's lab")
        child.expect("Exercise 3. Changing")
        child.expect_exact(PROMPT)
        out = run(child, "check")
        assert "[FAIL]" in out and "not associated" in out  # the starting lab again
        child.sendline("exit")
        child.expect("tearing down lab")
        child.expect(pexpect.EOF, timeout=60)
        child.close()
        assert child.exitstatus == 0
        assert "No exercise is running" in vpclab(env, "exercise", "check", "--lang", "en").stdout
    finally:
        if child.isalive():
            child.terminate(force=True)
        vpclab(env, "clean", "--all")
