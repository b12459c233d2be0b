"""TCP throughput through an interface endpoint, beside a gateway endpoint to the same service, against
the same forwarding steps as a plain kernel chain, measured in the same run.

    sudo /opt/vpclab/venv/bin/python benchmarks/bench_interface_endpoint.py [--runs 3] [--seconds 3]

One lab (`TOPOLOGY` below): app1 in subnet private-a; an S3 interface endpoint whose ENI is in
private-b; an S3 gateway endpoint on private-a's route table. iperf3, one TCP stream, `--runs` tests
of `--seconds` each, median Gbit/s:

* (d) interface endpoint: app1 -> the ENI's private IP, port 5201. The path: the VPC router (subnet
  bridge, policy routing, the security groups and network ACLs on the ENI's port and the subnets),
  the ENI node (DNAT to the service, conntrack), the S3 front (its ingress redirect and port check).
  An interface endpoint serves only the service's ports (80, 443, on which the real front listens),
  so the benchmark adds port 5201 next to them: a DNAT rule in a table of its own in the ENI node
  (before the lab's, same hook), and the pair (ingress link, 5201) to the front's own redirect map
  and ingress-port set for each of its ingresses, so the packets take the very lookups a request to
  443 takes. iperf3 -s runs in the front on every address (the redirect delivers to the ingress
  link's own).
* (c) gateway endpoint: app1 -> 52.219.60.10:5201 (S3's address: the prefix-list route), as in
  bench_throughput.py, through the same front and the same added port.
* per path, `chain_baseline` of bench_throughput.py with the same forwarding steps (B: a router
  entered through a subnet bridge, F: through a plain veth), no nftables, no conntrack.

Each path with the lab's captures on (a tcpdump on every node, as a user runs it), then off.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import chain_baseline, fmt  # noqa: E402
from common import (  # noqa: E402
    IperfResult,
    Owned,
    iperf3_runs,
    leftovers,
    machine,
    median,
    nft,
    open_front_port,
    scratch_dir,
    table,
    terminated_cleanly,
    throughput_arguments,
)
from lab.model.loader import load_topology  # noqa: E402
from lab.plan.compile import compile_plan  # noqa: E402
from lab.plan.types import Plan  # noqa: E402
from lab.realize.lab import Lab  # noqa: E402

PORT = 5201
TOPOLOGY = textwrap.dedent("""
    region: ap-northeast-2
    vpcs:
      app:
        cidr: 10.0.0.0/16
        subnets:
          private-a: {cidr: 10.0.2.0/24, az: a, route_table: private}
          private-b: {cidr: 10.0.3.0/24, az: b, route_table: private}
        route_tables: {private: []}
        endpoints:
          s3-gw: {type: gateway, service: s3, route_tables: [private]}
          s3-if: {type: interface, service: s3, subnets: [private-b], private_dns: false}
        instances:
          app1: {subnet: private-a}
    services: {s3: {buckets: {lab-bucket: {}}}}
""")
INTERFACE, GATEWAY = "(d) interface endpoint: app1 -> ENI:5201", "(c) gateway endpoint: app1 -> S3 52.219.60.10:5201"
HOPS = {INTERFACE: "BF", GATEWAY: "BF"}  # the VPC router (subnet bridge), then the endpoint node


def open_port(lab: Lab, plan: Plan) -> tuple[str, str]:
    """Port 5201 served like 443, through the interface endpoint and every ingress of the front:
    (the ENI node, its address)."""
    eni = next(n for n in plan.nodes.values() if n.kind == "interface-endpoint")
    front = plan.front_of(eni.name)[0]
    nft(
        lab.node(eni.name),
        "table ip bench {\n  chain prerouting {\n    type nat hook prerouting priority dstnat - 1; policy accept;\n"
        f'    iifname "eth0" tcp dport {PORT} dnat ip to {front.addresses[0]}\n  }}\n}}\n',
    )
    open_front_port(lab, front, PORT)
    return eni.name, str(plan.eni_address(eni.name))


def bench_lab(scratch: Path, runs: int, seconds: int, pids: list[Owned], tags: list[str]) -> list:
    """Both paths with captures on, then off (`Capture.stop()` on each; the lab stays up)."""
    plan = compile_plan(load_topology("bench-interface-endpoint.yaml", TOPOLOGY))
    results: list = []
    with Lab(plan, scratch / "lab") as lab:
        tags.append(lab.tag)
        pids += list(lab.state.nodes.values()) + lab.state.processes
        eni, eni_ip = open_port(lab, plan)
        client, server = lab.node("app1"), lab.node(plan.front_of(eni)[0].node)
        # An interface endpoint's ENI carries TCP only: no ping to wait on, iperf3's SYN retries instead.
        paths = ((INTERFACE, eni_ip, False), (GATEWAY, "52.219.60.10", True))
        for captures in ("on", "off"):
            if captures == "off":
                stats = {c.node.name: c.stop() for c in lab.captures}
                kept = sum(s.get("captured", 0) for s in stats.values())
                lost = sum(s.get("dropped by kernel", 0) for s in stats.values())
                print(f"captures while on: {kept} packets kept, {lost} dropped by kernel", flush=True)
            for label, target, ping in paths:  # the front's redirect delivers to the ingress link's address
                result = iperf3_runs(
                    client, server, target, scratch, runs=runs, seconds=seconds, port=PORT, own=lab.own, bind="0.0.0.0", ping=ping
                )
                results.append((label, captures, result))
        pids += lab.state.processes
    return results


def report(results: list, chains: dict[str, IperfResult]) -> None:
    rows = []
    for label, captures, result in sorted(results, key=lambda r: (r[0], r[1] == "off")):
        chain = median(chains[label].gbits)
        rows.append(
            [
                label,
                captures,
                f"{median(result.gbits):.2f} ({fmt(result.gbits)})",
                HOPS[label],
                f"{chain:.2f} ({fmt(chains[label].gbits)})",
                f"**{median(result.gbits) / chain:.2f}x**",
                sum(result.retransmits),
                ", ".join(result.seen_from),
            ]
        )
    headers = ["path", "captures", "lab Gbit/s (runs)", "steps", "kernel chain Gbit/s", "lab vs chain", "retransmits"]
    headers.append("server saw")
    print("\n" + table(headers, rows))


def main() -> int:
    args = throughput_arguments(__doc__)
    print(f"bench_interface_endpoint: {machine()}; iperf3 TCP, 1 stream, {args.runs} x {args.seconds} s", flush=True)
    pids: list[Owned] = []
    tags: list[str] = []
    with terminated_cleanly(), scratch_dir("vpclab-bench-") as scratch:
        results = bench_lab(scratch, args.runs, args.seconds, pids, tags)
        chain = chain_baseline("BF", scratch, args.runs, args.seconds, pids)
        print(f"kernel chain BF: {fmt(chain.gbits)} Gbit/s", flush=True)
    report(results, {INTERFACE: chain, GATEWAY: chain})
    left = leftovers(pids, tags)
    print("\nleftovers: " + (", ".join(left) if left else "none (node shells, iperf3, tcpdump, services, lab states gone)"))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
