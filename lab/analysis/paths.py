"""Observed paths: which nodes a connection's first packet crossed, what came back, and what the
far end saw, from the captures alone (DESIGN.md section 4).

The result lines up with the static prediction (lab.analysis.explain): one hop per node visited,
with the node's kind and AWS id and the translations made there, and for a connection that failed,
a StopReason (lab.results) whose codes are the nftables drop comments of
lab.plan.nftables, so a scenario can compare predicted and observed and call a mismatch a bug.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import asdict, dataclass
from ipaddress import IPv4Address
from itertools import islice
from operator import attrgetter

from lab.analysis.follow import Walked, follow
from lab.analysis.pcapread import ICMP, TCP, UDP, Sighting
from lab.analysis.privatelink_paths import proxied, second_half, target_saw
from lab.analysis.run import Run
from lab.errors import BadArgument, CaptureError
from lab.results import Hop, Outcome, ServiceSaw, StopReason

PROTOCOLS = {"tcp": TCP, "udp": UDP, "icmp": ICMP}
PROTOCOL_NAMES = {v: k for k, v in PROTOCOLS.items()}
SYN, RST, ACK = 0x02, 0x04, 0x10


@dataclass(frozen=True)
class Flow:
    """One connection as its source node saw it: the 5-tuple it sent with, and every packet of it
    there, both ways, in time order (the first one is the connection's first packet)."""

    node: str
    proto: int
    src: str
    sport: int
    dst: str
    dport: int
    sightings: tuple[Sighting, ...]

    @property
    def protocol(self) -> str:
        return PROTOCOL_NAMES.get(self.proto, str(self.proto))

    def to_dict(self) -> dict:
        return {
            "source": self.node,
            "proto": self.protocol,
            "src": self.src,
            "sport": self.sport,
            "dst": self.dst,
            "dport": self.dport,
            "start": self.sightings[0].time,
            "packets": len(self.sightings),
        }


@dataclass
class ObservedPath:
    source: str
    flow: dict  # Flow.to_dict()
    outcome: Outcome  # ok (TCP: SYN-ACK back), refused (RST back), no-route (ICMP unreachable), timeout
    path: list[Hop]  # the first packet's hops, source first
    delivered_to: str | None  # the node whose address the first packet was sent to, if it got there
    dropped_at: str | None  # the node the first packet entered and never left, not being its destination
    drop_evidence: tuple[dict, ...]  # non-zero drop counters at dropped_at (drops.json)
    reply: bool  # an answer other than a reset reached the source (TCP: the SYN-ACK)
    reply_path: list[Hop]  # the first reply's hops, from the node that sent it
    explanation: StopReason | None  # why a connection failed (refused, no-route, timeout)
    service_saw: ServiceSaw | None = None
    attempts: int = 1  # TCP: SYNs the source sent with this sequence number (retransmissions count)

    def to_dict(self) -> dict:
        return asdict(self)


def flows(run: Run) -> list[Flow]:
    """Group the run's packets into connections, keyed by the 5-tuple at the node that opened them.

    A node opens a connection when it sends, from one of its own addresses, a packet it did not
    receive first (a NAT gateway's translated packets are not its own) and that is not an answer
    to one it received. A TCP SYN with a new sequence number on a used 5-tuple opens a new one.
    """
    opened: dict[tuple, list[Sighting]] = {}
    answering: set[tuple] = set()  # (node, 5-tuple) of the packets a node sends as a responder
    forwarded: dict[str, set[tuple]] = {}  # node -> fingerprints it received (forwarding nodes only)
    result: list[list[Sighting]] = []
    for s in run.sightings:
        if int(s.dst.split(".", 1)[0]) >= 224:  # multicast and broadcast (IGMP, ...): no connection
            continue
        key = (s.node, s.proto, s.src, s.sport, s.dst, s.dport)
        if s.direction == "in":
            back = (s.node, s.proto, s.dst, s.dport, s.src, s.sport)
            if back in opened:
                opened[back].append(s)
            elif s.dst in run.addresses.get(s.node, ()):
                answering.add(back)
            if run.forwards(s.node):
                forwarded.setdefault(s.node, set()).add(s.fingerprint)
            continue
        if s.src not in run.addresses.get(s.node, ()) or s.fingerprint in forwarded.get(s.node, ()):
            continue
        packets = opened.get(key)
        if packets is not None and not _new_connection(packets[0], s):
            if packets[-1].fingerprint != s.fingerprint:  # a routed packet shows on the bridge, then its port
                packets.append(s)
        elif key not in answering:
            opened[key] = [s]
            result.append(opened[key])
    return [Flow(p[0].node, p[0].proto, p[0].src, p[0].sport, p[0].dst, p[0].dport, tuple(p)) for p in result]


def _new_connection(first: Sighting, s: Sighting) -> bool:
    return s.proto == TCP and s.tcp_flags & (SYN | ACK) == SYN and s.tcp_seq != first.tcp_seq


def observed_path(
    run: Run,
    source_node: str,
    dst_ip: str | IPv4Address | None = None,
    dport: int | None = None,
    proto: str = "tcp",
    since: float | None = None,
    sport: int | None = None,
) -> ObservedPath:
    """The path of the first matching connection the source opened (at or after `since`, a capture
    time in seconds since the epoch); `dst_ip` is the address the source sent to, `sport` the
    source port it used (a probe knows it, and so names its connection exactly)."""
    number = PROTOCOLS.get(proto)
    if number is None:
        raise BadArgument(f"protocol {proto!r}: expected one of {', '.join(PROTOCOLS)}")
    dst = None if dst_ip is None else str(dst_ip)
    mine = [f for f in flows(run) if f.node == source_node]
    wanted = [
        f
        for f in mine
        if f.proto == number
        and dst in (None, f.dst)
        and dport in (None, f.dport)
        and sport in (None, f.sport)
        and (since is None or f.sightings[0].time >= since)
    ]
    if not wanted:
        sent = ", ".join(sorted({f"{PROTOCOL_NAMES.get(f.proto, f.proto)} {f.dst}:{f.dport}" for f in mine}))
        raise CaptureError(
            f"no {proto} connection from {source_node} to {dst or 'any address'}:"
            f"{dport or 'any port'} in the captures ({source_node} opened: {sent or 'nothing'})"
        )
    return path_of(run, wanted[0])


def path_of(run: Run, flow: Flow) -> ObservedPath:
    """Follow the flow's first packet, then the reply its destination sent, and judge the outcome
    from what reached the source."""
    first = flow.sightings[0]
    trace = follow(run, first)
    answer = _answer(flow)
    outcome = Outcome.TIMEOUT if answer is None else Outcome.REFUSED if answer.tcp_flags & RST else Outcome.OK
    dropped = trace.last.node if trace.end == "dropped" else None
    result = ObservedPath(
        flow.node,
        flow.to_dict(),
        outcome,
        trace.hops,
        trace.last.node if trace.end == "delivered" else None,
        dropped,
        tuple(run.drop_counters(dropped)) if dropped else (),
        outcome == Outcome.OK,
        [],
        None,
        attempts=_attempts(flow),
    )
    reply_trace = None
    entry = proxied(run, trace.last) if trace.end == "delivered" else None
    joined = second_half(run, trace.last, entry) if entry else None
    if entry and joined is not None:  # an NLB's PPv2 proxy: its connection log joins the halves
        result.path = trace.hops + joined.hops[1:]
        result.delivered_to = joined.last.node if joined.end == "delivered" else None
        if joined.end == "delivered":
            result.service_saw = target_saw(joined.last, entry)
    if trace.end == "delivered":
        result.service_saw = result.service_saw or _service_saw(run, trace.last)
        reply = _reply_sent(run, trace.last)
        reply_trace = follow(run, reply) if reply is not None else None
        result.reply_path = reply_trace.hops if reply_trace else []
    if outcome == Outcome.REFUSED and answer is not None:
        origin = run.by_fingerprint[answer.fingerprint][0].node
        result.explanation = _because(run, "CONNECTION_REFUSED", origin, f"{origin} answered with a TCP reset")
    elif outcome == Outcome.TIMEOUT:
        unreachable = _unreachable(run, flow) if dropped else None
        if unreachable is not None and dropped is not None:  # the packet died, and the router that dropped it said so
            result.outcome = Outcome.NO_ROUTE
            result.explanation = _because(
                run,
                "DESTINATION_UNREACHABLE",
                dropped,
                f"{dropped} had no route for it and answered 'destination "
                f"unreachable' (ICMP type 3, code {unreachable.fingerprint[3]})",
            )
        else:
            result.explanation = _timeout(run, trace, reply_trace)
    return result


def _unreachable(run: Run, flow: Flow, window: float = 5.0) -> Sighting | None:
    """An ICMP destination-unreachable that reached the source soon after its first packet."""
    first = flow.sightings[0]
    seen = run.by_node[flow.node]
    for s in islice(seen, bisect_left(seen, first.time, key=attrgetter("time")), None):
        if s.time > first.time + window:
            return None
        if s.direction == "in" and s.proto == ICMP and s.dst == first.src and s.fingerprint[2] == 3:
            return s
    return None


def _answer(flow: Flow) -> Sighting | None:
    """The first packet back at the source that answers the first one: for a SYN, a SYN-ACK that
    acknowledges it or a reset; otherwise any packet back."""
    first = flow.sightings[0]
    syn = first.proto == TCP and first.tcp_flags & (SYN | ACK) == SYN
    for s in flow.sightings[1:]:
        if s.direction != "in":
            continue
        if not syn or s.tcp_flags & RST:
            return s
        if s.tcp_flags & (SYN | ACK) == SYN | ACK and s.tcp_ack == (first.tcp_seq + 1) % 2**32:
            return s
    return None


def _attempts(flow: Flow) -> int:
    first = flow.sightings[0]
    if first.proto != TCP or not first.tcp_flags & SYN:
        return 1
    return sum(1 for s in flow.sightings if s.direction == "out" and s.tcp_flags & SYN and s.tcp_seq == first.tcp_seq)


def _reply_sent(run: Run, arrival: Sighting) -> Sighting | None:
    """The first packet the destination sent back on the same 5-tuple, reversed, after the arrival."""
    back = (arrival.proto, arrival.dst, arrival.dport, arrival.src, arrival.sport)
    seen = run.by_node[arrival.node]
    start = bisect_left(seen, arrival.time, key=attrgetter("time"))
    return next(
        (s for s in islice(seen, start, None) if s.direction == "out" and (s.proto, s.src, s.sport, s.dst, s.dport) == back), None
    )


def _service_saw(run: Run, arrival: Sighting) -> ServiceSaw:
    """The source as the destination saw it: after every NAT on the way, on the ingress it came in by."""
    return ServiceSaw(
        arrival.src,
        run.ingress_label(arrival.node, arrival.iface),
        run.vpce_of(arrival.node, arrival.iface),
        arrival.node,
        arrival.sport,
    )


def _timeout(run: Run, trace: Walked, reply_trace: Walked | None) -> StopReason:
    if trace.end != "delivered":
        return _lost(run, trace, "the packet")
    if reply_trace is None:
        node = trace.last.node
        counters = run.drop_counters(node)
        return _because(
            run,
            counters[0]["comment"] if counters else "NO_REPLY",
            node,
            f"{node} received the packet and sent nothing back{_counted(counters)}",
            counters,
        )
    return _lost(run, reply_trace, "the reply")


def _lost(run: Run, trace: Walked, what: str) -> StopReason:
    last = trace.last
    if trace.end == "dropped":
        counters = run.drop_counters(last.node)
        why = _counted(counters) or (
            "; no drop counter there counted anything, so the kernel dropped it "
            "silently (no route, reverse-path filter, unanswered ARP, ...)"
        )
        return _because(
            run,
            counters[0]["comment"] if counters else "UNCOUNTED_DROP",
            last.node,
            f"{what} entered {last.node} on {last.iface} and never left it{why}",
            counters,
        )
    if trace.end == "lost":
        peer = "/".join(run.links.get((last.node, last.iface), ("?", "?")))
        return _because(
            run,
            "NOT_CAPTURED",
            last.node,
            f"{what} left {last.node} on {last.iface}, but the "
            f"capture at {peer} never shows it arriving (capture loss or a capture missing)",
        )
    if trace.end == "loop":
        return _because(run, "ROUTING_LOOP", last.node, f"{what} was still moving after {len(trace.hops)} hops")
    return _because(run, "NO_REPLY", last.node, f"{what} reached {last.node}, but nothing answered the source")


def _counted(counters: list[dict]) -> str:
    if not counters:
        return ""
    return "; drop counters there: " + ", ".join(
        f"{c['comment']} {c['packets']} packet{'s' if c['packets'] != 1 else ''}" for c in counters
    )


def _because(run: Run, code: str, node: str, message: str, evidence: list[dict] | None = None) -> StopReason:
    """A counted drop names its nftables rule by the counter's comment: its first word is the
    explanation code, the rest (if any) the component, direction and rule that decided, e.g.
    `SUBNET_ACL_RESTRICTION acl-0ab... egress rule 100` (lab.plan.security_nft)."""
    code, _, detail = code.partition(" ")
    rule = (detail or evidence[0]["comment"]) if evidence else None
    component = detail.split()[0] if detail else run.component(node)  # the ENI or ACL that decided
    words = detail.split()
    direction = words[1] if len(words) > 1 and words[1] in ("ingress", "egress") else None  # as explain's
    return StopReason(code, component, node, message, rule, tuple(evidence or ()), direction)
