"""Topology file -> model. Structure and types are checked here (first problem stops the load);
cross-references and AWS's rules are checked afterwards by `lab.model.validate`.

The format is documented key by key in docs/topology-format.md.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from lab.model import regions
from lab.model.bucket_policy import check_bucket_policy
from lab.model.loader_endpoint_services import parse_account, parse_endpoint_service, parse_service_reference
from lab.model.loader_load_balancers import parse_load_balancer, parse_target_group
from lab.model.policy import MalformedPolicy
from lab.model.policy import parse_policy as parse_policy_grammar
from lab.model.policy_text import MALFORMED, PolicyTextError, read_policy
from lab.model.s3_names import object_key_problem
from lab.model.source import MISSING, Section, Unreadable, fail, is_int, json_line, read_text, read_yaml
from lab.model.topology import (
    Bucket,
    Endpoint,
    Instance,
    NatGateway,
    NetworkAcl,
    NetworkAclEntry,
    Peering,
    Policy,
    PrefixListRef,
    Route,
    RouteTable,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Table,
    Topology,
    Vpc,
)

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "all": "-1", "-1": "-1", "6": "tcp", "17": "udp", "1": "icmp"}
MAX_POLICY_FILE_BYTES = 256 * 1024  # ample for AWS's 20 KB policies, however indented
T = TypeVar("T")
VPC_KEYS = (
    "cidr",
    "enable_dns_support",
    "enable_dns_hostnames",
    "internet_gateway",
    "subnets",
    "route_tables",
    "nat_gateways",
    "endpoints",
    "instances",
    "security_groups",
    "network_acls",
    "peering",
    "load_balancers",
    "target_groups",
    "endpoint_services",
    "account",
    "description",
)


def load_topology(path: Path | str, text: str | None = None) -> Topology:
    """Read and validate a topology file; raises TopologyError listing every problem found."""
    from lab.model.validate import validate  # validate imports the model, not the loader

    topology = parse_topology(read_yaml(path, text))
    validate(topology)
    return topology


def parse_topology(doc: Section) -> Topology:
    doc.allow("region", "vpcs", "services", "description")
    region = doc.text("region", "ap-northeast-2")  # `region:` with no value is MissingParameter
    if region not in regions.REGIONS:
        raise doc.error("region", f"region '{region}' is not one the lab emulates; use one of: {', '.join(regions.REGIONS)}")
    vpcs: dict[str, Vpc] = {}
    instances: dict[str, Instance] = {}
    for name, sec in doc.entries("vpcs", "vpc"):
        check_name(sec, name, "vpc")
        vpcs[name] = parse_vpc(name, sec, region, instances)
    if not vpcs:
        raise doc.error(None, "the topology needs at least one vpc under 'vpcs'", MISSING)
    buckets, tables = parse_services(doc, region)
    return Topology(doc.file, region, vpcs, instances, buckets, tables)


def check_name(sec: Section, name: str, kind: str) -> None:
    if not NAME.match(name):
        raise fail(
            sec.file,
            sec.line,
            f"{kind} name '{name}' must start with a letter and use only letters, digits, '-' and '_' (at most 32 characters)",
        )


def parse_vpc(name: str, sec: Section, region: str, instances: dict[str, Instance]) -> Vpc:
    """The VPC's parts in the order their problems are reported: subnets, NAT gateways, endpoints,
    security groups, network ACLs, peerings, route tables, instances, then the VPC's own keys."""
    sec.allow(*VPC_KEYS)
    subnets = parse_children(sec, "subnets", parse_subnet, name, region)
    nat_gateways = parse_children(sec, "nat_gateways", parse_nat, name, region)
    endpoints = parse_children(sec, "endpoints", parse_endpoint, name, region)
    security_groups = parse_children(sec, "security_groups", parse_security_group, name, region)
    network_acls = parse_children(sec, "network_acls", parse_network_acl, name, region)
    peerings = parse_children(sec, "peering", parse_peering, name, region)
    load_balancers = parse_children(sec, "load_balancers", parse_load_balancer, name, region)
    target_groups = parse_children(sec, "target_groups", parse_target_group, name, region)
    route_tables = parse_route_tables(sec, name, region)
    parse_instances(sec, name, instances)
    account = parse_account(sec)
    services = parse_children(
        sec, "endpoint_services", lambda n, s, v, r: parse_endpoint_service(n, s, v, r, account), name, region
    )
    return Vpc(
        name=name,
        cidr=sec.network("cidr", block=True),
        enable_dns_support=sec.flag("enable_dns_support", True),
        enable_dns_hostnames=sec.flag("enable_dns_hostnames", True),
        internet_gateway=sec.flag("internet_gateway", False),
        subnets=subnets,
        route_tables=route_tables,
        nat_gateways=nat_gateways,
        endpoints=endpoints,
        security_groups=security_groups,
        network_acls=network_acls,
        peerings=peerings,
        endpoint_services=services,
        account=account,
        line=sec.line,
        load_balancers=load_balancers,
        target_groups=target_groups,
    )


