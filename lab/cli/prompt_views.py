"""What the prompt's `nodes`, `net`, `links`, `dump` and `routes` print: tables from the live plan
(so after `associate` they show the new route), with headers and columns as wide as their widest
cell, so that long node names never break them. Pure: no root, unit-tested."""

from __future__ import annotations

from collections.abc import Sequence

from lab.plan.types import Plan


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """Left-aligned columns, each as wide as its widest cell, two spaces apart."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])


def nodes_view(plan: Plan) -> str:
    rows = [(n.name, n.kind, n.aws_id or "-", ", ".join(str(a) for a in n.addresses()) or "-") for n in plan.nodes.values()]
    return table(("NODE", "KIND", "AWS ID", "ADDRESSES"), rows)


def links_view(plan: Plan) -> str:
    """Every veth pair, as Mininet's `links` lists them, with the AWS thing it stands for."""
    rows = [(":".join(link.a), ":".join(link.b), link.role, link.description) for link in plan.links]
    return table(("END A", "END B", "ROLE", "WHAT"), rows)


def net_view(plan: Plan) -> str:
    """Mininet's `net`: each node's interfaces and what they connect to."""
    peers: dict[tuple[str, str], str] = {}
    for link in plan.links:
        peers[link.a] = f"{link.b[0]}:{link.b[1]}"
        peers[link.b] = f"{link.a[0]}:{link.a[1]}"
    rows = []
    for node in plan.nodes.values():
        for interface in node.interfaces:
            if interface.kind == "veth":
                rows.append((node.name, interface.name, peers.get((node.name, interface.name), "-")))
    return table(("NODE", "INTERFACE", "CONNECTED TO"), rows)


def dump_view(plan: Plan, pids: dict[str, int]) -> str:
    """Mininet's `dump`: one line per node with its interfaces, addresses and shell's pid."""
    lines = []
    for node in plan.nodes.values():
        shown = [i for i in node.interfaces + node.bridges if i.kind == "veth" or i.addresses]
        interfaces = " ".join(f"{i.name}:{','.join(str(a.ip) for a in i.addresses) or '-'}" for i in shown)
        aws_id = f" {node.aws_id}" if node.aws_id else ""
        lines.append(f"<{node.kind} {node.name}: {interfaces} pid={pids.get(node.name, '?')}{aws_id}>")
    return "\n".join(lines)


def aws_routes(vpc_cidr: str, routes) -> list[tuple[str, str]]:
    """A route table's routes as `aws ec2 describe-route-tables` shows them: the VPC's local route
    once (not one per subnet, which the lab's router needs), a prefix list as one route to its
    endpoint (pl- -> vpce-), every other route with its target id (igw-, nat-, pcx-, eni-)."""
    shown: list[tuple[str, str]] = []
    for route in sorted(routes, key=lambda r: (r.metric, r.destination.prefixlen * -1)):
        if route.origin == "no route" or (route.origin == "local" and str(route.destination) != vpc_cidr):
            continue
        if " -> " in route.origin:  # 'pl-78a54011 (com.amazonaws.ap-northeast-2.s3) -> vpce-0dd...'
            source, _, target = route.origin.partition(" -> ")
            row = (source.split()[0], target)
        else:
            row = (str(route.destination), route.origin)
        if row not in shown:
            shown.append(row)
    return shown


def routes_view(topology, plan: Plan, vpc: str, name: str | None) -> str:
    """`routes VPC [TABLE]`: each (or one) route table of the VPC, its rtb- id and routes."""
    if vpc not in topology.vpcs:
        raise KeyError(f"no VPC '{vpc}' (VPCs: {', '.join(topology.vpcs)})")
    cidr = str(topology.vpcs[vpc].cidr)
    tables = [t for t in plan.router(vpc).route_tables if not t.name.startswith("edge")]
    if name is not None:
        tables = [t for t in tables if name in (t.name, t.aws_id)]
        if not tables:
            known = ", ".join(t.name for t in plan.router(vpc).route_tables)
            raise KeyError(f"no route table '{name}' in VPC {vpc} (tables: {known})")
    return "\n\n".join(
        f"route table {t.name} ({t.aws_id}) of {vpc} ({plan.vpc_id(vpc)})\n"
        + table(("DESTINATION", "TARGET"), aws_routes(cidr, t.routes))
        for t in tables
    )
