"""TCP throughput through a Network Load Balancer: its kernel path (DNAT by flow hash) and its PROXY
protocol v2 path (the node's proxy), against the same forwarding steps as a plain kernel chain,
measured in the same run.

    sudo /opt/vpclab/venv/bin/python benchmarks/bench_load_balancer.py [--runs 3] [--seconds 3]

One lab (`TOPOLOGY` below): the client in subnet app-b, the NLB's node and the target web-a in
app-a. A connection to the NLB crosses the VPC router (routed from app-b, through app-a's bridge),
the NLB node (DNAT and SNAT to its own IP, conntrack; or the proxy), and the router's app-a bridge
again to the target: steps BFB for the chain (a router entered through a bridge, a plain forwarder,
a router entered through a bridge). Two tools, one stream each, `--runs` tests of `--seconds`,
median Gbit/s:

* iperf3 on the kernel path (listener 5201), against the chain: the house's measure
  (bench_throughput.py, bench_interface_endpoint.py).
* `blast` on all three (the chain, the kernel path on 5202, the PPv2 path on 5203): a Python
  client writing 256 KiB blocks for `--seconds`, then waiting for the sink to close, and a sink
  on the target that skips a v2 header if one comes and reads to the end. iperf3 cannot be a PPv2
  target (the header would be read as its cookie), so this is the tool the PPv2 path is compared
  with; the kernel path is measured with it too, to set the two side by side.

The targets' health checks go to a provider application on 8080 (run by the benchmark), so the
target is healthy; captures are stopped before measuring (the lab's tcpdumps, as in
bench_interface_endpoint.py's `off` rows).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
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
    scratch_dir,
    stop_process,
    table,
    terminated_cleanly,
    throughput_arguments,
)
from lab.model.loader import load_topology  # noqa: E402
from lab.plan.compile import compile_plan  # noqa: E402
from lab.realize.lab import Lab  # noqa: E402

HOPS = "BFB"
TOPOLOGY = textwrap.dedent("""
    region: ap-northeast-2
    vpcs:
      provider:
        cidr: 10.1.0.0/16
        subnets:
          app-a: {cidr: 10.1.1.0/24, az: a}
          app-b: {cidr: 10.1.2.0/24, az: b}
        security_groups:
          web: {description: the NLB and its clients, ingress: [{protocol: all, cidr: 10.1.0.0/16}]}
        instances:
          client: {subnet: app-b}
          web-a: {subnet: app-a, private_ip: 10.1.1.10, security_groups: [web]}
        load_balancers:
          shop:
            subnets: [app-a]
            listeners:
              - {port: 5201, target_group: iperf}
              - {port: 5202, target_group: blast}
              - {port: 5203, target_group: blast-pp}
        target_groups:
          iperf: {target_type: ip, port: 5201, targets: [{ip: 10.1.1.10}], health_check: {port: 8080, interval: 5}}
          blast: {target_type: ip, port: 5202, targets: [{ip: 10.1.1.10}], health_check: {port: 8080, interval: 5}}
          blast-pp:
            target_type: ip
            port: 5203
            proxy_protocol_v2: true
            targets: [{ip: 10.1.1.10}]
            health_check: {port: 8080, interval: 5}
""")
SINK = """
import socket, sys
SIG = b"\\r\\n\\r\\n\\x00\\r\\nQUIT\\n"
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1]))); srv.listen(8); print("listening", flush=True)
buf = bytearray(1 << 20)
while True:
    conn, _ = srv.accept()
    head = conn.recv(16, socket.MSG_WAITALL)
    if head[:12] == SIG:  # a v2 header: skip what follows it (addresses, TLVs)
        rest = int.from_bytes(head[14:16], "big")
        while rest:
            rest -= len(conn.recv(min(rest, 65536)))
    while conn.recv_into(buf):
        pass
    conn.close()
"""
BLAST = """
import socket, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
block = bytes(256 * 1024); sent = 0
s = socket.create_connection((host, port), timeout=10)
start = time.monotonic()
while time.monotonic() - start < seconds:
    s.sendall(block); sent += len(block)
