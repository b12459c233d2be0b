"""Security groups with 1, 50 and 500 rules on one ENI: bring-up, new connections and throughput,
against the same lab with no rule enforced and against plain kernel chains, measured in the same run.

    sudo /opt/vpclab/venv/bin/python benchmarks/bench_security_groups.py [--runs 3] [--connections 2000]

The lab (`topology(n)`): app1 in subnet private-a, srv in private-b, one VPC router between them (its
subnet bridges, policy routing, the security groups and network ACLs of lab.plan.security_nft). srv's
groups have n inbound rules: n - 1 that do not match app1 (TCP 5201-5202 from n - 1 other /32s), the
one that does last, as a rule chain would meet it; 100 rules per group at most (500 rules: 5 groups,
AWS's default per interface, with the rules-per-group quota raised from 60 to 100, which AWS grants
as long as the product stays within 1,000; `load` accepts exactly that one quota problem).

* **bring-up and teardown** of the whole Lab, `--runs` times per n, the sizes interleaved;
* **new connections per second**, app1 -> srv: `--connections` TCP connects, each closed with a reset
  (no TIME_WAIT), from one Python client to a Python server; every SYN is a new flow, so srv's groups
  decide each one (established packets skip the groups, as AWS's are stateful). The three labs are
  up side by side (captures stopped: bench_throughput.py measures them) with the kernel chains below,
  and `--runs` rounds measure each once in turn, so a busy machine's drift falls on all alike. Then
  the labs' `vpc_filters` and `eni_check` tables are deleted (nothing enforced) and measured again;
* **throughput**, iperf3, one TCP stream, `--runs` x `--seconds`, with the filters and without.

Baselines without vpclab: the same forwarding step as a kernel chain (a router entered through a
bridge, `chain_baseline`'s B, no nftables), and the same chain with a plain nftables forward chain of
n rules, one per peer, the matching one last, after `ct state established accept`: the rule chain
that sets and maps avoid.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import fmt  # noqa: E402
from common import (  # noqa: E402
    MininetNet,
    Owned,
    iperf3_runs,
    leftovers,
    machine,
    median,
    owned,
    require_root,
    scratch_dir,
    stop_process,
    table,
    terminated_cleanly,
)
from lab.errors import TopologyError  # noqa: E402
from lab.model.loader import parse_topology  # noqa: E402
from lab.model.source import read_yaml  # noqa: E402
from lab.model.topology import Topology  # noqa: E402
from lab.model.validate import validate  # noqa: E402
from lab.plan.compile import compile_plan  # noqa: E402
from lab.plan.types import Plan  # noqa: E402
from lab.realize.lab import Lab  # noqa: E402

RULES = (1, 50, 500)
GROUP_RULES = 100  # rules per group: 500 rules are 5 groups, AWS's default number per interface
IPERF, CONNECT = 5201, 5202
SERVER = "10.0.3.10"
# One connection after another, each closed with a reset (SO_LINGER 0): connections per second.
CLIENT = """
import socket, struct, sys, time
address, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
linger = struct.pack("ii", 1, 0)
started = time.perf_counter()
for _ in range(count):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    s.settimeout(3)
    s.connect((address, port))
    s.close()
print(count / (time.perf_counter() - started))
"""
SERVER_SCRIPT = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(512)
print("listening", flush=True)
while True:
    server.accept()[0].close()
"""


def peers(n: int) -> list[str]:
    """n - 1 addresses that are not app1's, then app1's subnet."""
    return [f"192.168.{i // 250}.{i % 250 + 1}/32" for i in range(n - 1)] + ["10.0.2.0/24"]


def topology(n: int) -> str:
    """srv's n rules in groups of up to GROUP_RULES, the matching rule in the last group."""
    cidrs = peers(n)
    chunks = [cidrs[i : i + GROUP_RULES] for i in range(0, n, GROUP_RULES)]
    groups = "".join(f"\n      g{k}:\n        ingress:" + "".join(map(rule, chunk)) for k, chunk in enumerate(chunks))
    return f"""
region: ap-northeast-2
vpcs:
  app:
    cidr: 10.0.0.0/16
    subnets:
      private-a: {{cidr: 10.0.2.0/24, az: a, route_table: private}}
      private-b: {{cidr: 10.0.3.0/24, az: b, route_table: private}}
    route_tables: {{private: []}}
    security_groups:{groups}
    instances:
      app1: {{subnet: private-a, private_ip: 10.0.2.10}}
      srv: {{subnet: private-b, private_ip: {SERVER}, security_groups: [{", ".join(f"g{k}" for k in range(len(chunks)))}]}}
"""


def rule(cidr: str) -> str:
    return f"\n          - {{protocol: tcp, ports: {IPERF}-{CONNECT}, cidr: {cidr}}}"


def load(n: int) -> Topology:
    """The topology, validated, with AWS's quota of rules per group raised to GROUP_RULES: AWS's
    default is 60 (and 5 groups per interface), raised on request as long as rules per group times
    groups per interface stays within 1,000 (amazon-vpc-limits.html); the lab checks the defaults."""
    model = parse_topology(read_yaml(f"bench-sg-{n}.yaml", topology(n)))
    try:
        validate(model)
    except TopologyError as exc:
        if any(p.code != "RulesPerSecurityGroupLimitExceeded" for p in exc.problems):
            raise
    return model


