"""`vpclab clean`: remove labs whose vpclab process is gone (killed, crashed), from their state
files alone: their processes by pid and start time, anything else inside their namespaces or below
their processes, then everything left in their cgroups. Nothing is found by name, so nothing that
is not a lab's can be touched. A state file that cannot be read is skipped and reported; the
other labs are still cleaned."""

from __future__ import annotations

import logging
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import LabError
from lab.realize import cgroup, processes
from lab.realize.state import LabState, Skipped, scan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cleaned:
    removed: list[LabState] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # state files that could not be read


def remove(state: LabState) -> None:
    """Strays first (anything in the lab's namespaces or below its processes that the state does
    not name), while the lab's own processes still prove those namespaces and that descent are the
    lab's; then the owned processes, gently, by pid; the node shells; last, whatever is still in
    the lab's cgroup (a process that left the namespaces and was re-parented)."""
    shells = list(state.nodes.values())
    anchors = shells + state.processes
    processes.kill_strays(processes.strays(anchors, state.netns.values()), anchors)
    processes.stop(state.processes, timeout=2.0)
    processes.stop(shells, timeout=0.0)  # bash -i ignores SIGTERM; a shell has nothing to save
    if state.cgroup is not None:
        cgroup.kill(Path(state.cgroup), state.tag)
    if state.temporary:
        remove_run_dir(Path(state.run_dir))
    state.remove()


def remove_run_dir(run_dir: Path) -> None:
    """vpclab's own temporary run directory: only if it is a directory vpclab's user owns (its path
    is recorded before it is made; in /tmp, someone else could have taken the name since)."""
    try:
        info = os.lstat(run_dir)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        log.warning("left %s: not a directory of user %d", run_dir, os.geteuid())


def clean(include_running: bool = False) -> Cleaned:
    """Remove leftover labs (and, with include_running, live ones too); say what was removed and
    which state files were skipped."""
    states, skipped = scan()
    removed = []
    for state in states:
        if state.owner.alive() and not include_running:
            log.info("lab %s is still run by pid %d; leaving it", state.tag, state.owner.pid)
            continue
        try:
            remove(state)
        except LabError as exc:  # e.g. a cgroup path that is not the lab's: this lab only
            skipped.append(Skipped(state.path, str(exc)))
            continue
        removed.append(state)
    return Cleaned(removed, skipped)
