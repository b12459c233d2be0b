"""Waiting for a pipe to have something to read, shared by the realizer (the service launcher's
events, each tcpdump's "listening on") and the service launcher (its requests).

poll(2), not select(2): select cannot watch a descriptor numbered FD_SETSIZE (1024) or above, and a
lab of 700 nodes holds more descriptors than that (a pty per node shell, a pipe per capture), so the
newest pipes got numbers select refused ("filedescriptor out of range in select()")."""

from __future__ import annotations

import select


def readable(fd: int, timeout: float) -> bool:
    """Whether `fd` has data (or its writer has gone: a read then returns b"") within `timeout` s."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(timeout, 0.0) * 1000))
