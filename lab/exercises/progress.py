"""The learner's progress (exercises passed, hints seen, the exercise whose lab runs now) in one
small JSON file, so that it survives the end of a lab and a restart of `vpclab exercise`.

It lives in /var/lib/vpclab/exercises ($VPCLAB_EXERCISES_DIR for a test's sandbox, read at each
use as lab.realize.state.state_dir reads $VPCLAB_STATE_DIR), not beside the running labs' state
files in /run/vpclab/labs: /run is emptied at every boot, and a learner's progress must outlast a
reboot of the VM. An unreadable file is progress lost, never an error that stops the lab.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_DIR = "/var/lib/vpclab/exercises"


def progress_dir() -> Path:
    return Path(os.environ.get("VPCLAB_EXERCISES_DIR", DEFAULT_DIR))


def progress_file() -> Path:
    return progress_dir() / "progress.json"


@dataclass
class Progress:
    passed: list[int] = field(default_factory=list)
    hints: dict[str, int] = field(default_factory=dict)  # exercise number -> hints seen (the first N)
    current: dict = field(default_factory=dict)  # {"exercise": N, "lab": tag, "lang": ko|en} while a lab runs

    def pass_(self, number: int) -> None:
        if number not in self.passed:
            self.passed = sorted(self.passed + [number])

    def next_hint(self, number: int, count: int) -> int:
        """The hint to show next (1-based): the one after those seen, the last again once all are."""
        seen = min(self.hints.get(str(number), 0) + 1, count)
        self.hints[str(number)] = max(seen, self.hints.get(str(number), 0))
        return seen

    def saw_hint(self, number: int, hint: int) -> None:
        self.hints[str(number)] = max(hint, self.hints.get(str(number), 0))


def load_progress() -> Progress:
    try:
        data = json.loads(progress_file().read_text())
        return Progress(
            [int(n) for n in data.get("passed", [])],
            {str(k): int(v) for k, v in data.get("hints", {}).items()},
            dict(data.get("current") or {}),
        )
    except (OSError, ValueError, TypeError, AttributeError):
        return Progress()


def save_progress(progress: Progress) -> bool:
    """Write it (atomically); False when the directory is not writable (a learner not root)."""
    try:
        progress_dir().mkdir(parents=True, exist_ok=True)
        tmp = progress_file().with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(progress), indent=1))
        tmp.replace(progress_file())
        return True
    except OSError:
        return False
