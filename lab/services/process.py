"""What every service process shares: stdout discipline, stderr logging, SIGTERM, JSON-lines logs.

The realizer reads a service's stdout only until `READY`; a library that prints later (moto prints
unknown hosts to stdout) would fill a pipe nobody drains and block the service. So stdout is taken
away from everyone at start: fd 1 and `sys.stdout` point at stderr, and only `announce_ready`
writes to the saved pipe, once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from lab.errors import LabError

log = logging.getLogger(__name__)

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
RELOAD_SIGNAL = signal.SIGHUP  # the realizer changed the service's config file: read it again


def loaded_marker(config: Path) -> Path:
    """Where a service says which config it runs: the digest of the file's bytes it last applied."""
    return config.with_name(config.name + ".loaded")


def config_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def mark_loaded(config: Path, data: bytes) -> None:
    tmp = loaded_marker(config).with_suffix(".tmp")
    tmp.write_text(config_digest(data))
    tmp.replace(loaded_marker(config))


def claim_stdout() -> TextIO:
    """The realizer's pipe, kept for `READY`; from now on fd 1 and `sys.stdout` are stderr."""
    ready = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return ready


def configure_logging() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")


def announce_ready(ready: TextIO) -> None:
    """`READY <pid>`: the pid tells the lab's launcher's children apart on their shared pipe."""
    ready.write(f"READY {os.getpid()}\n")
    ready.close()


def block_stop_signals() -> None:
    """Hold SIGTERM/SIGINT for `wait_for_stop`; threads started after this inherit the mask.

    Called once the service is built, so that a hung start-up still dies of SIGTERM's default action.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS | {RELOAD_SIGNAL})


Reload = Callable[[], str]


def serve(ready: TextIO, begin: Callable[[], str], reload: Reload | None = None, config: Path | None = None) -> int:
    """A service's life: `begin` builds and starts it and says what it serves (logged), then READY,
    then sleep until SIGTERM. A LabError from `begin` is the log's last line and exit status 1.
    With `reload` and its `config` file: each SIGHUP (a live change of the lab) applies the file
    again, then marks it loaded (`loaded_marker`), so the realizer knows the change is served."""
    configure_logging()
    try:
        data = config.read_bytes() if config else b""
        summary = begin()
    except (LabError, OSError) as e:
        log.error("%s", e)
        return 1
    log.info("%s", summary)
    if config is not None:
        mark_loaded(config, data)
    announce_ready(ready)
    wait_for_stop(reload, config)
    return 0


def service_main(module: str, description: str, run: Callable[[Path, TextIO], int], argv: list[str] | None) -> int:
    """`python -m lab.services.<name> --config FILE.json`, a service on its own (tests, debugging);
    in a lab, the launcher forks the same `run`."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    return run(args.config, claim_stdout())


def wait_for_stop(reload: Reload | None = None, config: Path | None = None) -> None:
    """Sleep until SIGTERM or SIGINT, reloading on each SIGHUP; server threads are daemons and end
    with the process. A reload that fails is logged and leaves the service as it was."""
    while (received := signal.sigwait(STOP_SIGNALS | {RELOAD_SIGNAL})) == RELOAD_SIGNAL:
        if reload is None or config is None:
            continue
        try:
            data = config.read_bytes()
            log.info("reloaded: %s", reload())
            mark_loaded(config, data)
        except (LabError, OSError) as e:
            log.error("reload failed: %s", e)
    log.info("stopping on %s", signal.Signals(received).name)


class JsonLines:
    """An append-only JSON-lines file shared by server threads; each record is flushed at once,
    so a reader sees it as soon as the client has its answer."""

    def __init__(self, path: Path):
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life
        self._lock = threading.Lock()

    def write(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