def parse_children(sec: Section, key: str, parse: Callable[[str, Section, str, str], T], vpc: str, region: str) -> dict[str, T]:
    """`key: {name: {...}}` of a VPC, each child named by the rules of check_name."""
    kind = key.rstrip("s").replace("_", " ")
    children = {}
    for child, csec in sec.entries(key, kind):
        check_name(csec, child, kind)
        children[child] = parse(child, csec, vpc, region)
    return children


def parse_route_tables(sec: Section, vpc: str, region: str) -> dict[str, RouteTable]:
    block = sec.section("route_tables", f"'route_tables' of vpc {vpc}")
    if block is None:
        return {}
    return {table: parse_route_table(table, block, region) for table in block.data}


def parse_instances(sec: Section, vpc: str, instances: dict[str, Instance]) -> None:
    """Add the VPC's instances to `instances`: their names are global, they name nodes at the prompt."""
    for child, csec in sec.entries("instances", "instance"):
        check_name(csec, child, "instance")
        if child in instances:
            raise csec.error(
                None,
                f"instance name '{child}' is already used in vpc "
                f"{instances[child].vpc} (line {instances[child].line}); instance names "
                "are global because they name nodes at the lab prompt",
            )
        instances[child] = parse_instance(child, csec, vpc)


def parse_subnet(name: str, sec: Section, vpc: str, region: str) -> Subnet:
    sec.allow("cidr", "az", "route_table", "network_acl", "description")
    az = str(sec.require("az"))
    full = az if az.startswith(region) else region + az
    if full[len(region) :] not in regions.region(region).azs:
        raise sec.error(
            "az",
            f"Value ({az}) for parameter availabilityZone is invalid: {region} "
            f"offers zones {', '.join(region + z for z in regions.region(region).azs)}",
        )
    return Subnet(name, sec.network("cidr", block=True), full, sec.text("route_table"), sec.text("network_acl"), line=sec.line)


def parse_route_table(name: str, block: Section, region: str) -> RouteTable:
    line = block.line_of(name)
    if not isinstance(name, str) or not NAME.match(name):
        raise fail(
            block.file, line, f"route table name '{name}' must start with a letter and use only letters, digits, '-' and '_'"
        )
    wrapper = Section(block.data, block.file, line, block.what)
    routes = tuple(parse_route(r, region) for r in wrapper.items(name, f"a route of route table {name}"))
    return RouteTable(name, routes, line=line)


def parse_route(sec: Section, region: str) -> Route:
    sec.allow("destination", "target")
    target = sec.required_text("target")
    return Route(parse_destination(sec, "destination", region), target, line=sec.line)


def parse_destination(sec: Section, key: str, region: str) -> ipaddress.IPv4Network | PrefixListRef:
    value = str(sec.require(key))
    if value.startswith("pl:") or value.startswith("pl-"):
        return parse_prefix_list(sec, key, value, region)
    return sec.network(key)


