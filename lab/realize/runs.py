"""The kept run directories vpclab knows about, for `vpclab runs`: one small JSON file per run
directory kept with --keep (by `run`, `trace` or `up`), naming the directory, the topology, what
was run and when, written before the lab is built (a run killed half-way is kept as far as it got).

The index lives in /var/lib/vpclab/runs ($VPCLAB_RUNS_DIR for a test's sandbox), not beside the
running labs' state files in /run/vpclab/labs: /run is emptied at every boot, and a kept run
directory stays on disk until its owner deletes it. An entry whose directory is gone is forgotten
when the runs are listed. Temporary run directories (no --keep) go with their lab and are never
listed; `vpclab up` says so when it ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_RUNS_DIR = "/var/lib/vpclab/runs"
MAX_ENTRY_BYTES = 64 << 10  # an entry is a few hundred bytes; anything larger is not one


def runs_dir() -> Path:
    """$VPCLAB_RUNS_DIR or /var/lib/vpclab/runs, read at each use (a test sets the variable)."""
    return Path(os.environ.get("VPCLAB_RUNS_DIR", DEFAULT_RUNS_DIR))


@dataclass(frozen=True)
class KeptRun:
    run_dir: str  # absolute
    topology: str  # the topology file, as the plan names it
    command: str  # run | trace | up
    what: str  # the scenario's name, the trace's source and target, or the prompt
    started: float  # seconds since the epoch

    @property
    def entry(self) -> Path:
        """One entry per directory: keeping a run in the same directory again replaces it."""
        return runs_dir() / f"{hashlib.sha256(self.run_dir.encode()).hexdigest()[:16]}.json"


def kept(run_dir: str | Path, topology: str, command: str, what: str) -> KeptRun:
    return KeptRun(str(Path(run_dir).resolve()), topology, command, what, time.time())


def remember(run: KeptRun) -> None:
    """Record a kept run. The index is a convenience: a failure to write it is logged, never fatal."""
    try:
        runs_dir().mkdir(parents=True, exist_ok=True)
        tmp = run.entry.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(run)))
        tmp.replace(run.entry)
    except OSError as exc:
        log.warning("could not add %s to the list of kept runs in %s: %s", run.run_dir, runs_dir(), exc)


def kept_runs() -> tuple[list[KeptRun], list[str]]:
    """The kept runs whose directory still exists, newest first; and what was dropped (a directory
    that is gone, an entry that is no entry), in words. Gone directories' entries are removed."""
    runs, dropped = [], []
    for path in sorted(runs_dir().glob("*.json")) if runs_dir().is_dir() else []:
        run = read_entry(path)
        if run is None:
            dropped.append(f"{path}: not a kept run's entry; left alone")
        elif not Path(run.run_dir).is_dir():
            dropped.append(f"{run.run_dir}: gone; forgotten")
            path.unlink(missing_ok=True)
        else:
            runs.append(run)
    return sorted(runs, key=lambda r: r.started, reverse=True), dropped


def read_entry(path: Path) -> KeptRun | None:
    try:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            return None
        data = json.loads(path.read_text())
        run = KeptRun(**{k: data[k] for k in ("run_dir", "topology", "command", "what", "started")})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    fields_ok = all(isinstance(v, str) for v in (run.run_dir, run.topology, run.command, run.what))
    return run if fields_ok and isinstance(run.started, int | float) else None


def age(started: float, now: float | None = None) -> str:
    """'42 s', '5 min', '3 h', '2 days': how long ago, as a listing shows it."""
    seconds = max(0, int((time.time() if now is None else now) - started))
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {'day' if unit == 'days' and count == 1 else unit}"
    return f"{seconds} s"
