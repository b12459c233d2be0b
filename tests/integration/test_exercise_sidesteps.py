"""Trying to pass an exercise without doing it, against real labs: each attempt must leave the
check failed, with the condition that caught it. (The honest path is tests/integration/test_exercises_lab.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.cli.common import planned
from lab.cli.exercise_prompt import ExercisePrompt
from lab.exercises.catalog import find
from lab.exercises.checks import run_check
from lab.realize.lab import Lab

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(300)]

ATTEMPTS = {
    # exercise: (lines typed instead of the steps, the conditions that must fail, those that may pass)
    1: (
        ["path web1 lab-bucket.s3.ap-northeast-2.amazonaws.com", "path app1 lab-bucket.s3.ap-northeast-2.amazonaws.com"],
        [1],
        [0],
    ),
    3: (["associate s3-gw isolated"], [0, 1], []),  # the wrong route table: app1's path does not change
    9: (["authorize-ingress endpoints --protocol tcp --port 443 --cidr 192.168.0.0/16"], [0, 1], []),  # not the VPC's CIDR
    10: (["accept staging/web", "reject staging/web"], [0, 1], []),  # accepted, then rejected again
}


@pytest.mark.parametrize("number", sorted(ATTEMPTS))
def test_a_sidestep_leaves_the_check_failed(number, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("VPCLAB_EXERCISES_DIR", str(tmp_path / "progress"))
    lines, failing, passing = ATTEMPTS[number]
    exercise = find(number)
    topology, plan = planned(str(exercise.topology))
    with Lab(plan, tmp_path / "run") as lab:
        prompt = ExercisePrompt(topology, plan, lab, exercise, "en")
        for line in lines:
            prompt.onecmd(line)
        assert "vpclab:" not in capsys.readouterr().out  # every line was accepted by the lab
        result = run_check(exercise, lab, prompt.topology, prompt.plan)
    assert not result.passed
    verdicts = [v.passed for v in result.verdicts]
    assert [i for i, ok in enumerate(verdicts) if not ok] == failing, [v.evidence for v in result.verdicts]
    assert all(verdicts[i] for i in passing)
