"""`vpclab exercise list|start N|check|hint [N]|reset` (lab/data/exercises): the chapter's guided
exercises, in Korean unless the learner asks for English (lab.cli.language).

`start N` (root) builds the exercise's starting lab and opens its prompt (lab.cli.exercise_prompt)
with the goal shown; `reset` there rebuilds it. `hint` works from any terminal (it reads the
running exercise from the progress file); `check` needs the lab's own packets and live model,
which the lab's prompt holds, so from another terminal it says where to type it.
"""

from __future__ import annotations

import argparse
import sys

from lab.cli.common import planned
from lab.cli.language import LANGUAGES, choose_language
from lab.errors import BadArgument


def add_exercise(verbs) -> None:
    p = verbs.add_parser("exercise", help="the chapter's guided exercises, Korean or English (start: root)")
    p.add_argument("action", choices=("list", "start", "check", "hint", "reset"), metavar="list|start|check|hint|reset")
    p.add_argument("number", nargs="?", type=int, metavar="N", help="start: the exercise; hint: the hint")
    p.add_argument("--lang", choices=LANGUAGES, help="ko (the default, the book's) or en; otherwise the locale decides")
    p.set_defaults(run=run_exercise)


def run_exercise(args: argparse.Namespace) -> int:
    from lab.exercises.catalog import load_all
    from lab.exercises.progress import load_progress, save_progress
    from lab.exercises.render import hint_text, listing, word

    lang = choose_language(args.lang)
    exercises = load_all()
    progress = load_progress()
    if args.action == "list":
        print(listing(exercises, progress, lang))
        return 0
    if args.action == "start":
        if args.number is None or not 1 <= args.number <= len(exercises):
            raise BadArgument(f"vpclab exercise start N: N is an exercise from 1 to {len(exercises)} (vpclab exercise list)")
        return start(exercises[args.number - 1], lang, args.prompt)
    current = progress.current.get("exercise")
    if not current or current > len(exercises):
        print(word(lang, "none_running"))
        return 0
    exercise = exercises[current - 1]
    if args.action == "hint":
        count = len(exercise.hints)
        if args.number is not None and not 1 <= args.number <= count:
            raise BadArgument(f"vpclab exercise hint N: N is a hint from 1 to {count}")
        index = args.number or progress.next_hint(current, count)
        progress.saw_hint(current, index)
        save_progress(progress)
        plan = planned(str(exercise.topology))[1]  # ids derive from names: live changes keep them
        print(hint_text(exercise, index, plan, lang))
        return 0
    tag = progress.current.get("lab", "?")
    print(word(lang, "elsewhere" if lab_running(tag) else "none_running", n=current, lab=tag))  # check, reset: at the prompt
    return 0


def lab_running(tag: str) -> bool:
    """Whether the lab the progress file names still runs (a vpclab killed with SIGKILL leaves the
    file naming it); when the labs' state directory cannot be read, it is taken as running."""
    from lab.realize.state import scan

    try:
        return any(s.tag == tag and s.owner.alive() for s in scan()[0])
    except PermissionError:
        return True


def start(exercise, lang: str, prompt: type | None) -> int:
    """Build the starting lab, open the exercise prompt; again after each `reset`. `prompt`: main's
    (a test's class taking the same arguments as ExercisePrompt), None for the interactive one."""
    from lab.cli.lab_commands import farewell, running_lab
    from lab.exercises.render import word

    if prompt is None:
        from lab.cli.exercise_prompt import ExercisePrompt

        prompt = ExercisePrompt
    while True:
        print(word(lang, "start", n=exercise.number), flush=True)
        topology, plan = planned(str(exercise.topology))
        shown = None
        try:
            with running_lab(plan, None) as lab:
                shown = lab.run_dir
                session = prompt(topology, plan, lab, exercise, lang)
                session.cmdloop()
        finally:
            if shown is not None:
                print(farewell(str(shown), None), file=sys.stderr)
        if not getattr(session, "reset_asked", False):
            return 0


VERBS = [add_exercise]
