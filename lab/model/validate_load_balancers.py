"""Checks of Network Load Balancers and target groups, with the elbv2 API's error codes
(https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html#API_CreateLoadBalancer_Errors,
API_CreateTargetGroup, API_CreateListener, API_RegisterTargets):

- names: at most 32 letters, digits and hyphens, not starting or ending with a hyphen, an NLB's not
  starting with `internal-` (ValidationError); unique per region and account
  (DuplicateLoadBalancerName, DuplicateTargetGroupName);
- subnets: at least one, each existing (SubnetNotFound), at most one per Availability Zone
  (InvalidConfigurationRequest), security groups existing (InvalidSecurityGroup);
- listeners: one per port (DuplicateListener), forwarding to a target group of the VPC
  (TargetGroupNotFound) that no other load balancer uses (an NLB target group belongs to at most
  one load balancer: TargetGroupAssociationLimit);
- targets: an instance of the same VPC (InvalidTarget), an IP inside the VPC's CIDR (InvalidTarget).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lab.errors import Problem
from lab.model.checks import choices, error
from lab.model.load_balancers import LoadBalancer, TargetGroup
from lab.model.topology import Topology, Vpc
from lab.model.validate_security import check_group_refs

ELB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")


def check_load_balancers(t: Topology) -> Iterator[Problem]:
    """Names are unique per region and account, so across the topology's VPCs."""
    lbs: dict[str, int] = {}
    groups: dict[str, int] = {}
    for vpc in t.vpcs.values():
        for lb in vpc.load_balancers.values():
            yield from check_name(t, lb.name, lb.line, "load balancer", lbs, "DuplicateLoadBalancerName")
            yield from check_load_balancer(t, vpc, lb)
        for tg in vpc.target_groups.values():
            yield from check_name(t, tg.name, tg.line, "target group", groups, "DuplicateTargetGroupName")
            yield from check_target_group(t, vpc, tg)
        yield from check_group_owners(t, vpc)


def check_name(t: Topology, name: str, line: int, kind: str, seen: dict[str, int], duplicate: str) -> Iterator[Problem]:
    if not ELB_NAME.match(name) or (kind == "load balancer" and name.startswith("internal-")):
        yield error(
            t,
            line,
            f"{kind} name '{name}': at most 32 letters, digits and hyphens, not starting or ending with a hyphen"
            + (", not starting with 'internal-'" if kind == "load balancer" else ""),
            "ValidationError",
        )
    if name in seen:
        yield error(
            t, line, f"a {kind} named '{name}' already exists (line {seen[name]}); names are unique per region", duplicate
        )
    seen.setdefault(name, line)


def check_load_balancer(t: Topology, vpc: Vpc, lb: LoadBalancer) -> Iterator[Problem]:
    owner = f"load balancer {lb.name}"
    if not lb.subnets:
        yield error(t, lb.line, f"{owner}: give at least one subnet (one per Availability Zone)", "InvalidConfigurationRequest")
    zones: dict[str, str] = {}
    for name in lb.subnets:
        subnet = vpc.subnets.get(name)
        if subnet is None:
            yield error(
                t, lb.line, f"{owner}: subnet '{name}' does not exist in vpc {vpc.name}{choices(vpc.subnets)}", "SubnetNotFound"
            )
        elif subnet.az in zones:
            yield error(
                t,
                lb.line,
                f"{owner}: subnets {zones[subnet.az]} and {name} are both in {subnet.az}; "
                "a load balancer takes one subnet per Availability Zone",
                "InvalidConfigurationRequest",
            )
        else:
            zones[subnet.az] = name
    yield from (
        Problem(p.file, p.line, p.message, "InvalidSecurityGroup")
        for p in check_group_refs(t, vpc, lb.security_groups, owner, lb.line)
    )
    yield from check_listeners(t, vpc, lb)


def check_listeners(t: Topology, vpc: Vpc, lb: LoadBalancer) -> Iterator[Problem]:
    ports: dict[int, int] = {}
    for listener in lb.listeners:
        if listener.port in ports:
            yield error(
                t,
                listener.line,
                f"load balancer {lb.name}: a listener on port {listener.port} already exists (line {ports[listener.port]})",
                "DuplicateListener",
            )
        ports.setdefault(listener.port, listener.line)
        if listener.target_group not in vpc.target_groups:
            yield error(
                t,
                listener.line,
                f"load balancer {lb.name}: target group '{listener.target_group}' does not exist "
                f"in vpc {vpc.name}{choices(vpc.target_groups)}",
                "TargetGroupNotFound",
            )


def check_group_owners(t: Topology, vpc: Vpc) -> Iterator[Problem]:
    """An NLB target group is used by one load balancer at most."""
    owner: dict[str, str] = {}
    for lb in vpc.load_balancers.values():
        for listener in lb.listeners:
            first = owner.setdefault(listener.target_group, lb.name)
            if first != lb.name:
                yield error(
                    t,
                    listener.line,
                    f"load balancer {lb.name}: target group {listener.target_group} is already used by load balancer {first}; "
                    "a Network Load Balancer's target group serves one load balancer",
                    "TargetGroupAssociationLimit",
                )


def check_target_group(t: Topology, vpc: Vpc, tg: TargetGroup) -> Iterator[Problem]:
    for target in tg.targets:
        if (target.instance is not None) != (tg.target_type == "instance"):
            yield error(
                t,
                target.line,
                f"target group {tg.name}: its targets are registered by {tg.target_type} (target_type {tg.target_type}), "
                f"not by {'ip' if tg.target_type == 'instance' else 'instance'}",
                "ValidationError",
            )
        elif target.instance is not None:
            inst = t.instances.get(target.instance)
            if inst is None or inst.vpc != vpc.name:
                where = f" (it is in vpc {inst.vpc})" if inst else ""
                yield error(
                    t,
                    target.line,
                    f"target group {tg.name}: instance '{target.instance}' is not an instance of vpc {vpc.name}{where}",
                    "InvalidTarget",
                )
        elif target.ip is not None and target.ip not in vpc.cidr:
            yield error(
                t,
                target.line,
                f"target group {tg.name}: target IP {target.ip} is not inside vpc {vpc.name} {vpc.cidr}",
                "InvalidTarget",
            )
