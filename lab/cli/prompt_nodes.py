"""Names at the `vpclab>` prompt: node names replaced by addresses in node commands (Mininet's
habit), Tab completion and did-you-mean, all from the live topology and plan (no root).

The substitution rule, as Mininet's CLI has it: after `NODE`, every word that is exactly a node
name (words split at spaces; quotes, `name:port` or `user@name` are left alone) becomes that node's
private IP, the primary private address of its network interface (an instance, a NAT gateway, an
endpoint ENI). Nodes without an ENI (routers, gateways, the `internet`) keep their names. Anything
else, such as `s3.ap-northeast-2.amazonaws.com`, is not a node name and reaches the command as
typed: the node's resolver answers it through DNS as in AWS.
"""

from __future__ import annotations

import difflib
import re

from lab.plan import names
from lab.plan.types import Plan

COMMENT = re.compile(r"(^|\s)#.*$")  # a '#' starting a word starts a comment, as in a shell


def strip_comment(line: str) -> str:
    """`path app1 s3... # comment` -> `path app1 s3...`; a '#' inside a word (a URL's fragment) stays."""
    return COMMENT.sub("", line).rstrip()


def node_addresses(plan: Plan) -> dict[str, str]:
    """Node name -> the private IP its name stands for in a node command (nodes with an ENI only)."""
    found = {}
    for name, node in plan.nodes.items():
        eni = next((i for i in node.interfaces if i.name == names.ENI and i.addresses), None)
        if eni is not None:
            found[name] = str(eni.addresses[0].ip)
    return found


def substitute(command: str, addresses: dict[str, str]) -> str:
    """Mininet's rule: each space-separated word that is a node name becomes its address."""
    return " ".join(addresses.get(word, word) for word in command.split(" "))


def suggest(word: str, choices: list[str]) -> str:
    """' (did you mean: path?)' when `word` is close to a known command or node, else ''."""
    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.6)
    return f" (did you mean: {', '.join(close)}?)" if close else ""


def vocabulary(topology, plan: Plan) -> dict[str, list[str]]:
    """What Tab offers, by kind: nodes, VPCs, endpoints, route tables, security groups (topology
    names, as the prompt's commands take them) and AWS ids (route tables' rtb-, endpoints' vpce-)."""
    vpcs = topology.vpcs
    endpoints = {e for v in vpcs.values() for e in v.endpoints} | {f"{n}/{e}" for n in vpcs for e in vpcs[n].endpoints}
    return {
        "nodes": list(plan.nodes),
        "vpcs": list(vpcs),
        "endpoints": sorted(endpoints),
        "route_tables": sorted({t for v in vpcs.values() for t in v.route_tables}),
        "groups": sorted({g for v in vpcs.values() for g in v.security_groups}),
    }


# which kinds of name each command's arguments are, by position (the last one repeats)
ARGUMENTS = {
    "path": ["nodes", "nodes"],
    "explain": ["nodes", "nodes"],
    "associate": ["endpoints", "route_tables"],
    "disassociate": ["endpoints", "route_tables"],
    "accept": ["endpoints"],
    "reject": ["endpoints"],
    "routes": ["vpcs", "route_tables"],
    "shell": ["nodes"],
    "xterm": ["nodes"],
    "authorize-ingress": ["groups"],
    "revoke-ingress": ["groups"],
    "authorize-egress": ["groups"],
    "revoke-egress": ["groups"],
    "help": ["commands"],
}


def complete(line: str, text: str, commands: list[str], words: dict[str, list[str]]) -> list[str]:
    """Completions of `text`, the word being typed at the end of `line` (readline's view). First
    word: commands and nodes; after a node: node names (Mininet substitutes them); after a
    command: the kinds ARGUMENTS names for that position. A single match ends with a space
    (readline, as Python sets it up, adds none)."""
    before = line[: len(line) - len(text)].split()
    if not before:
        pool = commands + words["nodes"]
    elif before[0] in ARGUMENTS:
        kinds = ARGUMENTS[before[0]]
        kind = kinds[min(len(before) - 1, len(kinds) - 1)]
        pool = commands if kind == "commands" else words[kind]
    elif before[0] in words["nodes"]:
        pool = words["nodes"]
    else:
        pool = []
    found = sorted(c for c in set(pool) if c.startswith(text))
    return [f"{found[0]} "] if len(found) == 1 else found  # one: finished, ready for the next word
