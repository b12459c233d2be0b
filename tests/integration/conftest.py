"""Fixtures for integration tests that build real labs. The checks they rest on (root snapshot,
residue) are in labsafety.py.

`lab_sandbox` gives a test labs of its own: a state directory of its own (VPCLAB_STATE_DIR, for this
process and every vpclab it starts), so the test sees, and `vpclab clean` removes, only its labs;
and, whatever happened in the test (failure, timeout, Ctrl-C), at the end it stops the vpclab
processes the test started, removes the labs still recorded there, and kills what was inside
the namespaces of the labs the test recorded.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from labsafety import REPO, STRAY, LabRecord, kill_members

from lab.realize import cleanup
from lab.realize import state as lab_state
from lab.realize.state import LabState

# `vpclab up FILE` (the CLI's own code: main, running_lab, its signal handling and teardown) with
# main's `prompt` a vpclab busy with its lab, as `trace` or `run` is, instead of the interactive
# one: start a stray process in a node, as a user at the prompt might, say UP (with the lab's tag,
# run directory and the stray's pid), then wait to be signalled.
RUN_LAB = textwrap.dedent("""
    import signal, sys, time

    class BusyPrompt:
        def __init__(self, topology, plan, lab):
            self.lab = lab

        def cmdloop(self):
            stray = self.lab.node(sys.argv[2]).cmd(sys.argv[3]).split()[-1] if len(sys.argv) > 2 else "-"
            print("UP", self.lab.tag, self.lab.run_dir, stray, flush=True)
            while True:
                time.sleep(60)

    # As at a terminal: started in the background of a non-interactive shell (CI), this process
    # would inherit SIGINT ignored, and what the tests send stands for Ctrl-C.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from lab.cli.main import main
    sys.exit(main(["up", *sys.argv[1:2]], prompt=BusyPrompt))
""")


class LabProcess:
    """A `vpclab up` in a process of its own (its own session: a signal to its group is Ctrl-C)."""

    def __init__(self, sandbox: LabSandbox, topology: str, stray_in: str | None, stray: str = STRAY):
        self.sandbox, self.stderr_path = sandbox, sandbox.tmp / f"vpclab-{len(sandbox.processes)}.stderr"
        with open(self.stderr_path, "w") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-c", RUN_LAB, str(REPO / topology), *([stray_in, stray] if stray_in else [])],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=REPO,
                env=sandbox.env(),
                start_new_session=True,
            )
        self.tag = self.run_dir = self.record = self.stray = None

    def wait_up(self, timeout: float = 30.0) -> LabRecord:
        """Until the lab is up; then its record (from the state file the lab wrote)."""
        with selectors.DefaultSelector() as sel:
            sel.register(self.popen.stdout, selectors.EVENT_READ)
            line = self.popen.stdout.readline() if sel.select(timeout) else ""
        if not line.startswith("UP "):
            raise AssertionError(f"the lab did not come up (got {line!r}, exit {self.popen.poll()}):\n{self.stderr()}")
        _, self.tag, self.run_dir, stray = line.split()
        self.stray = None if stray == "-" else int(stray)
        self.record = self.sandbox.record(LabRecord.read(self.sandbox.state_dir / f"{self.tag}.json"))
        return self.record

    def signal(self, sig: int, group: bool = False) -> None:
        if group:
            os.killpg(self.popen.pid, sig)
        else:
            self.popen.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        return self.popen.wait(timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> None:
        """SIGTERM (the lab tears itself down), then SIGKILL if it did not end in time."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.popen.stdout.close()


class LabSandbox:
    def __init__(self, tmp: Path):
        self.tmp, self.state_dir = tmp, tmp / "state"
        self.records: list[LabRecord] = []
        self.processes: list[LabProcess] = []

    def env(self) -> dict[str, str]:
        # TMPDIR: a vpclab without --keep makes its run directory there, inside the test's tmp_path.
        return {**os.environ, "VPCLAB_STATE_DIR": str(self.state_dir), "TMPDIR": str(self.tmp)}

    def record(self, lab: LabRecord | LabState) -> LabRecord:
        """Remember a lab for the final sweep; take it while the lab runs."""
        record = lab if isinstance(lab, LabRecord) else LabRecord.of(lab)
        self.records.append(record)
        return record

    def run_lab(self, topology: str, stray_in: str | None = None, stray: str = STRAY) -> LabProcess:
        """`vpclab up topology` in a subprocess; `stray_in`: a node to start an unrecorded process in,
        with the shell command `stray` (whose last word of output is the process's pid)."""
        proc = LabProcess(self, topology, stray_in, stray)
        self.processes.append(proc)
        return proc

    def sweep(self) -> None:
        try:
            for proc in self.processes:
                proc.stop()
        finally:
            for state in lab_state.all_states():
                cleanup.remove(state)
            for record in self.records:
                kill_members(record)


@pytest.fixture
def lab_sandbox(tmp_path, monkeypatch):
    sandbox = LabSandbox(tmp_path)
    monkeypatch.setenv("VPCLAB_STATE_DIR", str(sandbox.state_dir))
    try:
        yield sandbox
    finally:
        sandbox.sweep()


@pytest.fixture(autouse=True, scope="session")
def runs_index_sandbox(tmp_path_factory):
    """Kept runs are listed in an index (lab.realize.runs, /var/lib/vpclab/runs): the tests keep
    theirs in a directory of the session's own, so no test run leaves entries on the machine."""
    patch = pytest.MonkeyPatch()
    patch.setenv("VPCLAB_RUNS_DIR", str(tmp_path_factory.mktemp("runs-index")))
    yield
    patch.undo()
