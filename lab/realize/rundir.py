"""A lab's run directory: where its captures, logs, configs and plan go.

It is either vpclab's own temporary one (`vpclab-<tag>` in the system's temporary directory, made
here with mode 0700, refused if the name is taken) or one the user keeps (`--keep DIR`): new,
empty, or a previous vpclab run's, whose files are replaced. A directory with other files in it
is refused, so that --keep never mixes in or deletes someone's files.

A run directory is locked for its lab's life: `flock` on its marker file, which the kernel
releases when vpclab ends, however it ends (no pid file to go stale). A directory that another
live lab holds is refused before anything in it is touched: two labs writing one set of captures,
logs and configs corrupted each other.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from lab.errors import BadArgument, StateConflict
from lab.realize.errors import RealizeError

MARKER = ".vpclab-run"
MARKER_TEXT = "a vpclab run directory: vpclab may replace what is in it\n"


def prepare(run_dir: Path, tag: str, temporary: bool) -> int:
    """Make (or check) `run_dir`, lock it for lab `tag`, clear a previous run's files; return the
    open descriptor that holds the lock (closing it frees the directory)."""
    make(run_dir, temporary)
    marker = run_dir / MARKER
    if any(run_dir.iterdir()) and not marker.exists():
        raise BadArgument(
            f"run directory: {run_dir} is not empty and is not a vpclab run directory; give --keep a new or empty directory"
        )
    lock = take(marker, tag)
    try:
        clear(run_dir)
    except OSError as exc:
        os.close(lock)
        raise RealizeError("run directory", f"cannot clear {run_dir}: {exc}") from None
    return lock


def make(run_dir: Path, temporary: bool) -> None:
    try:
        if temporary:
            run_dir.mkdir(mode=0o700)  # a name that exists already is not ours
        else:
            run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RealizeError("run directory", f"cannot make {run_dir}: {exc.strerror}") from None


def take(marker: Path, tag: str) -> int:
    """The lock on `marker`, or a RealizeError naming the lab that holds it."""
    try:
        fd = os.open(marker, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise RealizeError("run directory", f"cannot open {marker}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode(errors="replace").strip().splitlines()[-1:] or ["another lab"]
        os.close(fd)
        raise StateConflict(
            f"run directory: {marker.parent} is in use ({holder[0]}); give --keep another "
            "directory, or wait until that lab is down"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{MARKER_TEXT}in use by lab {tag}, vpclab pid {os.getpid()}\n".encode())
    return fd


def clear(run_dir: Path) -> None:
    """A previous run's files go; the marker stays (it holds the lock)."""
    for old in ("captures", "services", "config"):
        shutil.rmtree(run_dir / old, ignore_errors=True)
    for old in ("plan.json", "drops.json"):
        (run_dir / old).unlink(missing_ok=True)
    (run_dir / "captures").mkdir()
