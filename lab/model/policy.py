"""The IAM policy language, as S3 applies it to a request: parse a policy once, evaluate it often.

Pure: no moto, no sockets, so the model checks a topology's policies when it loads them (a mistake
is a MalformedPolicyDocument with file:line) and the S3 front evaluates them for every request.
`parse_policy` turns a JSON document into frozen values (an error names the statement and the
field); `decide` combines the policies that apply to one request.

Matching (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html):
- `Action`/`NotAction`: wildcards `*` and `?`; "the prefix and the action name are case insensitive"
  (reference_policies_elements_action.html), so `s3:getobject` is `s3:GetObject`.
- `Resource`/`NotResource`: wildcards, case-sensitive (S3 keys are); `*` also spans `/`.
- `Principal`/`NotPrincipal`: `"*"` is everyone, anonymous included; `{"AWS": "*"}` every signed
  caller; `{"AWS": "111122223333"}` or the account's `:root` ARN that account. The lab's signed
  caller is the account's root user (the lab has no IAM users); an unsigned request has no principal.
- `Condition`: operators AND, keys under one operator AND, values of one key OR (NOR for a negated
  operator); key names are case-insensitive. A key absent from the request context does not match,
  "If the policy condition requires that the key is *not* matched, such as StringNotLike or
  ArnNotLike, and the right key is not present, the condition is *true*" (same for every negated
  operator); `...IfExists` holds when the key is absent; `ForAllValues:` holds, `ForAnyValue:`
  fails, on an absent key (every key the lab fills is single-valued, so otherwise they act as the
  bare operator); `Null` tests presence.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
  Policy variables (`${aws:username}`) are not expanded; numeric and date operators are refused.

Deciding (`decide`). The lab's caller is the account's root user, and "all requests are implicitly
denied with the exception of the AWS account root user, which has full access"
(reference_policies_evaluation-logic_policy-eval-denyallow.html). So:
1. An explicit Deny in any policy that applies (the endpoint's, when the request came through one,
   and the bucket's) denies: "An explicit deny in any of the policies overrides the allow".
2. An endpoint policy must also allow: it "does not override or replace identity-based policies or
   resource-based policies" (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html),
   and "All types of policies — IAM user policies, endpoint policies, S3 bucket policies ... — must
   grant the necessary permissions for access to Amazon S3 to succeed" (VPC User Guide,
   vpc-endpoints-s3.html, 2021). Without a policy of its own an endpoint has AWS's default, full access.
3. A bucket policy need not allow: within one account "If either the identity-based policy or the
   resource-based policy ... allows the request and the other doesn't, the request is still allowed"
   (reference_policies_evaluation-logic_policy-eval-basics.html), and the root user's side allows.
4. An unsigned (anonymous) request needs an Allow in the bucket policy: S3 Object Ownership
   "Bucket owner enforced", the default for new buckets since April 2023, disables ACLs, so "the
   bucket uses policies exclusively to define access control"
   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html). Block
   Public Access, also on by default, is not modelled: a policy that allows `*` is taken as meant.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lab.errors import BadInput
from lab.model.condition_keys import key_problem
from lab.model.wildcard import Wildcard

# AWS's default endpoint policy, as describe-vpc-endpoints shows it (aws-behaviour.md section 1).
DEFAULT_ENDPOINT_POLICY = {
    "Version": "2008-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
}
VERSIONS = ("2012-10-17", "2008-10-17")
STATEMENT_KEYS = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition")
# operator -> (how one policy value is compiled, whether the operator is negated)
OPERATORS = {
    "StringEquals": ("exact", False),
    "StringNotEquals": ("exact", True),
    "StringEqualsIgnoreCase": ("fold", False),
    "StringNotEqualsIgnoreCase": ("fold", True),
    "StringLike": ("glob", False),
    "StringNotLike": ("glob", True),
    "IpAddress": ("cidr", False),
    "NotIpAddress": ("cidr", True),
    "ArnEquals": ("arn", False),
    "ArnLike": ("arn", False),
    "ArnNotEquals": ("arn", True),
    "ArnNotLike": ("arn", True),
    "Bool": ("bool", False),
}
QUALIFIERS = ("ForAnyValue", "ForAllValues")


@dataclass(frozen=True)
class Request:
    """What a policy is evaluated against. Context keys are lower-case (IAM ignores their case)."""

    principal: str | None  # the caller's ARN; None for an unsigned (anonymous) request
    action: str  # 's3:GetObject'
    resource: str  # 'arn:aws:s3:::bucket/key', or '*' for an action on no resource (ListAllMyBuckets)
    context: dict[str, str]


@dataclass(frozen=True)
class Patterns:
    """Action, Resource or Principal values; `negated` for NotAction, NotResource, NotPrincipal."""

    values: tuple  # Wildcards (actions, resources) or principal strings ('*' or an AWS id)
    negated: bool = False


# A condition value as _compile makes it for its kind: text (exact, fold, bool, null), a Wildcard
# (glob), an ARN's six parts (arn) or a network (cidr).
Compiled = str | Wildcard | tuple[Wildcard, ...] | ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Condition:
    kind: str  # a compiler of OPERATORS, or 'null'
    negated: bool
    if_exists: bool
    qualifier: str | None
    key: str  # lower-case
    values: tuple[Compiled, ...]


@dataclass(frozen=True)
class Statement:
    name: str  # the Sid, quoted, or the statement's place: "statement 'AllowLab'" / 'Statement[1]'
    effect: str
    principals: Patterns
    actions: Patterns
    resources: Patterns
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class PolicyDocument:
    statements: tuple[Statement, ...]
    document: dict = field(default_factory=dict, compare=False)  # as written: what GetBucketPolicy returns

    def matching(self, effect: str, request: Request) -> Statement | None:
        """The first statement of `effect` that applies to `request`, if any."""
        return next((s for s in self.statements if s.effect == effect and applies(s, request)), None)


class Scope(NamedTuple):
    """A policy and the words that name it in a denial: 'bucket policy of lab-bucket'."""

    label: str
    policy: PolicyDocument


def decide(request: Request, endpoint: Scope | None, bucket: Scope | None) -> str | None:
    """None when S3 allows `request`, else why not (the module docstring says how AWS combines them)."""
    for scope in (endpoint, bucket):
        denying = scope.policy.matching("Deny", request) if scope else None
        if scope and denying:
            return f"{scope.label}: explicit Deny in {denying.name}"
    if endpoint and not endpoint.policy.matching("Allow", request):
        return f"{endpoint.label}: no statement allows {request.action} on {request.resource}"
    if request.principal is None and not (bucket and bucket.policy.matching("Allow", request)):
        return (
            f"{bucket.label if bucket else 'the bucket'}: no statement allows anonymous {request.action} "
            f"on {request.resource} (ACLs are disabled, so only a bucket policy can)"
        )
    return None


# -- evaluation ------------------------------------------------------------------------------


def applies(statement: Statement, request: Request) -> bool:
    return (
        _principal_matches(statement.principals, request.principal)
        and _matches(statement.actions, request.action)
        and _matches(statement.resources, request.resource)
        and all(holds(c, request.context) for c in statement.conditions)
    )


def _matches(patterns: Patterns, value: str) -> bool:
    return any(p.fullmatch(value) for p in patterns.values) != patterns.negated


def _principal_matches(patterns: Patterns, principal: str | None) -> bool:
    """'*' names everyone; an AWS value names a signed caller: '*', its ARN or its account id."""
    mine = ("*",) if principal is None else ("*", "AWS:*", f"AWS:{principal}", f"AWS:{principal.split(':')[4]}")
    return any(p in mine for p in patterns.values) != patterns.negated


def holds(condition: Condition, context: dict[str, str]) -> bool:
    value = context.get(condition.key)
    if condition.kind == "null":
        return (value is None) == (condition.values[0] == "true")
    if value is None:
        if condition.if_exists:
            return True
        if condition.qualifier:
            return condition.qualifier == "ForAllValues"
        return condition.negated
    return any(MATCH[condition.kind](v, value) for v in condition.values) != condition.negated


def _arn_matches(parts: tuple[Wildcard, ...], value: str) -> bool:
    """ArnEquals/ArnLike compare each of the six colon-separated parts, wildcards allowed in each."""
    given = value.split(":", 5)
    return len(given) == len(parts) and all(p.fullmatch(g) for p, g in zip(parts, given))


def _in_network(network: ipaddress.IPv4Network | ipaddress.IPv6Network, value: str) -> bool:
    try:
        return ipaddress.ip_address(value) in network
    except ValueError:
        return False


# kind -> whether a request's value matches one compiled value. A matcher takes the Compiled that
# _compile made for the same kind: the pairing is by `kind`, which the types cannot follow, so Any.
MATCH: dict[str, Callable[[Any, str], bool]] = {
    "exact": lambda want, value: value == want,
    "fold": lambda want, value: value.casefold() == want,
    "bool": lambda want, value: value.lower() == want,
    "glob": lambda want, value: want.fullmatch(value),
    "arn": _arn_matches,
    "cidr": _in_network,
}


# -- parsing ---------------------------------------------------------------------------------


class MalformedPolicy(BadInput, ValueError):
    """A policy AWS would refuse to attach (MalformedPolicyDocument); says which statement and field.
    `path` locates the field in the document: ("Statement", 0, "Effect")."""

    def __init__(self, message: str, path: tuple[str | int, ...] = (), code: str = "MalformedPolicyDocument"):
        super().__init__(message)
        self.path, self.code = path, code


WHERE_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")  # .Key or [index]


def _error(where: str, message: str, code: str = "MalformedPolicyDocument") -> MalformedPolicy:
    """`where` as messages show it (policy.Statement[0].Effect), kept as a path for the line number."""
    rest = where.partition(".")[2]
    path = tuple(int(index) if index else key for key, index in WHERE_PART.findall("." + rest)) if rest else ()
    return MalformedPolicy(f"{where}: {message}", path, code)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    """A string or a non-empty list of strings; condition values may also be numbers or booleans."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, (str, bool, int, float)) for v in items):
        raise _error(where, f"expected a string or a list of strings, got {json.dumps(value)}")
    return tuple(json.dumps(v) if isinstance(v, bool) else str(v) for v in items)


