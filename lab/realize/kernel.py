"""One plan Node -> its namespace's configuration, through netlink (pyroute2) and `nft -f`.

The realizer never picks a value: names, addresses, routes, rules and rulesets all come from the
plan. Links are created inside the namespaces (the veth's peer is placed straight into the other
node's namespace), so no lab interface ever exists in the root namespace, not even for a moment.
"""
from __future__ import annotations

import subprocess

from collections.abc import Iterator
from contextlib import contextmanager

from pyroute2 import IPRoute
from pyroute2 import netns as pyroute2_netns
from pyroute2.netlink.exceptions import NetlinkError

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


@contextmanager
def netns(pid: int) -> Iterator[IPRoute]:
    """A netlink socket bound in the node's namespace: created while this thread is inside it
    (setns), used and closed from here. pyroute2's IPRoute helper forks for each socket and, on
    this machine, closed descriptors it no longer owned (Mininet's pty masters: node shells died)."""
    pyroute2_netns.pushns(f"/proc/{pid}/ns/net")
    try:
        ipr = IPRoute()
    finally:
        pyroute2_netns.popns()
    try:
        yield ipr
    finally:
        ipr.close()


def sysctls(node: Node) -> dict[str, int]:
    values = dict(BASE_SYSCTLS)
    values["net.ipv4.ip_forward"] = 1 if node.forwarding else 0
    return values


FIRST_LINK_INDEX = 1000  # far above the indexes the kernel hands out in a node's namespace


def create_link(ns_a: IPRoute, a_if: str, pid_b: int, b_if: str, mac_a: str | None, number: int) -> None:
    """The `a` end gets an ifindex of its own (FIRST_LINK_INDEX + number): when both ends of a veth
    had the same index, the kernel raised the carrier of one end up to a second late (linkwatch's
    rate limit; measured in docs/benchmarks.md), and every lab start waited for it."""
    extra = {"address": mac_a} if mac_a else {}
    ns_a.link("add", ifname=a_if, kind="veth", index=FIRST_LINK_INDEX + number,
              peer={"ifname": b_if, "net_ns_pid": pid_b}, **extra)


def index(ns: IPRoute, ifname: str) -> int:
    found = ns.link_lookup(ifname=ifname)
    if not found:
        raise RealizeError("configure", f"interface {ifname} is missing")
    return found[0]


def configure(node: Node, ns: IPRoute) -> None:
    """Bridges, addresses, links up, routes and rules of one node (its veths already exist)."""
    ns.link("set", index=index(ns, "lo"), state="up")
    for bridge in node.bridges:
        ns.link("add", ifname=bridge.name, kind="bridge", br_stp_state=0, br_forward_delay=0)
    for iface in node.interfaces:
        if iface.kind == "stub":  # a veth with both ends here: the kernel has no dummy device
            ns.link("add", ifname=iface.name, kind="veth", peer=f"{iface.name}-x")
            ns.link("set", index=index(ns, f"{iface.name}-x"), state="up")
    for iface in node.interfaces:
        idx = index(ns, iface.name)
        if iface.mac:
            ns.link("set", index=idx, address=iface.mac)
        if iface.bridge:
            ns.link("set", index=idx, master=index(ns, iface.bridge))
    for iface in node.bridges + node.interfaces:
        idx = index(ns, iface.name)
        for address in iface.addresses:
            ns.addr("add", index=idx, address=str(address.ip), prefixlen=address.network.prefixlen)
        ns.link("set", index=idx, state="up")
    lo = index(ns, "lo")
    for address in node.loopback:
        ns.addr("add", index=lo, address=str(address.ip), prefixlen=32)
    for route in node.routes + tuple(r for t in node.route_tables for r in t.routes):
        add_route(ns, route)
    for rule in node.rules:
        add_rule(ns, rule)


def links_without_carrier(ns: IPRoute) -> list[str]:
    """veths whose carrier is not up yet: the kernel raises it asynchronously (linkwatch), and a
    packet sent before that is lost (measurements.md Trap 11)."""
    return [link.get("ifname") for link in ns.get_links()
            if link.get(("linkinfo", "kind")) == "veth" and link.get("operstate") != "UP"]


def add_route(ns: IPRoute, route: KernelRoute, command: str = "add") -> None:
    spec = {"dst": str(route.destination), "table": route.table, "priority": route.metric,
            "oif": index(ns, route.dev)}
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


def load_ruleset(popen, node: Node) -> None:
    """`nft -f -` inside the node; `popen` is the Mininet node's popen (it enters the namespace)."""
    proc = popen(["nft", "-f", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True)
    _, err = proc.communicate(node.nftables, timeout=20)
    if proc.returncode != 0:
        raise RealizeError(f"nftables of {node.name}", err.strip())
