"""Bring-up and teardown of a vpclab Lab, per shipped topology, against plain Mininet building the
same namespaces and veth pairs in the same run (and a raw-netlink lower bound).

    sudo /opt/vpclab/venv/bin/python benchmarks/bench_bringup.py [--runs 5]

Variants, each run `--runs` times after one untimed warm-up, interleaved (the kernel destroys
namespaces asynchronously, so each variant follows each other variant equally often):

* **plain Mininet** (the baseline): `common.mininet_like`, Mininet's `Node(inNamespace=True)` per
  plan node, Mininet's `Link` per veth pair (the plan's links plus its one-node stub pairs), `lo up`
  and the plan's addresses via `Intf.setIP`; torn down as `Mininet.stop()` does (links deleted,
  shells terminated and waited for).
* **plain Mininet + carrier wait**: the same, then waiting until every veth has carrier, with the
  Lab's own wait (`lab.realize.kernel.links_without_carrier`). A packet sent before that is lost
  (measurements.md Trap 11); Mininet does not wait, a Lab does, so this is the like-for-like row.
* **raw netlink**: the same namespaces and veths with no process at all: `unshare(CLONE_NEWNET)` in
  this thread, the namespace kept by a file descriptor, veths, addresses and `up` through one
  pyroute2 socket per namespace; teardown closes the descriptors. A floor, not a competitor: the
  namespaces have no shell to run anything in.
* **vpclab Lab**: `Lab(plan, run_dir).start()` / `.stop()`, its phases timed from outside by a
  subclass. It does more than the baseline: sysctls per node, bridges, routes, policy rules,
  nftables, a carrier wait, one tcpdump per node, the service front (moto) and the resolver, bind
  mounts; `stop()` saves capture statistics and nft drop counters, then waits for every process.

Ratios are medians against plain Mininet's median in the same run; about ±20 % between runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pyroute2 import IPRoute  # noqa: E402

from common import (  # noqa: E402
    TOPOLOGIES,
    Owned,
    leftovers,
    machine,
    median,
    mininet_like,
    owned,
    plan_of,
    require_root,
    scratch_dir,
    table,
    terminated_cleanly,
    veth_count,
)
from lab.namespaces import CLONE_NEWNET, setns, unshare  # noqa: E402
from lab.realize import kernel  # noqa: E402
from lab.realize.lab import Lab  # noqa: E402

NETWORK_PHASES = ("create_nodes", "connect", "configure", "wait_carrier")
LAB_PHASES = (
    ("launch_services",) + NETWORK_PHASES + ("start_services", "start_captures", "wait_captures", "wait for services (READY)")
)


# -- vpclab, phases timed from outside --------------------------------------------------------------
class TimedLab(Lab):
    """A Lab whose build steps and teardown steps record their durations in `self.seconds`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seconds: dict[str, float] = {}

    def start_services(self) -> None:
        self.timed("start_services", super().start_services)
        ready = self.services.wait_ready
        self.services.wait_ready = lambda: self.timed("wait for services (READY)", ready)
        stop = self.services.stop
        self.services.stop = lambda: self.timed("stop services", stop)

    def save_evidence(self) -> None:
        self.timed("save evidence (captures, drop counters)", super().save_evidence)

    def timed(self, name: str, step) -> None:
        started = time.perf_counter()
        try:
            step()
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


def _timed_step(name: str):
    def step(self):
        self.timed(name, getattr(super(TimedLab, self), name))

    return step


for _name in NETWORK_PHASES + ("launch_services", "start_captures", "wait_captures", "save_drops"):
    setattr(TimedLab, _name, _timed_step(_name))


def run_lab(plan, pids: list[Owned], tags: list[str], while_up=None) -> tuple[float, float, dict[str, float], object]:
    """(up, down, the lab's phase times, what `while_up(lab)` measured once the lab was up)."""
    with scratch_dir("vpclab-bench-") as run_dir:
        lab = TimedLab(plan, run_dir)
        tags.append(lab.tag)
        started = time.perf_counter()
        try:
            lab.start()
            up = time.perf_counter() - started
            pids += list(lab.state.nodes.values()) + lab.state.processes
            measured = while_up(lab) if while_up else None
        finally:
            stopping = time.perf_counter()
            lab.stop()
            down = time.perf_counter() - stopping
    return up, down, lab.seconds, measured


