"""`vpclab demo` in Korean and English (lab.cli.demo, lab.report.demo): every figure title and step
caption of the acts is written in both languages, the Korean ones in Hangul; the acts follow the
chapter's order (docs/demo.md); every reason the figures show has a Korean sentence; `--step`
refuses to start without a terminal. No root: the acts are loaded and predicted, not run."""

from __future__ import annotations

import re

import pytest

from lab.analysis.explain import explain
from lab.cli.demo import DEMO_ACTS
from lab.cli.language import LANGUAGES
from lab.cli.main import main
from lab.errors import TopologyError
from lab.plan.changes import associate, decide_connection
from lab.plan.compile import compile_plan
from lab.plan.security_changes import ACTIONS as SECURITY_CHANGES
from lab.plan.security_changes import change_permission
from lab.report.demo import WORDS, because_ko
from lab.scenario.loader import CONNECTION_CHANGES, NAME_LANGUAGES, load_scenario

HANGUL = re.compile(r"[\uac00-\ud7a3]")
ACTS = [load_scenario(act) for act in DEMO_ACTS]
# The chapter's order (docs/demo.md): overview, types, then the four characteristics.
TOPICS = [
    "public-private.yaml",
    "gateway-endpoint.yaml",  # without, then with
    "gateway-endpoint.yaml",  # DynamoDB
    "interface-endpoint.yaml",
    "endpoint-service.yaml",
    "security-groups.yaml",
    "gateway-endpoint.yaml",  # same Region only
    "peering.yaml",  # one VPC only
    "gateway-endpoint-policies.yaml",
]


def captioned():
    """(where, captions) of every act title and step caption."""
    for act in ACTS:
        yield act.file, act.captions
        yield from ((f"{act.file}:{step.line}", step.captions) for step in act.steps)


@pytest.mark.parametrize(("where", "captions"), list(captioned()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_caption_is_written_in_korean_and_english(where, captions):
    texts = dict(captions)
    assert sorted(texts) == sorted(LANGUAGES), where
    assert all(text.strip() == text and text for text in texts.values()), where
    assert HANGUL.search(texts["ko"]) and not HANGUL.search(texts["en"]), where


def test_the_loader_knows_the_languages_the_cli_offers():
    assert sorted(NAME_LANGUAGES) == sorted(LANGUAGES)


def test_the_acts_follow_the_chapters_order_and_number_their_figures():
    assert [a.caption("en").rsplit("/", 1)[-1].rstrip(")") for a in ACTS] == TOPICS
    for number, act in enumerate(ACTS, start=1):
        assert act.caption("en").startswith(f"Figure {number}: ") and act.caption("ko").startswith(f"그림 {number}: ")


def test_both_languages_have_the_same_words():
    assert set(WORDS["ko"]) - {"summary"} == set(WORDS["en"])  # English says run_summary's words


def predictions():
    """Each traced step's prediction, with the topology as the change steps before it leave it."""
    for act in ACTS:
        topology = act.topology
        for step in act.steps:
            if step.action in SECURITY_CHANGES:
                topology = change_permission(topology, step.action, step.argument)
            elif step.action in CONNECTION_CHANGES:
                topology = decide_connection(topology, step.action, step.argument)
            elif step.action in ("associate", "disassociate"):
                endpoint, table = step.argument.split()
                topology = associate(topology, endpoint, table, on=step.action == "associate")
            elif step.action == "trace":
                yield step, explain(topology, compile_plan(topology), step.node, step.argument, step.port or 443)


def test_every_reason_a_figure_shows_has_a_korean_sentence():
    """The `why:` line (and a denial's answer) of every stopped step reads in Korean, not English."""
    stops = [(step, p.explanation) for step, p in predictions() if p.explanation]
    assert {x.code for _, x in stops} >= {"NO_ROUTE_TO_DESTINATION", "PEERING_NOT_TRANSITIVE", "ACCESS_DENIED"}
    for step, x in stops:
        sentence = because_ko(x)
        assert sentence and HANGUL.search(sentence), f"{step.name}: {x.code} has no Korean sentence"
        assert step.expect.get("dropped_by", x.code) == x.code


def test_a_name_in_an_unknown_language_or_an_empty_one_is_a_clear_error(tmp_path):
    template = "topology: {topology}\nsteps:\n  - name: {name}\n    from: app1\n    run: 'true'\n"
    topology = DEMO_ACTS[0].parent.parent / "public-private.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(template.format(topology=topology, name="{ko: 안녕하세요, fr: bonjour}"))
    with pytest.raises(TopologyError, match=r"bad.yaml:3: unknown key 'fr' in the name of step 1.*\(UnknownParameter\)"):
        load_scenario(bad)
    bad.write_text(template.format(topology=topology, name="{ko: ' ', en: hello}"))
    with pytest.raises(TopologyError, match=r"bad.yaml:3: step 1: 'name' lists no text in ko \(MissingParameter\)"):
        load_scenario(bad)
    bad.write_text(template.format(topology=topology, name="{en: hello}"))
    step = load_scenario(bad).steps[0]
    assert (step.name, step.caption("ko"), step.caption("en")) == ("hello", "hello", "hello")


def test_step_without_a_terminal_is_refused_before_anything_is_built(capsys):
    """Under pytest standard input is not a terminal: --step would wait for an Enter that never comes."""
    assert main(["demo", "--step", "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "--step waits for Enter between figures, and standard input is not a terminal" in err
    assert "Traceback" not in err


def test_lang_takes_ko_or_en(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["demo", "--lang", "fr"])
    assert stop.value.code == 2 and "invalid choice: 'fr'" in capsys.readouterr().err


def test_a_pause_goes_on_at_enter_and_stops_at_q_with_the_lab_still_to_remove():
    """DemoRun waits after each figure but the last, before the runner removes the lab: Enter goes
    on, q raises Stopped (the runner's `with Lab` then removes the lab), and so does the input's end."""
    from io import StringIO

    from lab.cli.demo import DemoRun, Stopped
    from lab.report.demo import DemoText

    plan = compile_plan(ACTS[0].topology)
    out = StringIO()
    live = DemoRun(DemoText("ko"), "/tmp/vpclab-demo", StringIO("\nq\n"), out, acts=3)
    live.building(ACTS[0], plan)
    live.tearing_down(ACTS[0])  # Enter
    live.building(ACTS[1], plan)
    with pytest.raises(Stopped):
        live.tearing_down(ACTS[1])  # q
    assert out.getvalue().count("Enter: 다음 그림, q: 중지(이 그림의 랩을 정리하며, 캡처는 /tmp/vpclab-demo에 남습니다)") == 2
    assert "== 그림 1: " in out.getvalue() and "== 그림 2: " in out.getvalue()
    last = DemoRun(DemoText("en"), "/tmp/d", StringIO(""), StringIO(), acts=1)
    last.building(ACTS[0], plan)
    last.tearing_down(ACTS[0])  # the last figure: no pause, nothing read
    ended = DemoRun(DemoText("en"), "/tmp/d", StringIO(""), StringIO(), acts=2)
    ended.building(ACTS[0], plan)
    with pytest.raises(Stopped):
        ended.tearing_down(ACTS[0])  # Ctrl-D: the input ended
