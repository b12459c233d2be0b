"""VPC Flow Logs from a run's captures: one record per ENI, per 5-tuple, per aggregation interval,
as AWS writes them (https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html and
flow-logs-records-examples.html). docs/flow-logs.md says how each field is derived and where the
lab cannot be exact.

What an ENI sent and received is its node's capture on its ENI interface. What never reached it
is in the VPC router's capture: a packet that entered the router and did not leave it, where the
drop counter of the security group or network ACL that stands between the two ENIs counted
(lab.plan.security_nft), was rejected there. AWS records such a packet REJECT on the ENI whose
rule decided: the destination ENI for an inbound security-group or ACL denial, the source ENI for
an outbound one (a NACL-denied reply gives an ACCEPT record for the request and a REJECT record
for the reply on the same ENI).
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from lab.analysis.flowlog_enis import Eni, enis_of
from lab.analysis.flowlog_fields import DEFAULT_FORMAT, format_version, parse_format
from lab.analysis.pcapread import ICMP, TCP, UDP, Sighting
from lab.analysis.run import Run, load_run
from lab.errors import LabError
from lab.model import regions

log = logging.getLogger(__name__)

INTERVALS = (60, 600)  # CreateFlowLogs' MaxAggregationInterval: 60 or 600 (default) seconds
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
SG_CODE, ACL_CODE = "ENI_SG_RULES_MISMATCH", "SUBNET_ACL_RESTRICTION"
# Not logged (flow-logs.html, "Flow log limitations"): Amazon DNS, IMDS, Amazon Time Sync, DHCP.
UNLOGGED_ADDRESSES = frozenset(("169.254.169.253", "169.254.169.254", "169.254.169.123"))
DHCP_PORTS = frozenset((67, 68))
FORWARD_WINDOW = 1.0  # s: a packet the router forwards leaves it within this time
# traffic-path by the kind of node a packet left the VPC router for (the lab's ENIs are Nitro's)
PATH_BY_NEXT_KIND = {"internet-gateway": 8, "gateway-endpoint": 7, "vpc-router": 4}
SAME_VPC = 1


@dataclass
class FlowRecord:
    """One flow log record; `packets` and `bytes` and the times grow as sightings are added."""

    eni: Eni
    direction: str  # 'ingress' or 'egress', the ENI's view
    action: str  # ACCEPT or REJECT
    pkt_src: str
    pkt_dst: str
    proto: int
    sport: int
    dport: int
    start: int
    end: int
    packets: int = 0
    bytes: int = 0
    tcp_flags: int = 0
    traffic_path: int | None = None
    log_status: str = "OK"
    sightings: list[Sighting] = field(default_factory=list, repr=False)

    @property
    def srcaddr(self) -> str:
        """AWS: the ENI's own address for outgoing traffic, the packet's source for incoming."""
        return self.eni.address if self.direction == "egress" else self.pkt_src

    @property
    def dstaddr(self) -> str:
        return self.pkt_dst if self.direction == "egress" else self.eni.address

    def add(self, s: Sighting) -> None:
        self.packets += 1
        self.bytes += s.ip_length
        self.start, self.end = min(self.start, int(s.time)), max(self.end, int(s.time))
        self.tcp_flags |= tcp_flags(s)
        self.sightings.append(s)

    def field(self, name: str, region: str) -> str:
        """One field as AWS writes it: `-` where it does not apply."""
        data = self.log_status == "OK"
        values = {
            "version": "2",
            "account-id": self.eni.account,
            "interface-id": self.eni.eni_id,
            "srcaddr": self.srcaddr if data else "-",
            "dstaddr": self.dstaddr if data else "-",
            "srcport": str(self.sport) if data else "-",
            "dstport": str(self.dport) if data else "-",
            "protocol": str(self.proto) if data else "-",
            "packets": str(self.packets) if data else "-",
            "bytes": str(self.bytes) if data else "-",
            "start": str(self.start),
            "end": str(self.end),
            "action": self.action if data else "-",
            "log-status": self.log_status,
            "vpc-id": self.eni.vpc_id,
            "subnet-id": self.eni.subnet_id,
            "instance-id": self.eni.instance_id,
            "tcp-flags": str(self.tcp_flags) if data and self.proto == TCP else "-",
            "type": "IPv4" if data else "-",
            "pkt-srcaddr": self.pkt_src if data else "-",
            "pkt-dstaddr": self.pkt_dst if data else "-",
            "region": region,
            "az-id": self.eni.az_id,
            "pkt-src-aws-service": aws_service(self.pkt_src) if data else "-",
            "pkt-dst-aws-service": aws_service(self.pkt_dst) if data else "-",
            "flow-direction": self.direction if data else "-",
            "traffic-path": str(self.traffic_path) if data and self.traffic_path else "-",
        }
        return values.get(name, "-")

    def line(self, names: list[str], region: str) -> str:
        version = str(format_version(names))
        return " ".join(version if n == "version" else self.field(n, region) for n in names)


def tcp_flags(s: Sighting) -> int:
    """The flags AWS records: FIN 1, SYN 2, RST 4, and SYN-ACK as 18; ACK and PSH alone are not."""
    if s.proto != TCP:
        return 0
    flags = s.tcp_flags & (FIN | SYN | RST)
    if s.tcp_flags & (SYN | ACK) == SYN | ACK:
        flags |= ACK
    return flags


def aws_service(address: str) -> str:
    """ip-ranges.json's service code for an AWS public address: S3 and DYNAMODB have ranges of their
    own; the lab's other services sit in ranges AWS publishes as AMAZON only."""
    service = regions.service_for_address(ipaddress.IPv4Address(address))
    if service is None:
        return "-"
    return service.service.upper() if service.service in ("s3", "dynamodb") else "AMAZON"


