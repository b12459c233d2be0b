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
  (`iperf3 -s` in the S3 front node, which serves only 80 and 443 and resets the rest: port 5201 is
  added to its redirect map and ingress-port set, `common.open_front_port`, so it is served alike);
* per path, a kernel chain with the same forwarding steps and nothing of vpclab (`chain_baseline`):
  what this kernel itself gives for that many hops, and so how much of the gap to one veth pair
  is vpclab's (nftables, policy routing, conntrack) and how much is the path's length.

Each lab path is measured first as a user runs it (a tcpdump -s 1024 on every node), then with the
lab's captures stopped (`Capture.stop()` on each; the lab stays up). "server saw" is the source
address the iperf3 server logged: it shows which translations the path applied. Offloads stay on
everywhere (TSO/GSO, measurements.md Trap 8), as in a lab.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    REPO,
    IperfResult,
    MininetNet,
    Owned,
    iperf3_runs,
    leftovers,
    machine,
    median,
    open_front_port,
    owned,
    plan_of,
    scratch_dir,
    table,
    terminated_cleanly,
    throughput_arguments,
)
from lab.realize.lab import Lab  # noqa: E402

PATHS = {  # topology -> [(label, client node, server node, server address)]
    "public-private.yaml": [
        ("(a) IGW: web1 -> internet-client", "web1", "internet-client", "203.0.113.10"),
        ("(b) NAT: app1 -> internet-client", "app1", "internet-client", "203.0.113.10"),
    ],
    "gateway-endpoint.yaml": [("(c) gateway endpoint: app1 -> S3 52.219.60.10", "app1", "s3-ap-northeast-2", "52.219.60.10")],
}
# The forwarding steps of each path, as `vpclab trace` shows them: B = a router entered through a
# subnet bridge in its namespace, F = a router entered through a plain veth.
HOPS = {
    "(a) IGW: web1 -> internet-client": "BFF",  # VPC router (subnet bridge), IGW, internet
    "(b) NAT: app1 -> internet-client": "BBBFF",  # router, NAT GW, router again, IGW, internet
    "(c) gateway endpoint: app1 -> S3 52.219.60.10": "BF",
}  # router, gateway endpoint


def veth_baseline(scratch: Path, runs: int, seconds: int, pids: list[Owned]) -> IperfResult:
    net = MininetNet()
    try:
        client, server = net.add_node("bench-veth-a"), net.add_node("bench-veth-b")
        pids += [owned(client.pid, "veth client"), owned(server.pid, "veth server")]
        net.add_link("bench-veth-a", "eth0", "bench-veth-b", "eth0")
        for node, address in ((client, "10.99.0.1"), (server, "10.99.0.2")):
            node.cmd("ifconfig lo up")
            node.intf("eth0").setIP(address, 24)
        return iperf3_runs(client, server, "10.99.0.2", scratch, runs=runs, seconds=seconds)
    finally:
        net.stop()


def chain_baseline(hops: str, scratch: Path, runs: int, seconds: int, pids: list[Owned], measure=None) -> IperfResult:
    """The same forwarding steps as a lab path with nothing of vpclab: a line of Mininet nodes with
    `ip_forward`, plain routes, a Linux bridge where the lab's path crosses one, no nftables, no
    policy routing, no conntrack. What this kernel gives for that many hops, by iperf3 unless
    `measure` (called as iperf3_runs is) measures it another way."""
    net = MininetNet()
    try:
        names = ["bench-chain-c"] + [f"bench-chain-{i}" for i in range(len(hops))] + ["bench-chain-s"]
        nodes = [net.add_node(name) for name in names]
        pids += [owned(node.pid, node.name) for node in nodes]
        for i in range(len(nodes) - 1):
            net.add_link(names[i], "right", names[i + 1], "left")
        for i, node in enumerate(nodes):
            node.cmd("ip link set lo up; sysctl -qw net.ipv4.ip_forward=1")
            left = "left"
            if 0 < i <= len(hops) and hops[i - 1] == "B":
                node.cmd("ip link add br0 type bridge; ip link set left master br0; ip link set br0 up")
                left = "br0"
            if i > 0:
                node.cmd(f"ip link set left up; ip addr add 10.99.{i - 1}.2/24 dev {left}")
            if i < len(nodes) - 1:
                node.cmd(f"ip link set right up; ip addr add 10.99.{i}.1/24 dev right")
            for segment in range(len(nodes) - 1):  # every other segment through the neighbour on its side
                if segment < i - 1:
                    node.cmd(f"ip route add 10.99.{segment}.0/24 via 10.99.{i - 1}.1")
                elif segment > i:
                    node.cmd(f"ip route add 10.99.{segment}.0/24 via 10.99.{i}.2")
        return (measure or iperf3_runs)(nodes[0], nodes[-1], f"10.99.{len(nodes) - 2}.2", scratch, runs=runs, seconds=seconds)
    finally:
        net.stop()


def capture_totals(stats: dict[str, dict]) -> tuple[int, int]:
    captured = sum(s.get("captured", 0) for s in stats.values())
    dropped = sum(s.get("dropped by kernel", 0) for s in stats.values())
    return captured, dropped


