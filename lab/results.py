"""The one result contract, from packets to every output: the outcome a client sees, a hop, why a
packet stopped, and what the service saw. The static prediction (lab.analysis.explain), the
observed path (lab.analysis.paths), `vpclab trace`, the prompt's `path`, scenarios and the reports
all speak in these types; `vpclab trace --json` and `vpclab run --json` are their serializations,
described by docs/result.schema.json (its version is RESULT_SCHEMA_VERSION).

It sits at the root of the package, beside lab.errors, because every layer uses it: the probe
(lab.services) reports an Outcome, analysis fills Hops and StopReasons, the report prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

RESULT_SCHEMA_VERSION = 1  # docs/result.schema.json: bump both when a serialized field changes meaning
# The longest path a prediction or an observation follows: Linux's initial TTL, after which a
# forwarding loop has dropped the packet anyway.
MAX_HOPS = 64


class Outcome(StrEnum):
    """What a client at the source sees (docs/scenario-format.md, "Outcomes"): the one vocabulary
    of predictions, observations, scenario expectations and reports. AWS drops silently, so a packet
    stopped inside AWS is a `timeout` to the client, whatever the reason (the StopReason says it)."""

    OK = "ok"  # TCP handshake done; an HTTP answer other than 403
    DENIED = "denied"  # HTTP 403: a policy said no
    REFUSED = "refused"  # a TCP reset came back
    TIMEOUT = "timeout"  # nothing came back
    NO_ROUTE = "no-route"  # an ICMP host or network unreachable came back
    DNS_FAILURE = "dns-failure"  # the name did not resolve; nothing was sent
    ERROR = "error"  # any other socket, TLS or HTTP failure, or a command's non-zero exit


@dataclass(frozen=True)
class Translation:
    """An address (and port, or ICMP echo id) a node rewrote: `source` NAT (a NAT gateway; the
    internet gateway's 1:1 NAT on the way out) or `destination` NAT (the internet gateway's on the
    way in, and the NAT on a reply's way back)."""

    side: str  # source | destination
    before: str  # '10.0.2.4:41234', '10.0.2.4 id 7' (ICMP), or an address alone
    after: str

    def __str__(self) -> str:
        change = f"{self.before} -> {self.after}"
        return change if self.side == "source" else f"destination {change}"


@dataclass(frozen=True)
class Hop:
    """One node a packet visits. A prediction fills `detail` (the route or rule that sent the packet
    on, in AWS terms); an observation fills the interfaces, the time and the capture frames."""

    node: str
    kind: str
    aws_id: str | None
    detail: str = ""
    translations: tuple[Translation, ...] = ()  # what this node rewrote
    ingress: str | None = None  # the interface it arrived on (observed; None at the source)
    egress: str | None = None  # the interface it left by (observed; None where it stayed)
    time: float | None = None  # when it arrived, or left the source (observed)
    frames: tuple[int, ...] = ()  # its packets in captures/<node>.pcap, 0-based (observed)


@dataclass(frozen=True)
class StopReason:
    """Why the packet (or the request) went no further: an explanation code (an nftables drop
    comment of lab.plan.nftables, or one of explain's), the AWS component that decided (an AWS id
    where there is one), the node, the rule that decided if one did, a sentence, the drop
    counters that counted it (observed), and for a security group or network ACL the direction."""

    code: str
    component: str
    node: str | None
    message: str
    rule: str | None = None
    evidence: tuple[dict, ...] = ()  # {"comment", "packets", "bytes", ...} from drops.json
    # ingress | egress: the way a security group or network ACL that decided was filtering, as
    # Reachability Analyzer's Explanation.Direction; None for the other components
    direction: str | None = None

    def because(self) -> str:
        """The message, with its code unless the message already names it."""
        return self.message if self.code in self.message else f"{self.message} ({self.code})"


@dataclass(frozen=True)
class ServiceSaw:
    """The source as the destination saw it, after every NAT on the way: `ingress` is `internet` or
    the vpce id it came in by (then also `vpce_id`)."""

    source_ip: str
    ingress: str
    vpce_id: str | None
    node: str | None = None  # observed: the node that received it
    source_port: int | None = None  # observed
    # PROXY protocol v2 (an NLB target group with proxy_protocol_v2): the header's source address
    # (the consumer's private IP, which the packets' source never is over PrivateLink) and the vpce
    # id of its AWS TLV (type 0xEA, subtype 0x01); None without the header
    proxy_source: str | None = None
    proxy_vpce_id: str | None = None

    @property
    def via(self) -> str:
        if self.vpce_id:
            return f"endpoint {self.vpce_id}"
        return "the internet" if self.ingress == "internet" else self.ingress  # e.g. 'load balancer shop'


@dataclass(frozen=True)
class DnsAnswer:
    """A name looked up at the VPC resolver: its addresses, which zone answered (`public`,
    `private-dns` of an endpoint, `ec2-private`, ...), and the resolver's address."""

    name: str
    answer: tuple[str, ...]
    origin: str
    resolver: str


@dataclass(frozen=True)
class AuthorizedRequest:
    """A request as S3 authorizes it: the IAM action and resource its policies are evaluated for
    (both None when S3 refuses the request before any policy)."""

    method: str
    path: str
    signed: bool
    action: str | None
    resource: str | None


@dataclass(frozen=True)
class CommandResult:
    """A scenario step that runs a command (s3, dns, run): its outcome, exit status and output; a
    change step's (associate, disassociate) is ok with exit 0 and no output."""

    outcome: Outcome
    exit: int | None
    output: str
    dns_answer: tuple[str, ...] | None = None  # dig's addresses, for a dns step
