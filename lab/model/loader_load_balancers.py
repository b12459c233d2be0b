"""Topology file -> Network Load Balancers and target groups (the `load_balancers:` and
`target_groups:` keys of a VPC; docs/topology-format.md). Structure and types only; AWS's rules
(names, references, one subnet per AZ, targets) are in lab.model.validate_load_balancers.

Bad values carry ELB's own error code `ValidationError`, which the elbv2 API answers for a
parameter outside its range (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/CommonErrors.html).
"""

from __future__ import annotations

from lab.model.load_balancers import (
    HEALTH_DEFAULTS,
    HEALTH_RANGES,
    TRAFFIC_PORT,
    HealthCheck,
    Listener,
    LoadBalancer,
    Target,
    TargetGroup,
)
from lab.model.source import MISSING, Section, is_int

VALIDATION = "ValidationError"


def parse_load_balancer(name: str, sec: Section, vpc: str, region: str) -> LoadBalancer:
    sec.allow(
        "type",
        "scheme",
        "subnets",
        "security_groups",
        "listeners",
        "cross_zone",
        "enforce_security_group_inbound_rules_on_private_link_traffic",
        "description",
    )
    kind, scheme = sec.text("type", "network"), sec.text("scheme", "internal")
    if kind != "network":
        raise sec.error(
            "type",
            f"load balancer {name}: the lab emulates Network Load Balancers only (type: network), not '{kind}'",
            VALIDATION,
        )
    if scheme != "internal":
        raise sec.error("scheme", f"load balancer {name}: only an internal scheme is emulated, not '{scheme}'", VALIDATION)
    listeners = tuple(parse_listener(item) for item in sec.items("listeners", f"a listener of load balancer {name}"))
    return LoadBalancer(
        name,
        sec.names("subnets"),
        sec.names("security_groups"),
        listeners,
        sec.flag("cross_zone", False),
        sec.flag("enforce_security_group_inbound_rules_on_private_link_traffic", True),
        line=sec.line,
    )


def parse_listener(sec: Section) -> Listener:
    sec.allow("port", "protocol", "target_group", "idle_timeout", "description")
    protocol = sec.text("protocol", "TCP").upper()
    if protocol != "TCP":
        raise sec.error(
            "protocol", f"{sec.what}: protocol must be TCP (the lab's NLB listeners are TCP), not '{protocol}'", VALIDATION
        )
    idle = bounded(sec, "idle_timeout", 60, 6000) if sec.has("idle_timeout") else 350
    return Listener(port_value(sec, "port"), protocol, sec.required_text("target_group"), idle, line=sec.line)


def parse_target_group(name: str, sec: Section, vpc: str, region: str) -> TargetGroup:
    sec.allow(
        "protocol",
        "port",
        "target_type",
        "targets",
        "health_check",
        "proxy_protocol_v2",
        "preserve_client_ip",
        "deregistration_delay",
        "connection_termination",
        "app",
        "description",
    )
    protocol = sec.text("protocol", "TCP").upper()
    if protocol != "TCP":
        raise sec.error("protocol", f"target group {name}: protocol must be TCP, not '{protocol}'", VALIDATION)
    target_type = sec.text("target_type", "instance")
    if target_type not in ("instance", "ip"):
        raise sec.error(
            "target_type", f"target group {name}: target_type must be instance or ip, not '{target_type}'", VALIDATION
        )
    return TargetGroup(
        name,
        protocol,
        port_value(sec, "port"),
        target_type,
        tuple(parse_target(item) for item in sec.items("targets", f"a target of target group {name}")),
        parse_health_check(sec, name),
        sec.flag("proxy_protocol_v2", False),
        sec.flag("preserve_client_ip", False) if sec.has("preserve_client_ip") else None,
        sec.text("app"),
        bounded(sec, "deregistration_delay", 0, 3600) if sec.has("deregistration_delay") else 300,
        sec.flag("connection_termination", False),
        line=sec.line,
    )


def parse_target(sec: Section) -> Target:
    """`{instance: web-a}` or `{ip: 10.1.1.20}`, with an optional `port`."""
    sec.allow("instance", "ip", "port")
    if sec.has("instance") == sec.has("ip"):
        raise sec.error(None, f"{sec.what} needs exactly one of instance, ip", VALIDATION)
    port = port_value(sec, "port") if sec.has("port") else None
    return Target(sec.text("instance"), sec.address("ip"), port, line=sec.line)


def parse_health_check(sec: Section, group: str) -> HealthCheck:
    """AWS's defaults for a TCP target group unless given; each value within AWS's range."""
    hc = sec.section("health_check", f"health_check of target group {group}")
    if hc is None:
        return HealthCheck(line=sec.line)
    hc.allow("protocol", "port", *HEALTH_DEFAULTS)
    if str(hc.raw("protocol", "TCP")).upper() != "TCP":
        raise hc.error(
            "protocol", f"target group {group}: the lab's health checks are TCP, not '{hc.raw('protocol')}'", VALIDATION
        )
    values = {key: bounded(hc, key, *HEALTH_RANGES[key]) if hc.has(key) else default for key, default in HEALTH_DEFAULTS.items()}
    port = None if hc.raw("port", TRAFFIC_PORT) == TRAFFIC_PORT else port_value(hc, "port")
    return HealthCheck(port=port, line=hc.line, **values)


def bounded(sec: Section, key: str, low: int, high: int) -> int:
    value = sec.raw(key)
    if not is_int(value) or not low <= value <= high:
        raise sec.error(key, f"{sec.what}: {key} must be a whole number from {low} to {high}, not {value!r}", VALIDATION)
    return value


def port_value(sec: Section, key: str) -> int:
    if sec.raw(key) is None:
        raise sec.error(None, f"{sec.what} needs '{key}'", MISSING)
    return bounded(sec, key, 1, 65535)
