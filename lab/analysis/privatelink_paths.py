"""Joining the two halves of a connection that a Network Load Balancer's PROXY protocol v2 proxy
terminates (lab.services.nlb_proxy): the client's connection ends at the NLB node, and the proxy
opens another to the target. The node's connection log (`<node>-connections.jsonl` in the run's
services directory) names, for each client address and port, the NLB's own source port and the
target it chose; with it the observed path goes on from the NLB to the target, as DESIGN.md
section 4 says ("the proxy's own connection log joins the two halves"), and what the target saw
includes the PPv2 header's source and vpce id.
"""

from __future__ import annotations

import json

from lab.analysis.follow import Walked, follow
from lab.analysis.pcapread import Sighting
from lab.analysis.run import Run
from lab.results import ServiceSaw


def proxied(run: Run, arrival: Sighting) -> dict | None:
    """The NLB proxy's log entry for the connection that arrived as `arrival`, if the node is an
    NLB node whose proxy took it."""
    info = run.plan["nodes"].get(arrival.node)
    if info is None or info["kind"] != "load-balancer" or run.directory is None:
        return None
    log = run.directory / "services" / f"{arrival.node}-connections.jsonl"
    if not log.is_file():
        return None
    client = f"{arrival.src}:{arrival.sport}"
    entries = (json.loads(line) for line in log.read_text().splitlines() if line.strip())
    return next((e for e in entries if e.get("event") == "connection" and e.get("client") == client), None)


def second_half(run: Run, arrival: Sighting, entry: dict) -> Walked | None:
    """The walk of the first packet the proxy sent to the target for this connection."""
    source, _, sport = entry["source"].rpartition(":")
    target, _, dport = entry["target_address"].rpartition(":")
    wanted = (arrival.node, source, int(sport), target, int(dport))
    first = next(
        (s for s in run.sightings if s.direction == "out" and (s.node, s.src, s.sport, s.dst, s.dport) == wanted),
        None,
    )
    return follow(run, first) if first is not None else None


def target_saw(arrival: Sighting, entry: dict) -> ServiceSaw:
    """What the target saw: the NLB's address (PrivateLink never keeps the client's) and, with
    PPv2, the header's source (the client as the NLB saw it) and vpce id."""
    ppv2 = bool(entry.get("proxy_protocol_v2"))
    vpce = entry.get("ingress")
    return ServiceSaw(
        arrival.src,
        vpce or "internet",
        vpce,
        arrival.node,
        arrival.sport,
        proxy_source=entry["client"].rpartition(":")[0] if ppv2 else None,
        proxy_vpce_id=vpce if ppv2 else None,
    )
