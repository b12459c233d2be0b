"""What a running lab owns, recorded on disk so that `vpclab clean` can remove exactly that, even
after the process that built the lab was killed with SIGKILL.

One JSON file per lab in /run/vpclab/labs/<tag>.json: the node shells and processes (pid + start
time, so a reused pid is never mistaken for ours) and each node's network-namespace inode.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.realize.guard import process_start_time

STATE_DIR = Path(os.environ.get("VPCLAB_STATE_DIR", "/run/vpclab/labs"))


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

    @property
    def path(self) -> Path:
        return STATE_DIR / f"{self.tag}.json"

    def save(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> "LabState":
        data = json.loads(path.read_text())
        return cls(data["tag"], data["run_dir"], Owned(**data["owner"]),
                   {k: Owned(**v) for k, v in data["nodes"].items()}, data["netns"],
                   [Owned(**p) for p in data["processes"]], data.get("temporary", False))


def owned(pid: int, what: str) -> Owned:
    return Owned(pid, process_start_time(pid), what)


def all_states() -> list[LabState]:
    return [LabState.load(p) for p in sorted(STATE_DIR.glob("*.json"))] if STATE_DIR.is_dir() else []
