"""One plan Node -> its namespace's configuration, through netlink (pyroute2) and `nft -f`.

The realizer never picks a value: names, addresses, routes, rules and rulesets all come from the
plan. Links are created inside the namespaces (the veth's peer is placed straight into the other
node's namespace), so no lab interface ever exists in the root namespace, not even for a moment.
"""
from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lab.namespaces import CLONE_NEWNET, setns
from lab.plan.types import KernelRoute, Node, RoutingRule
from lab.realize.errors import RealizeError

# Sysctls set in every node before any of its interfaces exist, so new interfaces inherit them:
# forwarding where AWS forwards, no reverse-path filter (NAT gateway and router see asymmetric
# paths), no ICMP redirects (AWS's router never sends them), and no IPv6 (the lab is IPv4-only, and
# link-local chatter would only blur the captures).
BASE_SYSCTLS = {
    "net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0,
    "net.ipv4.conf.all.send_redirects": 0, "net.ipv4.conf.default.send_redirects": 0,
    "net.ipv6.conf.all.disable_ipv6": 1, "net.ipv6.conf.default.disable_ipv6": 1,
}


HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextmanager
def inside(pid: int) -> Iterator[None]:
    """This thread (only this one: pyroute2's pushns keeps one stack for the whole process) inside
    the network namespace of process `pid`, then back home; a socket opened inside stays bound to
    that namespace. Stop signals wait until the thread is home again: an exception raised by one
    in between would leave vpclab running, and tearing the lab down, inside a node."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            setns(target, CLONE_NEWNET)
        finally:
            os.close(target)
        try:
            if os.stat("/proc/thread-self/ns/net").st_ino == os.fstat(home).st_ino:
                raise RealizeError("namespace", f"process {pid} is in vpclab's own network namespace; refusing")
            yield
        finally:
            setns(home, CLONE_NEWNET)  # if this fails the lab stops: nothing else may run in a node's namespace
    finally:
        os.close(home)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


@contextmanager
def netns(pid: int) -> Iterator[IPRoute]:
    """A netlink socket bound in the node's namespace: created while this thread is inside it
    (setns), used and closed from here. pyroute2's NetNS helper forks for each socket and, on
    this machine, closed descriptors it no longer owned (Mininet's pty masters: node shells died)."""
    with inside(pid):
        ipr = IPRoute()
    try:
        yield ipr
    finally:
        ipr.close()


def sysctls(node: Node) -> dict[str, int]:
    values = dict(BASE_SYSCTLS)
    values["net.ipv4.ip_forward"] = 1 if node.forwarding else 0
    return values


def apply_sysctls(pid: int, values: dict[str, int]) -> None:
    """Write /proc/sys/net/... from a thread inside the node's namespace: the kernel resolves those
    files by the opening thread's namespace (checked: a thread inside reads the node's ip_forward,
    the process outside its own), so no `sysctl` process is needed."""
    with inside(pid):
        for key, value in values.items():
            try:
                with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                    f.write(f"{value}\n")
            except OSError as e:
                raise RealizeError("sysctls", f"{key}={value} in process {pid}'s namespace: {e.strerror}") from None


FIRST_LINK_INDEX = 1000  # far above the indexes the kernel hands out in a node's namespace


def create_link(ns_a: IPRoute, a_if: str, pid_b: int, b_if: str, mac_a: str | None, number: int) -> None:
    """The `a` end gets an ifindex of its own (FIRST_LINK_INDEX + number): when both ends of a veth
    had the same index, the kernel raised the carrier of one end up to a second late (linkwatch's
    rate limit; measured in docs/benchmarks.md), and every lab start waited for it."""
    extra = {"address": mac_a} if mac_a else {}
    ns_a.link("add", ifname=a_if, kind="veth", index=FIRST_LINK_INDEX + number,
              peer={"ifname": b_if, "net_ns_pid": pid_b}, **extra)


class Indexes(dict):
    """Interface name -> ifindex of one namespace, from one link dump (pyroute2's link_lookup dumps
    every link for each name it looks up: that was a third of a lab's configuration time)."""

    def __init__(self, ns: IPRoute):
        super().__init__((link.get("ifname"), link["index"]) for link in ns.get_links())

    def __missing__(self, ifname: str) -> int:
        raise RealizeError("configure", f"interface {ifname} is missing")


def configure(node: Node, ns: IPRoute) -> Indexes:
    """Bridges, addresses, links up, routes and rules of one node (its veths already exist);
    returns the node's interface indexes."""
    for bridge in node.bridges:
        ns.link("add", ifname=bridge.name, kind="bridge", br_stp_state=0, br_forward_delay=0)
    for iface in node.interfaces:
        if iface.kind == "stub":  # a veth with both ends here: the kernel has no dummy device
            ns.link("add", ifname=iface.name, kind="veth", peer=f"{iface.name}-x")
    index = Indexes(ns)
    ns.link("set", index=index["lo"], state="up")
    for iface in node.interfaces:
        if iface.kind == "stub":
            ns.link("set", index=index[f"{iface.name}-x"], state="up")
    for iface in node.interfaces:
        if iface.mac:
            ns.link("set", index=index[iface.name], address=iface.mac)
        if iface.bridge:
            ns.link("set", index=index[iface.name], master=index[iface.bridge])
    for iface in node.bridges + node.interfaces:
        for address in iface.addresses:
            ns.addr("add", index=index[iface.name], address=str(address.ip), prefixlen=address.network.prefixlen)
        ns.link("set", index=index[iface.name], state="up")
    for address in node.loopback:
        ns.addr("add", index=index["lo"], address=str(address.ip), prefixlen=32)
    for route in node.routes + tuple(r for t in node.route_tables for r in t.routes):
        add_route(ns, index, route)
    for rule in node.rules:
        add_rule(ns, rule)
    return index


def links_without_carrier(ns: IPRoute) -> list[str]:
    """veths whose carrier is not up yet: the kernel raises it asynchronously (linkwatch), and a
    packet sent before that is lost (measurements.md Trap 11)."""
    return [link.get("ifname") for link in ns.get_links()
            if link.get(("linkinfo", "kind")) == "veth" and link.get("operstate") != "UP"]


def add_route(ns: IPRoute, index: Indexes, route: KernelRoute, command: str = "add") -> None:
    spec = {"dst": str(route.destination), "table": route.table, "priority": route.metric,
            "oif": index[route.dev]}
    if route.via is not None:
        spec["gateway"] = str(route.via)
    else:
        spec["scope"] = "link"
    try:
        ns.route(command, **spec)
    except NetlinkError as exc:
        raise RealizeError("route", f"{route.destination} in table {route.table}: {exc}") from None


def add_rule(ns: IPRoute, rule: RoutingRule) -> None:
    spec = {"table": rule.table, "priority": rule.priority}
    if rule.iif:
        spec["iifname"] = rule.iif
    if rule.fwmark is not None:
        spec["fwmark"] = rule.fwmark
    ns.rule("add", **spec)


def start_ruleset(popen, node: Node, path: Path) -> subprocess.Popen:
    """`nft -f PATH` inside the node, with the node's ruleset written to `path` first (it stays in
    the run directory). Not waited for (`finish_ruleset` does), so that the nodes' nft processes
    run while the next node is configured; `popen` is the Mininet node's (it enters the namespace)."""
    path.write_text(node.nftables)
    return popen(["nft", "-f", str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True)


def finish_ruleset(proc: subprocess.Popen, node: Node) -> None:
    try:
        err = proc.communicate(timeout=20)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RealizeError(f"nftables of {node.name}", "nft -f did not finish in 20 s") from None
    if proc.returncode != 0:
        raise RealizeError(f"nftables of {node.name}", err.strip())