def run_script(node, script: str, args: list[str], own=None) -> subprocess.Popen:
    """`script` (Python) run by this interpreter inside `node`, its pid owned by the lab if any."""
    proc = node.popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if own is not None:
        own(proc.pid, f"benchmark script in {node.name}")
    return proc


def connection_rate(client, server, address: str, count: int, own=None) -> float:
    """New TCP connections per second from `client` to a server in `server`."""
    srv = run_script(server, SERVER_SCRIPT, [address, str(CONNECT)], own)
    try:
        if srv.stdout.readline().strip() != "listening":
            raise RuntimeError(f"connection server in {server.name}: {srv.stderr.read().strip()}")
        cli = run_script(client, CLIENT, [address, str(CONNECT), str(count)], own)
        try:
            out, err = cli.communicate(timeout=120)
        finally:
            stop_process(cli)
        if cli.returncode != 0:
            raise RuntimeError(f"connections {client.name} -> {address}: {err.strip()}")
        return float(out.strip())
    finally:
        stop_process(srv)


# -- the labs -----------------------------------------------------------------------------------------
def bring_ups(plans: dict[int, Plan], scratch: Path, runs: int, pids: list[Owned], tags: list[str]) -> dict[int, dict]:
    """Each lab started and stopped `runs` times, the sizes interleaved (a busy machine's drift falls
    on every size alike)."""
    times: dict[int, dict] = {n: {"up": [], "down": []} for n in plans}
    for run in range(runs):
        for n, plan in plans.items():
            lab = Lab(plan, scratch / f"up-{n}-{run}")
            tags.append(lab.tag)
            started = time.perf_counter()
            try:
                lab.start()
                times[n]["up"].append(time.perf_counter() - started)
                pids += list(lab.state.nodes.values()) + lab.state.processes
            finally:
                stopping = time.perf_counter()
                lab.stop()
                times[n]["down"].append(time.perf_counter() - stopping)
    return times


class Variant:
    """One client -> server pair to measure: a lab of n rules (`router`: its VPC router), or a kernel
    chain. Rates and throughput by state: `on` (as built), `off` (a lab's filters deleted)."""

    def __init__(self, label: str, client, server, own=None, router=None):
        self.label, self.client, self.server, self.own, self.router = label, client, server, own, router
        self.rates: dict[str, list[float]] = {}
        self.gbits: dict[str, list[float]] = {}

    def measure(self, state: str, args, scratch: Path) -> None:
        self.rates.setdefault(state, []).append(connection_rate(self.client, self.server, SERVER, args.connections, self.own))

    def throughput(self, state: str, args, scratch: Path) -> None:
        result = iperf3_runs(
            self.client, self.server, SERVER, scratch, runs=args.runs, seconds=args.seconds, own=self.own, ping=False
        )
        self.gbits[state] = result.gbits


def rounds(variants: list[Variant], state: str, args, scratch: Path) -> None:
    """`--runs` rounds of new connections, every variant once per round, then each one's throughput."""
    for _ in range(args.runs):
        for v in variants:
            v.measure(state, args, scratch)
    for v in variants:
        v.throughput(state, args, scratch)


def lab_variant(stack: ExitStack, n: int, plan: Plan, scratch: Path, pids: list[Owned], tags: list[str]) -> Variant:
    lab = stack.enter_context(Lab(plan, scratch / f"lab-{n}"))
    tags.append(lab.tag)
    pids += list(lab.state.nodes.values()) + lab.state.processes
    stack.callback(lambda: pids.extend(lab.state.processes))
    for capture in lab.captures:  # bench_throughput.py measures what captures cost
        capture.stop()
    return Variant(f"lab, {n} rules", lab.node("app1"), lab.node("srv"), lab.own, lab.node(plan.router("app").name))


def unfilter(variant: Variant) -> None:
    """The lab's security groups and ACLs gone from its router: nothing enforced."""
    out = variant.router.cmd("nft delete table ip vpc_filters; nft delete table bridge eni_check; echo rc=$?")
    if not out.strip().endswith("rc=0"):
        raise RuntimeError(f"deleting the filters of {variant.label}: {out.strip()}")


# -- kernel chains ----------------------------------------------------------------------------------
def linear_chain(n: int) -> str:
    """A plain forward chain: established first, then one rule per peer, the matching one last."""
    rules = "\n".join(f"    ip saddr {p} tcp dport {IPERF}-{CONNECT} accept" for p in peers(n))
    return (
        "table ip bench_linear {\n  chain forward {\n    type filter hook forward priority filter; policy drop;\n"
        f"    ct state established,related accept\n{rules}\n  }}\n}}\n"
    )


