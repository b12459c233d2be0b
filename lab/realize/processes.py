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


def kill_namespace_members(inodes: Iterable[int], keep_alive: list[Owned]) -> None:
    """SIGKILL every process inside the lab's namespaces, but only while the lab's own node shells
    prove those inodes are still the lab's (an inode may be reused after a namespace is gone)."""
    if not any(p.alive() for p in keep_alive):
        return
    me = os.getpid()
    for pid in pids_in_namespaces(inodes):
        if pid != me:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
