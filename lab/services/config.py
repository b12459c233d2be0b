"""The JSON files the realizer writes for each service process, parsed strictly.

The formats are documented where they are used (`lab.services.front`, `lab.services.resolver`).
A misspelt or missing field is an error naming the file, the field and what was expected, never a
silent default: the realizer generates these files, so any surprise in them is a vpclab bug.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.model import regions
from lab.model.policy import DEFAULT_ENDPOINT_POLICY, MalformedPolicy, PolicyDocument, Scope, parse_policy
from lab.model.topology import Bucket, Table
from lab.plan.types import DnsRecord, Resolver
from lab.services.errors import ServiceError

VPCE_ID = re.compile(r"vpce-[0-9a-f]{8,17}")
VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")


@dataclass(frozen=True)
class Ingress:
    """One way into a service front: 'internet' or a VPC endpoint, each with its own local ports.
    An endpoint also brings its VPC (aws:SourceVpc) and its policy (AWS's default if none is attached)."""

    name: str
    http: int
    https: int
    vpc_id: str | None = None
    policy: PolicyDocument | None = None

    @property
    def vpce_id(self) -> str | None:
        return None if self.name == "internet" else self.name

    @property
    def endpoint_scope(self) -> Scope | None:
        """The endpoint policy every request through this ingress meets; None for the internet."""
        if self.vpce_id is None or self.policy is None:
            return None
        return Scope(f"endpoint policy of {self.vpce_id}", self.policy)


@dataclass(frozen=True)
class FrontConfig:
    service: str
    region: str
    ingresses: tuple[Ingress, ...]
    cert: Path
    key: Path
    request_log: Path
    buckets: tuple[Bucket, ...] = ()
    tables: tuple[Table, ...] = ()
    # Bucket policies live here, parsed, and are enforced by the front: moto never gets them, as it
    # would apply their conditions wrongly (measurements.md section 10).
    bucket_policies: dict[str, PolicyDocument] = field(default_factory=dict)
    # S3 only: the buckets of other regions (name -> region), answered with S3's redirect.
    elsewhere: dict[str, str] = field(default_factory=dict)
    # The lab controller's socket (lab.services.control): EC2's, which answers every EC2 call, and
    # S3's, which takes a bucket policy put or deleted.
    control: Path | None = None


@dataclass(frozen=True)
class ResolverConfig:
    resolver: Resolver
    query_log: Path


def _fields(data: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    if not isinstance(data, dict):
        raise ServiceError(f"{where}: expected an object, got {json.dumps(data)}")
    missing = [k for k in required if k not in data]
    if missing:
        raise ServiceError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        raise ServiceError(f"{where}: unknown field {', '.join(unknown)} (expected {', '.join(required + optional)})")
    return data


def _typed(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ServiceError(f"{where}: expected {kind.__name__}, got {json.dumps(value)}")
    return value


def _list(value: Any, where: str) -> list:
    return _typed(value, list, where)


def _region(value: Any, where: str) -> str:
    if _typed(value, str, where) not in regions.REGIONS:
        raise ServiceError(f"{where}: unknown region {value!r} (known: {', '.join(regions.REGIONS)})")
    return value


def _read(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ServiceError(f"{path}: cannot read config: {e}") from None


def _ingress(data: Any, where: str) -> Ingress:
    d = _fields(data, where, ("name", "http", "https"), ("vpc_id", "policy"))
    name = _typed(d["name"], str, f"{where}.name")
    if name != "internet" and not VPCE_ID.fullmatch(name):
        raise ServiceError(f"{where}.name: {name!r} is neither 'internet' nor a vpce id (vpce-0123abcd...)")
    ports = [_typed(d[k], int, f"{where}.{k}") for k in ("http", "https")]
    for k, port in zip(("http", "https"), ports):
        if not 0 < port < 65536:
            raise ServiceError(f"{where}.{k}: port {port} is not in 1-65535")
    if name == "internet":
        if d.get("vpc_id") is not None or d.get("policy") is not None:
            raise ServiceError(f"{where}: the internet ingress has no vpc_id and no policy (endpoints have)")
        return Ingress(name, ports[0], ports[1])
    vpc_id = d.get("vpc_id")
    if not isinstance(vpc_id, str) or not VPC_ID.fullmatch(vpc_id):
        raise ServiceError(f"{where}.vpc_id: endpoint {name} needs its VPC's id (vpc-0123abcd...), got {json.dumps(vpc_id)}")
    document = DEFAULT_ENDPOINT_POLICY if d.get("policy") is None else d["policy"]  # null: AWS's default
    return Ingress(name, ports[0], ports[1], vpc_id, policy_of(document, f"{where}.policy"))


def _check_unique_ingresses(ingresses: tuple[Ingress, ...], where: str) -> None:
    names = [i.name for i in ingresses]
    ports = [p for i in ingresses for p in (i.http, i.https)]
    if not ingresses:
        raise ServiceError(f"{where}: at least one ingress is needed")
    if names.count("internet") > 1:  # a vpce id may repeat: an interface endpoint has one ENI (a link) per AZ
        raise ServiceError(f"{where}: ingress names repeat: {', '.join(names)}")
    if len(set(ports)) != len(ports):
        raise ServiceError(
            f"{where}: local ports repeat: {', '.join(map(str, ports))} (each ingress needs ports of its own to be told apart)"
        )


def _bucket(data: Any, where: str) -> tuple[Bucket, PolicyDocument | None]:
    d = _fields(data, where, ("name", "region"), ("objects", "policy"))
    objects = _typed(d.get("objects", {}), dict, f"{where}.objects")
    for key, text in objects.items():
        _typed(text, str, f"{where}.objects[{key!r}]")
    policy = d.get("policy")
    return (
        Bucket(
            _typed(d["name"], str, f"{where}.name"), _region(d["region"], f"{where}.region"), policy=None, objects=dict(objects)
        ),
        None if policy is None else policy_of(policy, f"{where}.policy"),
    )


def _table(data: Any, where: str) -> Table:
    d = _fields(data, where, ("name", "region", "partition_key"))
    return Table(
        _typed(d["name"], str, f"{where}.name"),
        _region(d["region"], f"{where}.region"),
        _typed(d["partition_key"], str, f"{where}.partition_key"),
    )


def _items(d: dict, key: str, where: str, parse) -> tuple:
    """Each element of the list `d[key]` (absent: none) through `parse`, located as `key[n]`."""
    return tuple(parse(x, f"{where}{key}[{n}]") for n, x in enumerate(_list(d.get(key, []), f"{where}{key}")))


# What a front's config may hold beyond its ingresses: S3's buckets (and the other regions' names,
# and the controller's socket for PutBucketPolicy/DeleteBucketPolicy), DynamoDB's tables, EC2's socket.
HOLDS = {"s3": ("buckets", "elsewhere", "control"), "dynamodb": ("tables",), "ec2": ("control",)}


def load_front_config(path: Path) -> FrontConfig:
    at = f"{path}: "
    d = _fields(
        _read(path),
        str(path),
        ("service", "region", "ingresses", "cert", "key", "request_log"),
        ("buckets", "tables", "elsewhere", "control"),
    )
    service = _typed(d["service"], str, f"{at}service")
    if service not in regions.emulated_services():
        raise ServiceError(f"{at}service: {service!r} is not one of {', '.join(regions.emulated_services())}")
    holds = HOLDS.get(service, ())
    stray = [k for k in ("buckets", "tables", "elsewhere", "control") if k in d and k not in holds]
    if stray:
        raise ServiceError(f"{at}{stray[0]}: a {service} front holds {holds[0] if holds else 'nothing declared'}, not {stray[0]}")
    ingresses = _items(d, "ingresses", at, _ingress)
    _check_unique_ingresses(ingresses, f"{at}ingresses")
    cert, key, request_log = (Path(_typed(d[k], str, at + k)) for k in ("cert", "key", "request_log"))
    if service in regions.CONTROLLER_SERVICES and "control" not in d:
        raise ServiceError(f"{at}control: the {service} front needs the lab controller's socket (lab.services.control)")
    buckets = _items(d, "buckets", at, _bucket)
    return FrontConfig(
        service,
        _region(d["region"], f"{at}region"),
        ingresses,
        cert,
        key,
        request_log,
        buckets=tuple(b for b, _ in buckets),
        tables=_items(d, "tables", at, _table),
        bucket_policies={b.name: p for b, p in buckets if p is not None},
        elsewhere={
            str(k): _region(v, f"{at}elsewhere.{k}") for k, v in _typed(d.get("elsewhere", {}), dict, f"{at}elsewhere").items()
        },
        control=Path(_typed(d["control"], str, f"{at}control")) if "control" in d else None,
    )


def _address(value: Any, where: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(_typed(value, str, where))
    except ValueError as e:
        raise ServiceError(f"{where}: {e}") from None


def _record(data: Any, where: str) -> DnsRecord:
    d = _fields(data, where, ("name", "addresses"), ("origin",))
    name = _typed(d["name"], str, f"{where}.name").lower().rstrip(".")
    origin = _typed(d.get("origin", ""), str, f"{where}.origin")
    return DnsRecord(name, _items(d, "addresses", f"{where}.", _address), origin)


def load_resolver_config(path: Path) -> ResolverConfig:
    at = f"{path}: "
    d = _fields(_read(path), str(path), ("vpc", "addresses", "records", "query_log"), ("node",))
    addresses = _items(d, "addresses", at, _address)
    if not addresses:
        raise ServiceError(f"{at}addresses: at least one address is needed")
    resolver = Resolver(
        _typed(d["vpc"], str, f"{at}vpc"),
        _typed(d.get("node", ""), str, f"{at}node"),
        addresses,
        _items(d, "records", at, _record),
    )
    return ResolverConfig(resolver, Path(_typed(d["query_log"], str, f"{at}query_log")))


def policy_of(document: Any, where: str) -> PolicyDocument:
    try:
        return parse_policy(document, where)
    except MalformedPolicy as exc:
        raise ServiceError(f"{exc} (MalformedPolicyDocument)") from None
