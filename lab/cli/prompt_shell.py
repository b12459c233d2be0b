"""Running things in a node from the prompt, on the learner's terminal.

- `NODE COMMAND`: sent to the node's Mininet shell; its output is streamed, and what the learner
  types while it runs is passed to it a line at a time (Mininet's habit: a node command's stdin is
  the terminal), so `app1 read x; echo $x` or `app1 python3` get their input. Ctrl-C sends SIGINT
  to what runs in the node (Node.sendInt), never to the lab. Ctrl-D is not passed on: a ^D that
  reached the node's own shell after the command ended would end that shell, and the node with
  it; programs that need an end of input run in `shell NODE`.
- `shell NODE`: an interactive bash inside the node (its network and mount namespaces, the
  environment node commands get: AWS region, credentials, the lab's CA; the prompt's cwd), in
  the lab's cgroup, attached to the terminal: job control, `read`, `aws configure`, REPLs work.
  The prompt ignores Ctrl-C meanwhile; the shell and its programs get it.
- `xterm NODE`: the same shell in an xterm, where a DISPLAY exists.

The environment is also saved in the run directory (node-env.json) so that `vpclab exec` from
another terminal gives a node command the same one.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from lab.realize import cgroup

ENV_FILE = "node-env.json"


def save_env(lab, node: str) -> None:
    """The node environment, in the run directory, for `vpclab exec` (a stand-in lab whose run
    directory is not on disk saves nothing)."""
    directory = Path(lab.run_dir)
    if directory.is_dir():
        (directory / ENV_FILE).write_text(json.dumps(lab.node_env(node), indent=1))


def load_env(run_dir: Path) -> dict[str, str]:
    """The node environment a running lab saved; a bare PATH if it saved none (a lab not started
    by `vpclab up`)."""
    try:
        return json.loads((run_dir / ENV_FILE).read_text())
    except (OSError, ValueError):
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def in_node(pid: int, argv: list[str], cgroup_path: Path | None = None) -> list[str]:
    """`argv` run in the namespaces of the node whose shell is `pid` (mnexec -a, as Mininet's
    popen), joining the lab's cgroup first so that the lab's teardown ends it too."""
    return cgroup.joining(cgroup_path, ["mnexec", "-a", str(pid), *argv])


def interactive(argv: list[str], env: dict[str, str], cwd: str) -> int:
    """Run `argv` on this terminal and wait; Ctrl-C goes to it, not to the prompt."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.call(argv, env=env, cwd=cwd, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    finally:
        signal.signal(signal.SIGINT, previous)


def shell_argv(name: str) -> list[str]:
    """bash without the host's rc files (they may set PATH or a prompt that hides which node it is)."""
    return ["bash", "--norc", "--noprofile", "-i"]


def shell_env(env: dict[str, str], name: str) -> dict[str, str]:
    return {**env, "PS1": f"{name}$ ", "TERM": os.environ.get("TERM", "xterm"), "HOME": os.environ.get("HOME", "/root")}


def open_shell(lab, name: str) -> int:
    node = lab.node(name)
    env = shell_env(lab.node_env(name), name)
    print(f"vpclab: a shell in node {name} (exit or Ctrl-D to come back to vpclab>)")
    return interactive(in_node(node.pid, shell_argv(name), lab.cgroup), env, os.getcwd())


def open_xterm(lab, name: str) -> str:
    """An xterm running the node's shell, left running; the line to print."""
    if not os.environ.get("DISPLAY"):
        return f"vpclab: no DISPLAY here for an xterm; use: shell {name}"
    if shutil.which("xterm") is None:
        return f"vpclab: xterm is not installed; use: shell {name}"
    node = lab.node(name)
    argv = ["xterm", "-title", f"vpclab {lab.tag}: {name}", "-e", *in_node(node.pid, shell_argv(name), lab.cgroup)]
    env = {**shell_env(lab.node_env(name), name), "DISPLAY": os.environ["DISPLAY"]}
    process = subprocess.Popen(argv, env=env, start_new_session=True)
    lab.own(process.pid, f"xterm of node {name}")
    return f"vpclab: xterm for {name} opened"


def run_at_prompt(node, command: str) -> None:
    """Stream the node command's output; forward typed lines to it while it runs (only from a
    terminal: piped input holds the next prompt commands); Ctrl-C interrupts the command."""
    typed = sys.stdin.isatty()
    drain(node)
    node.sendCmd(command)
    while node.waiting:
        try:
            readable, _, _ = select.select([node.stdout, sys.stdin] if typed else [node.stdout], [], [], 0.2)
            if sys.stdin in readable and (data := os.read(sys.stdin.fileno(), 4096)):
                node.write(data.decode(errors="replace"))  # Ctrl-D (no data) is not passed: see above
            if node.stdout in readable:
                sys.stdout.write(node.monitor(timeoutms=0))
                sys.stdout.flush()
        except KeyboardInterrupt:
            node.sendInt()


def drain(node) -> None:
    """Show what the node's shell printed since the last command ended: a line typed during a
    command that did not read it is run by the node's shell afterwards (as in Mininet). Without
    this its prompt marker would end the next command early, and every later command would show
    its predecessor's output. (select, not Node.waitReadable: Mininet's poll also reports a pty
    as writable, which it always is.)"""
    while node.readbuf or select.select([node.stdout], [], [], 0.05)[0]:
        sys.stdout.write(node.read(1024).replace("\x7f", ""))
    sys.stdout.flush()
