"""`vpclab ls` (the running labs, from their state files: no root when the state directory is
readable) and `vpclab exec LAB NODE CMD...` (a command in a node of a running lab, from another
terminal; root).

`exec` enters the node's namespaces by the pid of its shell as the lab recorded it (mnexec -a,
as the lab's own processes), never by a name: the pid must still be that shell (same start
time) and its network namespace the one the lab recorded, or the command is refused. It runs with
the lab's node environment (region, credentials, CA: saved by the prompt in the run directory),
in the lab's cgroup, on this terminal (interactive programs work), and exits with its status.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from lab.cli.prompt_nodes import suggest
from lab.cli.prompt_shell import in_node, interactive, load_env
from lab.cli.prompt_views import table
from lab.errors import BadInput, EnvironmentFailure
from lab.realize.guard import netns_inode
from lab.realize.state import LabState, scan, state_dir


def add_ls(verbs) -> None:
    p = verbs.add_parser("ls", help="list the running labs: tag, topology, age, nodes")
    p.set_defaults(run=run_ls)


def add_exec(verbs) -> None:
    p = verbs.add_parser("exec", help="run a command in a node of a running lab, from another terminal (root)")
    p.add_argument("lab", metavar="LAB", help="the lab's tag, as vpclab ls shows it")
    p.add_argument("node", metavar="NODE", help="a node of that lab")
    p.add_argument("command", metavar="CMD", nargs=argparse.REMAINDER, help="the command and its arguments")
    p.set_defaults(run=run_exec)


def readable_states() -> list[LabState]:
    try:
        return scan()[0]
    except PermissionError:
        raise EnvironmentFailure(f"cannot read the labs' state directory {state_dir()}: run as root") from None


def topology_of(state: LabState) -> str:
    """The topology file the lab was built from (its plan.json names it), or '?'."""
    try:
        return str(json.loads((Path(state.run_dir) / "plan.json").read_text())["source"])
    except (OSError, ValueError, KeyError, TypeError):
        return "?"


def age(state: LabState) -> str:
    """Since its vpclab process started (clock ticks since boot, as recorded)."""
    if state.owner.start is None:
        return "?"
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    seconds = max(0, int(uptime - state.owner.start / os.sysconf("SC_CLK_TCK")))
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) if seconds < 86400 else f"{seconds // 86400}d"


def run_ls(args: argparse.Namespace) -> int:
    states = readable_states()
    if not states:
        print("no running labs")
        return 0
    rows = []
    for s in states:
        status = "up" if s.owner.alive() else "left behind: vpclab clean"
        rows.append((s.tag, topology_of(s), age(s), str(len(s.nodes)), status, s.run_dir))
    print(table(("LAB", "TOPOLOGY", "AGE", "NODES", "STATUS", "RUN DIRECTORY"), rows))
    return 0


def node_pid(state: LabState, node: str) -> int:
    """The pid of the node's shell, once it is proven to be the lab's: alive with the recorded
    start time, in the recorded network namespace."""
    if node not in state.nodes:
        raise BadInput(f"lab {state.tag} has no node '{node}'{suggest(node, list(state.nodes))} (vpclab ls; nodes at its prompt)")
    shell = state.nodes[node]
    if not state.owner.alive() or not shell.alive():
        raise EnvironmentFailure(f"lab {state.tag} is not running (its node {node} has gone): vpclab clean removes what is left")
    try:
        same = netns_inode(shell.pid) == state.netns.get(node)
    except OSError:
        same = False
    if not same:
        raise EnvironmentFailure(f"node {node} of lab {state.tag}: its shell is not in the namespace the lab recorded; refusing")
    if netns_inode(shell.pid) == netns_inode():  # a damaged state file must not lead into the host
        raise EnvironmentFailure(f"node {node} of lab {state.tag}: its shell is in the host's network namespace; refusing")
    return shell.pid


def run_exec(args: argparse.Namespace) -> int:
    from lab.realize.guard import require_root

    if not args.command:
        raise BadInput("usage: vpclab exec LAB NODE CMD... (a command to run in the node)")
    require_root()
    states = {s.tag: s for s in readable_states()}
    if args.lab not in states:
        raise BadInput(f"no running lab '{args.lab}'{suggest(args.lab, list(states))} (vpclab ls lists them)")
    state = states[args.lab]
    pid = node_pid(state, args.node)
    argv = in_node(pid, list(args.command), Path(state.cgroup) if state.cgroup else None)
    code = interactive(argv, load_env(Path(state.run_dir)), os.getcwd())
    return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention


VERBS = [add_ls, add_exec]