# -- plain Mininet ----------------------------------------------------------------------------------
def wait_carrier(net, timeout: float = 5.0) -> None:
    """Until every veth has carrier (operstate UP), as `Lab.wait_carrier` does, with the same kernel
    helpers: the kernel raises carrier from its linkwatch work, which runs at most once a second."""
    deadline = time.monotonic() + timeout
    for name, node in net.nodes.items():
        with kernel.netns(node.pid) as ns:
            while kernel.links_without_carrier(ns, {}):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"plain Mininet: no carrier in {name} after {timeout} s")
                time.sleep(0.01)


def run_mininet(plan, pids: list[Owned], check: bool = False, carrier: bool = False) -> tuple[float, float]:
    started = time.perf_counter()
    net = mininet_like(plan)
    try:
        if carrier:
            wait_carrier(net)
    except BaseException:
        net.stop()
        raise
    up = time.perf_counter() - started
    pids += [owned(node.pid, f"shell of {name}") for name, node in net.nodes.items()]
    try:
        if check:  # untimed: the baseline's links carry packets
            check_link(plan, net)
    finally:
        stopping = time.perf_counter()
        net.stop()
        down = time.perf_counter() - stopping
    return up, down


def check_link(plan, net) -> None:
    """Ping across the first plan link with an address at both ends."""
    for link in plan.links:
        (a, a_if), (b, b_if) = link.a, link.b
        a_addrs = plan.node(a).interface(a_if).addresses
        b_addrs = plan.node(b).interface(b_if).addresses
        if a_addrs and b_addrs:
            out = net.nodes[a].cmd(f"ping -n -c1 -W2 {b_addrs[0].ip} >/dev/null; echo rc=$?")
            if not out.strip().endswith("rc=0"):
                raise RuntimeError(f"plain Mininet baseline: {a} cannot ping {b} ({b_addrs[0].ip})")
            return


