"""Network Load Balancers, their listeners and target groups, as the model holds them.

An internal NLB in a VPC: one node per enabled subnet (one subnet per Availability Zone), TCP
listeners forwarding to target groups of instances or IP addresses, active TCP health checks.
Values and defaults are AWS's:
- health checks: https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html
  (TCP, port `traffic-port`, interval 30 s, timeout 10 s, healthy threshold 5, unhealthy 2);
- attributes (cross-zone off, client IP preservation, proxy protocol v2, deregistration delay):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html
  and https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html;
- security groups on an NLB (optional, since August 2023):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

Addr = ipaddress.IPv4Address

TRAFFIC_PORT = "traffic-port"
HEALTH_DEFAULTS = {"interval": 30, "timeout": 10, "healthy_threshold": 5, "unhealthy_threshold": 2}
HEALTH_RANGES = {"interval": (5, 300), "timeout": (2, 120), "healthy_threshold": (2, 10), "unhealthy_threshold": (2, 10)}


@dataclass(frozen=True)
class HealthCheck:
    """A target group's active health check: a TCP connect to each target (NLB's default)."""

    interval: int = 30
    timeout: int = 10
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    port: int | None = None  # None: `traffic-port`, the port the target receives traffic on
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Target:
    """A registered target: an instance by name (target type `instance`) or an IP address (`ip`);
    `port` None: the target group's port."""

    instance: str | None
    ip: Addr | None
    port: int | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class TargetGroup:
    name: str
    protocol: str  # 'TCP'
    port: int
    target_type: str  # 'instance' or 'ip'
    targets: tuple[Target, ...]
    health_check: HealthCheck
    proxy_protocol_v2: bool = False  # attribute proxy_protocol_v2.enabled
    preserve_client_ip: bool | None = None  # attribute preserve_client_ip.enabled; None: AWS's default
    app: str | None = None  # a lab application the targets run (e.g. 'provider-app'), lab.services
    # attribute deregistration_delay.timeout_seconds (0-3600, default 300): how long a deregistered
    # target drains, its open connections going on while new ones go elsewhere
    deregistration_delay: int = 300
    # attribute deregistration_delay.connection_termination.enabled (default false): whether the
    # connections still open when the delay ends are closed
    connection_termination: bool = False
    line: int = field(default=0, compare=False)

    @property
    def client_ip_preserved(self) -> bool:
        """As written, else AWS's default: on for instance targets, off for IP targets over TCP
        (edit-target-group-attributes.html, "Client IP preservation"). PrivateLink traffic never
        keeps it (lab.plan.load_balancers)."""
        if self.preserve_client_ip is not None:
            return self.preserve_client_ip
        return self.target_type == "instance"

    def target_port(self, target: Target) -> int:
        return target.port or self.port


@dataclass(frozen=True)
class Listener:
    port: int
    protocol: str  # 'TCP'
    target_group: str  # default action: forward to this target group
    idle_timeout: int = 350  # attribute tcp.idle_timeout.seconds (60-6000; update-idle-timeout.html)
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class LoadBalancer:
    """An internal Network Load Balancer (Scheme internal, Type network)."""

    name: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]  # empty: none (an NLB created without groups has none)
    listeners: tuple[Listener, ...]
    cross_zone: bool = False  # attribute load_balancing.cross_zone.enabled
    # EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic (SetSecurityGroups; default on): whether
    # the groups' inbound rules judge what arrives through interface endpoints (PrivateLink)
    enforce_inbound_on_privatelink: bool = True
    line: int = field(default=0, compare=False)
