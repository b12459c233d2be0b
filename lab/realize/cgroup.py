"""One cgroup per lab: what the lab's nodes start is the lab's, wherever it goes afterwards.

A process started at the prompt can leave its node's network namespace and its session
(`setsid unshare -n sleep 1000`) and be re-parented to init: neither the namespace sweep nor the
process tree finds it any more. Its cgroup it keeps (only a process that writes itself out of it,
as root, leaves). So every node shell, every process run in a node and the service launcher start
as members of the lab's cgroup, and whatever they start is born in it; teardown and `vpclab clean`
kill every member (`cgroup.kill`, or SIGKILL to each pid of `cgroup.procs` on kernels before 5.14)
and remove the cgroup.

The cgroup is `<cgroup2 mount>/vpclab-<tag>`, under the first writable cgroup2 hierarchy in
/proc/self/mountinfo: /sys/fs/cgroup on a pure cgroup v2 host (Debian 12, Ubuntu 24.04),
/sys/fs/cgroup/unified on a hybrid one. No controller is enabled in it: it is used for membership
only, so it limits nothing and needs no delegation. Without a writable cgroup2 the lab runs without
one and teardown walks the process tree instead (lab.realize.processes), which misses a process
that was re-parented; the lab says so in the log.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from lab.realize.errors import RealizeError

MOUNTINFO = Path("/proc/self/mountinfo")
PREFIX = "vpclab-"
# `sh` writes its own pid into cgroup.procs, then becomes the command (same pid): the process is a
# member before the command runs, so is everything the command starts. $0 is the procs file.
JOIN = 'echo $$ > "$0" && exec "$@"'
KILL = "cgroup.kill"  # Linux 5.14 and later


def cgroup2_mounts(mountinfo: str) -> list[tuple[Path, bool]]:
    """(mount point, mounted read-write) of every cgroup2 hierarchy in a mountinfo text (proc(5):
    the file system type follows the " - " separator; octal escapes such as \\040 in the path)."""
    mounts = []
    for line in mountinfo.splitlines():
        before, _, after = line.partition(" - ")
        fields, rest = before.split(), after.split()
        if len(fields) >= 6 and rest and rest[0] == "cgroup2":
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            mounts.append((Path(point), "rw" in fields[5].split(",")))
    return mounts


def writable_hierarchy() -> Path | None:
    """The first cgroup2 mount this process may create cgroups in, or None."""
    for point, read_write in cgroup2_mounts(MOUNTINFO.read_text()):
        if read_write and os.access(point, os.W_OK):
            return point
    return None


def path_for(tag: str) -> Path | None:
    """Where lab `tag`'s cgroup is to be made; None when no cgroup2 hierarchy is writable here."""
    hierarchy = writable_hierarchy()
    return None if hierarchy is None else hierarchy / f"{PREFIX}{tag}"


def create(path: Path) -> None:
    try:
        path.mkdir()
    except OSError as exc:
        raise RealizeError("cgroup", f"cannot create {path}: {exc.strerror}") from None


def add(path: Path, pid: int) -> None:
    """Move process `pid` into cgroup `path`: for a node's shell, idle at its first prompt, so that
    everything it will run is born in the cgroup."""
    try:
        (path / "cgroup.procs").write_text(str(pid))
    except OSError as exc:
        raise RealizeError("cgroup", f"cannot move process {pid} into {path}: {exc.strerror}") from None


def joining(path: Path | None, argv: list[str]) -> list[str]:
    """`argv` as a command that is a member of cgroup `path` from its first instruction (unchanged
    when the lab has no cgroup)."""
    return list(argv) if path is None else ["/bin/sh", "-c", JOIN, str(path / "cgroup.procs"), *argv]


def is_lab_cgroup(path: Path, tag: str, mountinfo: Path = MOUNTINFO) -> bool:
    """Whether `path` (read back from a state file) is lab `tag`'s cgroup, and nothing else: a
    direct child named vpclab-<tag> of a cgroup2 mount. A damaged state file must never make
    `vpclab clean` kill the members of some other cgroup, let alone of a hierarchy's root."""
    mounts = {point for point, _ in cgroup2_mounts(mountinfo.read_text())}
    return path.is_absolute() and path.name == f"{PREFIX}{tag}" and path.parent in mounts


def members(path: Path) -> list[int]:
    try:
        return [int(pid) for pid in (path / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def kill(path: Path, tag: str, timeout: float = 5.0, kill_file: str | None = KILL, mountinfo: Path = MOUNTINFO) -> None:
    """Kill every process in lab `tag`'s cgroup `path`, wait until it is empty, remove it. Refuses a
    path that is not a lab's cgroup, and a cgroup that vpclab itself is in. `kill_file` None: as on a
    kernel before 5.14, which has no cgroup.kill."""
    if not path.is_dir():
        return  # never made (killed first), or removed already (by `vpclab clean --all`)
    if not is_lab_cgroup(path, tag, mountinfo):
        raise RealizeError("cgroup", f"{path} is not lab {tag}'s cgroup; refusing to kill its members")
    if os.getpid() in members(path):
        raise RealizeError("cgroup", f"vpclab itself is in the lab's cgroup {path}; refusing to kill it")
    deadline = time.monotonic() + timeout
    try:
        while populated(path):
            if time.monotonic() > deadline:
                raise RealizeError("cgroup", f"{path} still has processes {members(path)} after {timeout:.0f} s")
            kill_members(path, kill_file)
            time.sleep(0.005)
        path.rmdir()
    except FileNotFoundError:
        pass  # someone else (a `vpclab clean --all`) finished it meanwhile
    except OSError as exc:
        raise RealizeError("cgroup", f"cannot remove {path}: {exc.strerror}") from None


def populated(path: Path) -> bool:
    """Whether a live process is in `path` (its zombies are not: they left at exit)."""
    events = (path / "cgroup.events").read_text()
    return "populated 1" in events.splitlines()


def kill_members(path: Path, kill_file: str | None) -> None:
    """cgroup.kill (Linux 5.14) kills them all at once, including those being forked; before it,
    SIGKILL to each pid, repeated by the caller until none is left."""
    if kill_file is not None and (path / kill_file).exists():
        (path / kill_file).write_text("1")
        return
    for pid in members(path):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
