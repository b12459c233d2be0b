"""The inline topologies that tests in tests/unit and tests/integration build alike, as YAML text for
`load_topology("inline.yaml", text)`: a VPC with an internet gateway and a public subnet
(`public_vpc`), and vpc app with a private subnet behind a NAT gateway as well (`nat_vpc`).

A builder takes what a test adds as YAML written at any indent (a triple-quoted string in a test
is fine) and puts it in its place, so the test shows only what is particular to it. Tests that
assert on a line number keep their YAML inline, where that line can be read off the page.

pytest.ini puts tests/ on sys.path, so tests in both folders import this module as `topologies`.
"""

from __future__ import annotations

import ipaddress
import textwrap

S3_GATEWAY_ENDPOINT = "s3-gw: {type: gateway, service: s3, route_tables: [private]}"
DEFAULT_TO_NAT = "[{destination: 0.0.0.0/0, target: nat-a}]"


def at(column: int, yaml: str) -> str:
    """`yaml` moved to `column`, ending in a newline; "" stays ""."""
    text = textwrap.dedent(yaml).strip("\n").rstrip()
    return textwrap.indent(text, " " * column) + "\n" if text else ""


def vpcs(*bodies: str) -> str:
    """The top-level `vpcs:` map of the given VPCs (each as `public_vpc` writes one)."""
    return "vpcs:\n" + "".join(at(2, body) for body in bodies)


def public_vpc(
    name: str = "app",
    cidr: str = "10.0.0.0/16",
    public_a: str = "10.0.1.0/24",
    *,
    subnets: str = "",
    route_tables: str = "",
    more: str = "",
) -> str:
    """vpc `name` (to go under `vpcs:`) with an internet gateway and subnet public-a in zone a, whose
    route table `public` sends 0.0.0.0/0 to the internet gateway; `subnets` and `route_tables` are
    more entries of those maps, `more` is more keys of the VPC."""
    return (
        f"{name}:\n"
        f"  cidr: {cidr}\n"
        "  internet_gateway: true\n"
        "  subnets:\n"
        f"    public-a: {{cidr: {public_a}, az: a, route_table: public}}\n" + at(4, subnets) + "  route_tables:\n"
        "    public: [{destination: 0.0.0.0/0, target: igw}]\n" + at(4, route_tables) + at(2, more)
    )


def nat_vpc(
    private_routes: str = DEFAULT_TO_NAT,
    endpoints: str = S3_GATEWAY_ENDPOINT,
    app: str = "",
    other_vpcs: str = "",
    top: str = "",
    *,
    subnets: str = "",
    instances: str = "app1: {subnet: private-a}",
) -> str:
    """A whole topology: vpc app as `public_vpc` writes it, plus subnet private-a (10.0.2.0/24, zone a)
    with route table `private` (`private_routes`, a YAML list), NAT gateway nat-a in public-a, and the
    map entries `subnets` (more subnets), `endpoints` and `instances` ("" for none); then `app` (more
    keys of vpc app), `other_vpcs` (more VPCs) and `top` (more top-level keys)."""
    app_vpc = public_vpc(
        subnets="private-a: {cidr: 10.0.2.0/24, az: a, route_table: private}\n" + at(0, subnets),
        route_tables=f"private: {private_routes}",
        more="nat_gateways: {nat-a: {subnet: public-a}}\n"
        + entries("endpoints", endpoints)
        + entries("instances", instances)
        + at(0, app),
    )
    return vpcs(app_vpc, other_vpcs) + at(0, top)


def entries(key: str, yaml: str) -> str:
    """`key:` with the map entries in `yaml` (one a line, at any indent) beneath it; `key: {}` if none."""
    return f"{key}:\n{at(2, yaml)}" if yaml.strip() else f"{key}: {{}}\n"


def many_vpcs(count: int) -> str:
    """The scale topology of issue 8: `count` VPCs (1-4095) v1, v2, ..., VPC n with the /20 number n of
    10.0.0.0/8 and in it a public, a private and an isolated /24 subnet, an internet gateway, a NAT
    gateway, an S3 gateway endpoint on the private and isolated route tables, and one instance per
    subnet (web<n> with a public IP, app<n>, db<n>); one S3 bucket, lab-bucket. Seven namespaces per VPC
    plus the internet router, its client and the S3 front: 100 VPCs are 703 namespaces.
    tests/unit, tests/integration and benchmarks/ build it alike."""
    if not 1 <= count <= 4095:
        raise ValueError(f"many_vpcs: {count} VPCs; 1-4095 fit in 10.0.0.0/8 as /20s")
    return (
        "region: ap-northeast-2\n"
        + vpcs(*(one_of_many(n) for n in range(1, count + 1)))
        + 'services:\n  s3:\n    buckets:\n      lab-bucket: {objects: {hello.txt: "hello\\n"}}\n'
    )


def one_of_many(n: int) -> str:
    """VPC v<n> of `many_vpcs`."""
    cidr = ipaddress.IPv4Network(f"10.{n >> 4}.{(n & 15) << 4}.0/20")
    public, private, isolated = list(cidr.subnets(new_prefix=24))[1:4]
    return public_vpc(
        f"v{n}",
        str(cidr),
        str(public),
        subnets=f"private-a: {{cidr: {private}, az: a, route_table: private}}\n"
        f"isolated-a: {{cidr: {isolated}, az: a, route_table: isolated}}",
        route_tables=f"private: {DEFAULT_TO_NAT}\nisolated: []",
        more="nat_gateways: {nat-a: {subnet: public-a}}\n"
        + entries("endpoints", "s3-gw: {type: gateway, service: s3, route_tables: [private, isolated]}")
        + entries(
            "instances",
            f"web{n}: {{subnet: public-a, public_ip: true}}\napp{n}: {{subnet: private-a}}\ndb{n}: {{subnet: isolated-a}}",
        ),
    )
