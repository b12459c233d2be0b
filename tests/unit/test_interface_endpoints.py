"""Interface endpoints as AWS makes them, in the plan: one ENI per subnet with an address AWS picks
or the topology pins (SubnetConfigurations), the endpoint's DNS names, private DNS and its
conditions, the ENI's TCP-only ruleset and certificates that cover every name a client may use.

Sources: https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html,
https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html and the
error texts quoted in lab/model/validate_endpoints.py.
"""

from __future__ import annotations

import re
import textwrap

import pytest

from lab.analysis.explain import explain
from lab.errors import TopologyError
from lab.model import regions
from lab.model.endpoint_names import endpoint_name_parts
from lab.model.loader import load_topology
from lab.model.s3_requests import S3Refusal, S3Target, parse_target
from lab.model.validate import validate
from lab.plan import names
from lab.plan.compile import compile_plan
from lab.plan.dns import certificate_names, resolve
from lab.report.text import plan_text
from lab.results import Outcome
from lab.services.ca import make_lab_ca
from tests.unit.test_services_ca import handshake

REGION = "ap-northeast-2"


def topology(endpoint: str = "", vpc: str = "", endpoints: str = "", instances: str = "{app1: {subnet: private-a}}") -> str:
    """vpc app with an interface endpoint `s3-if` (extra settings `endpoint`) in two AZs, vpc other beside it."""
    return textwrap.dedent("""
        vpcs:
          app:
            cidr: 10.0.0.0/16%s
            subnets:
              private-a: {cidr: 10.0.2.0/24, az: a}
              private-c: {cidr: 10.0.12.0/24, az: c}
            endpoints:%s
              s3-if: {type: interface, service: s3, subnets: [private-a, private-c]%s}
            instances: %s
          other:
            cidr: 10.1.0.0/16
            subnets: {private-a: {cidr: 10.1.2.0/24, az: a}}
            instances: {other1: {subnet: private-a}}
        """) % (vpc and "\n    " + vpc, endpoints and "\n      " + endpoints, endpoint, instances)


def load(text: str):
    t = load_topology("inline.yaml", text.lstrip("\n"))
    validate(t)
    return t


def refused(text: str) -> list[tuple[str, str]]:
    with pytest.raises(TopologyError) as caught:
        load(text)
    return [(p.code, p.message) for p in caught.value.problems]


def answer(plan, vpc: str, name: str) -> tuple[str, list[str]] | None:
    record = resolve(plan.resolvers[vpc].records, name)
    return record and (record.origin, [str(a) for a in record.addresses])


def eni_ip(plan, node: str) -> str:
    return str(plan.node(node).interface("eth0").addresses[0].ip)


VPCE = names.vpce_id("app", "s3-if")


# -- names ---------------------------------------------------------------------------------------
def test_the_dns_suffix_is_eight_letters_or_digits_and_the_same_every_time():
    suffix = names.endpoint_dns_suffix(VPCE)
    assert re.fullmatch(r"[a-z0-9]{8}", suffix)
    assert suffix == names.endpoint_dns_suffix(VPCE) != names.endpoint_dns_suffix(names.vpce_id("app", "other"))


def test_regional_and_zonal_names_follow_describe_vpc_endpoints():
    suffix = names.endpoint_dns_suffix(VPCE)
    assert names.endpoint_dns_name(VPCE, "dynamodb", REGION) == f"{VPCE}-{suffix}.dynamodb.{REGION}.vpce.amazonaws.com"
    assert names.endpoint_dns_name(VPCE, "s3", REGION, "ap-northeast-2c") == (
        f"{VPCE}-{suffix}-ap-northeast-2c.s3.{REGION}.vpce.amazonaws.com"
    )


# -- ENIs and their addresses --------------------------------------------------------------------
def test_one_eni_per_subnet_at_the_top_of_the_subnet_unless_pinned():
    plan = compile_plan(load(topology(", subnet_configurations: [{subnet: private-c, ipv4: 10.0.12.50}]")))
    assert eni_ip(plan, "app-s3-if-a") == "10.0.2.254"
    assert eni_ip(plan, "app-s3-if-c") == "10.0.12.50"
    assert plan.node("app-s3-if-c").interface("eth0").eni == names.endpoint_eni_id("app", "s3-if", "ap-northeast-2c")
    assert plan.node("app-s3-if-c").aws_id.startswith("eni-")


def test_a_pinned_address_is_claimed_before_any_instance_takes_it():
    text = topology(", subnet_configurations: [{subnet: private-a, ipv4: 10.0.2.4}]")
    plan = compile_plan(load(text))
    assert eni_ip(plan, "app-s3-if-a") == "10.0.2.4"
    assert eni_ip(plan, "app1") == "10.0.2.5"