def unlogged_addresses(run: Run) -> frozenset[str]:
    """Addresses whose traffic flow logs skip: the Amazon DNS server (169.254.169.253 and each VPC's
    base+2, answered by the router's resolver), the VPC router's own addresses, IMDS, Time Sync."""
    routers = (a for name, n in run.plan["nodes"].items() if n["kind"] == "vpc-router" for a in run.addresses[name])
    resolvers = (a for r in run.plan.get("resolvers", {}).values() for a in r["addresses"])
    return UNLOGGED_ADDRESSES | frozenset(routers) | frozenset(resolvers)


def logged(s: Sighting, unlogged: frozenset[str]) -> bool:
    """Flow logs skip Amazon DNS, IMDS, Time Sync, the router and DHCP; a VPC has no multicast."""
    if s.src in unlogged or s.dst in unlogged or int(s.dst.split(".", 1)[0]) >= 224:
        return False
    return not (s.proto == UDP and (s.sport in DHCP_PORTS or s.dport in DHCP_PORTS))


def flow_records(run: Run, interval: int = 600, eni: str | None = None) -> list[FlowRecord]:
    """Every ENI's records, ordered by ENI, then start. `eni` keeps one ENI (its id or node name)."""
    enis = [e for e in enis_of(run) if eni in (None, e.eni_id, e.node)]
    rejected = rejections(run, enis)
    records: dict[tuple, FlowRecord] = {}
    for e in enis:
        for s, direction, action in _seen_at(run, e, rejected):
            _aggregate(records, run, e, s, direction, action, interval)
    result = sorted(records.values(), key=lambda r: (r.eni.node, r.start, r.pkt_src, r.pkt_dst, r.sport, r.dport))
    return _with_status(run, enis, result, interval)


