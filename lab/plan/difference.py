"""What the kernel must do to turn one plan into another (a live change: lab.realize.changes).

The two plans come from the same lab, the second compiled with the first's Kept (lab.plan.kept), so
whatever exists in both has the same names and addresses: the difference is nodes to remove and
to add, links to make, and per remaining node its new interfaces, the routes and rules that go and
come, and the nftables tables that changed. A table is replaced whole in one `nft -f` transaction
(delete, then add): the node is never without it, and conntrack, which lives outside the ruleset,
keeps every open connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.plan.types import Interface, KernelRoute, Link, Node, Plan, RoutingRule


@dataclass(frozen=True)
class NodeChange:
    interfaces: tuple[Interface, ...] = ()  # new on this node (the far end of a new link)
    routes_gone: tuple[KernelRoute, ...] = ()  # only those whose interface stays: the others went with it
    routes_added: tuple[KernelRoute, ...] = ()
    rules_gone: tuple[RoutingRule, ...] = ()
    rules_added: tuple[RoutingRule, ...] = ()
    nft: str = ""  # an `nft -f` text replacing the tables that differ; empty: none does

    def __bool__(self) -> bool:
        return any((self.interfaces, self.routes_gone, self.routes_added, self.rules_gone, self.rules_added, self.nft))


@dataclass(frozen=True)
class Difference:
    removed: tuple[str, ...] = ()  # nodes
    added: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()  # to make, in plan order
    changed: dict[str, NodeChange] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.removed or self.added or self.links or self.changed)


def difference(old: Plan, new: Plan) -> Difference:
    removed = tuple(n for n in old.nodes if n not in new.nodes)
    added = tuple(n for n in new.nodes if n not in old.nodes)
    before = set(old.links)
    changed = {}
    for name, node in new.nodes.items():
        if name in old.nodes and (change := node_change(old.nodes[name], node)):
            changed[name] = change
    return Difference(removed, added, tuple(link for link in new.links if link not in before), changed)


def node_change(old: Node, new: Node) -> NodeChange:
    kept = {i.name: i for i in old.interfaces + old.bridges}
    fresh = tuple(i for i in new.interfaces if i.name not in kept)
    moved = [i.name for i in new.interfaces if i.name in kept and kept[i.name] != i]
    if moved:
        raise ValueError(f"node {new.name}: interfaces {', '.join(moved)} would change in place (a vpclab bug: lab.plan.kept)")
    staying = {i.name for i in new.interfaces + new.bridges} | {"lo"}
    routes_old, routes_new = set(all_routes(old)), set(all_routes(new))
    return NodeChange(
        fresh,
        tuple(sorted((r for r in routes_old - routes_new if r.dev in staying), key=str)),
        tuple(sorted(routes_new - routes_old, key=str)),
        tuple(r for r in old.rules if r not in new.rules),
        tuple(r for r in new.rules if r not in old.rules),
        tables_swap(old.nftables, new.nftables),
    )


def all_routes(node: Node) -> list[KernelRoute]:
    return list(node.routes) + [r for t in node.route_tables for r in t.routes]


def tables(ruleset: str) -> dict[str, str]:
    """'family name' -> the table's text, for a ruleset as the planner writes it (each table opens
    with `table FAMILY NAME {` and closes with `}` at the start of a line)."""
    found: dict[str, str] = {}
    current: list[str] = []
    for line in ruleset.splitlines(keepends=True):
        if line.startswith("table "):
            current = [line]
        elif current:
            current.append(line)
        if current and line.rstrip("\n") == "}":
            found[" ".join(current[0].split()[1:3])] = "".join(current)
            current = []
    return found


def tables_swap(old: str, new: str) -> str:
    """An `nft -f` text turning ruleset `old` into `new` table by table ('' when they are equal)."""
    before, after = tables(old), tables(new)
    out = [f"delete table {key}\n" for key in before if before[key] != after.get(key)]
    out += [text for key, text in after.items() if before.get(key) != text]
    return "".join(out)