@pytest.mark.parametrize(
    "config, code, text",
    [
        ("{subnet: private-a, ipv4: 10.0.3.9}", "InvalidParameterValue", "does not fall within subnet private-a 10.0.2.0/24"),
        ("{subnet: private-a, ipv4: 10.0.2.3}", "InvalidParameterValue", "reserved address range"),
        ("{subnet: private-a, ipv4: 10.0.2.255}", "InvalidParameterValue", "reserved address range"),
        ("{subnet: private-a, ipv4: 10.0.2.10}", "InvalidIPAddress.InUse", "address is in use by instance app1"),
        ("{subnet: public-b, ipv4: 10.0.2.20}", "InvalidParameter", "public-b is not one of the endpoint's subnets"),
    ],
)
def test_a_pinned_address_must_be_in_the_subnet_unreserved_and_free(config, code, text):
    problems = refused(
        topology(f", subnet_configurations: [{config}]", instances="{app1: {subnet: private-a, private_ip: 10.0.2.10}}")
    )
    assert [c for c, _ in problems] == [code]
    assert text in problems[0][1]


def test_two_endpoints_cannot_pin_the_same_address():
    problems = refused(
        topology(
            ", subnet_configurations: [{subnet: private-a, ipv4: 10.0.2.20}]",
            endpoints="ddb-if: {type: interface, service: dynamodb, subnets: [private-a], "
            "subnet_configurations: [{subnet: private-a, ipv4: 10.0.2.20}]}",
        )
    )
    assert problems == [
        (
            "InvalidIPAddress.InUse",
            "endpoint s3-if subnet_configurations private-a ipv4 10.0.2.20: address is in use by endpoint ddb-if",
        )
    ]


def test_a_gateway_endpoint_has_no_subnet_configurations():
    problems = refused(
        topology(endpoints="s3-gw: {type: gateway, service: s3, subnet_configurations: [{subnet: private-a, ipv4: 10.0.2.9}]}")
    )
    assert ("InvalidParameter", "endpoint s3-gw: a gateway endpoint has no network interface to configure") in problems


def test_one_subnet_per_availability_zone():
    text = topology().replace("private-c: {cidr: 10.0.12.0/24, az: c}", "private-c: {cidr: 10.0.12.0/24, az: a}")
    assert [c for c, _ in refused(text)] == ["DuplicateSubnetsInSameZone"]


# -- private DNS ---------------------------------------------------------------------------------
PUBLIC_S3 = ("public", None)


def test_private_dns_needs_both_dns_attributes_of_the_vpc():
    for setting in ("enable_dns_hostnames: false", "enable_dns_support: false"):
        problems = refused(topology(vpc=setting))
        assert [c for c, _ in problems] == ["InvalidParameter"]
        assert (
            "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true"
            in (problems[0][1])
        )


def test_two_endpoints_with_private_dns_for_one_service_conflict():
    problems = refused(topology(endpoints="s3-if2: {type: interface, service: s3, subnets: [private-a]}"))
    assert problems == [
        (
            "InvalidParameter",
            "endpoint s3-if: private-dns-enabled cannot be set because there is already a conflicting DNS domain for "
            "s3.ap-northeast-2.amazonaws.com in the VPC app (endpoint s3-if2 has private DNS for it); set "
            "private_dns: false on one of them",
        )
    ]
    load(topology(endpoints="s3-if2: {type: interface, service: s3, subnets: [private-a], private_dns: false}"))


def test_inbound_resolver_only_needs_a_gateway_endpoint_for_the_service():
    problems = refused(topology(", private_dns_only_for_inbound_resolver_endpoint: true"))
    assert problems == [
        (
            "InvalidParameter",
            "endpoint s3-if: To set PrivateDnsOnlyForInboundResolverEndpoint to true, the VPC app must have a Gateway "
            "endpoint for the service. Add a gateway endpoint for s3, or set "
            "private_dns_only_for_inbound_resolver_endpoint to false",
        )
    ]


def test_inbound_resolver_only_is_for_interface_endpoints_with_private_dns():
    gateway = refused(
        topology(endpoints="s3-gw: {type: gateway, service: s3, private_dns_only_for_inbound_resolver_endpoint: true}")
    )
    assert (
        "InvalidParameter",
        "endpoint s3-gw: DnsOptions PrivateDnsOnlyForInboundResolverEndpoint is applicable only to Interface VPC Endpoints.",
    ) in gateway
    off = refused(
        topology(
            ", private_dns: false, private_dns_only_for_inbound_resolver_endpoint: true",
            endpoints="s3-gw: {type: gateway, service: s3}",
        )
    )
    assert [c for c, _ in off] == ["InvalidParameter"] and "private_dns: false" in off[0][1]