def _seen_at(run: Run, e: Eni, rejected: dict) -> Iterator[tuple[Sighting, str, str]]:
    """(sighting, direction, action) of what the ENI sent and received, and what the router
    rejected on the way to it."""
    unlogged = unlogged_addresses(run)
    for s in run.by_node.get(e.node, []):
        if s.iface == e.iface and logged(s, unlogged) and s.dst != s.src:
            if s.direction == "out":
                yield s, "egress", "REJECT" if (e.node, s.fingerprint) in rejected else "ACCEPT"
            else:
                yield s, "ingress", "ACCEPT"
    for s in rejected.get(e.node, []):
        yield s, "ingress", "REJECT"


def _aggregate(records: dict, run: Run, e: Eni, s: Sighting, direction: str, action: str, interval: int) -> None:
    ports = (0, 0) if s.proto == ICMP else (s.sport, s.dport)  # AWS writes ICMP with ports 0
    key = (e.node, direction, action, s.src, s.dst, s.proto, *ports, int(s.time) // interval)
    record = records.get(key)
    if record is None:
        path = traffic_path(run, e, s) if direction == "egress" else None
        record = records[key] = FlowRecord(e, direction, action, s.src, s.dst, s.proto, *ports, int(s.time), int(s.time))
        record.traffic_path = path
    record.add(s)


def traffic_path(run: Run, e: Eni, s: Sighting) -> int | None:
    """Where an egress packet went (flow-log-records.html, traffic-path; the lab's ENIs count as on
    Nitro, so an internet gateway is 8 and a gateway endpoint 7): by the node the VPC router sent it
    to; within the VPC 1. A packet that never left the router: 1 if it was for the VPC, else none."""
    if e.covers(s.dst):
        return SAME_VPC
    for later in run.by_fingerprint.get(s.fingerprint, []):
        peer = run.links.get((later.node, later.iface))  # None on the bridge device: its port follows
        if later.node == e.router and later.direction == "out" and peer and s.time <= later.time <= s.time + FORWARD_WINDOW:
            return SAME_VPC if (later.node, later.iface) in run.bridge_ports else PATH_BY_NEXT_KIND.get(run.kind(peer[0])[0])
    return None


def rejections(run: Run, enis: Iterable[Eni]) -> dict:
    """Packets a VPC router dropped by a security-group or network-ACL rule, by the ENI AWS records
    them REJECT on: {(source node, fingerprint)} for what the source's own outbound rules denied
    (its egress record) and {destination node: [router sightings]} for inbound denials."""
    by_address = {(e.router, e.address): e for e in enis}
    by_node = {e.node: e for e in enis}
    result: dict = {}
    for router in {e.router for e in by_node.values()}:
        counted = {c["comment"] for c in run.drop_counters(router)}
        if not any(c.startswith((SG_CODE, ACL_CODE)) for c in counted):
            continue
        for s in _died_at(run, router):
            peer = run.links.get((router, s.iface))
            source = by_node.get(peer[0]) if peer else None
            target = by_address.get((router, s.dst))
            if source and _counted(counted, source, "egress"):
                result[(source.node, s.fingerprint)] = True
            elif target and _counted(counted, target, "ingress"):
                result.setdefault(target.node, []).append(s)
    return result


def _counted(counted: set[str], e: Eni, direction: str) -> bool:
    """A non-zero counter of the ENI's security groups or its subnet's ACL in that direction."""
    wanted = (f"{SG_CODE} {e.eni_id} {direction} ", f"{ACL_CODE} {e.acl_id} {direction} ")
    return any(c.startswith(wanted) for c in counted)


def _died_at(run: Run, router: str) -> Iterator[Sighting]:
    """What entered the router on a bridge port or a transit link and left it on none, other than
    what was for the router itself (the resolver) or is not logged."""
    unlogged = unlogged_addresses(run)
    for s in run.by_node.get(router, []):
        if s.direction != "in" or not logged(s, unlogged) or (router, s.iface) not in run.links:
            continue
        if not any(
            o.node == router and o.direction == "out" and s.time <= o.time <= s.time + FORWARD_WINDOW
            for o in run.by_fingerprint[s.fingerprint]
        ):
            yield s


def _with_status(run: Run, enis: list[Eni], records: list[FlowRecord], interval: int) -> list[FlowRecord]:
    """NODATA for an ENI with no traffic in an interval of the capture; SKIPDATA for an ENI whose
    capture lost packets (tcpdump's 'dropped by kernel'), as AWS skips what it could not capture."""
    if not run.sightings:
        return records
    first, last = int(run.sightings[0].time), int(run.sightings[-1].time)
    lost = _capture_losses(run)
    busy = {(r.eni.node, r.start // interval) for r in records}
    extra = []
    for e in enis:
        for window in range(first // interval, last // interval + 1):
            start, end = max(first, window * interval), min(last, (window + 1) * interval - 1)
            blank = FlowRecord(e, "-", "-", "-", "-", 0, 0, 0, start, end)
            if (e.node, window) not in busy:
                extra.append(replace(blank, log_status="NODATA"))
            if lost.get(e.node):
                extra.append(replace(blank, log_status="SKIPDATA"))
    return sorted(records + extra, key=lambda r: (r.eni.node, r.start))


def _capture_losses(run: Run) -> dict[str, int]:
    path = run.directory / "captures" / "stats.json" if run.directory else None
    if path is None or not path.exists():
        return {}
    try:
        stats = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return {node: int(s.get("dropped by kernel", 0)) for node, s in stats.items() if isinstance(s, dict)}


def render(run: Run, records: list[FlowRecord], text_format: str = DEFAULT_FORMAT) -> list[str]:
    """The records as lines of the format (`${version} ${srcaddr} ...`), as AWS delivers them."""
    names = parse_format(text_format)
    region = run.plan.get("region", "-")
    return [r.line(names, region) for r in records]


def write_flow_logs(run: Run, path: Path, interval: int = 600) -> Path:
    """The run's flow log in the default format, one record a line (what a kept run holds)."""
    path.write_text("".join(line + "\n" for line in render(run, flow_records(run, interval))))
    return path


def save_flow_logs(run_dir: str | Path) -> Path | None:
    """flowlogs.txt (default format, 600 s) in a kept run directory, written once the lab is down
    and its captures and drop counters are complete; a run that cannot be read is logged, not
    raised: the run's other evidence stays whatever became of this file."""
    try:
        return write_flow_logs(load_run(run_dir), Path(run_dir) / "flowlogs.txt")
    except (LabError, OSError) as exc:
        log.warning("%s: no flow log written (%s)", run_dir, exc)
        return None


def connection_records(run: Run, flow: dict, interval: int = 60) -> list[FlowRecord]:
    """The records that hold a packet of one connection (paths.Flow.to_dict(): source node and
    5-tuple at the source), on every ENI it crossed, translated or not (a packet is known at every
    node by its fingerprint, lab.analysis.pcapread), and the answers sent back on those ENIs."""
    from lab.analysis.paths import PROTOCOLS, flows

    key = (flow["source"], PROTOCOLS.get(flow["proto"]), flow["src"], flow["sport"], flow["dst"], flow["dport"])
    mine = [
        f for f in flows(run) if (f.node, f.proto, f.src, f.sport, f.dst, f.dport) == key and f.sightings[0].time >= flow["start"]
    ]
    if not mine:
        return []
    prints = {s.fingerprint for s in mine[0].sightings}
    records = flow_records(run, interval)
    held = {id(r) for r in records if any(s.fingerprint in prints for s in r.sightings)}
    # An answer the source never received (a reply an ACL denied) is the same connection, reversed,
    # on an ENI the connection reached.
    reverse = {(r.eni.node, r.proto, r.pkt_dst, r.dport, r.pkt_src, r.sport) for r in records if id(r) in held}
    return [r for r in records if id(r) in held or (r.eni.node, r.proto, r.pkt_src, r.sport, r.pkt_dst, r.dport) in reverse]
