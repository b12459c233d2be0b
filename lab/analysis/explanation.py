"""What explain returns, and how its walk ends: the prediction (an Explanation, in the result
contract's types, lab.results) and the Stop a component raises where the packet goes no further."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lab.results import AuthorizedRequest, DnsAnswer, Hop, Outcome, ServiceSaw, StopReason


@dataclass
class Explanation:
    """The prediction: `reachable` says whether the packets get to the destination (a request a
    policy then denies did get there); `outcome` is what a client at the source would see."""

    source: str
    target: str
    destination: str | None
    port: int
    reachable: bool
    outcome: Outcome
    path: list[Hop]
    explanation: StopReason | None  # where and why the path stops
    dns: DnsAnswer | None = None  # when a name was looked up
    service_saw: ServiceSaw | None = None  # when a service was reached
    request: AuthorizedRequest | None = None  # to S3, as S3 authorizes it
    return_path: list[Hop] = field(default_factory=list)  # the reply's hops back, once the request arrived

    def to_dict(self) -> dict:
        return asdict(self)


class Stop(Exception):
    """The packet goes no further: what the client sees, and why (explain fills in the node where
    the reason names none: the last hop of the path)."""

    def __init__(self, outcome: Outcome, code: str, component: str, message: str, rule: str | None = None):
        super().__init__(message)
        self.outcome, self.reason = outcome, StopReason(code, component, None, message, rule)

    @classmethod
    def dropped(cls, reason: StopReason) -> Stop:
        """A security group or network ACL dropped it: AWS says nothing, the client times out."""
        stop = cls(Outcome.TIMEOUT, reason.code, reason.component, reason.message, reason.rule)
        stop.reason = reason
        return stop
