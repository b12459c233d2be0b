"""A lab's life cycle under faults (issue 8, item 7), with real labs:

1. `vpclab clean` skips a state file it cannot read, says so in one line, and cleans the other labs.
2. A vpclab killed right after it made its run directory (or anything else) leaves nothing that
   `vpclab clean` cannot find: the state file names the run directory and cgroup before they exist.
3. A `--keep DIR` that a live lab uses is refused, and the lab using it is left alone.
4. What a node starts is the lab's even after it left the node's namespaces and session
   (`setsid unshare -n sleep 1000` at the prompt): the lab's cgroup ends it at teardown and at
   `vpclab clean`; without a cgroup, the process-tree walk ends what is still below the lab. A
   node sees the state directory read-only and not the cgroup hierarchy at all.
5. A front, resolver or launcher that dies is reported at the prompt and in a failed scenario step.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from labsafety import REPO, lab_prerequisite_missing, namespace_of, plan_addresses, residue, root_snapshot

from lab.cli.main import main
from lab.cli.prompt import LabPrompt
from lab.errors import StateConflict
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.realize import cgroup
from lab.realize.lab import Lab
from lab.realize.state import owned
from lab.scenario.loader import Scenario, Step
from lab.scenario.observe import probe
from lab.scenario.runner import run_step

MISSING = lab_prerequisite_missing()
pytestmark = [pytest.mark.skipif(MISSING is not None, reason=str(MISSING)), pytest.mark.timeout(90, method="signal")]

PUBLIC_PRIVATE = "topologies/public-private.yaml"
TOPOLOGY = load_topology(str(REPO / PUBLIC_PRIVATE))
PLAN = compile_plan(TOPOLOGY)
CLI = "import sys; from lab.cli.main import main; sys.exit(main(sys.argv[1:]))"
HOST = "lab-bucket.s3.ap-northeast-2.amazonaws.com"
BUCKET = f"https://{HOST}/"


def vpclab(sandbox, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CLI, *argv], capture_output=True, text=True, env=env or sandbox.env(), cwd=REPO, timeout=60
    )


def escaping(pidfile: Path) -> str:
    """A shell command that leaves its node as a learner's `setsid unshare -n sleep 1000 &` does: a
    new session, a new network namespace, and (-f: setsid forks, its parent exits) re-parented."""
    return f"setsid -f unshare -n sh -c 'echo $$ > {pidfile}; exec sleep 1000'"


def wait_pid(pidfile: Path) -> int:
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline, f"{pidfile} was never written"
        time.sleep(0.01)
    return int(pidfile.read_text())


def assert_escaped(lab: Lab, pid: int) -> None:
    """The test's premise: neither the lab's namespaces, nor its shells' sessions, nor its process
    tree hold the process any more; only its cgroup (where there is one)."""
    assert namespace_of(pid) not in lab.state.netns.values()
    assert os.getsid(pid) not in {os.getsid(node.pid) for node in lab.nodes.values()}
    assert parent_of(pid) not in {node.pid for node in lab.nodes.values()}


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


# -- 1. an unreadable state file ------------------------------------------------------------------------
def test_clean_reports_an_unreadable_state_file_and_cleans_the_other_labs(lab_sandbox):
    before = root_snapshot(plan_addresses(PLAN))
    running = lab_sandbox.run_lab(PUBLIC_PRIVATE)
    record = running.wait_up()
    running.signal(signal.SIGKILL)
    running.wait()
    bad = {"cut.json": '{"tag": "vl1234", "run_dir": "/tmp/x", "own', "list.json": "[1, 2]", "deep.json": "[" * 100_000}
    for name, text in bad.items():
        (lab_sandbox.state_dir / name).write_text(text)
    os.mkfifo(lab_sandbox.state_dir / "fifo.json")  # reading it would block for ever

    done = vpclab(lab_sandbox, "clean")
    assert done.returncode == 3, done.stderr  # the environment's: a state file vpclab cannot read
    assert f"removed lab {record.tag}" in done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 4 and all(line.startswith("vpclab: skipped ") for line in lines), done.stderr
    assert "fifo.json: not a regular file;" in done.stderr
    assert "Traceback" not in done.stderr
    assert residue(record, before) == []
    assert sorted(p.name for p in lab_sandbox.state_dir.iterdir()) == sorted([*bad, "fifo.json"])  # left alone


# -- 2. killed before anything was recorded ---------------------------------------------------------------
# `vpclab up FILE` killed (SIGKILL) the moment it has made its first directory in TMPDIR: the run
# directory, wherever in the start the code makes it.
KILLED_AT_RUN_DIR = textwrap.dedent("""
    import os, signal, sys
    real_mkdir, tmp = os.mkdir, os.environ["TMPDIR"]

    def mkdir(path, *args, **kwargs):
        real_mkdir(path, *args, **kwargs)
        if os.fspath(path).startswith(tmp + os.sep):
            os.kill(os.getpid(), signal.SIGKILL)

    os.mkdir = mkdir
    from lab.cli.main import main
    sys.exit(main(["up", sys.argv[1]]))
