"""The exercise files (lab/data/exercises): every one loads, is complete in both languages, names
only ids its lab's plan has, follows the chapter's order, and its check's conditions name nodes,
endpoints and hints that exist; a broken file is refused with every problem located. Progress and
the CLI's list and hint, without a lab."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lab.cli.common import planned
from lab.cli.main import main
from lab.errors import TopologyError
from lab.exercises.catalog import LANGUAGES, TEMPLATE, fill, load_all, load_exercise, texts
from lab.exercises.progress import Progress, load_progress, save_progress
from lab.exercises.render import WORDS, goal_text, hint_text, listing
from lab.realize.state import LabState

HANGUL = range(0xAC00, 0xD7A4)
# The chapter's terms as AWS's Korean console writes them (/work/shared/reference/chapter.md)
TERMS = {
    3: "게이트웨이 엔드포인트",
    4: "게이트웨이 엔드포인트",
    5: "엔드포인트 정책",
    8: "프라이빗 DNS",
    9: "보안 그룹",
    10: "엔드포인트 서비스",
}


@pytest.fixture(scope="module")
def exercises():
    return load_all()


@pytest.fixture(scope="module")
def plans(exercises):
    return {e.number: planned(str(e.topology)) for e in exercises}


def test_ten_exercises_in_the_chapters_order(exercises):
    assert [e.number for e in exercises] == list(range(1, 11))
    assert "NAT" in exercises[1].title["en"] and "S3 gateway endpoint" in exercises[2].title["en"]
    assert "DynamoDB" in exercises[3].title["en"] and "PrivateLink" in exercises[9].title["en"]


def test_every_text_is_complete_in_both_languages(exercises):
    for e in exercises:
        for text in [e.title, e.goal, e.proved, *e.hints, *(s.say for s in e.steps)]:
            assert set(text) == set(LANGUAGES) and all(text[lang] for lang in LANGUAGES), e.file
            assert any(ord(c) in HANGUL for c in text["ko"]), (e.file, text["ko"])
            assert not any(ord(c) in HANGUL for c in text["en"]), (e.file, text["en"])
        for c in e.check:
            assert all(c.passed[lang] and c.failed[lang] for lang in LANGUAGES)
    for lang in LANGUAGES:
        assert set(WORDS[lang]) == set(WORDS["en"])


def test_korean_uses_the_consoles_terms(exercises):
    for number, term in TERMS.items():
        assert term in exercises[number - 1].goal["ko"] + exercises[number - 1].proved["ko"], number
    korean = " ".join(t["ko"] for e in exercises for t in [e.goal, e.proved, *e.hints])
    for term in ("라우팅 테이블", "NAT 게이트웨이", "인터넷 게이트웨이", "격리된 프라이빗 서브넷", "인터페이스 엔드포인트"):
        assert term in korean
    assert "합니다" in korean and "라우트 테이블" not in korean


def test_every_template_resolves_against_the_exercises_plan(exercises, plans):
    for e in exercises:
        plan = plans[e.number][1]
        for text in texts(e):
            filled = fill(text, plan)
            assert not TEMPLATE.search(filled) and "{" not in filled.replace("{ko", ""), (e.file, filled)


def test_ids_come_from_the_plan(exercises, plans):
    topology, plan = plans[3]
    aws = fill(exercises[2].steps[1].aws, plan)
    assert plan.vpce_id("app", "s3-gw") in aws and plan.route_table("app", "private").aws_id in aws
    _, plan = plans[10]
    line = fill(exercises[9].steps[1].aws, plan)
    assert plan.endpoint_service("provider", "web-svc").service_id in line and plan.vpce_id("staging", "web") in line


def test_a_template_the_plan_does_not_know_is_an_error(plans):
    plan = plans[3][1]
    with pytest.raises(KeyError, match="no such thing"):
        fill("{vpce:app/nope}", plan)
    with pytest.raises(KeyError):
        fill("{sg:app/nope}", plan)


def test_every_step_that_changes_the_lab_has_its_aws_cli_line(exercises):
    changes = ("associate", "authorize-ingress", "accept")
    for e in exercises:
        for s in e.steps:
            if s.prompt.split()[0] in changes:
                assert s.aws and re.search(r" aws (--profile [0-9]{12} )?ec2 ", s.aws), (e.file, s.prompt)


def test_check_conditions_name_what_the_lab_has(exercises, plans):
    for e in exercises:
        topology, plan = plans[e.number]
        assert e.check, e.file
        for c in e.check:
            assert 1 <= c.hint <= len(e.hints)
            if c.kind in ("trace", "seen"):
                assert c.spec["from"] in plan.nodes
                expect = c.spec.get("expect", {})
                assert set(expect) <= {"outcome", "through", "not_through", "saw", "vpce"}


def test_a_broken_exercise_file_is_refused_with_every_problem(tmp_path):
    bad = tmp_path / "01-bad.yaml"
    bad.write_text(
        "number: 1\ntopology: nowhere.yaml\ntitle: {ko: 제목}\ngoal: only words\n"
        "steps: [{say: {ko: 가, en: a}, prompt: nodes}]\nhints: [{ko: 가, en: a}]\n"
        "check: [{trace: {from: a, to: b}, hint: 7, passed: {ko: 가, en: a}, failed: {ko: 가, en: a}}]\n"
        "proved: {ko: 가, en: a, fr: b}\n"
    )
    with pytest.raises(TopologyError) as err:
        load_exercise(bad)
    text = str(err.value)
    for part in (
        "title: the 'en' text is missing",
        "goal: give the text in both languages",
        "hint 7",
        "no file",
        "unknown language",
    ):
        assert part in text, text
    assert "01-bad.yaml" in text and "(InvalidParameterValue)" in text


def test_progress_survives_and_a_damaged_file_is_a_fresh_start(tmp_path, monkeypatch):
    monkeypatch.setenv("VPCLAB_EXERCISES_DIR", str(tmp_path))
    progress = Progress()
    progress.pass_(3)
    assert progress.next_hint(3, 2) == 1 and progress.next_hint(3, 2) == 2 and progress.next_hint(3, 2) == 2
    assert save_progress(progress)
    again = load_progress()
    assert again.passed == [3] and again.hints == {"3": 2}
    (tmp_path / "progress.json").write_text("{not json")
    assert load_progress() == Progress()


def test_list_and_hint_from_the_cli(tmp_path, monkeypatch, capsys, exercises):
    monkeypatch.setenv("VPCLAB_EXERCISES_DIR", str(tmp_path))
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    save_progress(Progress(passed=[1], current={"exercise": 3, "lab": "vl0000", "lang": "ko"}))
    assert main(["exercise", "list"]) == 0
    out = capsys.readouterr().out
    assert exercises[0].title["ko"] in out and "완료" in out.splitlines()[0]  # Korean by default
    assert main(["exercise", "hint", "--lang", "en"]) == 0
    assert exercises[2].hints[0]["en"].split(":")[0] in capsys.readouterr().out
    assert json.loads((tmp_path / "progress.json").read_text())["hints"] == {"3": 1}
    monkeypatch.setenv("VPCLAB_STATE_DIR", str(tmp_path / "labs"))
    state = LabState("vl0000", str(tmp_path / "run"))  # owned by this process: a running lab
    state.save()
    assert main(["exercise", "check", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "vl0000" in out and "check and reset at that lab's vpclab> prompt" in out
    state.remove()  # its vpclab was killed: the progress file still names it
    assert main(["exercise", "reset", "--lang", "en"]) == 0
    assert "No exercise is running" in capsys.readouterr().out
    assert main(["exercise", "start", "11"]) == 2


def test_goal_and_hint_show_the_labs_ids(exercises, plans):
    plan = plans[3][1]
    for lang in LANGUAGES:
        text = goal_text(exercises[2], plan, lang)
        assert plan.vpce_id("app", "s3-gw") in text and "associate s3-gw private" in text
    assert "associate s3-gw private" in hint_text(exercises[2], 1, plan, "ko")
    assert listing(exercises, Progress(), "en").count("\n") == 9


def test_exercise_topologies_live_under_lab_data(exercises):
    data = Path(__file__).resolve().parents[2] / "lab" / "data"
    assert all(e.topology.parent == data for e in exercises)
