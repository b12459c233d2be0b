"""Finding and stopping exactly the processes a lab owns: by recorded pid and start time, and by
membership of one of the lab's network namespaces. Never by name (no pkill, no killall)."""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable

from lab.realize.guard import process_start_time
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


def kill_namespace_members(inodes: Iterable[int], spare: Iterable[Owned]) -> None:
    """SIGKILL every process inside `inodes` (namespaces proven the lab's by `live_namespaces`)
    except the owned processes in `spare`: they keep the namespaces, and so the proof, alive until
    the strays are gone, and are stopped afterwards by pid."""
    keep = {p.pid for p in spare if p.alive()} | {os.getpid()}
    inodes = set(inodes) - {os.stat("/proc/self/ns/net").st_ino}  # whatever the caller says
    for pid in pids_in_namespaces(inodes):
        if pid not in keep:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