def _either(statement: dict, key: str, where: str) -> tuple[Any, bool]:
    """The value of `key` or of `Not<key>` (exactly one of them), and whether it was the Not one."""
    present = [k for k in (key, f"Not{key}") if k in statement]
    if len(present) != 1:
        raise _error(where, f"a statement needs exactly one of {key} and Not{key}")
    return statement[present[0]], present[0] != key


def _actions(statement: dict, where: str) -> Patterns:
    value, negated = _either(statement, "Action", where)
    actions = _strings(value, f"{where}.{'Not' * negated}Action")
    for action in actions:
        if action != "*" and ":" not in action:
            raise _error(where, f"action {action!r} needs a service prefix, as in s3:GetObject")
    return Patterns(tuple(Wildcard(a, ignore_case=True) for a in actions), negated)


def _resources(statement: dict, where: str) -> Patterns:
    value, negated = _either(statement, "Resource", where)
    resources = _strings(value, f"{where}.{'Not' * negated}Resource")
    for resource in resources:
        if resource != "*" and not resource.startswith("arn:"):
            raise _error(where, f"resource {resource!r} is neither '*' nor an ARN (arn:aws:s3:::bucket/key)")
    return Patterns(tuple(Wildcard(r) for r in resources), negated)


def _principals(statement: dict, where: str) -> Patterns:
    """Principal values as 'TYPE:value' ('AWS:111122223333'), or '*' alone for everyone."""
    value, negated = _either(statement, "Principal", where)
    if value == "*":
        return Patterns(("*",), negated)
    if not isinstance(value, dict) or not value:
        raise _error(f"{where}.Principal", f'expected "*" or {{"AWS": ...}}, got {json.dumps(value)}')
    return Patterns(
        tuple(f"{kind}:{v}" for kind, values in value.items() for v in _strings(values, f"{where}.Principal.{kind}")), negated
    )


