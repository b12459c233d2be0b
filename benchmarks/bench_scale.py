"""Bring-up and teardown of the issue-8 scale topology at 1, 10, 30 and 100 VPCs (7 namespaces per
VPC plus 3: 100 VPCs are 703 namespaces), against plain Mininet building the same namespaces and
veth pairs and against a raw-netlink lower bound, in the same run; cost and memory per namespace.

    sudo /opt/vpclab/venv/bin/python benchmarks/bench_scale.py [--runs 3] [--vpcs 1 10 30 100]

The topology is `many_vpcs(n)` of tests/topologies.py, the one tests/integration/test_hundred_vpcs.py
traces end to end: per VPC a public, a private and an isolated subnet, an internet gateway, a NAT
gateway, an S3 gateway endpoint on the private and isolated route tables, one instance per subnet.

Variants (bench_bringup.py describes them), each size `--runs` times after one untimed warm-up at
that size, variants interleaved:
* **plain Mininet** (the baseline): Mininet `Node` per namespace, Mininet `Link` per veth pair,
  `lo up` and the plan's addresses; torn down as `Mininet.stop()`. Then, timed apart and not part of
  its bring-up, the wait until every veth has carrier (a Lab waits for it, Mininet does not).
* **raw netlink**: namespaces held by descriptors, no process in them; a floor.
* **vpclab Lab**: `Lab.start()` / `Lab.stop()` with everything (services, resolvers, captures).

Memory, while the variant is up: the kernel's growth since just before its bring-up (Slab, Percpu,
KernelStack and PageTables of /proc/meminfo: namespaces, devices, sockets, routes; the whole
machine's, so other work on the machine shows in it), and the proportional set size (PSS) of the
processes in its namespaces (for a Lab also the service launcher and its services).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import bench_bringup  # noqa: E402
from bench_bringup import NETWORK_PHASES, RawNet, wait_carrier  # noqa: E402
from common import Owned, leftovers, machine, median, mininet_like, owned, require_root, table, terminated_cleanly, veth_count
from lab.model.loader import load_topology  # noqa: E402
from lab.plan.compile import compile_plan  # noqa: E402
from lab.realize.processes import pids_in_namespaces  # noqa: E402
from topologies import many_vpcs  # noqa: E402

SIZES = (1, 10, 30, 100)


# -- memory -----------------------------------------------------------------------------------------
KERNEL_MEMORY = ("Slab:", "Percpu:", "KernelStack:", "PageTables:")


def kernel_memory() -> int:
    """What the kernel holds for itself (KERNEL_MEMORY of /proc/meminfo), in bytes."""
    lines = Path("/proc/meminfo").read_text().splitlines()
    return sum(int(line.split()[1]) * 1024 for line in lines if line.startswith(KERNEL_MEMORY))


def pss(pids) -> int:
    """Total proportional set size of `pids`, in bytes (a process gone meanwhile counts 0)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue
    return total


def namespace_inodes(pids) -> list[int]:
    return [os.stat(f"/proc/{pid}/ns/net").st_ino for pid in pids]


# -- the variants: (up s, down s, memory dict, extra phases) ------------------------------------------
def run_mininet(plan, pids: list[Owned]) -> dict:
    kernel = kernel_memory()
    started = time.perf_counter()
    net = mininet_like(plan)
    try:
        up = time.perf_counter() - started
        pids += [owned(node.pid, f"shell of {name}") for name, node in net.nodes.items()]
        memory = {
            "kernel": kernel_memory() - kernel,
            "pss": pss(pids_in_namespaces(namespace_inodes(node.pid for node in net.nodes.values()))),
        }
        waiting = time.perf_counter()
        wait_carrier(net, timeout=30.0)
        carrier = time.perf_counter() - waiting
    finally:
        stopping = time.perf_counter()
        net.stop()
        down = time.perf_counter() - stopping
    return {"up": up, "down": down, "memory": memory, "carrier": carrier}


def run_raw(plan) -> dict:
    kernel = kernel_memory()
    net = RawNet()
    started = time.perf_counter()
    try:
        net.build(plan)
        up = time.perf_counter() - started
        memory = {"kernel": kernel_memory() - kernel, "pss": 0}
    finally:
        stopping = time.perf_counter()
        net.stop()
        down = time.perf_counter() - stopping
    return {"up": up, "down": down, "memory": memory}


def run_lab(plan, pids: list[Owned], tags: list[str]) -> dict:
    kernel = kernel_memory()

    def memory(lab) -> dict:
        members = set(pids_in_namespaces(lab.state.netns.values())) | {o.pid for o in lab.state.processes}
        return {"kernel": kernel_memory() - kernel, "pss": pss(members)}

    up, down, phases, measured = bench_bringup.run_lab(plan, pids, tags, memory)
    return {"up": up, "down": down, "memory": measured, "phases": phases}


# -- one size ---------------------------------------------------------------------------------------
def bench_size(vpcs: int, runs: int, pids: list[Owned], tags: list[str]) -> dict:
    plan = compile_plan(load_topology("many-vpcs.yaml", many_vpcs(vpcs)))
    variants = [
        ("plain Mininet", lambda: run_mininet(plan, pids)),
        ("raw netlink", lambda: run_raw(plan)),
        ("vpclab Lab", lambda: run_lab(plan, pids, tags)),
    ]
    results: dict[str, list[dict]] = {name: [] for name, _ in variants}
    for rep in range(runs + 1):  # rep 0: warm-up, not counted
        for name, run in variants[rep % 3 :] + variants[: rep % 3]:
            result = run()
            if rep:
                results[name].append(result)
            time.sleep(0.5 + len(plan.nodes) / 200)  # the kernel frees the last variant's namespaces later
        print(
            f"  {vpcs} VPCs: round {rep}{' (warm-up)' if rep == 0 else ''} done "
            f"({time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.2f})",
            file=sys.stderr,
            flush=True,
        )
    return {"vpcs": vpcs, "namespaces": len(plan.nodes), "veths": veth_count(plan), "results": results}


