"""`vpclab run` and `vpclab demo` talk as they go (lab.cli.live over lab.report.text): each step as
it finishes in the words the run has always used, a progress line only on a terminal, a summary
across files, colour only on a terminal without NO_COLOR (https://no-color.org)."""

from __future__ import annotations

import io
import time

import pytest

from lab.cli.live import ERASE, LiveRun, palette_for
from lab.report.demo import DemoText
from lab.report.style import COLOUR, PLAIN
from lab.report.text import run_summary, scenario_end, scenario_heading, step_text
from run_results import FAILURE, scenario_result

ESC = "\x1b["


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_step_reads_as_before_with_its_time():
    result = scenario_result(failed_step=2)
    passed, failed = step_text(result.steps[1]), step_text(result.steps[2])
    assert passed.startswith(f"  PASS  {result.steps[1].step.name}  (from app1, line 15, 1.5 s)\n")
    assert "        path: app1 -> app-router -> app-nat-a [10.0.2.4 -> 10.0.1.254] -> app-router" in passed
    assert failed.splitlines()[0].startswith("  FAIL  the isolated instance has no route out")
    assert failed.splitlines()[1:] == ["        path: db1 -> app-router  [timeout]", f"        - {FAILURE}"]
    assert step_text(result.steps[3]).splitlines() == [f"  PASS  {result.steps[3].step.name}  (from db1, line 31, 3.5 s)"]


def test_a_scenario_ends_with_its_verdict_and_the_run_with_a_summary_across_files():
    failed, passed = scenario_result(failed_step=2, seconds=4.25), scenario_result(seconds=3.0)
    assert scenario_heading(failed.scenario) == f"scenario public, private and isolated subnets ({failed.scenario.file})"
    assert scenario_end(failed).splitlines() == [
        "scenario public, private and isolated subnets: FAILED (6 steps, 1 failed, 4.2 s)"
    ]
    assert scenario_end(passed).startswith("scenario public, private and isolated subnets: passed (6 steps, 3.0 s)")
    assert run_summary([failed, passed]) == "2 scenarios: 1 passed, 1 failed; 12 steps: 11 passed, 1 failed; 7.2 s"
    assert run_summary([passed]) == "1 scenario: 1 passed, 0 failed; 6 steps: 6 passed, 0 failed; 3.0 s"


def test_colour_changes_no_word():
    result = scenario_result(failed_step=2)
    coloured = "\n".join(step_text(s, COLOUR) for s in result.steps) + run_summary([result], COLOUR)
    plain = "\n".join(step_text(s, PLAIN) for s in result.steps) + run_summary([result], PLAIN)
    assert ESC not in plain
    assert f"{ESC}32mPASS" in coloured and f"{ESC}1;31mFAIL" in coloured
    assert strip_colour(coloured) == plain


def strip_colour(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.mark.parametrize(
    "stream, environ, colour",
    [
        (Terminal(), {}, True),
        (Terminal(), {"NO_COLOR": "1"}, False),
        (Terminal(), {"NO_COLOR": ""}, True),  # no-color.org: set *and not empty*
        (io.StringIO(), {}, False),  # piped
    ],
)
def test_colour_only_on_a_terminal_without_no_color(stream, environ, colour):
    assert palette_for(stream, environ) == (COLOUR if colour else PLAIN)


def steps_told(stream, progress: bool, result, show_after: float = 1.0, pause: float = 0.0) -> str:
    """What a LiveRun prints for `result`'s events as the runner tells them, each step taking `pause`."""
    with LiveRun(stream, lambda s, _: scenario_heading(s), step_text, progress, show_after=show_after) as live:
        live.building(result.scenario, result.plan)
        for step in result.steps:
            live.step_started(step.step)
            time.sleep(pause)
            live.step_finished(step)
        live.tearing_down(result.scenario)
    return stream.getvalue()


def test_piped_output_is_each_step_as_it_finishes_and_no_progress():
    result = scenario_result(failed_step=2)
    out = steps_told(io.StringIO(), False, result, show_after=0.0, pause=0.3)
    assert out == "\n".join([scenario_heading(result.scenario)] + [step_text(s) for s in result.steps]) + "\n"


def test_on_a_terminal_a_slow_step_shows_progress_which_its_result_then_erases():
    result = scenario_result()
    result.steps[:] = result.steps[:1]
    out = steps_told(Terminal(), True, result, show_after=0.1, pause=0.6)
    name = result.steps[0].step.name
    progress = out.index(f"  ... {name[:20]}")
    assert out.index(ERASE, progress) < out.index("  PASS  ")  # erased before the step's own line
    assert "  ... building the lab" not in out  # building took no time here: shown only past show_after


def test_the_demo_shows_each_step_in_its_own_words():
    result = scenario_result()
    text = DemoText("en")
    text.learn(result.plan)
    assert text.heading(result.scenario) == "== public, private and isolated subnets\n"
    nat = text.step(result.steps[1])
    assert "HTTP 200 from S3, which saw the request come from 13.124.153.222 (nat-a's Elastic IP) via the internet" in nat
    assert "predicted by AWS's rules (vpclab explain): agrees" in nat
    assert text.step(result.steps[4]) == f"   >> {result.steps[4].step.name}\n"  # a command: its caption


def test_the_demo_speaks_korean_and_keeps_what_a_machine_made():
    """Captions fall back to the one name when a step has no Korean one; ids, addresses and codes stay."""
    result = scenario_result()
    text = DemoText("ko")
    text.learn(result.plan)
    nat, isolated = text.step(result.steps[1]), text.step(result.steps[2])
    assert "HTTP 200, S3의 응답입니다. S3에서 본 출발지는 13.124.153.222 (nat-a의 탄력적 IP), 들어온 곳은 인터넷입니다" in nat
    assert "AWS 규칙에 따른 예측(vpclab explain): 일치합니다" in nat
    assert "시간 초과(timeout): " in isolated and "원인: 라우팅 테이블 rtb-" in isolated
