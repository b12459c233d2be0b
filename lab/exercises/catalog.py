"""The guided exercises (lab/data/exercises/NN-*.yaml): data, loaded and checked here, so that a
teacher edits words and steps without touching code.

Each file holds one exercise in both languages (`ko`, the book's, and `en`): title, goal, the steps
the learner types, hints and what the check proved; the topology it starts from (under lab/data);
and the check, a list of conditions on packets and on the live model (lab.exercises.checks).
Text may name the lab's AWS ids as `{vpc:VPC}`, `{rtb:VPC/TABLE}`, `{vpce:VPC/ENDPOINT}`,
`{sg:VPC/GROUP}`, `{svc:VPC/SERVICE}` (an endpoint service's id), `{svcname:VPC/SERVICE}`,
`{ip:NODE}` and `{region}`: `fill` takes each from the plan's look-ups, never building one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from lab.errors import Problem, TopologyError
from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.types import Plan

DATA = Path(__file__).resolve().parents[1] / "data"
EXERCISES = DATA / "exercises"
LANGUAGES = ("ko", "en")
CHECK_KINDS = ("trace", "seen", "model")
TEMPLATE = re.compile(r"\{(vpc|rtb|vpce|sg|svc|svcname|ip|region)(?::([^}]+))?\}")

Text = dict[str, str]  # language -> words
CODE = "InvalidParameterValue"


def problem(path: Path, message: str) -> Problem:
    """A finding about an exercise file, in the form topology problems take (line 0: the file)."""
    return Problem(str(path), 0, message, CODE)


@dataclass(frozen=True)
class Step:
    say: Text
    prompt: str  # what the learner types at vpclab> today
    aws: str | None  # the console-equivalent AWS CLI line (answered by the lab's EC2 front)


@dataclass(frozen=True)
class Condition:
    """One thing the check proves: `kind` trace (real traffic sent by the check), seen (the
    learner's own traffic, from the captures) or model (the live topology)."""

    kind: str
    spec: dict
    hint: int  # 1-based: the hint that helps when it fails
    passed: Text
    failed: Text


@dataclass(frozen=True)
class Exercise:
    number: int
    file: Path
    topology: Path
    title: Text
    goal: Text
    steps: tuple[Step, ...]
    hints: tuple[Text, ...]
    proved: Text
    check: tuple[Condition, ...]


def exercise_files(directory: Path = EXERCISES) -> list[Path]:
    return sorted(directory.glob("[0-9][0-9]-*.yaml"))


def load_all(directory: Path = EXERCISES) -> list[Exercise]:
    """Every exercise, numbered 1, 2, ... in file order; every problem of every file at once."""
    exercises, problems = [], []
    for path in exercise_files(directory):
        try:
            exercises.append(load_exercise(path))
        except TopologyError as exc:
            problems += exc.problems
    numbers = [e.number for e in exercises]
    if not problems and numbers != list(range(1, len(numbers) + 1)):
        problems.append(problem(directory, f"exercises are numbered {numbers}; they must be 1, 2, ... in file order"))
    if problems:
        raise TopologyError(problems)
    return exercises


def find(number: int, directory: Path = EXERCISES) -> Exercise:
    exercises = load_all(directory)
    if not 1 <= number <= len(exercises):
        raise TopologyError([problem(directory, f"no exercise {number}: there are {len(exercises)} (vpclab exercise list)")])
    return exercises[number - 1]


def load_exercise(path: Path) -> Exercise:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TopologyError([problem(path, f"cannot read it as YAML: {exc}")]) from None
    reader = Reader(path)
    if not isinstance(data, dict):
        raise TopologyError(
            [problem(path, "an exercise is a mapping (number, topology, title, goal, steps, hints, check, proved)")]
        )
    hints = tuple(reader.text(h, f"hints[{i}]") for i, h in enumerate(data.get("hints") or []))
    exercise = Exercise(
        number=data.get("number", 0),
        file=path,
        topology=(path.parent / str(data.get("topology", ""))).resolve(),
        title=reader.text(data.get("title"), "title"),
        goal=reader.text(data.get("goal"), "goal"),
        steps=tuple(reader.step(s, i) for i, s in enumerate(data.get("steps") or [])),
        hints=hints,
        proved=reader.text(data.get("proved"), "proved"),
        check=tuple(reader.condition(c, i, len(hints)) for i, c in enumerate(data.get("check") or [])),
    )
    if not isinstance(exercise.number, int) or exercise.number < 1:
        reader.add("number: a whole number from 1")
    if not exercise.topology.is_file():
        reader.add(f"topology: no file {exercise.topology}")
    for key in ("steps", "hints", "check"):
        if not data.get(key):
            reader.add(f"{key}: at least one is needed")
    if reader.problems:
        raise TopologyError(reader.problems)
    return exercise


class Reader:
    """Collects every problem of one file (`file: where: what`) instead of stopping at the first."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[Problem] = []

    def add(self, message: str) -> None:
        self.problems.append(problem(self.path, message))

    def text(self, value, where: str) -> Text:
        if not isinstance(value, dict):
            self.add(f"{where}: give the text in both languages, as {{ko: ..., en: ...}}")
            return {}
        for lang in LANGUAGES:
            if not isinstance(value.get(lang), str) or not value[lang].strip():
                self.add(f"{where}: the '{lang}' text is missing")
        extra = set(value) - set(LANGUAGES)
        if extra:
            self.add(f"{where}: unknown language {sorted(extra)} (ko and en)")
        return {lang: str(value.get(lang, "")).strip() for lang in LANGUAGES}

    def step(self, value, index: int) -> Step:
        where = f"steps[{index}]"
        if not isinstance(value, dict) or not isinstance(value.get("prompt"), str):
            self.add(f"{where}: a step has `say` ({{ko, en}}), `prompt` (the line to type) and optionally `aws`")
            return Step({}, "", None)
        return Step(self.text(value.get("say"), f"{where}.say"), value["prompt"], value.get("aws"))

    def condition(self, value, index: int, hints: int) -> Condition:
        where = f"check[{index}]"
        kind = next((k for k in CHECK_KINDS if isinstance(value, dict) and k in value), None)
        if kind is None:
            self.add(f"{where}: a condition is one of {', '.join(CHECK_KINDS)}")
            return Condition("model", {}, 1, {}, {})
        hint = value.get("hint", 1)
        if not isinstance(hint, int) or not 1 <= hint <= max(hints, 1):
            self.add(f"{where}: hint {hint!r}: the number of one of the {hints} hints")
        return Condition(
            kind,
            value[kind],
            hint,
            self.text(value.get("passed"), f"{where}.passed"),
            self.text(value.get("failed"), f"{where}.failed"),
        )


def texts(exercise: Exercise) -> list[str]:
    """Every piece of text and every command line of an exercise (for `fill` and its test)."""
    found = [exercise.title, exercise.goal, exercise.proved, *exercise.hints]
    found += [c.passed for c in exercise.check] + [c.failed for c in exercise.check]
    words = [t[lang] for t in found for lang in LANGUAGES if lang in t]
    return (
        words
        + [s.say[lang] for s in exercise.steps for lang in s.say]
        + [s.prompt for s in exercise.steps]
        + [s.aws for s in exercise.steps if s.aws]
    )


def starting_topology(exercise: Exercise):
    return load_topology(str(exercise.topology))


def fill(text: str, plan: Plan) -> str:
    """`text` with each `{kind:NAME}` replaced by the lab's id from the plan (module docstring);
    KeyError names a template the plan does not know."""
    return TEMPLATE.sub(lambda m: lookup(plan, m.group(1), m.group(2) or ""), text)


def lookup(plan: Plan, kind: str, name: str) -> str:
    vpc, _, item = name.partition("/")
    try:
        if kind == "region":
            return plan.region
        if kind == "vpc":
            plan.router(vpc)  # the VPC must be the lab's
            return plan.vpc_id(vpc)
        if kind == "rtb":
            return plan.route_table(vpc, item).aws_id
        if kind == "vpce":
            return plan.vpce_id(vpc, item)
        if kind == "sg":
            gid = names.security_group_id(vpc, item)
            if not any(gid in s.groups for s in plan.security.values()):
                raise KeyError(name)
            return gid
        if kind in ("svc", "svcname"):
            service = plan.endpoint_service(vpc, item)
            return service.service_id if kind == "svc" else service.service_name
        return str(plan.eni_address(name))
    except (KeyError, StopIteration):
        raise KeyError(f"{{{kind}:{name}}}: the lab has no such thing") from None
