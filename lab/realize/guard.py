"""Safety checks that stand between vpclab and the root namespace.

Every configuration step runs in a node only after `check_own_namespace` has seen that the node's
network namespace is not ours (measurements.md Trap 1: a sysctl run in the wrong namespace changed
the root namespace's IPv6 settings).
"""

from __future__ import annotations

import os

from lab.realize.errors import RealizeError


def require_root() -> None:
    if os.geteuid() != 0:
        raise RealizeError("start", "building a lab needs root (namespaces, links, nftables); validate, plan and explain do not")


def netns_inode(pid: int | str = "self") -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def check_own_namespace(name: str, pid: int) -> None:
    if netns_inode(pid) == netns_inode():
        raise RealizeError(f"node {name}", "its shell is in the root network namespace; refusing to configure it")


def check_own_mount_namespace(name: str, pid: int) -> None:
    """Bind mounts (resolv.conf, trust store) go into the node's private mount namespace only."""
    if os.stat(f"/proc/{pid}/ns/mnt").st_ino == os.stat("/proc/self/ns/mnt").st_ino:
        raise RealizeError(f"node {name}", "its shell shares the root mount namespace; refusing to mount")


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot): with the pid, a process's identity.
    None when there is no such process, or only its zombie (it has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return None if fields[0] == "Z" else int(fields[19])
    except (OSError, IndexError, ValueError):
        return None
