"""What the benchmarks share: the shipped topologies as plans, the plain-Mininet baseline, iperf3
runs inside nodes, medians and Markdown tables, and the rules every benchmark keeps.

Rules: root only; every loop bounded, every subprocess with a timeout; each benchmark removes what it
made (its Mininet node shells and links, its labs through `Lab.stop()`, its iperf3 processes by pid,
its temporary directories) in `finally` blocks, and SIGTERM/SIGHUP become SystemExit so those run.
Nothing is found or killed by name, and the root namespace gets no interface, address or sysctl:
that is why the baseline uses Mininet's `Node` and `Link` but not the `Mininet` class (its `init()`
runs `fixLimits()`, which raises sysctls such as net.core.rmem_max in the root namespace).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mininet.link import Link  # noqa: E402
from mininet.log import setLogLevel  # noqa: E402
from mininet.node import Node  # noqa: E402

from lab.model.loader import load_topology  # noqa: E402
from lab.plan.compile import compile_plan  # noqa: E402
from lab.plan.types import Plan  # noqa: E402
from lab.realize.state import Owned, owned  # noqa: E402,F401

# terminated_cleanly (SIGTERM and SIGHUP raise SystemExit, so every `finally` that tears
# something down runs), for the benchmarks to import from here.
from lab.signals import terminated_cleanly  # noqa: E402,F401

TOPOLOGIES = sorted((REPO / "topologies").glob("*.yaml"))


def require_root() -> None:
    if os.geteuid() != 0:
        sys.exit(
            "this benchmark builds network namespaces: run it as root (sudo /opt/vpclab/venv/bin/python benchmarks/<name>.py)"
        )
    setLogLevel("warning")


def throughput_arguments(doc: str) -> argparse.Namespace:
    """The throughput benchmarks' options (--runs, --seconds), parsed; root is required."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, choices=range(1, 11), metavar="N (1-10)")
    parser.add_argument("--seconds", type=int, default=3, choices=range(1, 31), metavar="S (1-30)")
    args = parser.parse_args()
    require_root()
    return args


def machine() -> str:
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} CPUs (nproc); "
        f"kernel {platform.release()}; Python {platform.python_version()}"
    )


def plan_of(path: Path) -> Plan:
    return compile_plan(load_topology(str(path)))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table: what the script prints is what docs/benchmarks.md shows."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- the plain-Mininet baseline ---------------------------------------------------------------------
@dataclass
class MininetNet:
    """What `Mininet.build()` + `stop()` do for hosts and links, without switches, controller or
    `fixLimits()`: one `Node(inNamespace=True)` per node, one Mininet `Link` per veth pair (its fast
    path: `ip link add ... type veth peer ... netns PID` run in the first node's shell), then
    `lo up` and `Intf.setIP()` for every address, as `configHosts()` does."""

    nodes: dict[str, Node] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)

    def add_node(self, name: str) -> Node:
        self.nodes[name] = Node(name, inNamespace=True)
        return self.nodes[name]

    def add_link(self, a: str, a_if: str, b: str, b_if: str) -> None:
        ports = {}
        if a == b:  # Mininet numbers both ends newPort() before adding either: one port for two intfs
            ports = {"port1": self.nodes[a].newPort(), "port2": self.nodes[a].newPort() + 1}
        self.links.append(Link(self.nodes[a], self.nodes[b], intfName1=a_if, intfName2=b_if, **ports))

    def stop(self) -> None:
        """As `Mininet.stop()`: every link deleted (`ip link del` at both ends), every node shell
        terminated (SIGHUP to its process group, then Mininet waits for it to exit)."""
        try:
            for link in self.links:
                link.stop()
        finally:
            for node in self.nodes.values():
                node.terminate()
            self.links, self.nodes = [], {}


def mininet_like(plan: Plan) -> MininetNet:
    """The plan's namespaces and veth pairs (links between nodes and the one-node stub pairs), with
    the plan's addresses; no bridges, routes, rules, nftables, sysctls, captures or services."""
    net = MininetNet()
    try:
        for name in plan.nodes:
            net.add_node(name)
        for link in plan.links:
            (a, a_if), (b, b_if) = link.a, link.b
            net.add_link(a, a_if, b, b_if)
        for name, spec in plan.nodes.items():
            for iface in spec.interfaces:
                if iface.kind == "stub":
                    net.add_link(name, iface.name, name, f"{iface.name}-x")
        for name, spec in plan.nodes.items():
            node = net.nodes[name]
            node.cmd("ifconfig lo up")
            for iface in spec.interfaces:
                for address in iface.addresses:
                    node.intf(iface.name).setIP(str(address.ip), address.network.prefixlen)
    except BaseException:
        net.stop()
        raise
    return net


def veth_count(plan: Plan) -> int:
    stubs = sum(1 for spec in plan.nodes.values() for iface in spec.interfaces if iface.kind == "stub")
    return len(plan.links) + stubs