""")


def test_a_vpclab_killed_as_it_makes_its_run_directory_leaves_what_clean_finds(lab_sandbox):
    tmp = lab_sandbox.tmp / "tmp"
    tmp.mkdir()
    env = {**lab_sandbox.env(), "TMPDIR": str(tmp)}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT_RUN_DIR, str(REPO / PUBLIC_PRIVATE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [run_dir] = list(tmp.iterdir())
    assert run_dir.name.startswith("vpclab-")
    lab_cgroup = cgroup.path_for(run_dir.name.removeprefix("vpclab-"))
    assert lab_cgroup is None or lab_cgroup.is_dir()  # made before the run directory

    done = vpclab(lab_sandbox, "clean", env=env)
    assert done.returncode == 0, done.stderr
    assert f"run directory {run_dir}" in done.stdout
    assert list(tmp.iterdir()) == [] and list(lab_sandbox.state_dir.glob("*.json")) == []
    assert lab_cgroup is None or not lab_cgroup.exists()


# -- 3. one kept run directory, two labs ----------------------------------------------------------------
def test_a_kept_run_directory_in_use_by_a_live_lab_is_refused(lab_sandbox, capsys):
    keep = lab_sandbox.tmp / "kept"
    with Lab(PLAN, keep) as first:
        record = lab_sandbox.record(first.state)
        plan_json = (keep / "plan.json").stat()
        with pytest.raises(StateConflict, match=f"{keep} is in use \\(in use by lab {first.tag}, vpclab pid "):
            Lab(PLAN, keep).start()
        assert main(["trace", str(REPO / PUBLIC_PRIVATE), "--from", "app1", "--to", "web1", "--keep", str(keep)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"vpclab: run directory: {keep} is in use") and err.count("\n") == 1, err
        assert (keep / "plan.json").stat() == plan_json and (keep / "captures" / "app1.pcap").exists()
        assert probe(first, "app1", HOST, 443, "/", sign=True).get("http_status") == 200  # undisturbed
    assert residue(record) == []
    assert list(lab_sandbox.state_dir.glob("*.json")) == []  # the refused labs left no state either
    with Lab(PLAN, keep) as again:  # free once the first lab is down
        assert again.run_dir == keep


# -- 4. what left the lab's namespaces and session ----------------------------------------------------------
def test_teardown_ends_processes_that_left_the_lab(lab_sandbox):
    before = root_snapshot(plan_addresses(PLAN))
    with Lab(PLAN, lab_sandbox.tmp / "run") as lab:
        escaped = escape_twice(lab, lab_sandbox.tmp)
        record = lab_sandbox.record(lab.state)
        assert {p.pid for p in escaped} <= {p.pid for p in record.members}
    assert [p for p in escaped if p.alive()] == []
    assert residue(record, before) == []


def test_without_cgroup_kill_each_member_is_sent_sigkill(lab_sandbox):
    """Kernels before 5.14 have no cgroup.kill: the members, wherever they went, are killed one pid
    at a time until the cgroup is empty."""
    tag = f"t{os.getpid()}"
    path = cgroup.path_for(tag)
    assert path is not None, "this test needs a writable cgroup2 hierarchy"
    cgroup.create(path)
    try:
        pidfiles = [lab_sandbox.tmp / f"{n}.pid" for n in range(3)]
        for pidfile in pidfiles:
            subprocess.run(cgroup.joining(path, ["sh", "-c", escaping(pidfile)]), check=True)
        escaped = [owned(wait_pid(f), "escaped") for f in pidfiles]
        assert {p.pid for p in escaped} <= set(cgroup.members(path))
        cgroup.kill(path, tag, kill_file=None)
        assert [p for p in escaped if p.alive()] == [] and not path.exists()
    finally:
        cgroup.kill(path, tag)


def escape_twice(lab: Lab, tmp: Path) -> list:
    """Two processes that leave the lab, one typed at the prompt, one from a scenario's `run` step."""
    assert lab.cgroup is not None, "this test needs a writable cgroup2 hierarchy"
    from_shell, from_popen = tmp / "shell.pid", tmp / "popen.pid"
    lab.node("app1").cmd(escaping(from_shell))
    step = lab.node("web1").popen(["bash", "-c", escaping(from_popen)])
    lab.own(step.pid, "step")
    step.wait()
    escaped = [owned(wait_pid(f), "escaped") for f in (from_shell, from_popen)]
    for proc in escaped:
        assert_escaped(lab, proc.pid)
    return escaped


def test_clean_ends_processes_that_left_a_killed_lab(lab_sandbox):
    pidfile = lab_sandbox.tmp / "escaped.pid"
    running = lab_sandbox.run_lab(PUBLIC_PRIVATE, stray_in="app1", stray=f"{escaping(pidfile)}; sleep 0.3; cat {pidfile}")
    record = running.wait_up()
    escaped = owned(running.stray, "escaped")
    assert escaped.alive() and escaped.pid in {p.pid for p in record.members}
    running.signal(signal.SIGKILL)
    running.wait()

    done = vpclab(lab_sandbox, "clean")
    assert done.returncode == 0, done.stderr
    assert not escaped.alive()
    assert residue(record) == []


