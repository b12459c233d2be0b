"""`vpclab ls` and `vpclab exec`'s checks without root: a state file that points exec anywhere
but a live node shell of its lab, in the namespace the lab recorded, is refused."""

from __future__ import annotations

import os

import pytest

from lab.cli.labs import node_pid, run_ls
from lab.errors import BadInput, EnvironmentFailure
from lab.realize.guard import netns_inode
from lab.realize.state import LabState, Owned, owned


def state(tmp_path, shell: Owned, netns: int) -> LabState:
    return LabState("vl0abc12", str(tmp_path), owned(os.getpid(), "vpclab"), {"app1": shell}, {"app1": netns})


def test_exec_refuses_a_node_that_is_not_the_labs(tmp_path):
    with pytest.raises(BadInput, match="no node 'ap1'.*did you mean: app1"):
        node_pid(state(tmp_path, owned(os.getpid(), "shell"), 1), "ap1")


def test_exec_refuses_a_reused_pid(tmp_path):
    reused = Owned(os.getpid(), 12345, "shell of node app1")  # same pid, another start time
    with pytest.raises(EnvironmentFailure, match="not running"):
        node_pid(state(tmp_path, reused, netns_inode()), "app1")


def test_exec_refuses_another_namespace_than_recorded(tmp_path):
    with pytest.raises(EnvironmentFailure, match="not in the namespace the lab recorded"):
        node_pid(state(tmp_path, owned(os.getpid(), "shell"), netns_inode() + 1), "app1")


def test_exec_never_enters_the_hosts_namespace(tmp_path):
    # a state file naming a host process, with the host's namespace recorded as the node's
    with pytest.raises(EnvironmentFailure, match="host's network namespace"):
        node_pid(state(tmp_path, owned(os.getpid(), "shell"), netns_inode()), "app1")


def test_ls_lists_a_lab_from_its_state_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VPCLAB_STATE_DIR", str(tmp_path / "labs"))
    run_ls(None)
    assert capsys.readouterr().out == "no running labs\n"
    (tmp_path / "plan.json").write_text('{"source": "topologies/gateway-endpoint.yaml"}')
    state(tmp_path, owned(os.getpid(), "shell"), 1).save()
    run_ls(None)
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:4] == ["LAB", "TOPOLOGY", "AGE", "NODES"]
    assert row.split()[:5] == ["vl0abc12", "topologies/gateway-endpoint.yaml", row.split()[2], "1", "up"]