def _operator(name: str, where: str) -> tuple[str, bool, bool, str | None]:
    """'ForAnyValue:StringLikeIfExists' -> ('glob', negated, if_exists, qualifier)."""
    qualifier, _, base = name.rpartition(":")
    if qualifier and qualifier not in QUALIFIERS:
        raise _error(where, f"unknown qualifier {qualifier!r} (known: {', '.join(QUALIFIERS)})")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    base = base.removesuffix("IfExists") if if_exists else base
    if base == "Null" and not (qualifier or if_exists):
        return "null", False, False, None
    if base not in OPERATORS:
        raise _error(
            where,
            f"vpclab does not evaluate the condition operator {name!r} "
            f"(it knows {', '.join(OPERATORS)}, Null, ...IfExists, ForAnyValue:, ForAllValues:)",
        )
    kind, negated = OPERATORS[base]
    return kind, negated, if_exists, qualifier or None


def _compile(kind: str, value: str, where: str) -> Compiled:
    if kind == "cidr":
        try:
            return ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise _error(where, f"{value!r} is not an IP address or CIDR block") from None
    if kind == "arn":
        return tuple(Wildcard(part) for part in value.split(":", 5))
    if kind == "glob":
        return Wildcard(value)
    return {"exact": value, "fold": value.casefold(), "bool": value.lower(), "null": value.lower()}[kind]


