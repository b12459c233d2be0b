"""`vpclab clean`: remove labs whose vpclab process is gone (killed, crashed), from their state
files alone: their processes by pid and start time, then anything else inside their namespaces.
Nothing is found by name, so nothing that is not a lab's can be touched."""
from __future__ import annotations

import logging

from lab.realize import processes
from lab.realize.state import LabState, all_states

log = logging.getLogger(__name__)


def remove(state: LabState) -> None:
    shells = list(state.nodes.values())
    processes.stop(state.processes, timeout=2.0)
    processes.kill_namespace_members(state.netns.values(), shells)
    processes.stop(shells, timeout=2.0)
    state.remove()


def clean(include_running: bool = False) -> list[LabState]:
    """Remove leftover labs (and, with include_running, live ones too); return what was removed."""
    removed = []
    for state in all_states():
        if state.owner.alive() and not include_running:
            log.info("lab %s is still run by pid %d; leaving it", state.tag, state.owner.pid)
            continue
        remove(state)
        removed.append(state)
    return removed
