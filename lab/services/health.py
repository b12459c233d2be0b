"""A Network Load Balancer node's active health checks, and which targets are in rotation.

AWS (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html):
a TCP health check opens a connection to the target's health-check port (the traffic port by
default) every `interval` seconds and fails if it is not established within `timeout`; a target
becomes `healthy` after `healthy_threshold` consecutive successes and `unhealthy` after
`unhealthy_threshold` consecutive failures; a newly registered target is `initial` until it is
decided; a target in an Availability Zone the NLB does not enable is `unused`
(Target.NotInUse), a deregistered one `draining` for the group's deregistration delay
(Target.DeregistrationInProgress). With PROXY protocol v2 on, health checks carry a v2 LOCAL header. Each node routes new
connections to the healthy targets of its AZ (all enabled AZs with cross-zone); "If all targets
fail health checks at the same time in all enabled Availability Zones, the load balancer fails
open", as it does with no healthy target at all: every target is then used.

`TargetHealth` is the pure state machine (unit-tested); `check_once` is one real TCP check.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from lab.services import ppv2

log = logging.getLogger(__name__)

INITIAL, HEALTHY, UNHEALTHY, UNUSED = "initial", "healthy", "unhealthy", "unused"
# a deregistered target for its group's deregistration delay: out of rotation, its connections go on
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html#deregistration-delay)
DRAINING = "draining"
# describe-target-health's reasons: a target in an Availability Zone the NLB does not enable; one
# being deregistered
NOT_IN_USE = "Target.NotInUse"
DEREGISTRATION = "Target.DeregistrationInProgress"


@dataclass
class TargetHealth:
    """Consecutive results of one target's checks and the state they give (describe-target-health)."""

    healthy_threshold: int
    unhealthy_threshold: int
    state: str = INITIAL
    successes: int = 0
    failures: int = 0
    reason: str = "Elb.RegistrationInProgress"

    def record(self, ok: bool, why: str = "") -> bool:
        """One check's result; True when the state changed. An unused or draining target stays so."""
        if self.state in (UNUSED, DRAINING):
            return False
        self.successes, self.failures = (self.successes + 1, 0) if ok else (0, self.failures + 1)
        before = self.state
        if ok and self.successes >= self.healthy_threshold:
            self.state, self.reason = HEALTHY, ""
        elif not ok and self.failures >= self.unhealthy_threshold:
            self.state, self.reason = UNHEALTHY, why or "Target.FailedHealthChecks"
        return self.state != before


def unused() -> TargetHealth:
    """A target in an Availability Zone the load balancer does not enable: never checked, never used."""
    return TargetHealth(0, 0, UNUSED, reason=NOT_IN_USE)


def draining() -> TargetHealth:
    """A deregistered target until its group's deregistration delay ends: never checked, never chosen."""
    return TargetHealth(0, 0, DRAINING, reason=DEREGISTRATION)


def in_rotation(candidates: list[str], health: dict[str, TargetHealth]) -> tuple[list[str], bool]:
    """The targets a node sends new connections to, of its `candidates` (keys of `health`, which
    holds every target of the group; unused ones are never healthy), and whether the group failed
    open. A draining target is never chosen, not even failing open: it is no longer registered."""
    candidates = [c for c in candidates if health[c].state != DRAINING]
    if not any(h.state == HEALTHY for h in health.values()):
        return list(candidates), True
    return [c for c in candidates if health[c].state == HEALTHY], False


async def check_once(address: str, port: int, timeout: float, proxy_protocol: bool) -> tuple[bool, str]:
    """One TCP health check: (passed, AWS's reason code when it did not)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except TimeoutError:
        return False, "Target.Timeout"
    except OSError:
        return False, "Target.FailedHealthChecks"
    try:
        if proxy_protocol:
            writer.write(ppv2.build_local())
            await writer.drain()
    except OSError:
        pass  # the connection was established: that is the check
    finally:
        writer.close()
    return True, ""
