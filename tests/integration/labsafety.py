"""What "a lab never touches the root namespace" and "a lab leaves nothing behind" mean, as checks
any integration test can run (the fixtures that use them are in conftest.py).

- `RootSnapshot`: the root namespace's addresses, routes, rules, links, nftables ruleset, the files
  a lab node sees its own copy of (resolv.conf, the trust store) and what `ip route get` says about
  the lab's addresses. Two snapshots must be equal: a lab adds nothing to the root, not even for a
  moment, so "equal" is the whole claim (mininet `examples/test/test_natnet.py` checks the same
  kind of isolation).
- `LabRecord`: what is needed to look for a lab's leftovers after its state file is gone, taken
  while the lab runs, as late as possible before its teardown: its namespaces (inodes), every
  process then in them, its cgroup and its run directory.
- `residue`: everything of a lab that is still there; empty after a correct teardown.

Nothing here finds a process by name: processes are found by namespace inode, by pid with start
time, or by the lab's own run directory in their command line.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from lab.plan.types import Plan
from lab.realize import cgroup
from lab.realize.processes import pids_in_namespaces
from lab.realize.state import LabState, Owned, owned

REPO = Path(__file__).resolve().parents[2]

ROOT_COMMANDS = {
    "addresses": ["ip", "-o", "addr"],
    "routes": ["ip", "-o", "route", "show", "table", "all"],
    "routes6": ["ip", "-o", "-6", "route", "show", "table", "all"],
    "links": ["ip", "-o", "link"],
    "rules": ["ip", "rule"],
    "rules6": ["ip", "-6", "rule"],
    "netns ids": ["ip", "netns", "list-id"],  # a root link into a lab namespace would need one
    "nftables": ["nft", "list", "ruleset"],
}
ROOT_FILES = ("/etc/resolv.conf", "/etc/ssl/certs/ca-certificates.crt")
# Lifetimes that count down by themselves (DHCP leases, router advertisements): not a lab's doing.
COUNTDOWN = re.compile(r"\b(valid_lft|preferred_lft|expires) \S+")
# A process the lab did not start, as a user at the prompt might (nohup: a hangup does not end it);
# for a node shell's `cmd`, whose last word of output is then its pid.
STRAY = "nohup sleep 3600 >/dev/null 2>&1 & echo $!"


def lab_prerequisite_missing() -> str | None:
    """Why real labs cannot be built here, or None."""
    return prerequisite_missing(
        "it builds real labs (network namespaces, veths, nftables)",
        (("mnexec", "mininet"), ("ip", "iproute2"), ("nft", "nftables"), ("tcpdump", "tcpdump"), ("unshare", "util-linux")),
    )


def prerequisite_missing(needs_root_because: str, tools: tuple[tuple[str, str], ...]) -> str | None:
    """Why tests that need root, the (command, Debian package) `tools` and network namespaces of their
    own cannot run here, or None."""
    if os.geteuid() != 0:
        return f"needs root: {needs_root_because} (run scripts/test.sh as root)"
    for tool, package in tools:
        if shutil.which(tool) is None:
            return f"needs `{tool}` (Debian package {package}; scripts/provision.sh installs it)"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        return f"cannot create a network namespace here (`unshare -n true`: {probe.stderr.strip()})"
    return None


# -- the root namespace -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RootSnapshot:
    views: dict[str, str]  # what -> its normalised text
    addresses: tuple[str, ...] = ()  # looked up with `ip route get`

    def again(self) -> RootSnapshot:
        """The same views, now."""
        return root_snapshot(self.addresses)

    def differences(self, later: RootSnapshot) -> str:
        """A unified diff per view that changed; empty when nothing did."""
        out = []
        for name in dict.fromkeys([*self.views, *later.views]):
            before, after = self.views.get(name, ""), later.views.get(name, "")
            if before != after:
                out += [
                    f"root {name} changed:",
                    *difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "after", lineterm=""),
                ]
        return "\n".join(out)


def root_snapshot(addresses: tuple[str, ...] = ()) -> RootSnapshot:
    """The root namespace as this (root-namespace) process sees it; `addresses` are looked up with
    `ip route get`, so a route the lab added for one of them would show."""
    views = {name: COUNTDOWN.sub(r"\1 -", run(argv)) for name, argv in ROOT_COMMANDS.items()}
    for path in ROOT_FILES:
        views[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).exists() else "absent"
    views["mounts on /etc"] = "\n".join(
        line for line in Path("/proc/self/mountinfo").read_text().splitlines() if line.split()[4].startswith("/etc/")
    )
    if addresses:
        views["ip route get"] = run(["ip", "-force", "-o", "-batch", "-"], "".join(f"route get {a}\n" for a in addresses))
    return RootSnapshot(views, tuple(addresses))


def run(argv: list[str], stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=20)
    return done.stdout + done.stderr


def plan_addresses(plan: Plan) -> tuple[str, ...]:
    """Every IPv4 address the lab uses: public ones (service fronts, public and Elastic IPs) and
    private ones; none of them may be routed differently from the root once the lab is up."""
    found = {p.address for p in plan.public_ips}
    found |= {a for front in plan.services for a in front.addresses}
    for node in plan.nodes.values():
        found |= {i.ip for iface in node.bridges + node.interfaces for i in iface.addresses}
        found |= {i.ip for i in node.loopback}
    return tuple(str(a) for a in sorted(found, key=ipaddress.IPv4Address))


# -- what a lab leaves behind -----------------------------------------------------------------------
@dataclass(frozen=True)
class LabRecord:
    tag: str
    state_path: Path
    run_dir: str
    netns: dict[str, int]  # node -> network namespace inode
    members: tuple[Owned, ...]  # every process in those namespaces or its cgroup when the record was taken
    cgroup: str | None = None
    temporary: bool = False  # its run directory is vpclab's own: it must go too

    @classmethod
    def of(cls, state: LabState) -> LabRecord:
        """Take this while the lab runs (its namespaces exist): the state's own record, plus every
        process then in the lab's namespaces, whoever started it."""
        node_of = {inode: node for node, inode in state.netns.items()}
        members = []
        for pid in dict.fromkeys(pids_in_namespaces(state.netns.values()) + cgroup_members(state.cgroup)):
            proc = owned(pid, f"{command_line(pid)!r} in node {node_of.get(namespace_of(pid), '?')}")
            if proc.start is not None:
                members.append(proc)
        return cls(state.tag, state.path, state.run_dir, dict(state.netns), tuple(members), state.cgroup, state.temporary)

    @classmethod
    def read(cls, state_path: Path) -> LabRecord:
        """For a lab run by another process: from its state file."""
        return cls.of(LabState.load(state_path))

    def alive_members(self) -> list[Owned]:
        return [p for p in self.members if p.alive()]


