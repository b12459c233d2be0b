"""One plan Node -> its namespace's configuration: sysctls from here (a thread inside the node),
veths, addresses, routes, rules and rulesets as `ip -batch` and `nft -f` files that the node's own
shell applies.

The realizer never picks a value: names, addresses, routes, rules and rulesets all come from the
plan. Links are created inside the namespaces (the veth's peer is placed straight into the other
node's namespace), so no lab interface ever exists in the root namespace, not even for a moment.
These went through pyroute2, one request at a time: ~0.3 ms of Python each, 16,000 requests in a
100-VPC lab (6.5 of its 15 s); `ip -batch` in every node's shell at once takes about 2 s.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lab.namespaces import CLONE_NEWNET, setns
from lab.plan.types import Interface, KernelRoute, Node, RoutingRule
from lab.realize.errors import RealizeError

# Sysctls set in every node before any of its interfaces exist, so new interfaces inherit them:
# forwarding where AWS forwards, no reverse-path filter (NAT gateway and router see asymmetric
# paths), no ICMP redirects (AWS's router never sends them), and no IPv6 (the lab is IPv4-only, and
# link-local chatter would only blur the captures).
BASE_SYSCTLS = {
    "net.ipv4.conf.all.rp_filter": 0,
    "net.ipv4.conf.default.rp_filter": 0,
    "net.ipv4.conf.all.send_redirects": 0,
    "net.ipv4.conf.default.send_redirects": 0,
    "net.ipv6.conf.all.disable_ipv6": 1,
    "net.ipv6.conf.default.disable_ipv6": 1,
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
        enter(pid)
        try:
            if os.stat("/proc/thread-self/ns/net").st_ino == os.fstat(home).st_ino:
                raise RealizeError("namespace", f"process {pid} is in vpclab's own network namespace; refusing")
            yield
        finally:
            setns(home, CLONE_NEWNET)  # if this fails the lab stops: nothing else may run in a node's namespace
    finally:
        os.close(home)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def enter(pid: int) -> None:
    """This thread into process `pid`'s network namespace; a process gone (or not ours to enter)
    is a RealizeError, not an OSError escaping as a vpclab bug."""
    try:
        target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            setns(target, CLONE_NEWNET)
        finally:
            os.close(target)
    except OSError as exc:
        raise RealizeError("namespace", f"cannot enter process {pid}'s network namespace: {exc.strerror}") from None


@contextmanager
def netns(pid: int, step: str = "netlink") -> Iterator[IPRoute]:
    """A netlink socket bound in the node's namespace: created while this thread is inside it
    (setns), used and closed from here. pyroute2's NetNS helper forks for each socket and, on
    this machine, closed descriptors it no longer owned (Mininet's pty masters: node shells died).
    Any request the kernel refuses in the block (links, addresses, routes, rules) is a RealizeError
    naming `step`: this kernel would not do what vpclab asked."""
    with inside(pid):
        try:
            ipr = IPRoute()
        except (NetlinkError, OSError) as exc:
            raise RealizeError(step, f"no netlink socket in process {pid}'s namespace: {exc}") from None
    try:
        yield ipr
    except NetlinkError as exc:
        raise RealizeError(step, f"netlink in process {pid}'s namespace: {exc}") from None
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


def veth_line(a_if: str, pid_b: int, b_if: str, mac_a: str | None, number: int) -> str:
    """The `ip -batch` line that makes a veth in the current node with its peer in process `pid_b`'s
    namespace. The `a` end gets an ifindex of its own (FIRST_LINK_INDEX + number): when both ends
    of a veth had the same index, the kernel raised the carrier of one end up to a second late
    (linkwatch's rate limit; measured in docs/benchmarks.md), and every lab start waited for it."""
    address = f" address {mac_a}" if mac_a else ""
    return f"link add name {a_if} index {FIRST_LINK_INDEX + number}{address} type veth peer name {b_if} netns {pid_b}"


def ip_batch(node: Node) -> list[str]:
    """Bridges, addresses, links up, routes and rules of one node (its veths already exist), as
    `ip -batch` lines, for the node's shell to apply: all nodes at once, parsed by iproute2 in C."""
    lines = [f"link add {b.name} type bridge stp_state 0 forward_delay 0" for b in node.bridges]
    stubs = [i.name for i in node.interfaces if i.kind == "stub"]  # a veth with both ends here
    lines += [f"link add {name} type veth peer name {name}-x" for name in stubs]
    lines += ["link set lo up"] + [f"link set {name}-x up" for name in stubs]
    lines += [f"addr add {a.ip}/{a.network.prefixlen} dev {b.name}" for b in node.bridges for a in b.addresses]
    lines += [f"link set {b.name} up" for b in node.bridges]
    lines += interface_lines(node.interfaces)
    lines += [f"addr add {a.ip}/32 dev lo" for a in node.loopback]
    lines += [route_line(r) for r in node.routes + tuple(r for t in node.route_tables for r in t.routes)]
    return lines + [rule_line(r) for r in node.rules]


def interface_lines(interfaces: tuple[Interface, ...]) -> list[str]:
    """MAC, bridge, addresses and up, for interfaces whose veths exist (a start, or a live change)."""
    lines = [f"link set {i.name} address {i.mac}" for i in interfaces if i.mac]
    lines += [f"link set {i.name} master {i.bridge}" for i in interfaces if i.bridge]
    for iface in interfaces:
        lines += [f"addr add {a.ip}/{a.network.prefixlen} dev {iface.name}" for a in iface.addresses]
        lines.append(f"link set {iface.name} up")
    return lines


def route_line(route: KernelRoute) -> str:
    hop = f"via {route.via}" if route.via is not None else "scope link"
    return f"route add {route.destination} {hop} dev {route.dev} table {route.table} metric {route.metric}"


def rule_line(rule: RoutingRule) -> str:
    match = (f" iif {rule.iif}" if rule.iif else "") + (f" fwmark {rule.fwmark}" if rule.fwmark is not None else "")
    return f"rule add{match} table {rule.table} priority {rule.priority}"


# a node file's kind -> its tool; "undo" goes on past a line the kernel refuses (lab.realize.changes.undo)
APPLY = {"links": "ip -batch", "ip": "ip -batch", "undo": "ip -force -batch", "nft": "nft -f", "security": "nft -f"}


def apply_command(name: str, files: dict[str, str], directory: Path) -> str:
    """The shell command that applies node `name`'s files (kind -> text), each written here to
    `directory` as `<name>.<kind>` and applied by its tool (APPLY), in order; it ends in `rc=<status>`."""
    for kind, text in files.items():
        (directory / f"{name}.{kind}").write_text(text)
    return " && ".join(f"{APPLY[kind]} {directory / name}.{kind}" for kind in files) + " 2>&1; echo rc=$?"


def batch_error(output: str, directory: Path) -> str:
    """What `ip -batch` or `nft -f` said; for ip, with the line that failed (`Command failed F:N`)."""
    said = " ".join(line.strip() for line in output.strip().splitlines()[:-1])
    failed = re.search(r"Command failed (\S+):(\d+)", said)
    if failed:
        line = (directory / Path(failed.group(1)).name).read_text().splitlines()[int(failed.group(2)) - 1]
        said = f"ip {line}: " + said.replace(failed.group(0), "").strip()
    return said or "failed without a word"


def links_without_carrier(ns: IPRoute, indexes: dict[int, str]) -> list[str]:
    """veths whose carrier is not up yet: the kernel raises it asynchronously (linkwatch), and a
    packet sent before that is lost (measurements.md Trap 11). `indexes` gets ifindex -> name."""
    links = ns.get_links()
    indexes.update((link["index"], link.get("ifname")) for link in links)
    return [link.get("ifname") for link in links if link.get(("linkinfo", "kind")) == "veth" and link.get("operstate") != "UP"]
