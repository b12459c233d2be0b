"""Runs that talk as they go: the RunObserver `vpclab run` and `vpclab demo` hand the scenario
runner. Each step is printed when it finishes (rendered by lab.report.text); on a terminal, a
progress line says what is taking time (building the lab, a step still running, the teardown)
once it has taken a second, and is erased before the next real line. Colour only on a terminal
and never with NO_COLOR set to anything but empty (https://no-color.org); piped output is plain
text in the same words, with no progress line."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from lab.plan.types import Plan
from lab.report.style import COLOUR, PLAIN, Palette
from lab.scenario.loader import Scenario, Step
from lab.scenario.runner import RunObserver, StepResult

SHOW_AFTER = 1.0  # seconds an activity runs before the progress line shows it
TICK = 0.25  # how often the progress line is redrawn
ERASE = "\r\x1b[K"  # back to column 0, clear to the end of the line


def palette_for(stream: TextIO, environ: Mapping[str, str] = os.environ) -> Palette:
    """Colour on a terminal, unless NO_COLOR is set and not empty (no-color.org)."""
    return COLOUR if is_terminal(stream) and not environ.get("NO_COLOR") else PLAIN


def is_terminal(stream: TextIO) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


class LiveRun(RunObserver):
    """Prints each event's text as it happens. `heading(scenario, plan)` and `step(result)` render
    (the run's or the demo's words); the progress line only appears when `progress` is true."""

    def __init__(
        self,
        stream: TextIO,
        heading: Callable[[Scenario, Plan], str],
        step: Callable[[StepResult], str],
        progress: bool,
        paint: Palette = PLAIN,
        show_after: float = SHOW_AFTER,
    ):
        self.stream, self.heading, self.step, self.progress, self.paint = stream, heading, step, progress, paint
        self.show_after = show_after
        self.lock = threading.Lock()
        self.activity: tuple[str, float] | None = None  # what is running, since when (monotonic)
        self.shown = False  # a progress line is on the screen
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self.tick, name="vpclab-progress", daemon=True)

    def __enter__(self) -> LiveRun:
        if self.progress:
            self.ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.ticker.is_alive():
            self.ticker.join()
        self.write(None)

    # -- RunObserver -------------------------------------------------------------------------------
    def building(self, scenario: Scenario, plan: Plan) -> None:
        self.write(self.heading(scenario, plan), f"building the lab of {scenario.name}")

    def step_started(self, step: Step) -> None:
        self.write(None, f"{step.name}")

    def step_finished(self, result: StepResult) -> None:
        self.write(self.step(result))

    def tearing_down(self, scenario: Scenario) -> None:
        self.write(None, "removing the lab")

    # -- output ------------------------------------------------------------------------------------
    def write(self, text: str | None, activity: str | None = None) -> None:
        """Erase the progress line, print `text` (if any), and make `activity` the one in progress."""
        with self.lock:
            self.erase()
            if text is not None:
                print(text, file=self.stream, flush=True)
            self.activity = (activity, time.monotonic()) if activity else None

    def erase(self) -> None:
        if self.shown:
            self.stream.write(ERASE)
            self.shown = False

    def tick(self) -> None:
        """The progress line's thread: redraw what is running, with how long it has run so far."""
        while not self.stop.wait(TICK):
            with self.lock:
                if self.activity and (elapsed := time.monotonic() - self.activity[1]) >= self.show_after:
                    line = f"  ... {self.activity[0]} ({elapsed:.0f} s)"[: shutil.get_terminal_size().columns - 1]
                    self.stream.write(ERASE + self.paint.quiet(line))  # one screen line, or ERASE misses its start
                    self.stream.flush()
                    self.shown = True
