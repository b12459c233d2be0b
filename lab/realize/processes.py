"""Finding and stopping exactly the processes a lab owns: by recorded pid and start time, by
membership of one of the lab's network namespaces, and by descent from one of the lab's processes.
Never by name (no pkill, no killall). The lab's cgroup (lab.realize.cgroup), where there is one,
also catches what left both the namespaces and the process tree."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable

from lab.realize.state import Owned


def pids_in_namespaces(inodes: Iterable[int]) -> list[int]:
    """Every process whose network namespace is one of `inodes` (a lab's nodes)."""
    wanted, found = set(inodes), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino in wanted:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def signal_owned(processes: Iterable[Owned], sig: int) -> None:
    for proc in processes:
        if proc.alive():
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass


def wait_gone(processes: list[Owned], timeout: float) -> list[Owned]:
    """Wait until none of `processes` is alive; return those still alive at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in processes if p.alive()]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.02)


def stop(processes: list[Owned], timeout: float = 3.0) -> None:
    """SIGTERM, then SIGKILL whatever is still there after `timeout`."""
    signal_owned(processes, signal.SIGTERM)
    signal_owned(wait_gone(processes, timeout), signal.SIGKILL)
    wait_gone(processes, 1.0)


def live_namespaces(anchors: Iterable[Owned], inodes: Iterable[int]) -> set[int]:
    """Those of `inodes` that one of the lab's own processes (pid and start time checked after the
    look) is in right now. Only these are surely still the lab's namespaces: an inode number
    is reused once its namespace is gone. Any owned process will do, not only the node shells: they
    exit when the pty of a killed vpclab hangs up, while its captures and services live on."""
    wanted, found = set(inodes) - {os.stat("/proc/self/ns/net").st_ino}, set()  # never our own
    for proc in anchors:
        try:
            inode = os.stat(f"/proc/{proc.pid}/ns/net").st_ino
        except OSError:
            continue
        if inode in wanted and proc.alive():
            found.add(inode)
    return found


def parents() -> dict[int, int]:
    """pid -> parent pid of every process now (field 4 of /proc/PID/stat)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    found[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return found


def descendants(ancestors: Iterable[Owned]) -> set[int]:
    """Every process below one of the live `ancestors` in the process tree: what a node's shell or a
    service started, even after it left the node's namespaces (while it was not re-parented). The
    tree is read first and each ancestor proven (pid and start time) after: a dead parent's
    children are re-parented at its exit, before its pid can be reused."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents().items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [p.pid for p in ancestors if p.alive()]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def strays(anchors: list[Owned], inodes: Iterable[int]) -> set[int]:
    """What a lab's processes started that the lab did not record: every process in the lab's live
    namespaces (see `live_namespaces`) or below one of its processes (`anchors`)."""
    return set(pids_in_namespaces(live_namespaces(anchors, inodes))) | descendants(anchors)


def kill_strays(pids: Iterable[int], spare: Iterable[Owned]) -> None:
    """SIGKILL `pids` (found by `strays`) except vpclab itself and the owned processes in `spare`:
    they keep the namespaces, and so the proof, alive until the strays are gone, and are stopped
    afterwards by pid."""
    keep = {p.pid for p in spare if p.alive()} | {os.getpid()}
    for pid in set(pids) - keep:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