# -- iperf3 inside nodes ----------------------------------------------------------------------------
@dataclass
class IperfResult:
    gbits: list[float]
    retransmits: list[int]
    seen_from: list[str]  # the source address the server saw, one per connection


@contextmanager
def iperf3_server(node, address: str, port: int, log_path: Path, own=None) -> Iterator[Path]:
    """`iperf3 -s` bound to `address` in `node`, stopped by pid at the end (SIGTERM, then SIGKILL)."""
    log_file = open(log_path, "w")
    proc = node.popen(
        ["iperf3", "-s", "-B", address, "-p", str(port), "--forceflush"],
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        if own is not None:
            own(proc.pid, f"iperf3 server in {node.name}")
        deadline = time.monotonic() + 10
        while "Server listening" not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"iperf3 -s in {node.name}: {log_path.read_text().strip() or 'no output'}")
            time.sleep(0.05)
        yield log_path
    finally:
        stop_process(proc)
        log_file.close()


def stop_process(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


def wait_reachable(node, address: str, tries: int = 10) -> None:
    """First frames after bring-up can be lost (measurements.md Trap 11): ping until one answers."""
    for _ in range(tries):
        if node.cmd(f"ping -n -c1 -W1 {address} >/dev/null 2>&1; echo rc=$?").strip().endswith("rc=0"):
            return
    raise RuntimeError(f"{node.name} cannot ping {address}")


def iperf3_runs(
    client,
    server,
    address: str,
    scratch: Path,
    *,
    runs: int = 3,
    seconds: int = 3,
    port: int = 5201,
    own=None,
    bind: str | None = None,
    ping: bool = True,
) -> IperfResult:
    """`runs` single-stream TCP tests of `seconds` each from `client` to `address` (in `server`,
    listening on `bind`, by default `address`: a node that translates the destination differs).
    `ping`: wait until `address` answers ping first (not where ICMP does not pass)."""
    if ping:
        wait_reachable(client, address)
    result = IperfResult([], [], [])
    log_path = scratch / f"iperf3-{server.name}-{time.monotonic_ns()}.log"
    with iperf3_server(server, bind or address, port, log_path, own) as log:
        for _ in range(runs):
            proc = client.popen(
                ["iperf3", "-c", address, "-p", str(port), "-t", str(seconds), "-J"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            try:
                if own is not None:
                    own(proc.pid, f"iperf3 client in {client.name}")
                out, err = proc.communicate(timeout=seconds + 20)
            finally:
                stop_process(proc)
            data = json.loads(out or b"{}")
            if "error" in data or "end" not in data:
                raise RuntimeError(f"iperf3 {client.name} -> {address}: {data.get('error') or err.decode().strip()}")
            result.gbits.append(data["end"]["sum_received"]["bits_per_second"] / 1e9)
            result.retransmits.append(data["end"]["sum_sent"].get("retransmits", 0))
        result.seen_from = sorted(set(re.findall(r"Accepted connection from ([\d.]+)", log.read_text())))
    return result


def nft(node, script: str) -> None:
    """`script` loaded by `nft -f` in `node` (through a file: node shells take one line at a time)."""
    fd, name = tempfile.mkstemp(prefix="bench-", suffix=".nft")
    path = Path(name)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(script)
        out = node.cmd(f"nft -f {path}; echo rc=$?")
    finally:
        path.unlink()
    if not out.strip().endswith("rc=0"):
        raise RuntimeError(f"nft in {node.name}: {out.strip()}")


def open_front_port(lab, front, port: int) -> None:
    """A service front serves `port` as it serves 80 and 443: the pair (ingress link, port) joins its
    redirect map and its ingress-port set for every ingress (lab.plan.nftables.service_front), so a
    connection to `port` takes the very lookups a request takes, and reaches a server listening on
    `port` in the front (the front itself listens on 80 and 443 only; anything else it resets)."""
    nft(
        lab.node(front.node),
        "".join(
            f'add element ip service_front ingress_redirect {{ "{i.iface}" . {port} : {port} }}\n'
            f'add element ip service_front ingress_ports {{ "{i.iface}" . {port} }}\n'
            for i in front.ingresses
        ),
    )


def leftovers(procs: list[Owned], tags: list[str]) -> list[str]:
    """What would prove a benchmark left something behind: one of its processes alive (pid and start
    time: on a busy machine a pid is soon someone else's), a state file of one of its labs (other
    labs on the machine are none of its business)."""
    found = [f"pid {p.pid} ({p.what}) alive" for p in procs if p.alive()]
    state_dir = Path(os.environ.get("VPCLAB_STATE_DIR", "/run/vpclab/labs"))
    found += [f"lab state {tag}" for tag in tags if (state_dir / f"{tag}.json").exists()]
    return found