def parse_prefix_list(sec: Section, key: str, value: str, region: str) -> PrefixListRef:
    """`pl:s3` means the region's list for S3; `pl-...` must be one of the lab's known ids."""
    if value.startswith("pl:"):
        service = value[3:]
        svc = regions.region(region).services.get(service)
        if svc is None or svc.prefix_list_id is None:  # interface-only services have no AWS-managed list
            raise sec.error(
                key,
                f"there is no AWS-managed prefix list '{value}' in {region}; "
                f"known: {', '.join('pl:' + s for s in regions.GATEWAY_SERVICES)}",
                "InvalidPrefixListID.NotFound",
            )
    else:
        svc = regions.service_for_prefix_list(value)
        if svc is None or svc.region != region:  # prefix-list ids are regional
            elsewhere = f" ({svc.prefix_list_name} is in {svc.region})" if svc else ""
            raise sec.error(
                key,
                f"the prefix list ID '{value}' does not exist in {region}{elsewhere}; "
                "write pl:s3 or pl:dynamodb for the region's AWS-managed lists",
                "InvalidPrefixListID.NotFound",
            )
    return PrefixListRef(svc.region, svc.service, svc.prefix_list_id or "")  # never empty: refused above


def parse_nat(name: str, sec: Section, vpc: str, region: str) -> NatGateway:
    sec.allow("subnet", "description")
    return NatGateway(name, sec.required_text("subnet"), line=sec.line)


def parse_instance(name: str, sec: Section, vpc: str) -> Instance:
    sec.allow("subnet", "private_ip", "public_ip", "security_groups", "description")
    return Instance(
        name,
        vpc,
        sec.required_text("subnet"),
        sec.address("private_ip"),
        sec.flag("public_ip", False),
        sec.names("security_groups"),
        line=sec.line,
    )


def parse_endpoint(name: str, sec: Section, vpc: str, region: str) -> Endpoint:
    sec.allow(
        "type",
        "service",
        "route_tables",
        "subnets",
        "subnet_configurations",
        "policy",
        "private_dns",
        "private_dns_only_for_inbound_resolver_endpoint",
        "security_groups",
        "description",
    )
    reference = parse_service_reference(sec, name)
    kind = sec.text("type", "interface" if reference else "gateway")
    if kind not in ("gateway", "interface"):
        raise sec.error("type", f"endpoint {name}: type must be gateway or interface, not '{kind}'", "InvalidVpcEndpointType")
    service = reference or sec.required_text("service")
    parsed = (region, service) if reference else regions.parse_service_name(service, region)
    if parsed is None:
        raise sec.error(
            "service",
            f"endpoint {name}: '{service}' is not a service name; write s3, dynamodb or com.amazonaws.{region}.s3",
            "InvalidServiceName",
        )
    svc_region, svc = parsed
    return Endpoint(
        name,
        kind,
        svc_region,
        svc,
        sec.names("route_tables"),
        sec.names("subnets"),
        parse_policy(sec, "policy", "endpoint"),
        sec.flag("private_dns", kind == "interface" and not reference),
        sec.names("security_groups"),
        parse_subnet_configurations(sec, name),
        sec.flag("private_dns_only_for_inbound_resolver_endpoint", False)
        if sec.has("private_dns_only_for_inbound_resolver_endpoint")
        else None,
        reference,
        line=sec.line,
    )


def parse_subnet_configurations(sec: Section, endpoint: str) -> dict[str, ipaddress.IPv4Address]:
    """`subnet_configurations: [{subnet: isolated-a, ipv4: 10.0.3.50}]`: the ENI address asked for
    in a subnet, as CreateVpcEndpoint's SubnetConfigurations (SubnetId, Ipv4) take it
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SubnetConfiguration.html)."""
    found: dict[str, ipaddress.IPv4Address] = {}
    for item in sec.items("subnet_configurations", f"a subnet configuration of endpoint {endpoint}"):
        item.allow("subnet", "ipv4")
        subnet, address = item.required_text("subnet"), item.address("ipv4")
        if address is None:
            raise item.error(None, f"{item.what} needs 'ipv4'", MISSING)
        if subnet in found:
            raise item.error(
                "subnet", f"endpoint {endpoint}: subnet {subnet} is configured twice in subnet_configurations", "InvalidParameter"
            )
        found[subnet] = address
    return found


