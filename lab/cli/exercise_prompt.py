"""The `vpclab>` prompt of an exercise: the lab's prompt (lab.cli.prompt) plus `goal`, `check`,
`hint [N]` and `reset`. `check` runs the exercise's conditions against this lab and its live
model (what `associate`, `accept` or `authorize-ingress` changed at this prompt); `reset` ends this
lab and asks `vpclab exercise start` for a new one, built from the exercise's starting topology."""

from __future__ import annotations

from lab.cli.prompt import LabPrompt
from lab.errors import LabError
from lab.exercises.catalog import Exercise
from lab.exercises.checks import run_check
from lab.exercises.progress import load_progress, save_progress
from lab.exercises.render import check_text, goal_text, hint_text, word


class ExercisePrompt(LabPrompt):
    def __init__(self, topology, plan, lab, exercise: Exercise, lang: str):
        super().__init__(topology, plan, lab)
        self.exercise, self.lang = exercise, lang
        self.reset_asked = False
        self.intro = f"{self.intro}\n\n{goal_text(exercise, plan, lang)}"
        progress = load_progress()
        progress.current = {"exercise": exercise.number, "lab": lab.tag, "lang": lang}
        save_progress(progress)

    def do_goal(self, arg: str) -> bool:
        """goal: the exercise's goal and steps again, with this lab's ids."""
        print(goal_text(self.exercise, self.plan, self.lang))
        return False

    def do_check(self, arg: str) -> bool:
        """check: run the exercise's check (real traffic and the live model) and say what passed."""
        try:
            result = run_check(self.exercise, self.lab, self.topology, self.plan)
        except LabError as exc:
            print(f"vpclab: {exc}")
            return False
        print(check_text(result, self.plan, self.lang))
        if result.passed:
            progress = load_progress()
            progress.pass_(self.exercise.number)
            save_progress(progress)
        return False

    def do_hint(self, arg: str) -> bool:
        """hint [N]: the next hint (or hint N) of the exercise."""
        count = len(self.exercise.hints)
        progress = load_progress()
        if arg.strip():
            if not arg.strip().isdigit() or not 1 <= int(arg) <= count:
                print(f"usage: hint [N]   (N from 1 to {count})")
                return False
            index = int(arg)
            progress.saw_hint(self.exercise.number, index)
        else:
            index = progress.next_hint(self.exercise.number, count)
        save_progress(progress)
        print(hint_text(self.exercise, index, self.plan, self.lang))
        return False

    def do_reset(self, arg: str) -> bool:
        """reset: tear this lab down and build the exercise's starting lab again."""
        print(word(self.lang, "reset", n=self.exercise.number))
        self.reset_asked = True
        return True

    def do_exit(self, arg: str) -> bool:
        """exit: tear the lab down (also Ctrl-D); the exercise's progress is kept."""
        progress = load_progress()
        progress.current = {}
        save_progress(progress)
        return super().do_exit(arg)
