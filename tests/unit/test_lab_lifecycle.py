"""The parts of a lab's life cycle that need no root: reading state files (a bad one is reported,
never fatal), finding the cgroup2 hierarchy in mountinfo, refusing a cgroup path that is not a
lab's, the run directory's lock, and the prompt's report of a dead service."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from lab.cli.prompt import LabPrompt
from lab.errors import BadArgument, StateConflict
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.realize import cgroup, rundir, state
from lab.realize.errors import RealizeError

REPO = Path(__file__).resolve().parents[2]
HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
PURE_V2 = "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
READ_ONLY = "30 24 0:26 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n"
ESCAPED = "50 24 0:26 / /mnt/my\\040cgroups rw - cgroup2 none rw\n"


# -- state files --------------------------------------------------------------------------------------
@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VPCLAB_STATE_DIR", str(tmp_path))
    return tmp_path


def test_a_state_file_round_trips_with_its_cgroup(state_dir):
    lab = state.LabState("vl000001", "/tmp/vpclab-vl000001", temporary=True, cgroup="/sys/fs/cgroup/vpclab-vl000001")
    lab.netns["app1"] = 4026532000
    lab.save()
    assert state.LabState.load(lab.path) == lab


@pytest.mark.parametrize(
    "text, says",
    [
        ('{"tag": "vl1", "run_dir": "/tmp/x", "own', "Unterminated string"),
        ("[1, 2]", "not a vpclab lab state"),
        (
            '{"tag": 7, "run_dir": "/tmp/x", "owner": {"pid": 1, "start": 1, "what": "x"}, "nodes": {}, '
            '"netns": {}, "processes": []}',
            "7 is not a string",
        ),
        ("[" * 100_000, "recursion"),
        ("\udcff", "codec can't decode"),
    ],
    ids=["cut short", "a list", "a wrong type", "nested deep", "not UTF-8"],
)
def test_an_unreadable_state_file_is_skipped_with_its_reason(state_dir, text, says):
    good = state.LabState("vl000002", "/tmp/run")
    good.save()
    (state_dir / "bad.json").write_bytes(text.encode(errors="surrogateescape"))
    states, skipped = state.scan()
    assert [s.tag for s in states] == ["vl000002"]
    assert [s.path.name for s in skipped] == ["bad.json"] and says in skipped[0].reason


def test_a_state_file_that_is_not_a_regular_file_is_not_read(state_dir):
    os.mkfifo(state_dir / "fifo.json")  # opening it to read would block for ever
    (state_dir / "dir.json").mkdir()
    (state_dir / "link.json").symlink_to("/dev/zero")
    skipped = {s.path.name: s.reason for s in state.scan()[1]}
    assert skipped["fifo.json"] == "not a regular file"
    assert set(skipped) == {"fifo.json", "dir.json", "link.json"}


# -- cgroups ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, mounts",
    [
        (HYBRID, [(Path("/sys/fs/cgroup/unified"), True)]),
        (PURE_V2, [(Path("/sys/fs/cgroup"), True)]),
        (READ_ONLY, [(Path("/sys/fs/cgroup"), False)]),
        (ESCAPED, [(Path("/mnt/my cgroups"), True)]),
    ],
    ids=["hybrid (v1 controllers, v2 at unified)", "pure v2", "read-only mount", "a space in the path"],
)
def test_cgroup2_hierarchies_are_found_in_mountinfo(text, mounts):
    assert cgroup.cgroup2_mounts(text) == mounts


def test_a_command_joins_the_cgroup_before_it_runs():
    argv = cgroup.joining(Path("/sys/fs/cgroup/vpclab-vl1"), ["mnexec", "-da", "42", "tcpdump"])
    assert argv[:2] == ["/bin/sh", "-c"] and argv[3:] == [
        "/sys/fs/cgroup/vpclab-vl1/cgroup.procs",
        "mnexec",
        "-da",
        "42",
        "tcpdump",
    ]
    assert cgroup.joining(None, ["tcpdump"]) == ["tcpdump"]


@pytest.mark.parametrize(
    "path, ok",
    [
        ("unified/vpclab-vl1", True),
        ("unified", False),  # the hierarchy's root: every process on the machine
        ("unified/user.slice", False),
        ("unified/x/vpclab-vl1", False),
        ("unified/vpclab-vl2", False),  # another lab's
        ("memory/vpclab-vl1", False),  # not a cgroup2 hierarchy
    ],
)
def test_only_the_labs_own_cgroup_is_ever_killed(tmp_path, monkeypatch, path, ok):
    """A fake hierarchy: a cgroup2 mount at tmp/unified, a cgroup v1 one at tmp/memory."""
    (tmp_path / "mountinfo").write_text(
        f"41 31 0:38 / {tmp_path}/unified rw - cgroup2 cgroup2 rw\n35 31 0:32 / {tmp_path}/memory rw - cgroup cgroup rw,memory\n"
    )
    mountinfo = tmp_path / "mountinfo"
    (tmp_path / path).mkdir(parents=True)
    assert cgroup.is_lab_cgroup(tmp_path / path, "vl1", mountinfo) is ok
    assert cgroup.is_lab_cgroup(Path(path), "vl1", mountinfo) is False  # relative
    if not ok:
        with pytest.raises(RealizeError, match="is not lab vl1's cgroup; refusing"):
            cgroup.kill(tmp_path / path, "vl1", mountinfo=mountinfo)


def test_a_cgroup_that_was_never_made_is_nothing_to_kill(tmp_path):
    cgroup.kill(tmp_path / "vpclab-vl1", "vl1")  # recorded, then vpclab was killed before the mkdir


# -- the run directory ------------------------------------------------------------------------------------
def test_a_run_directory_is_locked_for_its_labs_life(tmp_path):
    run_dir = tmp_path / "kept"
    first = rundir.prepare(run_dir, "vl1", temporary=False)
    (run_dir / "plan.json").write_text("{}")
    with pytest.raises(StateConflict, match=f"{run_dir} is in use \\(in use by lab vl1, vpclab pid {os.getpid()}\\)"):
        rundir.prepare(run_dir, "vl2", temporary=False)
    assert (run_dir / "plan.json").exists()  # nothing of the first lab's was touched
    os.close(first)  # what the kernel does when vpclab dies, however it dies
    second = rundir.prepare(run_dir, "vl2", temporary=False)
    assert not (run_dir / "plan.json").exists() and "lab vl2" in (run_dir / rundir.MARKER).read_text()
    os.close(second)


def test_a_run_directory_of_someone_elses_is_refused(tmp_path):
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "notes.txt").write_text("mine")
    with pytest.raises(BadArgument, match="is not empty and is not a vpclab run directory"):
        rundir.prepare(tmp_path / "theirs", "vl1", temporary=False)
    with pytest.raises(RealizeError, match="cannot make .*theirs: File exists"):
        rundir.prepare(tmp_path / "theirs", "vl1", temporary=True)  # a temporary name already taken
    assert (tmp_path / "theirs" / "notes.txt").read_text() == "mine"


# -- the prompt -------------------------------------------------------------------------------------------
def test_the_prompt_reports_a_dead_service_once_before_the_next_prompt(monkeypatch, tmp_path):
    topology = load_topology(str(REPO / "topologies/public-private.yaml"))
    deaths: list[str] = []
    plan = compile_plan(topology)
    lab = SimpleNamespace(
        tag="vl1",
        run_dir=tmp_path,
        plan=plan,
        nodes={"app1": None},
        stopped_services=lambda: list(deaths),
        node_env=lambda node: {},
    )
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    prompt = LabPrompt(topology, plan, lab)
    prompt.use_rawinput, prompt.intro = False, ""

    def die(arg):
        deaths.append("front s3-ap-northeast-2 is not running (its log's last line: Killed)")

    prompt.do_die = die
    prompt.stdin = io.StringIO("nodes\ndie\nnodes\nexit\n")
    prompt.cmdloop()
    said = out.getvalue().split("vpclab> ")
    assert [i for i, part in enumerate(said) if "front s3-ap-northeast-2 is not running" in part] == [2]
    assert "its log's last line: Killed); the lab is broken" in said[2]
    assert json.dumps(said).count("is not running") == 1
