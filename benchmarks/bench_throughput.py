"""TCP throughput through a vpclab lab against a raw veth pair measured in the same run.

    sudo /opt/vpclab/venv/bin/python benchmarks/bench_throughput.py [--runs 3] [--seconds 3]

iperf3, one TCP stream, `--runs` tests of `--seconds` each per path, median Gbit/s:

* baseline: two fresh Mininet nodes joined by one Mininet `Link` (a veth pair, default offloads),
  measured before and after the labs; ratios use the median of both sets of runs;
* (a) IGW path, topologies/public-private.yaml: web1 -> internet-client (203.0.113.10): bridge and
  policy routing in the VPC router, 1:1 NAT in the internet gateway, the internet router;
* (b) NAT path, same lab: app1 -> internet-client: router, NAT gateway (masquerade), router again,
  internet gateway, internet;
* (c) gateway-endpoint path, topologies/gateway-endpoint.yaml: app1 -> 52.219.60.10:5201, the S3
  front's address, so the route table's prefix-list route takes it through the endpoint node
  (`iperf3 -s` in the S3 front node; its nftables redirect only ports 80 and 443).

Each lab path is measured first as a user runs it (a tcpdump -s 512 on every node), then with the
lab's captures stopped (`Capture.stop()` on each; the lab stays up). "server saw" is the source
address the iperf3 server logged: it shows which translations the path applied. Offloads stay on
everywhere (TSO/GSO, measurements.md Trap 8), as in a lab.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (REPO, IperfResult, MininetNet, iperf3_runs, leftovers, machine, median, plan_of,  # noqa: E402
                    require_root, scratch_dir, table, terminated_cleanly)

from lab.realize.lab import Lab  # noqa: E402

PATHS = {  # topology -> [(label, client node, server node, server address)]
    "public-private.yaml": [("(a) IGW: web1 -> internet-client", "web1", "internet-client", "203.0.113.10"),
                            ("(b) NAT: app1 -> internet-client", "app1", "internet-client", "203.0.113.10")],
    "gateway-endpoint.yaml": [("(c) gateway endpoint: app1 -> S3 52.219.60.10", "app1", "s3-ap-northeast-2",
                               "52.219.60.10")],
}


def veth_baseline(scratch: Path, runs: int, seconds: int, pids: list[int]) -> IperfResult:
    net = MininetNet()
    try:
        client, server = net.add_node("bench-veth-a"), net.add_node("bench-veth-b")
        pids += [client.pid, server.pid]
        net.add_link("bench-veth-a", "eth0", "bench-veth-b", "eth0")
        for node, address in ((client, "10.99.0.1"), (server, "10.99.0.2")):
            node.cmd("ifconfig lo up")
            node.intf("eth0").setIP(address, 24)
        return iperf3_runs(client, server, "10.99.0.2", scratch, runs=runs, seconds=seconds)
    finally:
        net.stop()


def capture_totals(stats: dict[str, dict]) -> tuple[int, int]:
    captured = sum(s.get("captured", 0) for s in stats.values())
    dropped = sum(s.get("dropped by kernel", 0) for s in stats.values())
    return captured, dropped


def bench_lab(topology: str, scratch: Path, runs: int, seconds: int, pids: list[int], tags: list[str]) -> list:
    """One lab, every path of it with captures on, then the same paths with captures off."""
    plan = plan_of(REPO / "topologies" / topology)
    run_dir = scratch / topology.removesuffix(".yaml")
    results = []
    with Lab(plan, run_dir) as lab:
        tags.append(lab.tag)
        pids += [o.pid for o in lab.state.nodes.values()] + [o.pid for o in lab.state.processes]
        for label, client, server, address in PATHS[topology]:
            result = iperf3_runs(lab.node(client), lab.node(server), address, scratch, runs=runs,
                                 seconds=seconds, own=lab.own)
            results.append((label, "on", result))
        stats = {c.node.name: c.stop() for c in lab.captures}
        pcaps = sum(p.stat().st_size for p in (run_dir / "captures").glob("*.pcap"))
        captured, dropped = capture_totals(stats)
        print(f"{topology}: captures while on: {captured} packets kept, {dropped} dropped by kernel, "
              f"{pcaps / 1e6:.0f} MB of pcap", flush=True)
        for label, client, server, address in PATHS[topology]:
            result = iperf3_runs(lab.node(client), lab.node(server), address, scratch, runs=runs,
                                 seconds=seconds, own=lab.own)
            results.append((label, "off", result))
        pids += [o.pid for o in lab.state.processes]
    return results


def report(before: IperfResult, after: IperfResult, results: list) -> None:
    base = median(before.gbits + after.gbits)
    rows = [["raw veth pair (before the labs)", "-", f"{median(before.gbits):.2f}", fmt(before.gbits),
             f"{median(before.gbits) / base:.2f}x", sum(before.retransmits), ", ".join(before.seen_from)],
            ["raw veth pair (after the labs)", "-", f"{median(after.gbits):.2f}", fmt(after.gbits),
             f"{median(after.gbits) / base:.2f}x", sum(after.retransmits), ", ".join(after.seen_from)]]
    for label, captures, result in sorted(results, key=lambda r: (r[0], r[1] == "off")):
        rows.append([label, captures, f"{median(result.gbits):.2f}", fmt(result.gbits),
                     f"{median(result.gbits) / base:.2f}x", sum(result.retransmits), ", ".join(result.seen_from)])
    print(f"\nbaseline (median of all {len(before.gbits) + len(after.gbits)} veth runs): {base:.2f} Gbit/s\n")
    print(table(["path", "captures", "Gbit/s (median)", "runs", "vs veth", "retransmits", "server saw"], rows))


def fmt(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, choices=range(1, 11), metavar="N (1-10)")
    parser.add_argument("--seconds", type=int, default=3, choices=range(1, 31), metavar="S (1-30)")
    args = parser.parse_args()
    require_root()
    print(f"bench_throughput: {machine()}; iperf3 TCP, 1 stream, {args.runs} x {args.seconds} s", flush=True)
    pids, tags, results = [], [], []
    with terminated_cleanly(), scratch_dir("vpclab-bench-") as scratch:
        before = veth_baseline(scratch, args.runs, args.seconds, pids)
        print(f"raw veth: {fmt(before.gbits)} Gbit/s", flush=True)
        for topology in PATHS:
            results += bench_lab(topology, scratch, args.runs, args.seconds, pids, tags)
        after = veth_baseline(scratch, args.runs, args.seconds, pids)
    report(before, after, results)
    left = leftovers(pids, tags)
    print("\nleftovers: " + (", ".join(left) if left else "none (node shells, iperf3, tcpdump, services, lab states gone)"))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
