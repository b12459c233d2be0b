"""Every guided exercise (lab/data/exercises) against a real lab: its check fails on the starting
lab and passes once the learner has typed the exercise's steps, in Korean and in English.

One lab per exercise; the steps are typed at the exercise's own prompt (ExercisePrompt.onecmd, the
lines the learner reads, with the lab's ids filled in from the plan), so node commands, `path`,
`associate`, `authorize-ingress` and `accept` run for real. The check is read-only (its traces add
packets, never change the lab), so one result is rendered in both languages, and the prompt's own
`check` is run in English after the steps to record the progress. The exercises whose change steps
have AWS CLI lines are run again through those lines once the lab's EC2 front takes them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lab.cli.common import planned
from lab.cli.exercise_prompt import ExercisePrompt
from lab.exercises.catalog import fill, find, load_all
from lab.exercises.checks import run_check
from lab.exercises.progress import load_progress
from lab.exercises.render import check_text, word
from lab.realize.lab import Lab

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(300)]


def render_both(result, plan, passed: bool) -> None:
    """The same verdict in both languages, each complete: every condition marked, then the verdict."""
    for lang in ("ko", "en"):
        text = check_text(result, plan, lang)
        for verdict in result.verdicts:
            said = verdict.condition.passed if verdict.passed else verdict.condition.failed
            assert fill(said[lang], plan) in text
        n = result.exercise.number
        assert (word(lang, "passed", n=n) in text) == passed, text
        if not passed:
            first = next(v for v in result.verdicts if not v.passed)
            assert word(lang, "failed", hint=first.condition.hint) in text


@pytest.mark.parametrize("number", range(1, len(load_all()) + 1))
def test_check_fails_before_the_steps_and_passes_after_them(number, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("VPCLAB_EXERCISES_DIR", str(tmp_path / "progress"))
    exercise = find(number)
    topology, plan = planned(str(exercise.topology))
    with Lab(plan, tmp_path / "run") as lab:
        prompt = ExercisePrompt(topology, plan, lab, exercise, "ko")
        before = run_check(exercise, lab, prompt.topology, prompt.plan)
        assert not before.passed, [v.evidence for v in before.verdicts]
        render_both(before, plan, passed=False)

        for step in exercise.steps:
            assert not prompt.onecmd(prompt.precmd(fill(step.prompt, prompt.plan)))
        typed = capsys.readouterr().out
        assert "vpclab:" not in typed, typed  # no step was refused

        after = run_check(exercise, lab, prompt.topology, prompt.plan)
        assert after.passed, [v.evidence for v in after.verdicts]
        render_both(after, prompt.plan, passed=True)

        prompt.lang = "en"
        prompt.onecmd("check")
        assert word("en", "passed", n=number) in capsys.readouterr().out
    progress = load_progress()
    assert progress.passed == [number] and progress.current["exercise"] == number
    assert json.loads((tmp_path / "progress" / "progress.json").read_text())["passed"] == [number]


# -- the same exercises through their AWS CLI lines -------------------------------------------------
CHANGES = ("associate", "authorize-ingress", "accept")
WITH_AWS = [e.number for e in load_all() if any(s.aws and s.prompt.split()[0] in CHANGES for s in e.steps)]


@pytest.mark.parametrize("number", WITH_AWS)
def test_the_aws_cli_lines_do_what_the_prompts_lines_do(number, tmp_path, monkeypatch, capsys):
    """Each change step typed as its AWS CLI line (internet-client aws ec2 ..., the lab's ids filled
    in) instead of the prompt's command: the check passes as well, and no change call was refused."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("VPCLAB_EXERCISES_DIR", str(tmp_path / "progress"))
    exercise = find(number)
    topology, plan = planned(str(exercise.topology))
    with Lab(plan, tmp_path / "run") as lab:
        prompt = ExercisePrompt(topology, plan, lab, exercise, "en")
        with prompt.controller:  # what the prompt's cmdloop does: the EC2 front's calls reach the live model
            for step in exercise.steps:
                prompt.onecmd(prompt.precmd(fill(step.aws or step.prompt, prompt.plan)))
                said = capsys.readouterr().out  # a learner's own step may show a refusal (exercise 5); a change may not
                assert not step.aws or ("error occurred" not in said and "Could not connect" not in said), said
            after = run_check(exercise, lab, prompt.topology, prompt.plan)
    assert after.passed, [v.evidence for v in after.verdicts]
