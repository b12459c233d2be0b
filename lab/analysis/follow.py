"""Follow one packet across the lab, node by node, from the sightings that share its fingerprint.

A fingerprint alone could in principle match two packets, and a node may see one packet several
times (a bridge port, the bridge, the way out; or twice, when a NAT gateway hands it back to the VPC
router). So the walk also uses the plan: a packet that leaves node A on interface X must arrive,
unchanged, on the interface at the other end of X's veth, within LINK_WINDOW; only inside a node
may addresses and ports change, and those changes are the hop's translations.

A visit to a node runs from the packet's arrival to the next arrival of the same packet there. Its
egress is the first way out onto a link whose far end took the packet in: a bridge that floods a
frame it has not learned yet sends copies to every port, and the hosts that are not meant drop them
as 'otherhost' (which on a bridge port, by contrast, is how a frame for the bridge's own MAC looks).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from lab.analysis.pcapread import OTHERHOST, TCP, UDP, Sighting
from lab.analysis.run import Run
from lab.results import MAX_HOPS, Hop, Translation

# s: a veth delivers at once, and a packet repeated byte for byte must not match (a retransmitted
# SYN-ACK, sent 1 s later, carries IP id 0 and the same sequence numbers again)
LINK_WINDOW = 0.5
CLOCK_SLACK = 0.001  # s: the taps at the two ends of a veth stamp the packet at slightly different points


@dataclass
class Walked:
    """One packet's walk through the captures (a Trace, lab.scenario.observe, is a whole probe's)."""

    hops: list[Hop]
    end: str  # delivered (to its destination address) | dropped | lost (not captured on arrival) | loop
    last: Sighting  # the arrival at the last node (for 'lost': the last departure; for 'loop': the next arrival)


def follow(run: Run, first: Sighting) -> Walked:
    """Where the packet `first` (a departure from its source) went."""
    return Walk(run, first).trace()


class Walk:
    def __init__(self, run: Run, first: Sighting):
        self.run = run
        self.first = first
        self.at: dict[str, list[Sighting]] = defaultdict(list)
        for s in run.by_fingerprint.get(first.fingerprint, [first]):
            self.at[s.node].append(s)
        self.used: set[tuple[str, int]] = set()

    def trace(self) -> Walked:
        """Visit after visit until the packet stays somewhere; the source is a visit without arrival
        (a routed packet a node sends shows on the bridge first, then on the bridge port)."""
        hops: list[Hop] = []
        arrival = self.first
        while len(hops) <= MAX_HOPS:
            visit = self.visit(arrival)
            egress, arrival_next = self.egress(visit)
            if not self.bridged(arrival, egress):  # within one subnet: no router, no route table
                hops.append(self.hop(visit, egress))
            if egress is None:
                mine = arrival.dst in self.run.addresses.get(arrival.node, ())
                return Walked(hops, "delivered" if mine else "dropped", arrival)
            if arrival_next is None:
                return Walked(hops, "lost", egress)
            arrival = arrival_next
        return Walked(hops, "loop", arrival)

    def bridged(self, arrival: Sighting, egress: Sighting | None) -> bool:
        """In and out through ports of one subnet bridge: switched, as AWS does within a subnet."""
        bridge = self.run.bridge_of
        return (
            egress is not None
            and arrival.direction == "in"
            and bridge.get((arrival.node, arrival.iface)) is not None
            and bridge.get((arrival.node, arrival.iface)) == bridge.get((egress.node, egress.iface))
        )

    def arrival(self, out: Sighting) -> Sighting | None:
        """The same packet, unchanged, coming in at the far end of the veth it left by."""
        peer = self.run.links.get((out.node, out.iface))
        if peer is None:
            return None
        node, iface = peer
        may_be_otherhost = peer in self.run.bridge_ports
        for s in self.at.get(node, []):
            if (
                s.direction == "in"
                and s.iface == iface
                and (s.node, s.index) not in self.used
                and out.time - CLOCK_SLACK <= s.time <= out.time + LINK_WINDOW
                and (s.src, s.sport, s.dst, s.dport) == (out.src, out.sport, out.dst, out.dport)
                and (may_be_otherhost or s.pkttype != OTHERHOST)
            ):
                return s
        return None

    def visit(self, arrival: Sighting) -> list[Sighting]:
        """The node's sightings of the packet from this arrival up to (not including) the next one."""
        seen = self.at[arrival.node]
        start = seen.index(arrival)
        visit = [arrival]
        for s in seen[start + 1 :]:
            if s.direction == "in" and (s.node, s.iface) in self.run.links:
                break
            visit.append(s)
        self.used.update((s.node, s.index) for s in visit)
        return visit

    def egress(self, visit: list[Sighting]) -> tuple[Sighting | None, Sighting | None]:
        """The departure whose far end took the packet in, and that arrival; else the first departure."""
        exits = [s for s in visit if s.direction == "out" and (s.node, s.iface) in self.run.links]
        for out in exits:
            arrival = self.arrival(out)
            if arrival is not None:
                return out, arrival
        return (exits[0], None) if exits else (None, None)

    def hop(self, visit: list[Sighting], egress: Sighting | None) -> Hop:
        """One visit of the packet to one node, with what was seen there."""
        arrival = visit[0]
        kind, aws = self.run.kind(arrival.node, None if egress else arrival.dst)
        seen = visit[: visit.index(egress) + 1] if egress else visit
        ingress = arrival.iface if arrival.direction == "in" else None
        changes = translations(arrival, egress) if egress else []
        return Hop(
            arrival.node,
            kind,
            aws,
            translations=tuple(changes),
            ingress=ingress,
            egress=egress and egress.iface,
            time=arrival.time,
            frames=tuple(s.index for s in seen),
        )


def translations(before: Sighting, after: Sighting) -> list[Translation]:
    """What the node rewrote: source 10.0.2.4:41234 -> 10.0.1.254:1024 (a NAT gateway's source NAT),
    destination 13.125.240.143:80 -> 10.0.1.4:80 (the internet gateway's 1:1 NAT on the way in)."""
    changes = []
    if (before.src, before.sport) != (after.src, after.sport):
        changes.append(Translation("source", *_change(before.src, before.sport, after.src, after.sport, before.proto)))
    if (before.dst, before.dport) != (after.dst, after.dport):
        changes.append(Translation("destination", *_change(before.dst, before.dport, after.dst, after.dport, before.proto)))
    return changes


def _change(address: str, port: int, new_address: str, new_port: int, proto: int) -> tuple[str, str]:
    """TCP and UDP show address:port; ICMP shows the echo id only when NAT changed it."""
    if proto in (TCP, UDP):
        return f"{address}:{port}", f"{new_address}:{new_port}"
    if port != new_port:
        return f"{address} id {port}", f"{new_address} id {new_port}"
    return address, new_address