def chain_variant(stack: ExitStack, n: int | None, scratch: Path, pids: list[Owned]) -> Variant:
    """client -- bridge in a router -- server, plain routes; `n`: a linear nftables chain of n rules
    in the router (None: no nftables)."""
    net = MininetNet()
    stack.callback(net.stop)
    tag = "none" if n is None else str(n)
    names = [f"bench-sg{tag}-{role}" for role in "crs"]
    client, router, server = (net.add_node(name) for name in names)
    pids += [owned(node.pid, node.name) for node in (client, router, server)]
    net.add_link(names[0], "right", names[1], "left")
    net.add_link(names[1], "right", names[2], "left")
    client.cmd("ip link set lo up; ip link set right up; ip addr add 10.0.2.10/24 dev right")
    client.cmd("ip route add default via 10.0.2.1")
    router.cmd(
        "ip link set lo up; sysctl -qw net.ipv4.ip_forward=1; ip link add br0 type bridge; ip link set left master br0;"
        " ip link set left up; ip link set br0 up; ip addr add 10.0.2.1/24 dev br0;"
        " ip link set right up; ip addr add 10.0.3.1/24 dev right"
    )
    server.cmd(f"ip link set lo up; ip link set left up; ip addr add {SERVER}/24 dev left; ip route add default via 10.0.3.1")
    if n is not None:
        path = scratch / f"linear-{n}.nft"
        path.write_text(linear_chain(n))
        out = router.cmd(f"nft -f {path}; echo rc=$?")
        if not out.strip().endswith("rc=0"):
            raise RuntimeError(f"linear chain of {n}: {out.strip()}")
    label = "kernel chain B, no nftables" if n is None else f"kernel chain B + linear chain of {n} rules"
    return Variant(label, client, server)


# -- report -----------------------------------------------------------------------------------------
def report(times: dict[int, dict], sizes: dict[int, int], labs: dict[int, Variant], chains: dict) -> None:
    base_up = median(times[RULES[0]]["up"])
    plain = median(chains[None].rates["on"])
    rows = []
    for n, v in labs.items():
        on, off = median(v.rates["on"]), median(v.rates["off"])
        rows.append(
            [
                n,
                sizes[n],
                f"{median(times[n]['up']):.2f} ({fmt(times[n]['up'])})",
                f"{median(times[n]['up']) / base_up:.2f}x",
                f"{median(times[n]['down']):.2f}",
                f"{on:.0f} ({fmt0(v.rates['on'])})",
                f"{off:.0f} ({fmt0(v.rates['off'])})",
                f"**{on / off:.2f}x**",
                f"{on / median(labs[RULES[0]].rates['on']):.2f}x",
                f"{median(v.gbits['on']):.2f} / {median(v.gbits['off']):.2f}",
            ]
        )
    headers = ["rules on srv's ENI", "router ruleset (chars)", "Lab up s (runs)", f"up vs {RULES[0]} rule", "Lab down s"]
    headers += ["conn/s, enforced (runs)", "conn/s, nothing enforced", "enforced vs not", f"vs {RULES[0]} rule"]
    print("\n" + table(headers + ["Gbit/s enforced / not"], rows))
    rows = [
        [
            c.label,
            f"{median(c.rates['on']):.0f} ({fmt0(c.rates['on'])})",
            f"{median(c.rates['on']) / plain:.2f}x",
            f"{median(c.gbits['on']):.2f}",
        ]
        for c in chains.values()
    ]
    print("\n" + table(["without vpclab", "conn/s (runs)", "vs no nftables", "Gbit/s"], rows))


def fmt0(values: list[float]) -> str:
    return " / ".join(f"{v:.0f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, choices=range(1, 11), metavar="N (1-10)")
    parser.add_argument("--connections", type=int, default=5000, choices=range(100, 20001), metavar="C (100-20000)")
    parser.add_argument("--seconds", type=int, default=2, choices=range(1, 31), metavar="S (1-30)")
    args = parser.parse_args()
    require_root()
    print(f"bench_security_groups: {machine()}; {args.runs} runs, {args.connections} connections each", flush=True)
    pids: list[Owned] = []
    tags: list[str] = []
    plans = {n: compile_plan(load(n)) for n in RULES}
    sizes = {n: len(p.router("app").nftables) for n, p in plans.items()}
    with terminated_cleanly(), scratch_dir("vpclab-bench-") as scratch:
        times = bring_ups(plans, scratch, args.runs, pids, tags)
        print("bring-up: " + "; ".join(f"{n} rules {fmt(t['up'])} s" for n, t in times.items()), flush=True)
        with ExitStack() as stack:
            labs = {n: lab_variant(stack, n, plan, scratch, pids, tags) for n, plan in plans.items()}
            chains = {n: chain_variant(stack, n, scratch, pids) for n in (None, *RULES)}
            rounds([*labs.values(), *chains.values()], "on", args, scratch)
            for v in labs.values():
                unfilter(v)
            rounds(list(labs.values()), "off", args, scratch)
    report(times, sizes, labs, chains)
    left = leftovers(pids, tags)
    gone = "none (node shells, scripts, iperf3, tcpdump, services, lab states gone)"
    print("\nleftovers: " + (", ".join(left) if left else gone))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
