"""Host names as DNS can carry them, checked before anything is sent: a probe handed a 64-character
label dies in the IDNA codec with a traceback instead of answering dns-failure.

DNS (RFC 1035 section 2.3.4): "labels 63 octets or less", "names 255 octets or less", which is 253
characters written with dots (RFC 1123 section 2.1 and its hosts: letters, digits and hyphens, a
label neither starting nor ending with a hyphen). One trailing dot (a fully qualified name) is allowed.
"""

from __future__ import annotations

import ipaddress
import re

from lab.model.loader import NAME as NODE_NAME

MAX_NAME, MAX_LABEL = 253, 63
LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")


def dns_name_problem(name: str) -> str | None:
    """Why `name` cannot be a DNS host name, or None."""
    bare = name[:-1] if name.endswith(".") else name
    if not bare:
        return "a host name needs at least one label"
    if len(bare) > MAX_NAME:
        return f"a DNS name is at most {MAX_NAME} characters (this one has {len(bare)})"
    for label in bare.split("."):
        if len(label) > MAX_LABEL:
            return f"a DNS label is at most {MAX_LABEL} characters ('{label[:12]}...' has {len(label)})"
        if not LABEL.fullmatch(label):
            return (
                f"label '{label}' is not a host name label: letters, digits and hyphens, neither "
                "starting nor ending with a hyphen"
                if label
                else "empty label (two dots in a row)"
            )
    return None


def target_problem(target: str) -> str | None:
    """A traffic target is a node's name, an IPv4 address or a DNS host name: why `target` is none."""
    try:
        ipaddress.IPv4Address(target)
        return None
    except ValueError:
        pass
    if NODE_NAME.match(target):
        return None
    problem = dns_name_problem(target)
    return problem and f"'{shown(target)}' is not a node, an IPv4 address or a host name: {problem}"


def shown(name: str) -> str:
    """A name as a message quotes it: long ones cut, visibly."""
    return name if len(name) <= 60 else name[:57] + "..."
