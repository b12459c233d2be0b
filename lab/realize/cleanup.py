"""`vpclab clean`: remove labs whose vpclab process is gone (killed, crashed), from their state
files alone: their processes by pid and start time, then anything else inside their namespaces.
Nothing is found by name, so nothing that is not a lab's can be touched."""
from __future__ import annotations

import logging
import shutil

from lab.realize import processes
from lab.realize.state import LabState, all_states

log = logging.getLogger(__name__)


def remove(state: LabState) -> None:
    """Strays first (anything in the lab's namespaces that the state does not name), while the lab's
    own processes still prove those namespaces are the lab's; then the owned processes, gently, by
    pid; the node shells last."""
    shells = list(state.nodes.values())
    anchors = shells + state.processes
    processes.kill_namespace_members(processes.live_namespaces(anchors, state.netns.values()), anchors)
    processes.stop(state.processes, timeout=2.0)
    processes.stop(shells, timeout=0.0)  # bash -i ignores SIGTERM; a shell has nothing to save
    if state.temporary:
        shutil.rmtree(state.run_dir, ignore_errors=True)
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
