"""Stop signals as exceptions, for every long-running caller (the CLI's lab verbs, the benchmarks):
SIGTERM and SIGHUP raise SystemExit, so the `finally` blocks that tear labs down run. It lives
below the CLI because the benchmarks need it too, and nothing outside the CLI imports the CLI."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def terminated_cleanly() -> Iterator[None]:
    """SIGTERM and SIGHUP become SystemExit(128 + signal) inside the block; the old handlers after."""

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