# -- raw netlink: namespaces held by file descriptors -----------------------------------------------
@contextmanager
def inside(fd: int | None = None):
    """This thread in namespace `fd` (or in a new one when None), always back home afterwards."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        if fd is None:
            unshare(CLONE_NEWNET)
        else:
            setns(fd, CLONE_NEWNET)
        yield
    finally:
        setns(home, CLONE_NEWNET)  # if this raises, the benchmark stops: nothing may run in a lab namespace
        os.close(home)


class RawNet:
    def __init__(self):
        self.fds: dict[str, int] = {}
        self.sockets: dict[str, IPRoute] = {}

    def build(self, plan) -> None:
        for name in plan.nodes:
            with inside():
                self.fds[name] = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
                self.sockets[name] = IPRoute()
        for link in plan.links:
            (a, a_if), (b, b_if) = link.a, link.b
            self.sockets[a].link("add", ifname=a_if, kind="veth", peer={"ifname": b_if, "net_ns_fd": self.fds[b]})
        for name, spec in plan.nodes.items():
            ns = self.sockets[name]
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
            for iface in spec.interfaces:
                if iface.kind == "stub":
                    ns.link("add", ifname=iface.name, kind="veth", peer={"ifname": f"{iface.name}-x"})
                    ns.link("set", index=ns.link_lookup(ifname=f"{iface.name}-x")[0], state="up")
                idx = ns.link_lookup(ifname=iface.name)[0]
                for address in iface.addresses:
                    ns.addr("add", index=idx, address=str(address.ip), prefixlen=address.network.prefixlen)
                ns.link("set", index=idx, state="up")

    def veths(self) -> int:
        return sum(1 for ns in self.sockets.values() for link in ns.get_links() if link.get(("linkinfo", "kind")) == "veth")

    def stop(self) -> None:
        """Close the sockets and descriptors: with no process inside, the kernel removes each
        namespace and its veths (asynchronously, after this returns)."""
        for ns in self.sockets.values():
            ns.close()
        for fd in self.fds.values():
            os.close(fd)
        self.sockets, self.fds = {}, {}


def run_raw(plan, check: bool = False) -> tuple[float, float]:
    net = RawNet()
    started = time.perf_counter()
    try:
        net.build(plan)
        up = time.perf_counter() - started
        if check and net.veths() != 2 * veth_count(plan):
            raise RuntimeError(f"raw netlink: {net.veths()} veth ends, expected {2 * veth_count(plan)}")
    finally:
        stopping = time.perf_counter()
        net.stop()
        down = time.perf_counter() - stopping
    return up, down


# -- report -----------------------------------------------------------------------------------------
def spread(values: list[float]) -> str:
    return f"{median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def report(path: Path, plan, results: dict, phases: list[dict[str, float]]) -> None:
    base_up, base_down = (median([r[i] for r in results["plain Mininet"]]) for i in (0, 1))
    print(
        f"\n### {path.parent.name}/{path.name}: {len(plan.nodes)} namespaces, "
        f"{veth_count(plan)} veth pairs ({len(plan.links)} links + stubs), {len(results['vpclab Lab'])} runs\n"
    )
    rows = []
    for variant, runs in results.items():
        up, down = [r[0] for r in runs], [r[1] for r in runs]
        rows.append([variant, spread(up), f"{median(up) / base_up:.2f}x", spread(down), f"{median(down) / base_down:.2f}x"])
    network = [sum(p[n] for n in NETWORK_PHASES) for p in phases]
    rows.append(
        [
            "vpclab Lab, network phases only (nodes, links, config, carrier)",
            spread(network),
            f"{median(network) / base_up:.2f}x",
            "-",
            "-",
        ]
    )
    print(table(["variant", "bring-up s, median (min-max)", "vs Mininet", "teardown s, median (min-max)", "vs Mininet"], rows))
    print("\nvpclab Lab phases (median s):\n")
    for p in phases:
        drops = p.pop("save_drops", 0.0)
        p["  of which captures (0.2 s settle, then SIGINT each)"] = p.get("save evidence (captures, drop counters)", 0.0) - drops
        p["  of which save_drops (`nft -j list ruleset` in every nft node)"] = drops
    names = list(LAB_PHASES) + [n for n in phases[0] if n not in LAB_PHASES]
    downs = [r[1] for r in results["vpclab Lab"]]
    rest = [d - p.get("save evidence (captures, drop counters)", 0) - p.get("stop services", 0) for d, p in zip(downs, phases)]
    rows = [[n, f"{median([p.get(n, 0.0) for p in phases]):.3f}"] for n in names]
    rows.append(["stop: node shells and cleanup.remove (the rest of `stop()`)", f"{median(rest):.3f}"])
    print(table(["phase", "s"], rows))


def bench_topology(path: Path, runs: int, pids: list[Owned], tags: list[str]) -> None:
    plan = plan_of(path)
    results = {"plain Mininet": [], "plain Mininet + carrier wait": [], "raw netlink (no processes)": [], "vpclab Lab": []}
    phases = []
    variants = [
        ("plain Mininet", lambda check: run_mininet(plan, pids, check)),
        ("plain Mininet + carrier wait", lambda check: run_mininet(plan, pids, check, carrier=True)),
        ("raw netlink (no processes)", lambda check: run_raw(plan, check)),
        ("vpclab Lab", lambda check: run_lab(plan, pids, tags)[:3]),
    ]
    for rep in range(runs + 1):  # rep 0: warm-up (imports, caches, first-time checks), not counted
        order = variants[rep % len(variants) :] + variants[: rep % len(variants)]
        for name, run in order:
            result = run(rep == 0)
            if rep and name == "vpclab Lab":
                phases.append(result[2])
            if rep:
                results[name].append(result[:2])
            time.sleep(0.2)
    report(path, plan, results, phases)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, choices=range(1, 21), metavar="N (1-20)")
    parser.add_argument(
        "topologies", nargs="*", type=Path, metavar="TOPOLOGY", help="topology files (default: every topologies/*.yaml)"
    )
    args = parser.parse_args()
    require_root()
    print(f"bench_bringup: {machine()}")
    pids, tags = [], []
    root_ns = os.stat("/proc/thread-self/ns/net").st_ino
    with terminated_cleanly():
        for path in [p.resolve() for p in args.topologies] or TOPOLOGIES:
            bench_topology(path, args.runs, pids, tags)
    if os.stat("/proc/thread-self/ns/net").st_ino != root_ns:
        raise SystemExit("BUG: this thread did not return to its own network namespace")
    left = leftovers(pids, tags)
    print("\nleftovers: " + (", ".join(left) if left else "none (all node shells, processes and lab states gone)"))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
