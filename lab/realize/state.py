"""What a running lab owns, recorded on disk so that `vpclab clean` can remove exactly that, even
after the process that built the lab was killed with SIGKILL.

One JSON file per lab in /run/vpclab/labs/<tag>.json: its run directory and its cgroup (both
recorded before either exists, so a SIGKILL at any moment leaves nothing the file does not name),
the node shells and processes (pid + start time, so a reused pid is never mistaken for ours) and
each node's network-namespace inode.

A file that cannot be read as a lab's state (cut short, edited, not a regular file) is reported
by `scan` and left alone: one bad file must not stop `vpclab clean` for every other lab.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from lab.realize.guard import process_start_time

DEFAULT_STATE_DIR = "/run/vpclab/labs"


def state_dir() -> Path:
    """Where running labs are recorded: $VPCLAB_STATE_DIR (a test's sandbox) or /run/vpclab/labs,
    read at each use so that a caller sets it without patching this module."""
    return Path(os.environ.get("VPCLAB_STATE_DIR", DEFAULT_STATE_DIR))


MAX_STATE_BYTES = 16 << 20  # a 1,000-node lab's file is well under 1 MB


@dataclass
class Owned:
    pid: int
    start: int | None
    what: str

    def alive(self) -> bool:
        return self.start is not None and process_start_time(self.pid) == self.start


@dataclass
class LabState:
    tag: str
    run_dir: str
    owner: Owned = field(default_factory=lambda: owned(os.getpid(), "vpclab"))
    nodes: dict[str, Owned] = field(default_factory=dict)  # node name -> its shell
    netns: dict[str, int] = field(default_factory=dict)  # node name -> network namespace inode
    processes: list[Owned] = field(default_factory=list)  # services, captures, probes
    temporary: bool = False  # the run directory is vpclab's own temporary one: remove it too
    cgroup: str | None = None  # the lab's cgroup (lab.realize.cgroup); None: none could be made

    @property
    def path(self) -> Path:
        return state_dir() / f"{self.tag}.json"

    def save(self) -> None:
        state_dir().mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        # vars, not asdict: asdict deep-copies every record, and a 700-node lab saves its state
        # hundreds of times while it starts
        tmp.write_text(json.dumps(self, default=vars))
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> LabState:
        """The state in `path`; UnreadableState when it is not one (with what is wrong with it)."""
        data = json.loads(read_regular(path))
        try:
            return cls(
                text(data["tag"]),
                text(data["run_dir"]),
                owned_from(data["owner"]),
                {text(k): owned_from(v) for k, v in data["nodes"].items()},
                {text(k): number(v) for k, v in data["netns"].items()},
                [owned_from(p) for p in data["processes"]],
                data.get("temporary") is True,
                None if data.get("cgroup") is None else text(data["cgroup"]),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise UnreadableState(f"not a vpclab lab state ({type(exc).__name__}: {exc})") from None


class UnreadableState(ValueError):
    """A state file that cannot be used: `vpclab clean` skips it and says why."""


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def read_regular(path: Path) -> str:
    """The file's text, if it is a regular file of sane size: a FIFO would block, /dev/zero never end."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnreadableState("not a regular file")
        data = f.read(MAX_STATE_BYTES + 1)
    if len(data) > MAX_STATE_BYTES:
        raise UnreadableState(f"larger than {MAX_STATE_BYTES >> 20} MB")
    return data.decode()


def text(value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value


def number(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not an integer")
    return value


def owned_from(data: dict) -> Owned:
    start = data["start"]
    return Owned(number(data["pid"]), None if start is None else number(start), text(data["what"]))


def owned(pid: int, what: str) -> Owned:
    return Owned(pid, process_start_time(pid), what)


def scan() -> tuple[list[LabState], list[Skipped]]:
    """Every lab recorded in the state directory, and every file there that could not be read as one."""
    states, skipped = [], []
    for path in sorted(state_dir().glob("*.json")) if state_dir().is_dir() else []:
        try:
            states.append(LabState.load(path))
        except (OSError, ValueError, RecursionError) as exc:  # JSON, UTF-8, UnreadableState: ValueErrors
            skipped.append(Skipped(path, getattr(exc, "strerror", None) or str(exc) or type(exc).__name__))
    return states, skipped


def all_states() -> list[LabState]:
    """Every lab that can be read from the state directory (`scan` also says which files could not)."""
    return scan()[0]