def parse_policy(sec: Section, key: str, kind: str, bucket: str | None = None) -> Policy | None:
    """Load an endpoint's or a bucket's policy JSON file (path relative to the topology file) and
    check it as AWS checks a policy when it is attached (lab.model.policy_text, lab.model.policy;
    a bucket's as S3 checks it for that `bucket`, lab.model.bucket_policy): a mistake is reported
    before any lab is built."""
    rel = sec.text(key)
    if rel is None:
        return None
    path = Path(sec.file).parent / rel
    try:
        text = read_text(path, MAX_POLICY_FILE_BYTES)
    except Unreadable as exc:
        raise sec.error(key, f"policy file '{rel}' cannot be read (looked for {path}): {exc}", MALFORMED) from None
    except UnicodeDecodeError:
        raise sec.error(key, f"policy file '{rel}' is not UTF-8 text", MALFORMED) from None
    try:
        document = read_policy(text, kind)
        parsed = parse_policy_grammar(document, "policy")
        if bucket is not None:
            check_bucket_policy(parsed, bucket)
    except PolicyTextError as exc:
        raise fail(str(path), exc.line, str(exc), exc.code) from None
    except MalformedPolicy as exc:  # the message names statement and field, json_line finds them
        raise fail(str(path), json_line(text, exc.path), str(exc), exc.code) from None
    return Policy(str(path), document, line=sec.line_of(key))


def parse_rule_ports(sec: Section) -> tuple[str, int | None, int | None]:
    """protocol plus `port: 443` or `ports: 1024-65535`; ICMP and 'all' take no ports."""
    proto = str(sec.raw("protocol", "all")).lower()
    if proto not in PROTOCOLS:
        raise sec.error("protocol", f"{sec.what}: protocol must be tcp, udp, icmp or all, not '{proto}'")
    proto = PROTOCOLS[proto]
    if proto in ("-1", "icmp"):
        if sec.has("port") or sec.has("ports"):
            raise sec.error("port" if sec.has("port") else "ports", f"{sec.what}: protocol {proto} takes no ports")
        return (proto, *parse_icmp(sec)) if proto == "icmp" else (proto, None, None)
    if sec.has("icmp_type") or sec.has("icmp_code"):
        raise sec.error(
            "icmp_type" if sec.has("icmp_type") else "icmp_code", f"{sec.what}: only protocol icmp takes icmp_type and icmp_code"
        )
    if sec.has("port") and sec.has("ports"):
        raise sec.error("ports", f"{sec.what}: give either port or ports, not both", "InvalidParameterCombination")
    key = "ports" if sec.has("ports") else "port"
    if key == "port":
        low = high = sec.require("port")
    else:
        low, dash, high = str(sec.require("ports")).partition("-")
        high = high if dash else low
    low, high = whole_number(low), whole_number(high)
    if low is None or high is None:
        raise sec.error(key, f"{sec.what}: ports must be a whole number or a range like 1024-65535")
    if low > high:
        raise sec.error(key, f"{sec.what}: port range {low}-{high} is reversed; write {high}-{low}")
    if high > 65535:
        raise sec.error(key, f"{sec.what}: port range {low}-{high} is not within 0-65535")
    return proto, low, high


def parse_icmp(sec: Section) -> tuple[int | None, int | None]:
    """`icmp_type: 8`, `icmp_code: 0` (each 0-255; absent: all), kept as AWS keeps them: the type
    in FromPort, the code in ToPort. A code needs a type, as in the EC2 API."""
    found: list[int | None] = []
    for key in ("icmp_type", "icmp_code"):
        value = whole_number(sec.raw(key)) if sec.has(key) else None
        if sec.has(key) and (value is None or value > 255):
            raise sec.error(key, f"{sec.what}: {key} must be a whole number from 0 to 255, not {sec.raw(key)!r}")
        found.append(value)
    if found[1] is not None and found[0] is None:
        raise sec.error("icmp_code", f"{sec.what}: icmp_code needs an icmp_type", "InvalidParameterCombination")
    return found[0], found[1]


def whole_number(value: object) -> int | None:
    """A non-negative integer, from YAML (an int, not a bool or float) or from text ('443')."""
    if is_int(value):
        return int(value) if value >= 0 else None
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


