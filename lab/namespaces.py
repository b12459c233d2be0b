"""setns(2) for one thread or one process, shared by the realizer (a thread enters a node's network
namespace), the service launcher (a forked child enters a node's mount and network namespaces)
and the benchmarks. Python 3.11 has no os.setns; libc's is called through ctypes."""
from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000  # mount namespace
CLONE_NEWNET = 0x40000000  # network namespace
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
