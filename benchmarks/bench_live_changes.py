"""Live changes (lab.realize.controller): what creating and deleting a gateway endpoint, and a
security-group change, cost in a running lab, against what the learner would otherwise do (tear
the lab down and start it again with the changed topology) and against the same kernel steps done
with plain Mininet, measured in the same run.

    sudo /opt/vpclab/venv/bin/python benchmarks/bench_live_changes.py [--runs 5]

* **create**: `aws ec2 create-vpc-endpoint`'s change, applied by the controller to a running
  gateway-endpoint lab that lacks its S3 endpoint: compile with Kept, one new node (shell, two
  veths, configuration, capture), the router's routes and rules, the S3 front's new ingress
  (nftables, and its reload on SIGHUP, waited for);
* **delete**: the same endpoint removed again (capture stopped, node ended, routes and front back);
* **security group**: one inbound rule authorized (the router's security tables replaced);
* **restart**: `Lab.stop()` of the lab and `Lab.start()` of the changed one, what a lab without live
  changes would need;
* **plain Mininet, same steps**: one `Node` and two Mininet `Link`s with their addresses (the new
  endpoint's namespace and veths) added to a running plain-Mininet net, and removed;
* **nft -f, same table**: the router's new security tables loaded with `nft -f` in a plain namespace.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    REPO,
    MininetNet,
    leftovers,
    machine,
    median,
    require_root,
    scratch_dir,
    table,
    terminated_cleanly,
)
from lab.model.loader import load_topology  # noqa: E402
from lab.plan.compile import compile_plan  # noqa: E402
from lab.plan.difference import tables  # noqa: E402
from lab.plan.security_changes import change_permission  # noqa: E402
from lab.realize.controller import Controller  # noqa: E402
from lab.realize.lab import Lab  # noqa: E402

RULE = "default --protocol tcp --port 8443 --cidr 10.9.0.0/16"  # the VPC's default group


def without_endpoint(t, vpc: str, endpoint: str):
    v = t.vpcs[vpc]
    return dataclasses.replace(
        t, vpcs=dict(t.vpcs) | {vpc: dataclasses.replace(v, endpoints={k: e for k, e in v.endpoints.items() if k != endpoint})}
    )


def timed(action) -> float:
    began = time.monotonic()
    action()
    return time.monotonic() - began


def live_round(full, start, run_dir: Path, tags: list[str]) -> dict[str, float]:
    endpoint = full.vpcs["app"].endpoints["s3-gw"]
    with Lab(compile_plan(start), run_dir) as lab, Controller(lab, start) as live:
        tags.append(lab.tag)
        add = lambda t: dataclasses.replace(  # noqa: E731
            t,
            vpcs=dict(t.vpcs)
            | {"app": dataclasses.replace(t.vpcs["app"], endpoints=dict(t.vpcs["app"].endpoints) | {"s3-gw": endpoint})},
        )
        got = {"create": timed(lambda: live.change(add))}
        got["delete"] = timed(lambda: live.change(lambda t: without_endpoint(t, "app", "s3-gw")))
        got["security group"] = timed(lambda: live.change(lambda t: change_permission(t, "authorize-ingress", RULE)))
        restarted = compile_plan(full)
        began = time.monotonic()
    with Lab(restarted, run_dir.with_name(run_dir.name + "-restart")) as again:
        tags.append(again.tag)
        got["restart"] = time.monotonic() - began  # the first lab's stop and this one's start
    return got


def mininet_round(plan) -> dict[str, float]:
    """The new endpoint's kernel steps in plain Mininet: a namespace, two veths, their addresses."""
    node = plan.node("app-s3-gw")
    net = MininetNet()
    try:
        for name in ("app-router", "s3-ap-northeast-2"):
            net.add_node(name)

        def create() -> None:
            net.add_node(node.name)
            for link in (lk for lk in plan.links if node.name in (lk.a[0], lk.b[0])):
                (a, a_if), (b, b_if) = link.a, link.b
                net.add_link(a, a_if, b, b_if)
            for iface in node.interfaces:
                for address in iface.addresses:
                    net.nodes[node.name].intf(iface.name).setIP(str(address.ip), address.network.prefixlen)

        made = timed(create)
        net.links = [lk for lk in net.links if node.name not in (lk.intf1.node.name, lk.intf2.node.name)]
        gone = timed(lambda: ended(net.nodes.pop(node.name)))
        router_tables = tables(plan.node("app-router").nftables)
        text = "".join(t for key, t in router_tables.items() if key in ("ip vpc_filters", "bridge eni_check"))
        script = Path(f"/tmp/vpclab-bench-live-{node.name}.nft")
        script.write_text(text)
        try:
            nft = timed(lambda: net.nodes["app-router"].cmd(f"nft -f {script}"))
        finally:
            script.unlink(missing_ok=True)
        return {"create": made, "delete": gone, "security group": nft}
    finally:
        net.stop()


def ended(node) -> None:
    """Mininet's terminate, then until the shell is gone (its namespace and veths with it)."""
    shell = node.shell
    node.terminate()
    shell.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    require_root()
    full = load_topology(str(REPO / "topologies" / "gateway-endpoint.yaml"))
    start = without_endpoint(full, "app", "s3-gw")
    live: dict[str, list[float]] = {}
    plain: dict[str, list[float]] = {}
    tags: list[str] = []
    with terminated_cleanly(), scratch_dir("vpclab-bench-live-") as scratch:
        for n in range(args.runs):
            for key, value in live_round(full, start, scratch / f"run{n}", tags).items():
                live.setdefault(key, []).append(value)
            for key, value in mininet_round(compile_plan(full)).items():
                plain.setdefault(key, []).append(value)
    restart = median(live["restart"])
    rows = [
        [
            key,
            f"{median(live[key]):.3f}",
            f"{median(plain[key]):.4f}",
            f"{median(live[key]) / median(plain[key]):.1f}x",
            f"{median(live[key]) / restart:.2f}x",
        ]
        for key in ("create", "delete", "security group")
    ]
    print(f"# live changes ({machine()}; {args.runs} runs, medians)\n")
    print(f"restart (stop the lab, start the changed one): {restart:.3f} s\n")
    print(table(["change", "live (s)", "same steps, plain (s)", "live / plain", "live / restart"], rows))
    left = leftovers([], tags)
    if left:
        print("LEFT BEHIND: " + "; ".join(left))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