def test_with_a_gateway_endpoint_vpc_clients_stay_on_public_s3_unless_the_option_is_off():
    """PrivateDnsOnlyForInboundResolverEndpoint defaults to true when the VPC has an S3 gateway
    endpoint: VPC clients resolve S3's public addresses (and take the gateway endpoint)."""
    gateway = "s3-gw: {type: gateway, service: s3}"
    default = compile_plan(load(topology(endpoints=gateway)))
    assert answer(default, "app", "s3.ap-northeast-2.amazonaws.com")[0] == "public"
    off = compile_plan(load(topology(", private_dns_only_for_inbound_resolver_endpoint: false", endpoints=gateway)))
    enis = [eni_ip(off, "app-s3-if-a"), eni_ip(off, "app-s3-if-c")]
    assert answer(off, "app", "s3.ap-northeast-2.amazonaws.com") == ("private-dns", enis)
    assert answer(off, "app", "lab-bucket.s3.ap-northeast-2.amazonaws.com") == ("private-dns", enis)


def test_endpoint_names_answer_in_every_vpc_private_dns_in_its_own_only():
    plan = compile_plan(load(topology()))
    enis = [eni_ip(plan, "app-s3-if-a"), eni_ip(plan, "app-s3-if-c")]
    regional = names.endpoint_dns_name(VPCE, "s3", REGION)
    zonal = names.endpoint_dns_name(VPCE, "s3", REGION, "ap-northeast-2a")
    for vpc in ("app", "other"):
        assert answer(plan, vpc, regional) == ("vpce", enis)
        for label in ("bucket", "accesspoint", "control"):
            assert answer(plan, vpc, f"{label}.{regional}") == ("vpce", enis)
        assert answer(plan, vpc, f"bucket.{zonal}") == ("vpce", enis[:1])
    assert answer(plan, "app", "s3.ap-northeast-2.amazonaws.com") == ("private-dns", enis)
    assert answer(plan, "other", "s3.ap-northeast-2.amazonaws.com")[0] == "public"


# -- the ENI's ruleset ---------------------------------------------------------------------------
def test_the_eni_drops_everything_but_tcp_and_counts_it():
    ruleset = compile_plan(load(topology())).node("app-s3-if-a").nftables
    input_chain = ruleset[ruleset.index("chain input") :]
    assert 'iifname "eth0" counter drop comment "INTERFACE_ENDPOINT_TCP_ONLY"' in input_chain
    assert "accept" not in input_chain.split("policy accept;", 1)[1]


# -- certificates and what the S3 front reads off an endpoint name -------------------------------
def test_certificates_cover_every_endpoint_name(tmp_path):
    """The names issue 10 found failing TLS: the regional and zonal names, bucket.vpce-... (and a
    virtual-hosted bucket under it) for S3; DynamoDB's regional name."""
    t = load(topology(endpoints="ddb-if: {type: interface, service: dynamodb, subnets: [private-a]}"))
    plan = compile_plan(t)
    ca = make_lab_ca(tmp_path / "ca")
    for front in plan.services:
        if front.service not in ("s3", "dynamodb") or front.region != REGION:
            continue
        cert, key = ca.issue_for(
            regions.region(front.region).services[front.service],
            certificate_names(plan.allocation, front.service, front.region, [i.label for i in front.ingresses]),
        )
        if front.service == "s3":
            regional, zonal = (
                names.endpoint_dns_name(VPCE, "s3", REGION),
                names.endpoint_dns_name(VPCE, "s3", REGION, "ap-northeast-2c"),
            )
            hosts = [
                regional,
                f"bucket.{regional}",
                f"lab-bucket.bucket.{regional}",
                f"bucket.{zonal}",
                "s3.ap-northeast-2.amazonaws.com",
            ]
        else:
            ddb = names.vpce_id("app", "ddb-if")
            hosts = [
                names.endpoint_dns_name(ddb, "dynamodb", REGION),
                names.endpoint_dns_name(ddb, "dynamodb", REGION, "ap-northeast-2a"),
            ]
        for host in hosts:
            handshake(ca.ca_path, cert, key, host)


def test_the_s3_front_reads_buckets_under_an_endpoint_name():
    regional = names.endpoint_dns_name(VPCE, "s3", REGION)
    assert parse_target(f"bucket.{regional}", "/lab-bucket/a/b.txt") == S3Target("lab-bucket", "a/b.txt")
    assert parse_target(f"bucket.{regional}:443", "/") == S3Target(None, None)
    assert parse_target(regional, "/lab-bucket") == S3Target("lab-bucket", None)
    assert parse_target(f"lab-bucket.bucket.{regional}", "/a.txt") == S3Target("lab-bucket", "a.txt")
    with pytest.raises(S3Refusal) as caught:
        parse_target(f"accesspoint.{regional}", "/")
    assert caught.value.code == "NotImplemented"