@pytest.mark.parametrize(
    "where, says",
    [
        (None, "no writable cgroup2 hierarchy here"),
        ("/proc/vpclab-test", "cgroup: cannot create /proc/vpclab-test"),
    ],
    ids=["no writable hierarchy", "the cgroup cannot be made"],
)
def test_without_a_cgroup_the_process_tree_is_walked_and_the_log_says_so(where, says, lab_sandbox, caplog):
    with caplog.at_level(logging.WARNING, logger="lab.realize.lab"):
        with Lab(PLAN, lab_sandbox.tmp / "run", cgroup_at=lambda tag: where and Path(where)) as lab:
            # left the node's network namespace, still the shell's child
            pid = int(lab.node("app1").cmd("unshare -n sleep 1000 >/dev/null 2>&1 & echo $!").split()[-1])
            left = owned(pid, "unshare -n sleep")
            deadline = time.monotonic() + 5
            while namespace_of(pid) in lab.state.netns.values():  # until unshare has run
                assert time.monotonic() < deadline
                time.sleep(0.01)
            record = lab_sandbox.record(lab.state)
            assert lab.state.cgroup is None
    assert not left.alive()
    assert residue(record) == []
    assert says in caplog.text and "walking the process tree" in caplog.text


def test_a_node_can_neither_write_the_state_directory_nor_reach_the_labs_cgroup(lab_sandbox):
    with Lab(PLAN, lab_sandbox.tmp / "run") as lab:
        record = lab_sandbox.record(lab.state)
        hierarchy = lab.cgroup.parent
        said = lab.node("app1").cmd(f"touch {lab_sandbox.state_dir}/x; test -e {hierarchy}/cgroup.procs; echo reachable=$?")
        assert "Read-only file system" in said and "reachable=1" in said, said
        assert not (lab_sandbox.state_dir / "x").exists() and lab.state.path.exists()
        lab.state.save()  # vpclab itself still writes it
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        assert str(lab_sandbox.state_dir) not in mounts  # the read-only view is the node's alone
    assert residue(record) == []


# -- 5. a service that dies -------------------------------------------------------------------------------
def kill_owned(lab: Lab, what: str) -> None:
    [proc] = [p for p in lab.state.processes if p.what == what]
    os.kill(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while proc.alive():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def prompt_says(lab: Lab, commands: str) -> str:
    """What the `vpclab up` prompt prints for `commands` (lines, as typed)."""
    out = io.StringIO()
    sys_stdout, sys.stdout = sys.stdout, out
    try:
        prompt = LabPrompt(TOPOLOGY, PLAN, lab)
        prompt.stdin, prompt.use_rawinput, prompt.intro = io.StringIO(commands), False, ""
        prompt.cmdloop()
    finally:
        sys.stdout = sys_stdout
    return out.getvalue()


def test_a_dead_front_is_reported_at_the_prompt_and_fails_a_step_by_name(lab_sandbox):
    with Lab(PLAN, lab_sandbox.tmp / "run") as lab:
        record = lab_sandbox.record(lab.state)
        assert prompt_says(lab, "app1 true\nexit\n").count("vpclab:") == 0
        kill_owned(lab, "front s3-ap-northeast-2")

        said = prompt_says(lab, "app1 true\napp1 true\nexit\n")
        assert said.count("vpclab: front s3-ap-northeast-2 is not running (its log's last line: ") == 1, said

        for step in (
            Step("list the bucket", "app1", "run", f"curl -sS -o /dev/null {BUCKET}", None, {"outcome": "ok"}, 7),
            Step("trace to S3", "app1", "trace", HOST, 443, {"outcome": "ok"}, 9),
        ):
            result = run_step(Scenario("inline.yaml", "dead front", TOPOLOGY, (step,)), PLAN, lab, step)
            assert not result.passed
            assert result.failures[0].startswith("the lab is broken: front s3-ap-northeast-2 is not running"), result.failures
        dns = Step("resolve", "app1", "dns", "s3.ap-northeast-2.amazonaws.com", None, {"outcome": "ok"}, 8)
        assert run_step(Scenario("inline.yaml", "dead front", TOPOLOGY, (dns,)), PLAN, lab, dns).passed  # needs no front
    assert residue(record) == []


def test_a_dead_launcher_is_reported_at_the_prompt(lab_sandbox):
    with Lab(PLAN, lab_sandbox.tmp / "run") as lab:
        record = lab_sandbox.record(lab.state)
        kill_owned(lab, "service launcher")
        said = prompt_says(lab, "nodes\nexit\n")
        assert "vpclab: the service launcher is not running (killed by signal 9; its log's last line: " in said
    assert residue(record) == []