# -- report -----------------------------------------------------------------------------------------
def med(runs: list[dict], key: str, sub: str | None = None) -> float:
    return median([r[key][sub] if sub else r[key] for r in runs])


def spread(runs: list[dict], key: str) -> str:
    values = [r[key] for r in runs]
    return f"{median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def against(by_size: dict[int, float], vpcs: int) -> str:
    """` (0.93x)`: the per-namespace cost at `vpcs` against the smallest size from 10 VPCs up."""
    base = min((k for k in by_size if k >= 10), default=None)
    return "" if base is None or vpcs < 10 else f" ({by_size[vpcs] / by_size[base]:.2f}x)"


def network(run: dict) -> float:
    return sum(run["phases"].get(p, 0.0) for p in NETWORK_PHASES)


def report(sizes: list[dict]) -> None:
    rows = []
    for s in sizes:
        mn, raw, lab = (s["results"][v] for v in ("plain Mininet", "raw netlink", "vpclab Lab"))
        base_up, base_down = med(mn, "up"), med(mn, "down")
        net = median([network(r) for r in lab])
        rows.append(
            [
                f"{s['vpcs']} ({s['namespaces']} / {s['veths']})",
                spread(mn, "up"),
                f"{med(mn, 'carrier'):.2f}",
                spread(raw, "up"),
                spread(lab, "up"),
                f"**{med(lab, 'up') / base_up:.2f}x**",
                f"{net:.2f} ({net / base_up:.2f}x)",
                spread(mn, "down"),
                spread(raw, "down"),
                spread(lab, "down"),
                f"{med(lab, 'down') / base_down:.2f}x",
            ]
        )
    print("\n**Bring-up and teardown**, seconds, median (min-max); ratios against plain Mininet's median:\n")
    print(
        table(
            [
                "VPCs (namespaces / veth pairs)",
                "Mininet up",
                "Mininet carrier wait",
                "raw netlink up",
                "vpclab Lab up",
                "Lab vs Mininet",
                "Lab network phases (vs Mininet)",
                "Mininet down",
                "raw down",
                "Lab down",
                "Lab down vs Mininet",
            ],
            rows,
        )
    )
    print(
        "\n**Per namespace**, ms (median up or down time / namespaces; in brackets, bring-up per "
        "namespace against the smallest size of 10 VPCs or more):\n"
    )
    rows, per = [], {}
    for s in sizes:
        n = s["namespaces"]
        cells = []
        for variant in ("plain Mininet", "raw netlink", "vpclab Lab"):
            runs = s["results"][variant]
            per.setdefault(variant, {})[s["vpcs"]] = med(runs, "up") / n
            cells += [
                f"{1000 * med(runs, 'up') / n:.1f}{against(per[variant], s['vpcs'])}",
                f"{1000 * med(runs, 'down') / n:.1f}",
            ]
        rows.append([f"{s['vpcs']} ({n})", *cells])
    print(table(["VPCs (namespaces)", "Mininet up", "Mininet down", "raw up", "raw down", "Lab up", "Lab down"], rows))
    print("\n**Memory while up**, per namespace, KiB (kernel growth / PSS of the processes in the namespaces):\n")
    rows = []
    for s in sizes:
        n = s["namespaces"]
        rows.append(
            [f"{s['vpcs']} ({n})"]
            + [
                f"{med(s['results'][v], 'memory', 'kernel') / n / 1024:.0f} / "
                f"{med(s['results'][v], 'memory', 'pss') / n / 1024:.0f}"
                for v in ("plain Mininet", "raw netlink", "vpclab Lab")
            ]
        )
    print(table(["VPCs (namespaces)", "plain Mininet", "raw netlink", "vpclab Lab"], rows))
    phases(sizes)


def phases(sizes: list[dict]) -> None:
    names = list(dict.fromkeys(n for s in sizes for r in s["results"]["vpclab Lab"] for n in r["phases"]))
    rows = [
        [name] + [f"{median([r['phases'].get(name, 0.0) for r in s['results']['vpclab Lab']]):.3f}" for s in sizes]
        for name in names
    ]
    print("\n**vpclab Lab phases**, median s:\n")
    print(table(["phase"] + [f"{s['vpcs']} VPCs" for s in sizes], rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, choices=range(1, 11), metavar="N (1-10)")
    parser.add_argument(
        "--vpcs", type=int, nargs="+", default=list(SIZES), metavar="N", help="sizes to build, in VPCs (default: 1 10 30 100)"
    )
    args = parser.parse_args()
    require_root()
    print(f"bench_scale: {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    pids, tags, sizes = [], [], []
    started = time.monotonic()
    with terminated_cleanly():
        for vpcs in args.vpcs:
            sizes.append(bench_size(vpcs, args.runs, pids, tags))
    report(sizes)
    print(f"\n{time.monotonic() - started:.0f} s in all; load average at the end {os.getloadavg()[0]:.2f}")
    left = leftovers(pids, tags)
    print("\nleftovers: " + (", ".join(left) if left else "none (all node shells, processes and lab states gone)"))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
