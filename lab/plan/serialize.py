"""Plans as plain JSON-ready data (for `vpclab plan --json` and the golden-plan tests)."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from lab.plan.types import Plan

ADDRESS_TYPES = (ipaddress.IPv4Address, ipaddress.IPv4Network, ipaddress.IPv4Interface)


def to_data(value: Any) -> Any:
    if isinstance(value, ADDRESS_TYPES):
        return str(value)
    if dataclasses.is_dataclass(value):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value) if not f.metadata.get("internal")}
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    return value


def plan_to_dict(plan: Plan) -> dict:
    return to_data(plan)
