"""A running lab: a plan applied to Mininet nodes, with captures and services, and its teardown.

    with Lab(plan, run_dir) as lab:      # builds everything, or removes what it built and raises
        lab.node("app1").cmd("curl ...")
    # gone: processes, namespaces, cgroup, state file; the run directory (captures, logs) stays
    # (Lab(plan) alone: a temporary run directory, removed with the lab)

The node and service classes are arguments (`node_class`, `services_class`), as Mininet takes its
host and link classes: a test injects a subclass that fails or records where it wants to, instead
of patching this module.

Division of labour: the plan decides (lab.plan), `kernel` applies one node's network settings,
`capture` runs tcpdump, `services` runs the AWS service fronts and resolvers, `state` records what
is owned so that `cleanup` can remove it even after this process was killed, `cgroup` holds every
process the lab's nodes start. The state file is written before anything else of the lab exists,
and names the run directory and cgroup before they are made.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import secrets
import signal
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from mininet.log import setLogLevel
from mininet.node import Node as MininetNode

from lab.plan.serialize import plan_to_dict
from lab.plan.types import Plan
from lab.realize import cgroup, cleanup, kernel, rundir
from lab.realize.capture import Capture, merge, wait_ready, write_interfaces
from lab.realize.errors import RealizeError
from lab.realize.guard import check_own_namespace, netns_inode, require_root
from lab.realize.services import Services
from lab.realize.state import LabState, owned

log = logging.getLogger(__name__)
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
SHELL_STARTS = 4  # node shells started at once: more only queue for the 2 CPUs of a small VM
SAVE_EVERY = 32  # node shells recorded between two saves of the state
FILES_PER_NODE, FILES_SPARE = 3, 256  # a shell's pty, both ends (Mininet keeps them), one to spare


class LabNode(MininetNode):
    """A Mininet node whose processes (`popen`) are born in the lab's cgroup; its shell is moved
    there by the lab as soon as it is recorded (lab.realize.cgroup)."""

    def __init__(self, name: str, cgroup_path: Path | None, **params):
        self.cgroup_path = cgroup_path
        super().__init__(name, **params)

    def popen(self, *args, **kwargs):
        kwargs.setdefault("mncmd", cgroup.joining(self.cgroup_path, ["mnexec", "-da", str(self.pid)]))
        return super().popen(*args, **kwargs)


class Lab:
    def __init__(
        self,
        plan: Plan,
        run_dir: Path | str | None = None,
        tag: str | None = None,
        *,
        node_class: type[LabNode] = LabNode,
        services_class: type[Services] = Services,
        cgroup_at: Callable[[str], Path | None] = cgroup.path_for,
    ):
        """`run_dir` None: a temporary one, vpclab-<tag> in the system's temporary directory, removed
        with the lab (also by `vpclab clean`). `node_class` is called as (name, cgroup path,
        inNamespace=True) for each node; `services_class` as (lab) once, to run the lab's services;
        `cgroup_at` as (tag): where the lab's cgroup is to be made, None for none."""
        self.node_class, self.services_class, self.cgroup_at = node_class, services_class, cgroup_at
        self.tag = tag or f"vl{secrets.token_hex(3)}"
        temporary = run_dir is None
        directory = Path(tempfile.gettempdir()) / f"vpclab-{self.tag}" if run_dir is None else Path(run_dir)
        # absolute: services open their files after entering a node's mount namespace (cwd is "/")
        self.plan, self.run_dir = plan, directory.resolve()
        self.state = LabState(self.tag, str(self.run_dir), temporary=temporary)
        self.cgroup: Path | None = None  # once made
        self.run_lock: int | None = None  # open descriptor holding the run directory's lock
        self.nodes: dict[str, MininetNode] = {}
        self.captures: list[Capture] = []
        self.services: Services | None = None  # once launched
        self.link_number = len(plan.links)  # veths made so far: a live change numbers its own after them

    # -- life cycle -------------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        require_root()
        setLogLevel("warning")
        make_room_for(len(self.plan.nodes))
        started = time.monotonic()
        self.record()
        try:
            self.make_cgroup()
            self.run_lock = rundir.prepare(self.run_dir, self.tag, self.state.temporary)
            (self.run_dir / "plan.json").write_text(json.dumps(plan_to_dict(self.plan), indent=1))
            self.launch_services()  # first: the launcher imports moto while the network is built
            self.create_nodes()
            self.connect()
            self.configure()
            self.start_services()
            self.start_captures()  # tcpdump gets ready while the links come up
            self.wait_carrier()
            self.wait_captures()
            self.launched().wait_ready()
            log.info("lab %s up in %.2f s", self.tag, time.monotonic() - started)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Remove everything this lab created; safe to call twice and after a failed start.
        Evidence (capture tails, drop counters) is saved first, but never at the cost of cleanup,
        and no signal interrupts it (they are held until the lab is gone, then delivered)."""
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self.teardown()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def teardown(self) -> None:
        try:
            self.save_evidence()
        except Exception:  # noqa: BLE001 - a lost counter must not leave a lab behind
            log.exception("lab %s: could not save the drop counters", self.tag)
        finally:
            if self.services is not None:
                self.services.stop()
                self.services = None
            # Before the shells go: while they live they prove the namespaces are still the lab's,
            # so whatever else runs in them (a process started at the prompt) can be killed too.
            cleanup.remove(self.state)
            for node in self.nodes.values():
                node.terminate()  # Mininet's own end of the node shell (its pty)
            self.nodes = {}
            if self.run_lock is not None:
                os.close(self.run_lock)  # the run directory is free for another lab
                self.run_lock = None

    def save_evidence(self) -> None:
        if self.captures:
            time.sleep(0.2)  # let the last packets reach the capture files
            for capture in self.captures:  # all stop at once; each then reports
                capture.interrupt()
            stats = {c.node.name: c.stop() for c in self.captures}
            self.captures = []
            if (self.run_dir / "captures").is_dir():  # tcpdump's own count of what it kept and lost
                (self.run_dir / "captures" / "stats.json").write_text(json.dumps(stats, indent=1))
                merge(self.run_dir / "captures")  # captures/run.pcapng, for Wireshark
        if self.nodes and self.run_dir.is_dir():
            self.save_drops()

    # -- building ---------------------------------------------------------------------------------
    def record(self) -> None:
        """The lab's state file, naming the run directory and the cgroup before either exists: from
        here on a SIGKILL leaves nothing that `vpclab clean` cannot find."""
        path = self.cgroup_at(self.tag)
        self.state.cgroup = None if path is None else str(path)
        self.state.save()

    def make_cgroup(self) -> None:
        """The lab's cgroup; without one (none writable, or it cannot be made) the lab still runs,
        and the log says what it loses."""
        why = "no writable cgroup2 hierarchy here"
        if self.state.cgroup is not None:
            try:
                cgroup.create(Path(self.state.cgroup))
                self.cgroup = Path(self.state.cgroup)
                return
            except RealizeError as exc:
                why, self.state.cgroup = str(exc), None
                self.state.save()
        log.warning(
            "lab %s: %s; processes that leave the lab's namespaces are found by walking the "
            "process tree, which misses those re-parented to init (e.g. by setsid -f)",
            self.tag,
            why,
        )

    def create_nodes(self) -> None:
        """One Mininet node (a shell in new network and mount namespaces) per plan node, their
        shells started a few at a time (each start mostly waits for bash). Shells are recorded as
        soon as they run and saved SAVE_EVERY at a time (a save rewrites the whole state: one per
        shell made a 703-node start quadratic; meanwhile each is in the lab's cgroup, and a shell
        dies by itself when vpclab does); on any exit, even Ctrl-C, no worker goes on starting
        unrecorded shells."""
        pool = ThreadPoolExecutor(max_workers=SHELL_STARTS)
        starting = {pool.submit(self.node_class, name, self.cgroup, inNamespace=True): name for name in self.plan.nodes}
        pending = set(starting)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    if future.exception() is not None:
                        raise RealizeError(f"shell of node {starting[future]}", str(future.exception()))
                    self.record_shell(starting[future], future.result())
                if len(self.nodes) % SAVE_EVERY < len(done):  # crossed a multiple: save
                    self.state.save()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for future, name in starting.items():  # those that finished while this one failed
                if name not in self.nodes and future.done() and not future.cancelled() and not future.exception():
                    self.record_shell(name, future.result())
            self.state.save()
        self.nodes = {name: self.nodes[name] for name in self.plan.nodes}  # plan order
        for name, node in self.nodes.items():
            check_own_namespace(name, node.pid)  # before its namespace is recorded as the lab's
            self.state.netns[name] = netns_inode(node.pid)
        self.state.save()
        for name, node in self.nodes.items():
            kernel.apply_sysctls(node.pid, kernel.sysctls(self.plan.node(name)))

    def record_shell(self, name: str, node: MininetNode) -> None:
        """Recorded (saved by the caller), then moved into the lab's cgroup while it is idle at its
        first prompt."""
        self.nodes[name] = node
        self.state.nodes[name] = owned(node.pid, f"shell of node {name}")
        if self.cgroup is not None:
            cgroup.add(self.cgroup, node.pid)

    def connect(self) -> None:
        """Every link a veth pair, made by the shell of its first node with the peer placed straight
        into the other node's namespace, all nodes at once (one netlink socket per link from here,
        through pyroute2, took 1.5 s of a 703-node start)."""
        links: dict[str, list[str]] = {name: [] for name in self.nodes}
        for number, link in enumerate(self.plan.links):
            (a, a_if), (b, b_if) = link.a, link.b
            mac = self.plan.node(a).interface(a_if).mac
            links[a].append(kernel.veth_line(a_if, self.nodes[b].pid, b_if, mac, number))
        self.in_every_shell("links of", {name: {"links": lines_of(lines)} for name, lines in links.items() if lines})

    def configure(self) -> None:
        """Bridges, addresses, routes and rules (`ip -batch`), then the ruleset (`nft -f`), in every
        node at once. Netlink requests sent one at a time from here (pyroute2) took 5 of a 703-node
        lab's 15 s: Python's cost per request, not the kernel's."""
        files = {name: {"ip": lines_of(kernel.ip_batch(self.plan.node(name)))} for name in self.nodes}
        for name, spec in self.plan.nodes.items():
            if spec.nftables:
                files[name]["nft"] = spec.nftables
        self.in_every_shell("configuration of", files)

    def in_every_shell(self, step: str, files: dict[str, dict]) -> None:
        """Each node's shell applies its files (kind -> text, see `kernel.apply_command`; they stay
        in the run directory's `config/`), all shells at once; then every answer is read, and the
        first failure stops the start."""
        directory = self.run_dir / "config"
        directory.mkdir(exist_ok=True)
        for name, kinds in files.items():
            self.nodes[name].sendCmd(kernel.apply_command(name, kinds, directory))
        answers = {name: self.nodes[name].waitOutput() for name in files}
        for name, out in answers.items():
            if not out.strip().endswith("rc=0"):
                raise RealizeError(f"{step} {name}", kernel.batch_error(out, directory))

    def wait_carrier(self, timeout: float = 5.0) -> None:
        """Until every veth has carrier; the interface indexes seen meanwhile go to the captures."""
        deadline = time.monotonic() + timeout
        indexes: dict[str, dict[int, str]] = {}
        for name, node in self.nodes.items():
            with kernel.netns(node.pid, f"links of {name}") as ns:
                while missing := kernel.links_without_carrier(ns, indexes.setdefault(name, {})):
                    if time.monotonic() > deadline:
                        raise RealizeError(f"links of {name}", f"no carrier on {', '.join(missing)}")
                    time.sleep(0.01)
        write_interfaces(self.run_dir / "captures", indexes)

    def start_captures(self, names: list[str] | None = None) -> list[Capture]:
        """One tcpdump per node (of `names`, else every node), started by every node's shell at once
        and recorded in one save (each is a child of its recorded shell meanwhile, and in the lab's
        cgroup where there is one); the captures started."""
        captures = [Capture(self.nodes[name], self.run_dir / "captures") for name in names or list(self.nodes)]
        for capture in captures:
            capture.node.sendCmd(capture.command())
        answers = [capture.node.waitOutput() for capture in captures]
        try:
            for capture, out in zip(captures, answers):
                self.state.processes.append(capture.started(out))
                self.captures.append(capture)
        finally:
            self.state.save()
        return captures

    def wait_captures(self) -> None:
        wait_ready(self.captures)

    def launch_services(self) -> None:
        self.services = self.services_class(self)
        self.services.launch()

    def start_services(self) -> None:
        self.launched().start()

    def launched(self) -> Services:
        """The lab's services, once `launch_services` made them."""
        if self.services is None:
            raise RealizeError("services", "they were never launched")
        return self.services

    # -- changing a running lab -----------------------------------------------------------------
    def apply(self, new_plan: Plan):
        """Run `new_plan` (compiled with this lab's Kept: lab.plan.kept) by applying only the
        difference (lab.realize.changes); returns it (lab.plan.difference.Difference)."""
        from lab.realize.changes import apply_plan

        return apply_plan(self, new_plan)

    # -- helpers ----------------------------------------------------------------------------------
    def own(self, pid: int, what: str) -> None:
        self.state.processes.append(owned(pid, what))
        self.state.save()

    def node(self, name: str) -> MininetNode:
        return self.nodes[name]

    def stopped_services(self) -> list[str]:
        """One line for each of the lab's services (and their launcher) that has died since it
        started: a dead front, not the network, is why a client then cannot connect."""
        return self.services.stopped() if self.services is not None else []

    def node_env(self, name: str) -> dict[str, str]:
        """Environment for a process started in node `name`: as its shell has it."""
        return self.services.env() if self.services else {"PATH": os.environ.get("PATH", "")}

    def save_drops(self) -> None:
        """nftables drop counters of every node that has a ruleset: where packets died, and why.
        Every such node's shell lists its ruleset at once (`config/<node>.ruleset.json`): one `nft`
        process started from here after the other took 1.6 s per look in a 100-VPC lab, and a
        trace looks twice."""
        names = [
            name
            for name, spec in self.plan.nodes.items()  # a shell still busy: a start cut short
            if spec.nftables and name in self.nodes and not self.nodes[name].waiting
        ]
        directory = self.run_dir / "config"
        for name in names:
            self.nodes[name].sendCmd(f"nft -j list ruleset > {directory / name}.ruleset.json 2>/dev/null")
        for name in names:
            self.nodes[name].waitOutput()
        drops = {name: read_drops(directory / f"{name}.ruleset.json") for name in names}
        (self.run_dir / "drops.json").write_text(json.dumps(drops, indent=1))


def lines_of(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def read_drops(ruleset: Path) -> list[dict]:
    """The counted rules (those with a comment) of a ruleset listed by `nft -j`; none if it could not be."""
    try:
        out = ruleset.read_text()
    except OSError:
        out = ""
    counters = []
    for item in json.loads(out or "{}").get("nftables", []):
        rule = item.get("rule")
        if not rule or "comment" not in rule:
            continue
        for expr in rule.get("expr", []):
            if "counter" in expr:
                counters.append(
                    {"comment": rule["comment"], "packets": expr["counter"]["packets"], "bytes": expr["counter"]["bytes"]}
                )
    return counters


def make_room_for(nodes: int) -> None:
    """Raise this process's soft limit on open files (up to the hard limit) to what a lab of
    `nodes` holds: both ends of each node shell's pty. Debian's default soft limit of 1024 ended a
    703-node start with EMFILE (Too many open files) at the 508th shell."""
    need = FILES_PER_NODE * nodes + FILES_SPARE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            raise RealizeError(
                "start",
                f"a lab of {nodes} nodes needs about {need} open files, and the hard "
                f"limit is {hard}: raise it (ulimit -Hn, or LimitNOFILE= in systemd)",
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