def bench_lab(topology: str, scratch: Path, runs: int, seconds: int, pids: list[Owned], tags: list[str]) -> list:
    """One lab, every path of it with captures on, then the same paths with captures off."""
    plan = plan_of(REPO / "topologies" / topology)
    run_dir = scratch / topology.removesuffix(".yaml")
    results = []
    with Lab(plan, run_dir) as lab:
        tags.append(lab.tag)
        pids += list(lab.state.nodes.values()) + lab.state.processes
        # In a service front iperf3 -s listens on every address: its redirect delivers to the ingress link's own.
        listen: dict[str, str] = {}
        for front in (f for f in plan.services if f.node in {server for _, _, server, _ in PATHS[topology]}):
            open_front_port(lab, front, 5201)  # the front resets any port but 80 and 443
            listen[front.node] = "0.0.0.0"
        for label, client, server, address in PATHS[topology]:
            result = iperf3_runs(
                lab.node(client),
                lab.node(server),
                address,
                scratch,
                runs=runs,
                seconds=seconds,
                own=lab.own,
                bind=listen.get(server),
            )
            results.append((label, "on", result))
        stats = {c.node.name: c.stop() for c in lab.captures}
        pcaps = sum(p.stat().st_size for p in (run_dir / "captures").glob("*.pcap"))
        captured, dropped = capture_totals(stats)
        print(
            f"{topology}: captures while on: {captured} packets kept, {dropped} dropped by kernel, {pcaps / 1e6:.0f} MB of pcap",
            flush=True,
        )
        for label, client, server, address in PATHS[topology]:
            result = iperf3_runs(
                lab.node(client),
                lab.node(server),
                address,
                scratch,
                runs=runs,
                seconds=seconds,
                own=lab.own,
                bind=listen.get(server),
            )
            results.append((label, "off", result))
        pids += lab.state.processes
    return results


def report(before: IperfResult, after: IperfResult, results: list, chains: dict[str, IperfResult]) -> None:
    base = median(before.gbits + after.gbits)
    rows = [
        [
            "raw veth pair (before the labs)",
            "-",
            f"{median(before.gbits):.2f}",
            fmt(before.gbits),
            f"{median(before.gbits) / base:.2f}x",
            sum(before.retransmits),
            ", ".join(before.seen_from),
        ],
        [
            "raw veth pair (after the labs)",
            "-",
            f"{median(after.gbits):.2f}",
            fmt(after.gbits),
            f"{median(after.gbits) / base:.2f}x",
            sum(after.retransmits),
            ", ".join(after.seen_from),
        ],
    ]
    for label, captures, result in sorted(results, key=lambda r: (r[0], r[1] == "off")):
        rows.append(
            [
                label,
                captures,
                f"{median(result.gbits):.2f}",
                fmt(result.gbits),
                f"{median(result.gbits) / base:.2f}x",
                sum(result.retransmits),
                ", ".join(result.seen_from),
            ]
        )
    print(f"\nbaseline (median of all {len(before.gbits) + len(after.gbits)} veth runs): {base:.2f} Gbit/s\n")
    print(table(["path", "captures", "Gbit/s (median)", "runs", "vs veth", "retransmits", "server saw"], rows))
    rows = []
    for label, captures, result in sorted(results, key=lambda r: r[0]):
        if captures == "off":
            chain = median(chains[label].gbits)
            rows.append(
                [
                    label,
                    HOPS[label],
                    f"{chain:.2f} ({fmt(chains[label].gbits)})",
                    f"{chain / base:.2f}x",
                    f"{median(result.gbits):.2f}",
                    f"{median(result.gbits) / chain:.2f}x",
                ]
            )
    print("\nThe same forwarding steps without vpclab (`chain_baseline`: plain forwarding, bridges, no nftables):\n")
    print(table(["path", "steps", "kernel chain Gbit/s", "chain vs veth", "lab, captures off", "lab vs chain"], rows))


def fmt(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def main() -> int:
    args = throughput_arguments(__doc__)
    print(f"bench_throughput: {machine()}; iperf3 TCP, 1 stream, {args.runs} x {args.seconds} s", flush=True)
    pids, tags, results = [], [], []
    with terminated_cleanly(), scratch_dir("vpclab-bench-") as scratch:
        before = veth_baseline(scratch, args.runs, args.seconds, pids)
        print(f"raw veth: {fmt(before.gbits)} Gbit/s", flush=True)
        for topology in PATHS:
            results += bench_lab(topology, scratch, args.runs, args.seconds, pids, tags)
        chains = {label: chain_baseline(hops, scratch, args.runs, args.seconds, pids) for label, hops in HOPS.items()}
        for label, result in chains.items():
            print(f"kernel chain {HOPS[label]}: {fmt(result.gbits)} Gbit/s", flush=True)
        after = veth_baseline(scratch, args.runs, args.seconds, pids)
    report(before, after, results, chains)
    left = leftovers(pids, tags)
    print("\nleftovers: " + (", ".join(left) if left else "none (node shells, iperf3, tcpdump, services, lab states gone)"))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
