"""An exercise and its check in the learner's language (Korean, the book's, or English): the
exercise files hold the exercise's own words; the few words around them are here, in both."""

from __future__ import annotations

from lab.exercises.catalog import Exercise, fill
from lab.exercises.checks import CheckResult
from lab.exercises.progress import Progress

WORDS = {
    "ko": {
        "exercise": "실습 {n}. {title}",
        "goal": "목표",
        "steps": "따라 하기",
        "or": "또는 프롬프트에서",
        "aws": "AWS CLI (콘솔에서 하는 것과 같은 작업)",
        "pass": "통과",
        "fail": "미통과",
        "passed": "실습 {n} 완료: 모든 확인 항목을 통과했습니다.",
        "failed": "아직 통과하지 못했습니다. 통과하지 못한 항목의 힌트를 보려면 hint {hint} 명령을 입력하십시오.",
        "proved": "확인한 내용",
        "hint": "힌트 {i}/{count}",
        "list": "{mark} {n:>2}. {title}",
        "done": "완료",
        "todo": "    ",
        "tools": (
            "프롬프트 명령: check (확인), hint [N] (힌트), goal (목표와 따라 하기 다시 보기), "
            "reset (처음 상태의 랩으로 다시 시작), exit (종료)"
        ),
        "elsewhere": (
            "실습 {n}의 랩({lab})이 실행 중입니다. check와 reset은 그 랩의 vpclab> 프롬프트에서 "
            "입력하십시오. 확인에는 그 랩 안의 실제 패킷과 현재 상태가 필요하기 때문입니다."
        ),
        "none_running": "실행 중인 실습이 없습니다. vpclab exercise start N 명령으로 시작하십시오.",
        "reset": "실습 {n}의 랩을 처음 상태로 다시 만듭니다.",
        "start": "실습 {n}의 랩을 만드는 중입니다...",
    },
    "en": {
        "exercise": "Exercise {n}. {title}",
        "goal": "Goal",
        "steps": "Steps",
        "or": "or at the prompt",
        "aws": "AWS CLI (what the console does)",
        "pass": "PASS",
        "fail": "FAIL",
        "passed": "Exercise {n} passed.",
        "failed": "Not passed yet. For the hint that helps, type: hint {hint}",
        "proved": "What the check proved",
        "hint": "Hint {i}/{count}",
        "list": "{mark} {n:>2}. {title}",
        "done": "done",
        "todo": "    ",
        "tools": "At the prompt: check, hint [N], goal (the goal and steps again), reset (back to the starting lab), exit",
        "elsewhere": (
            "Exercise {n}'s lab ({lab}) is running. Type check and reset at that lab's vpclab> prompt "
            "(a check needs the lab's real packets and live model)."
        ),
        "none_running": "No exercise is running: start one with vpclab exercise start N.",
        "reset": "Rebuilding exercise {n}'s lab as it started.",
        "start": "Building exercise {n}'s lab...",
    },
}


def word(lang: str, key: str, **values) -> str:
    return WORDS[lang][key].format(**values)


def listing(exercises: list[Exercise], progress: Progress, lang: str) -> str:
    lines = []
    for e in exercises:
        mark = word(lang, "done") if e.number in progress.passed else word(lang, "todo")
        lines.append(word(lang, "list", mark=mark, n=e.number, title=e.title[lang]))
    return "\n".join(lines)


def goal_text(exercise: Exercise, plan, lang: str) -> str:
    """Title, goal and the steps with the lab's real ids (from the plan) in them."""
    lines = [
        word(lang, "exercise", n=exercise.number, title=exercise.title[lang]),
        "",
        f"{word(lang, 'goal')}: {fill(exercise.goal[lang], plan)}",
        "",
    ]
    lines.append(f"{word(lang, 'steps')}:")
    for i, step in enumerate(exercise.steps, 1):
        lines.append(f"  {i}. {fill(step.say[lang], plan)}")
        if step.aws:
            lines.append(f"     {word(lang, 'aws')}:")
            lines.append(f"       {fill(step.aws, plan)}")
            lines.append(f"     {word(lang, 'or')}:")
        lines.append(f"       {fill(step.prompt, plan)}")
    lines += ["", word(lang, "tools")]
    return "\n".join(lines)


def hint_text(exercise: Exercise, index: int, plan, lang: str) -> str:
    body = exercise.hints[index - 1][lang]
    return f"{word(lang, 'hint', i=index, count=len(exercise.hints))}: {fill(body, plan) if plan else body}"


def check_text(result: CheckResult, plan, lang: str) -> str:
    """Each condition, passed or not, in the learner's words, with the evidence from the lab; then
    the verdict, and the hint for the first condition that failed."""
    lines = []
    for v in result.verdicts:
        mark = word(lang, "pass" if v.passed else "fail")
        said = (v.condition.passed if v.passed else v.condition.failed)[lang]
        lines.append(f"[{mark}] {fill(said, plan)}")
        lines.append(f"       ({v.evidence})")
    exercise = result.exercise
    if result.passed:
        lines += ["", word(lang, "passed", n=exercise.number), f"{word(lang, 'proved')}: {fill(exercise.proved[lang], plan)}"]
    else:
        first = next(v for v in result.verdicts if not v.passed)
        lines += ["", word(lang, "failed", hint=first.condition.hint)]
    return "\n".join(lines)
