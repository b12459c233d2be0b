"""A running lab changed to a new plan by applying only the difference (lab.plan.difference): the
way `aws ec2 create-vpc-endpoint` or `delete-route` changes the lab while it runs.

In order: new nodes get a shell, their links, their configuration and a capture; each remaining
node that changed gets its new interfaces, the routes and rules that differ and its changed
nftables tables, all nodes at once; then the nodes that went are stopped (their capture kept in the
run directory, their shell and anything started in their namespace ended, their namespace gone with
its veths); last, the services whose configuration changed (a front's ingresses, a resolver's
records) reload it. The plan then becomes the lab's, and plan.json says so. A step the kernel
refuses before the nodes go is undone (`undo`), so a refused change leaves the lab as it ran, and
the same change can be tried again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time

from lab.plan.difference import Difference, NodeChange, difference, tables
from lab.plan.serialize import plan_to_dict
from lab.plan.types import Plan
from lab.realize import kernel, processes
from lab.realize.capture import wait_ready, write_interfaces
from lab.realize.errors import RealizeError
from lab.realize.guard import check_own_namespace, netns_inode

log = logging.getLogger(__name__)


def apply_plan(lab, new: Plan) -> Difference:
    """Make `lab` run `new`; returns what changed. A step the kernel refuses raises RealizeError
    naming it, after what was applied of the change is undone (the lab's plan stays the old one)."""
    diff = difference(lab.plan, new)
    began_changes = False
    try:
        add_nodes(lab, new, diff)
        began_changes = True
        change_nodes(lab, diff.changed)
    except BaseException:
        undo(lab, new, diff if began_changes else dataclasses.replace(diff, changed={}))
        raise
    remove_nodes(lab, diff.removed)
    lab.plan = new
    if lab.services is not None:
        lab.services.follow(new, diff.added)
    record_interfaces(lab, set(diff.added) | {n for n, c in diff.changed.items() if c.interfaces})
    (lab.run_dir / "plan.json").write_text(json.dumps(plan_to_dict(new), indent=1))
    return diff


def remove_nodes(lab, names: tuple[str, ...]) -> None:
    """Capture first (its file stays evidence of what the node carried), then whatever runs in
    the node's namespace, then its shell; the namespace and its veths go with the last process."""
    for name in names:
        capture = next((c for c in lab.captures if c.node.name == name), None)
        if capture is not None:
            capture.stop()
            lab.captures.remove(capture)
            lab.state.processes = [p for p in lab.state.processes if p != capture.proc]
        shell, inode = lab.state.nodes.pop(name), lab.state.netns.pop(name, None)
        if inode is not None:
            processes.kill_strays(processes.strays([shell], [inode]), [shell])
        lab.nodes.pop(name).terminate()
    if names:
        lab.state.save()


def add_nodes(lab, new: Plan, diff: Difference) -> None:
    """Shells, links (by the shell of each link's first end), configuration and a capture for each
    new node, as `Lab.start` does for all of them."""
    for name in diff.added:
        node = lab.node_class(name, lab.cgroup, inNamespace=True)
        lab.record_shell(name, node)
        check_own_namespace(name, node.pid)
        lab.state.netns[name] = netns_inode(node.pid)
        lab.state.save()
        kernel.apply_sysctls(node.pid, kernel.sysctls(new.node(name)))
    links: dict[str, list[str]] = {}
    for link in diff.links:
        (a, a_if), (b, b_if) = link.a, link.b
        lab.link_number += 1
        mac = new.node(a).interface(a_if).mac
        links.setdefault(a, []).append(kernel.veth_line(a_if, lab.nodes[b].pid, b_if, mac, lab.link_number))
    lab.in_every_shell("links of", {name: {"links": lines(ls)} for name, ls in links.items()})
    files = {name: {"ip": lines(kernel.ip_batch(new.node(name)))} for name in diff.added}
    for name in diff.added:
        if new.node(name).nftables:
            files[name]["nft"] = new.node(name).nftables
    lab.in_every_shell("configuration of", files)
    if diff.added:
        wait_ready(lab.start_captures(list(diff.added)))


def change_nodes(lab, changed: dict[str, NodeChange]) -> None:
    """Every changed node's `ip -batch` and `nft -f`, all shells at once."""
    files = {}
    for name, change in changed.items():
        files[name] = {"ip": lines(ip_lines(change))} if ip_lines(change) else {}
        if change.nft:
            files[name]["nft"] = change.nft
    lab.in_every_shell("live change of", {name: f for name, f in files.items() if f})


def ip_lines(change: NodeChange) -> list[str]:
    """Rules and routes that go, the new interfaces as a start configures them, then what comes."""
    out = [kernel.rule_line(r).replace("rule add", "rule del", 1) for r in change.rules_gone]
    out += [kernel.route_line(r).replace("route add", "route del", 1) for r in change.routes_gone]
    out += kernel.interface_lines(change.interfaces)
    out += [kernel.route_line(r) for r in change.routes_added]
    return out + [kernel.rule_line(r) for r in change.rules_added]


def undo(lab, new: Plan, diff: Difference) -> None:
    """Back to the running plan after a step of `diff` failed, as far as it got: the new nodes go
    (their veths, and the routes over them, with them), each changed node's rules and routes are put
    back (`ip -force -batch`: a line that was never applied is skipped) and each of its tables that
    differs is the running plan's again (`add table` first, so deleting one that was never replaced
    works). Best effort: what cannot be undone is logged, and the first error is what the caller sees."""
    remove_nodes(lab, tuple(n for n in diff.added if n in lab.state.nodes))
    ip = {n: {"undo": lines(undo_lines(c))} for n, c in diff.changed.items() if undo_lines(c)}
    nft = {n: {"nft": restore_tables(lab.plan.node(n).nftables, new.node(n).nftables)} for n, c in diff.changed.items() if c.nft}
    for step, files in (("undoing the routes of", ip), ("undoing the tables of", nft)):
        try:
            lab.in_every_shell(step, files)
        except RealizeError as exc:
            log.error("a live change could not be undone in full: %s", exc)


def undo_lines(change: NodeChange) -> list[str]:
    out = [kernel.rule_line(r).replace("rule add", "rule del", 1) for r in change.rules_added]
    out += [kernel.route_line(r).replace("route add", "route del", 1) for r in change.routes_added]
    out += [kernel.route_line(r) for r in change.routes_gone]
    return out + [kernel.rule_line(r) for r in change.rules_gone]


def restore_tables(running: str, new: str) -> str:
    """An `nft -f` text that makes every table that differs between `running` and `new` the running
    one again, whichever of the two the node has now."""
    before, after = tables(running), tables(new)
    keys = [k for k in dict.fromkeys(list(before) + list(after)) if before.get(k) != after.get(k)]
    return "".join(f"add table {k}\ndelete table {k}\n" for k in keys) + "".join(before[k] for k in keys if k in before)


def record_interfaces(lab, names: set[str], timeout: float = 5.0) -> None:
    """Wait for carrier on the new veths, then add their ifindexes to captures/interfaces.json (the
    captures' link-layer header names an interface by index only)."""
    path = lab.run_dir / "captures" / "interfaces.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    deadline = time.monotonic() + timeout
    for name in sorted(names):
        indexes: dict[int, str] = {}
        with kernel.netns(lab.nodes[name].pid, f"links of {name}") as ns:
            while missing := kernel.links_without_carrier(ns, indexes):
                if time.monotonic() > deadline:
                    raise RealizeError(f"links of {name}", f"no carrier on {', '.join(missing)}")
                time.sleep(0.01)
        known[name] = {str(i): n for i, n in indexes.items()}
    write_interfaces(path.parent, {node: {int(i): n for i, n in ifs.items()} for node, ifs in known.items()})


def lines(items: list[str]) -> str:
    return "".join(line + "\n" for line in items)
