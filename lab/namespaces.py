"""setns(2) for one thread or one process, shared by the realizer (a thread enters a node's network
or mount namespace), the service launcher (a forked child enters a node's mount and network
namespaces) and the benchmarks; and mount(2) for the realizer's bind mounts. Python 3.11 has
neither os.setns nor os.mount; libc's are called through ctypes."""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000  # mount namespace
CLONE_NEWNET = 0x40000000  # network namespace
CLONE_FS = 0x00000200  # root, cwd and umask (unshared, a thread may join a mount namespace alone)
MS_RDONLY, MS_REMOUNT, MS_BIND = 0x1, 0x20, 0x1000
_LIBC = ctypes.CDLL(None, use_errno=True)


def setns(fd: int, nstype: int) -> None:
    """Move the calling thread into the namespace open at `fd` (of kind `nstype`)."""
    if _LIBC.setns(fd, nstype) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    """Give the calling thread new namespaces of the kinds in `flags` (benchmarks: a bare netns)."""
    if _LIBC.unshare(flags) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare: {os.strerror(errno)}")


def mount(source: str, target: str, flags: int) -> None:
    """mount(2) without a file system type or data: binds and their remounts."""
    if _LIBC.mount(source.encode(), target.encode(), None, flags, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")