s.shutdown(socket.SHUT_WR); s.recv(1)  # the sink closes once it has read everything
print(sent * 8 / (time.monotonic() - start) / 1e9)
"""


def blast_runs(
    client, server, address: str, scratch: Path, *, runs: int, seconds: int, port: int = 5202, own=None
) -> IperfResult:
    """`runs` blasts of `seconds` from `client` to `address:port`, the sink listening in `server`."""
    (scratch / "sink.py").write_text(SINK)
    (scratch / "blast.py").write_text(BLAST)
    sink = server.popen(["python3", str(scratch / "sink.py"), str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        if own is not None:
            own(sink.pid, f"blast sink in {server.name}")
        if sink.stdout is None or b"listening" not in sink.stdout.readline():
            raise RuntimeError(f"the sink in {server.name} did not start")
        result = IperfResult([], [], [])
        for _ in range(runs):
            out = client.cmd(f"timeout {seconds + 20} python3 {scratch / 'blast.py'} {address} {port} {seconds}")
            result.gbits.append(float(out.strip().splitlines()[-1]))
        return result
    finally:
        stop_process(sink)


def bench_lab(scratch: Path, runs: int, seconds: int, pids: list[Owned], tags: list[str]) -> dict[str, IperfResult]:
    plan = compile_plan(load_topology("bench-load-balancer.yaml", TOPOLOGY))
    node = plan.load_balancer("provider", "shop").nodes[0]
    with Lab(plan, scratch / "lab") as lab:
        tags.append(lab.tag)
        pids += list(lab.state.nodes.values()) + lab.state.processes
        for capture in lab.captures:
            capture.stop()
        client, web = lab.node("client"), lab.node("web-a")
        app = web.popen(["python3", "-m", "lab.services.provider_app", "--port", "8080"], stderr=subprocess.DEVNULL)
        lab.own(app.pid, "provider-app in web-a")
        try:
            wait_healthy(lab.run_dir / "services" / f"{node.node}-target-health.json")
            ip = str(node.address)
            results = {
                "iperf3 kernel": iperf3_runs(
                    client, web, ip, scratch, runs=runs, seconds=seconds, own=lab.own, bind="0.0.0.0", ping=False
                ),
                "blast kernel": blast_runs(client, web, ip, scratch, runs=runs, seconds=seconds, port=5202, own=lab.own),
                "blast ppv2": blast_runs(client, web, ip, scratch, runs=runs, seconds=seconds, port=5203, own=lab.own),
            }
        finally:
            stop_process(app)
        pids += lab.state.processes
    return results


def wait_healthy(path: Path, timeout: float = 60.0) -> None:
    """Until every target of the node is healthy (the NLB node's target-health file)."""
    deadline = time.monotonic() + timeout
    while {t["state"] for g in json.loads(path.read_text()).values() for t in g["targets"]} != {"healthy"}:
        if time.monotonic() > deadline:
            raise RuntimeError(f"targets not healthy after {timeout:.0f} s: {path.read_text()}")
        time.sleep(0.5)


def main() -> int:
    args = throughput_arguments(__doc__)
    print(f"bench_load_balancer: {machine()}; 1 stream, {args.runs} x {args.seconds} s", flush=True)
    pids: list[Owned] = []
    tags: list[str] = []
    with terminated_cleanly(), scratch_dir("vpclab-bench-") as scratch:
        lab = bench_lab(scratch, args.runs, args.seconds, pids, tags)
        chain_iperf = chain_baseline(HOPS, scratch, args.runs, args.seconds, pids)
        chain_blast = chain_baseline(HOPS, scratch, args.runs, args.seconds, pids, measure=blast_runs)
    rows = [
        ["(k) NLB kernel path: client -> NLB:5201 -> web-a", "iperf3", lab["iperf3 kernel"], chain_iperf],
        ["(k) NLB kernel path: client -> NLB:5202 -> web-a", "blast", lab["blast kernel"], chain_blast],
        ["(p) NLB PPv2 path: client -> NLB:5203 -> proxy -> web-a", "blast", lab["blast ppv2"], chain_blast],
    ]
    print(
        "\n"
        + table(
            ["path", "tool", "lab Gbit/s (runs)", "steps", "kernel chain Gbit/s", "lab vs chain"],
            [
                [
                    p,
                    tool,
                    f"{median(r.gbits):.2f} ({fmt(r.gbits)})",
                    HOPS,
                    f"{median(c.gbits):.2f} ({fmt(c.gbits)})",
                    f"**{median(r.gbits) / median(c.gbits):.2f}x**",
                ]
                for p, tool, r, c in rows
            ],
        )
    )
    left = leftovers(pids, tags)
    print("\nleftovers: " + (", ".join(left) if left else "none (node shells, iperf3, sinks, services, lab states gone)"))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