def test_service_and_region_are_read_off_any_endpoint_name():
    """The probe signs for the region in the name (it signed for us-east-1 and S3 answered 400)."""
    ddb = names.endpoint_dns_name(names.vpce_id("app", "ddb-if"), "dynamodb", REGION, "ap-northeast-2a")
    for name, label, service in (
        (f"lab-bucket.bucket.{names.endpoint_dns_name(VPCE, 's3', REGION)}", "lab-bucket.bucket", "s3"),
        (ddb.upper() + ".", None, "dynamodb"),
    ):
        parts = endpoint_name_parts(name)
        assert parts and (parts.group("label"), parts.group("service"), parts.group("region")) == (label, service, REGION)
    assert endpoint_name_parts("s3.ap-northeast-2.amazonaws.com") is None


def test_each_eni_carries_the_endpoints_groups_or_the_vpcs_default_group():
    """The security-group filter (lab.plan.security) keys its rules by each ENI: an endpoint without
    security_groups gets the VPC's default group, as CreateVpcEndpoint does."""
    text = topology(
        endpoints="ddb-if: {type: interface, service: dynamodb, subnets: [private-a], security_groups: [endpoints]}",
        vpc="security_groups: {endpoints: {description: HTTPS in, ingress: [{protocol: tcp, port: 443, cidr: 10.0.0.0/16}]}}",
    )
    plan = compile_plan(load(text))
    for az in ("a", "c"):
        security = plan.eni_security(f"app-s3-if-{az}")
        assert security.groups == (names.security_group_id("app", names.DEFAULT_SECURITY_GROUP),)
        assert security.eni == plan.node(f"app-s3-if-{az}").interface("eth0").eni
    assert plan.eni_security("app-ddb-if-a").groups == (names.security_group_id("app", "endpoints"),)
    assert str(plan.eni_security("app-ddb-if-a").address) == eni_ip(plan, "app-ddb-if-a")


def test_vpclab_plan_lists_the_names_a_learner_cannot_guess():
    text = plan_text(compile_plan(load(topology())))
    assert f"    {names.endpoint_dns_name(VPCE, 's3', REGION)} -> 10.0.2.254, 10.0.12.254 (vpce)" in text
    assert "    s3.ap-northeast-2.amazonaws.com -> 10.0.2.254, 10.0.12.254 (private-dns)" in text


@pytest.mark.parametrize(
    "config, code, text",
    [
        ("{subnet: private-a}", "MissingParameter", "needs 'ipv4'"),
        ("{subnet: private-a, ipv4: 10.0.2.300}", "InvalidParameterValue", "'10.0.2.300' is not a valid IPv4 address"),
        ("{subnet: private-a, ipv4: 10.0.2.9, ipv6: '::1'}", "UnknownParameter", "unknown key 'ipv6'"),
        ("{subnet: private-a, ipv4: 10.0.2.9}, {subnet: private-a, ipv4: 10.0.2.10}", "InvalidParameter", "configured twice"),
    ],
)
def test_a_bad_subnet_configuration_is_named_at_its_line(config, code, text):
    with pytest.raises(TopologyError) as caught:
        load(topology(f",\n          subnet_configurations: [{config}]"))
    problem = caught.value.problems[0]
    assert (problem.code, problem.line) == (code, 9) and text in problem.message, problem


def test_explain_stops_at_the_eni_for_a_port_it_does_not_serve():
    """Packets say so (INTERFACE_ENDPOINT_PORT_NOT_SERVED, scenarios/interface-private-dns-off.yaml);
    explain predicted the service answering on any port."""
    text = topology(
        ", security_groups: [open]",
        vpc="security_groups: {open: {description: all from the VPC, ingress: [{protocol: all, cidr: 10.0.0.0/16}]}}",
    )
    t = load(text)
    plan = compile_plan(t)
    stopped = explain(t, plan, "app1", "10.0.2.254", 22)
    assert stopped.explanation and stopped.explanation.code == "INTERFACE_ENDPOINT_PORT_NOT_SERVED"
    assert (stopped.outcome, stopped.reachable) == (Outcome.TIMEOUT, False)
    assert [h.node for h in stopped.path][-1] == "app-s3-if-a"
    assert explain(t, plan, "app1", "10.0.2.254", 443).outcome == Outcome.OK