def residue(record: LabRecord, root_before: RootSnapshot | None = None) -> list[str]:
    """Everything of the lab that is still there, in words: its state file, any process it had or
    that is now in its namespaces or runs from its run directory, any change to the root namespace."""
    problems = [f"state file {record.state_path} is still there"] if record.state_path.exists() else []
    if record.cgroup is not None and Path(record.cgroup).exists():
        problems.append(f"cgroup {record.cgroup} is still there, with processes {cgroup_members(record.cgroup)}")
    if record.temporary and Path(record.run_dir).exists():
        problems.append(f"temporary run directory {record.run_dir} is still there")
    problems += [f"still running: pid {p.pid} {p.what}" for p in record.alive_members()]
    reported = {p.pid for p in record.alive_members()}
    # Anything else in one of the lab's namespaces, as long as one of its recorded processes still
    # proves the namespace is the lab's: an inode number is reused once a namespace is gone, and
    # a lab started since (by another test, another user) may already have it.
    node_of = {inode: node for node, inode in record.netns.items()}
    proven = {namespace_of(p.pid) for p in record.alive_members()} & set(node_of)
    for pid in pids_in_namespaces(proven):
        if pid not in reported:
            problems.append(f"pid {pid} {command_line(pid)!r} is in the namespace of node {node_of.get(namespace_of(pid), '?')}")
            reported.add(pid)
    problems += [
        f"pid {pid} {cmd!r} runs from the lab's run directory"
        for pid, cmd in processes_mentioning(record.run_dir)
        if pid not in reported
    ]
    if root_before is not None:
        diff = root_before.differences(root_before.again())
        problems += [diff] if diff else []
    return problems


def cgroup_members(cgroup: str | None) -> list[int]:
    try:
        return [int(pid) for pid in (Path(cgroup) / "cgroup.procs").read_text().split()] if cgroup else []
    except FileNotFoundError:
        return []


def start_stray(node) -> int:
    return int(node.cmd(STRAY).split()[-1])


def kill_members(record: LabRecord) -> None:
    """Last resort after a failed test: SIGKILL what was in the lab's namespaces or cgroup while it
    ran and is still alive (pid and start time checked), never a process found only by an inode
    number; then whatever is in its cgroup, and the cgroup."""
    for proc in record.alive_members():
        try:
            os.kill(proc.pid, 9)
        except ProcessLookupError:
            pass
    if record.cgroup is not None:
        cgroup.kill(Path(record.cgroup), record.tag)


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            cmd = command_line(int(entry))
            if text in cmd:
                found.append((int(entry), cmd))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def namespace_of(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


# Opens a TLS connection to S3, says so, waits for a line on stdin, then sends a request on the
# same connection and reports what became of it.
HELD_CONNECTION = textwrap.dedent("""
    import socket, ssl, sys
    raw = socket.create_connection((sys.argv[1], 443), timeout=5)
    sock = ssl.create_default_context().wrap_socket(raw, server_hostname=sys.argv[1])
    print("CONNECTED", sock.getsockname()[1], flush=True)
    sys.stdin.readline()
    try:
        sock.sendall(b"GET /hello.txt HTTP/1.1\\r\\nHost: " + sys.argv[1].encode() + b"\\r\\n\\r\\n")
        print("ANSWER", sock.recv(100)[:12], flush=True)
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError) as exc:
        print("RESET", type(exc).__name__, flush=True)
    except socket.timeout:
        print("TIMEOUT", flush=True)
""")


def hold_connection(lab, source: str, host: str) -> subprocess.Popen:
    """A TLS connection from `source` to S3 at `host`, open and idle until `use_held`."""
    held = lab.node(source).popen(
        [sys.executable, "-c", HELD_CONNECTION, host],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=lab.node_env(source),
    )
    lab.own(held.pid, f"held connection in {source}")
    first = held.stdout.readline()
    assert first.startswith("CONNECTED"), first + held.stdout.read()
    return held


def use_held(held: subprocess.Popen) -> str:
    """Send a request on the held connection; what became of it (ANSWER ..., RESET ..., TIMEOUT)."""
    held.stdin.write("go\n")
    held.stdin.flush()
    return held.communicate(timeout=20)[0]