def parse_sg_rule(sec: Section, region: str) -> SecurityGroupRule:
    sec.allow("protocol", "port", "ports", "icmp_type", "icmp_code", "cidr", "prefix_list", "security_group", "description")
    proto, low, high = parse_rule_ports(sec)
    peers = [k for k in ("cidr", "prefix_list", "security_group") if sec.has(k)]
    if len(peers) != 1:
        raise sec.error(
            None,
            f"{sec.what} needs exactly one of cidr, prefix_list, security_group (write one rule per peer)",
            "InvalidParameterCombination",
        )
    if peers[0] == "cidr":
        peer: ipaddress.IPv4Network | PrefixListRef | str = sec.network("cidr")
    elif peers[0] == "prefix_list":
        peer = parse_prefix_list(sec, "prefix_list", str(sec.raw("prefix_list")), region)
    else:
        peer = sec.required_text("security_group")
    return SecurityGroupRule(proto, low, high, peer, line=sec.line)


def parse_security_group(name: str, sec: Section, vpc: str, region: str) -> SecurityGroup:
    sec.allow("description", "ingress", "egress")
    ingress = tuple(parse_sg_rule(r, region) for r in sec.items("ingress", f"an ingress rule of {sec.what}"))
    if sec.has("egress"):
        egress = tuple(parse_sg_rule(r, region) for r in sec.items("egress", f"an egress rule of {sec.what}"))
    else:  # AWS: a new security group allows all outbound traffic
        egress = (SecurityGroupRule("-1", None, None, ipaddress.IPv4Network("0.0.0.0/0"), line=sec.line),)
    return SecurityGroup(name, sec.text("description", name), ingress, egress, line=sec.line)


def parse_nacl_entry(sec: Section) -> NetworkAclEntry:
    sec.allow("rule", "protocol", "port", "ports", "icmp_type", "icmp_code", "cidr", "action", "description")
    number = sec.require("rule")
    if not is_int(number) or not 1 <= number <= 32766:
        raise sec.error("rule", f"{sec.what}: rule number must be 1 to 32766, not {number!r}")
    proto, low, high = parse_rule_ports(sec)
    action = sec.required_text("action")
    if action not in ("allow", "deny"):
        raise sec.error("action", f"{sec.what}: action must be allow or deny, not '{action}'")
    return NetworkAclEntry(number, proto, low, high, sec.network("cidr"), action, line=sec.line)


def parse_network_acl(name: str, sec: Section, vpc: str, region: str) -> NetworkAcl:
    sec.allow("ingress", "egress", "description")
    return NetworkAcl(
        name,
        tuple(parse_nacl_entry(e) for e in sec.items("ingress", f"an ingress entry of network acl {name}")),
        tuple(parse_nacl_entry(e) for e in sec.items("egress", f"an egress entry of network acl {name}")),
        line=sec.line,
    )


def parse_peering(name: str, sec: Section, vpc: str, region: str) -> Peering:
    sec.allow("peer_vpc", "description")
    return Peering(name, vpc, sec.required_text("peer_vpc"), line=sec.line)


def parse_objects(sec: Section, bucket: str) -> dict[str, str]:
    """`objects: {key: text}`, each key one S3 can store (lab.model.s3_names)."""
    objects = sec.section("objects", f"objects of bucket {bucket}")
    if objects is None:
        return {}
    content = {}
    for key, text in objects.data.items():
        problem = object_key_problem(str(key))
        if problem:
            raise objects.error(key, f"bucket {bucket}: object key {str(key)[:40]!r}: {problem[0]}", problem[1])
        content[str(key)] = str(text)
    return content


def parse_services(doc: Section, region: str) -> tuple[dict[str, Bucket], dict[str, Table]]:
    services = doc.section("services", "'services'")
    if services is None:
        return {}, {}
    services.allow("s3", "dynamodb")
    buckets: dict[str, Bucket] = {}
    tables: dict[str, Table] = {}
    s3 = services.section("s3", "'services: s3'")
    if s3 is not None:
        s3.allow("buckets")
        for name, sec in s3.entries("buckets", "bucket"):
            sec.allow("region", "policy", "objects")
            policy = parse_policy(sec, "policy", "bucket", name)
            buckets[name] = Bucket(name, sec.text("region", region), policy, parse_objects(sec, name), line=sec.line)
    ddb = services.section("dynamodb", "'services: dynamodb'")
    if ddb is not None:
        ddb.allow("tables")
        for name, sec in ddb.entries("tables", "table"):
            sec.allow("region", "partition_key")
            tables[name] = Table(name, sec.text("region", region), sec.text("partition_key", "id"), line=sec.line)
    return buckets, tables