def _conditions(statement: dict, where: str) -> tuple[Condition, ...]:
    block = statement.get("Condition", {})
    if not isinstance(block, dict):
        raise _error(f"{where}.Condition", f"expected an object, got {json.dumps(block)}")
    out = []
    for name, keys in block.items():
        at = f"{where}.Condition.{name}"
        kind, negated, if_exists, qualifier = _operator(name, at)
        if not isinstance(keys, dict) or not keys:
            raise _error(at, f"expected an object of condition keys, got {json.dumps(keys)}")
        for key, values in keys.items():
            problem = key_problem(key)
            if problem:
                raise _error(f"{at}.{key}", problem, "vpclab.ConditionKeyNotEmulated")
            compiled = tuple(_compile(kind, v, f"{at}.{key}") for v in _strings(values, f"{at}.{key}"))
            out.append(Condition(kind, negated, if_exists, qualifier, key.lower(), compiled))
    return tuple(out)


def _statement(data: Any, place: str, where: str) -> Statement:
    """`place` names the statement in a denial when it has no Sid; `where` locates errors."""
    if not isinstance(data, dict):
        raise _error(where, f"expected a statement object, got {json.dumps(data)}")
    unknown = sorted(set(data) - set(STATEMENT_KEYS))
    if unknown:
        raise _error(where, f"unknown field {', '.join(unknown)} (a statement takes {', '.join(STATEMENT_KEYS)})")
    if data.get("Effect") not in ("Allow", "Deny"):
        raise _error(f"{where}.Effect", f'expected "Allow" or "Deny", got {json.dumps(data.get("Effect"))}')
    sid = data.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _error(f"{where}.Sid", f"expected a string, got {json.dumps(sid)}")
    return Statement(
        f"statement {sid!r}" if sid else place,
        data["Effect"],
        _principals(data, where),
        _actions(data, where),
        _resources(data, where),
        _conditions(data, where),
    )


def parse_policy(document: Any, where: str) -> PolicyDocument:
    """A resource-based policy (endpoint or bucket), checked as AWS checks one when it is attached."""
    if not isinstance(document, dict) or "Statement" not in document:
        raise _error(where, "a policy is an object with a Statement")
    unknown = sorted(set(document) - {"Version", "Id", "Statement"})
    if unknown:
        raise _error(where, f"unknown field {', '.join(unknown)} (a policy takes Version, Id, Statement)")
    if document.get("Version", VERSIONS[1]) not in VERSIONS:
        raise _error(f"{where}.Version", f"expected one of {', '.join(VERSIONS)}, got {json.dumps(document['Version'])}")
    statements = document["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    if not statements:
        raise _error(f"{where}.Statement", "a policy needs at least one statement")
    return PolicyDocument(
        tuple(_statement(s, f"Statement[{n}]", f"{where}.Statement[{n}]") for n, s in enumerate(statements)), document
    )
