"""The EC2 Describe calls from the shipped topologies (lab.plan.ec2_describe): ids from the plan,
`Name` tags from the topology, EC2's filters and id lists with its NotFound codes, region and
account scoping; and every answer is one botocore reads back from the EC2 front's XML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.parsers import create_parser

from lab.model.ec2_errors import Ec2Error
from lab.model.ids import ACCOUNT_ID
from lab.model.loader import load_topology
from lab.plan import ec2_endpoints, names
from lab.plan.compile import compile_plan
from lab.plan.ec2_describe import CALLS, FILTERS, actions, describe
from lab.plan.ec2_view import View
from lab.services.ec2_query import model
from lab.services.ec2_xml import response

REPO = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"
SHIPPED = sorted(p.name for p in (REPO / "topologies").glob("*.yaml"))


def lab(name: str):
    topology = load_topology(REPO / "topologies" / name)
    return topology, compile_plan(topology)


@pytest.fixture(scope="module")
def gateway():
    return lab("gateway-endpoint.yaml")


def ask(lab_, action: str, params: dict | None = None, region: str = "ap-northeast-2", account: str = ACCOUNT_ID) -> dict:
    return describe(*lab_, action, params or {}, region, account)


def by_name(name: str, values: list[str]) -> dict:
    return {"Filters": [{"Name": name, "Values": values}]}


@pytest.mark.parametrize("topology", SHIPPED)
def test_every_answer_of_every_shipped_topology_is_what_botocore_reads_back(topology):
    made = lab(topology)
    for action in sorted(actions()):
        output = ask(made, action, region=made[0].region)
        parsed = create_parser("ec2").parse(
            {"body": response(action, output, "r"), "headers": {}, "status_code": 200},
            model().operation_model(action).output_shape,
        )
        parsed.pop("ResponseMetadata")
        assert parsed == output, action


@pytest.mark.parametrize("topology", SHIPPED)
def test_every_resource_answers_exactly_its_calls_filters(topology):
    view = View(*lab(topology), REGION, ACCOUNT_ID)
    for action, call in CALLS.items():
        for resource in call.resources(view):
            assert set(resource.facets) == FILTERS[action], action
    for detail in ec2_endpoints.endpoint_services(view, {}, lambda *_: True)["ServiceDetails"]:
        assert set(ec2_endpoints.service_facets(detail)) == FILTERS["DescribeVpcEndpointServices"]


def test_vpcs_by_name_tag_with_the_plans_id(gateway):
    topology, plan = gateway
    found = ask(gateway, "DescribeVpcs", by_name("tag:Name", ["app"]))["Vpcs"]
    assert [(v["VpcId"], v["CidrBlock"], v["Tags"]) for v in found] == [
        (plan.vpc_id("app"), "10.0.0.0/16", [{"Key": "Name", "Value": "app"}])
    ]
    assert ask(gateway, "DescribeVpcs", by_name("tag:Name", ["ap?"]))["Vpcs"] == found  # EC2's wildcards
    assert ask(gateway, "DescribeVpcs", by_name("tag:Name", ["other"]))["Vpcs"] == []


def test_route_tables_show_the_endpoints_prefix_list_routes_and_explicit_associations(gateway):
    topology, plan = gateway
    private = ask(gateway, "DescribeRouteTables", by_name("association.subnet-id", [names.subnet_id("app", "private-a")]))
    (table,) = private["RouteTables"]
    assert table["RouteTableId"] == plan.route_table("app", "private").aws_id
    targets = {
        r.get("DestinationCidrBlock") or r["DestinationPrefixListId"]: r.get("GatewayId") or r.get("NatGatewayId")
        for r in table["Routes"]
    }
    assert targets == {
        "10.0.0.0/16": "local",
        "0.0.0.0/0": plan.nat_gateway("app", "nat-a").aws_id,
        "pl-78a54011": plan.vpce_id("app", "s3-gw"),
        "pl-0d2e4a7b": plan.vpce_id("app", "ddb-gw"),
    }
    main = ask(gateway, "DescribeRouteTables", by_name("association.main", ["true"]))["RouteTables"]
    assert [t["RouteTableId"] for t in main] == [plan.route_table("app", None).aws_id]
    assert [r["GatewayId"] for r in main[0]["Routes"]] == ["local"]
    via_endpoint = ask(gateway, "DescribeRouteTables", by_name("route.gateway-id", [plan.vpce_id("app", "s3-gw")]))
    assert {t["Tags"][0]["Value"] for t in via_endpoint["RouteTables"]} == {"private", "isolated"}


def test_id_lists_name_exactly_their_resources_and_an_unknown_id_is_ec2s_not_found(gateway):
    topology, plan = gateway
    wanted = [plan.route_table("app", "isolated").aws_id]
    assert [t["RouteTableId"] for t in ask(gateway, "DescribeRouteTables", {"RouteTableIds": wanted})["RouteTables"]] == wanted
    for action, member, given, code in [
        ("DescribeVpcs", "VpcIds", "vpc-0123456789abcdef0", "InvalidVpcID.NotFound"),
        ("DescribeSubnets", "SubnetIds", "subnet-0123456789abcdef0", "InvalidSubnetID.NotFound"),
        ("DescribeRouteTables", "RouteTableIds", "rtb-0123456789abcdef0", "InvalidRouteTableID.NotFound"),
        ("DescribeVpcEndpoints", "VpcEndpointIds", "vpce-0123456789abcdef0", "InvalidVpcEndpointId.NotFound"),
        ("DescribeNatGateways", "NatGatewayIds", "nat-0123456789abcdef0", "NatGatewayNotFound"),
        ("DescribeSecurityGroups", "GroupIds", "sg-0123456789abcdef0", "InvalidGroup.NotFound"),
        ("DescribeNetworkAcls", "NetworkAclIds", "acl-0123456789abcdef0", "InvalidNetworkAclID.NotFound"),
        ("DescribeVpcs", "VpcIds", "subnet-0123456789abcdef0", "InvalidVpcID.Malformed"),
    ]:
        with pytest.raises(Ec2Error) as caught:
            ask(gateway, action, {member: [given]})
        assert (caught.value.code, caught.value.status) == (code, 400) and given in caught.value.message


def test_an_unknown_filter_is_refused_even_with_nothing_to_list(gateway):
    for region in ("ap-northeast-2", "us-east-1"):
        with pytest.raises(Ec2Error) as caught:
            ask(gateway, "DescribeVpcs", by_name("vpc-name", ["app"]), region=region)
        assert caught.value.code == "InvalidParameterValue" and "vpc-name" in caught.value.message
    with pytest.raises(Ec2Error):
        ask(gateway, "DescribeNatGateways", {"Filter": [{"Name": "owner-id", "Values": [ACCOUNT_ID]}]})


def test_another_region_or_account_sees_no_vpc_but_its_regions_services(gateway):
    assert ask(gateway, "DescribeVpcs", region="us-east-1") == {"Vpcs": []}
    assert ask(gateway, "DescribeVpcs", account="444455556666") == {"Vpcs": []}
    lists = ask(gateway, "DescribePrefixLists", region="us-east-1")["PrefixLists"]
    assert {p["PrefixListId"] for p in lists} == {"pl-63a5400a", "pl-02cd2c6b"}


def test_endpoints_filters_and_policy(gateway):
    topology, plan = gateway
    found = ask(gateway, "DescribeVpcEndpoints", by_name("service-name", ["com.amazonaws.ap-northeast-2.s3"]))["VpcEndpoints"]
    assert [e["VpcEndpointId"] for e in found] == [plan.vpce_id("app", "s3-gw")]
    assert set(found[0]["RouteTableIds"]) == {plan.route_table("app", t).aws_id for t in ("private", "isolated")}
    assert json.loads(found[0]["PolicyDocument"])["Statement"][0]["Action"] == "*"
    assert ask(gateway, "DescribeVpcEndpoints", by_name("vpc-endpoint-type", ["Interface"]))["VpcEndpoints"] == []


def test_a_subnets_available_addresses_leave_out_aws_five_and_every_eni():
    made = lab("interface-endpoint.yaml")
    (subnet,) = ask(made, "DescribeSubnets", by_name("cidr-block", ["10.0.3.0/24"]))["Subnets"]
    assert subnet["AvailableIpAddressCount"] == 256 - 5 - 4  # app1 and three endpoints' ENIs


def test_interface_endpoints_enis_groups_and_dns_names():
    made = lab("interface-endpoint.yaml")
    topology, plan = made
    (s3,) = ask(made, "DescribeVpcEndpoints", by_name("tag:Name", ["s3-if"]))["VpcEndpoints"]
    assert s3["VpcEndpointType"] == "Interface" and len(s3["NetworkInterfaceIds"]) == len(s3["SubnetIds"]) == 2
    assert all(plan.node(n).aws_id in s3["NetworkInterfaceIds"] for n in plan.nodes if n.startswith("app-s3-if-"))
    assert s3["DnsEntries"][0]["DnsName"].startswith("*." + s3["VpcEndpointId"])


def test_security_groups_and_acls_as_ec2_shows_them():
    made = lab("security-groups.yaml")
    topology, plan = made
    (app,) = ask(made, "DescribeSecurityGroups", by_name("group-name", ["app"]))["SecurityGroups"]
    assert app["IpPermissions"][0]["UserIdGroupPairs"] == [
        {"GroupId": names.security_group_id("shop", "web"), "UserId": ACCOUNT_ID}
    ]
    assert app["IpPermissions"][1] | {"IpRanges": []} == {
        "IpProtocol": "icmp",
        "FromPort": 8,
        "ToPort": -1,
        "IpRanges": [],
        "Ipv6Ranges": [],
        "PrefixListIds": [],
        "UserIdGroupPairs": [],
    }
    (db,) = ask(made, "DescribeSecurityGroups", by_name("group-name", ["db"]))["SecurityGroups"]
    assert db["IpPermissionsEgress"][0]["PrefixListIds"] == [{"PrefixListId": "pl-78a54011"}]
    defaults = ask(made, "DescribeSecurityGroups", by_name("group-name", ["default"]))["SecurityGroups"]
    assert [g["IpPermissionsEgress"][0]["IpRanges"] for g in defaults] == [[{"CidrIp": "0.0.0.0/0"}]]
    (acl,) = ask(made, "DescribeNetworkAcls", by_name("association.subnet-id", [names.subnet_id("shop", "app-a")]))["NetworkAcls"]
    ingress = [(e["RuleNumber"], e["RuleAction"]) for e in acl["Entries"] if not e["Egress"]]
    assert ingress == [(90, "deny"), (100, "allow"), (32767, "deny")]
    (default,) = ask(made, "DescribeNetworkAcls", by_name("default", ["true"]))["NetworkAcls"]
    assert default["NetworkAclId"] == names.network_acl_id("shop", names.DEFAULT_NETWORK_ACL)
    with pytest.raises(Ec2Error) as caught:
        ask(made, "DescribeSecurityGroups", {"GroupNames": ["app"]})
    assert caught.value.code == "VPCIdNotSpecified"


def test_endpoint_services_aws_and_the_topologys():
    made = lab("endpoint-service.yaml")
    topology, plan = made
    services = ask(made, "DescribeVpcEndpointServices")
    assert "com.amazonaws.ap-northeast-2.s3" in services["ServiceNames"]
    s3_types = [d["ServiceType"][0]["ServiceType"] for d in services["ServiceDetails"] if d["ServiceName"].endswith(".s3")]
    assert s3_types == ["Gateway", "Interface"]
    mine = [es.service_name for es in plan.endpoint_services]
    assert set(mine) <= set(services["ServiceNames"])
    with pytest.raises(Ec2Error) as caught:
        ask(made, "DescribeVpcEndpointServices", {"ServiceNames": ["com.amazonaws.ap-northeast-2.nope"]})
    assert caught.value.code == "InvalidServiceName"
    connections = ask(made, "DescribeVpcEndpointConnections", account=plan.endpoint_services[0].owner)["VpcEndpointConnections"]
    assert {c["VpcEndpointId"] for c in connections} == {c.vpce for c in plan.endpoint_services[0].connections}


def test_instances_each_in_its_reservation_with_the_plans_addresses():
    made = lab("public-private.yaml")
    topology, plan = made
    (reservation,) = ask(made, "DescribeInstances", by_name("tag:Name", ["web1"]))["Reservations"]
    (web1,) = reservation["Instances"]
    assert (web1["InstanceId"], web1["PrivateIpAddress"]) == (plan.node("web1").aws_id, str(plan.eni_address("web1")))
    assert web1["PublicIpAddress"] == str(plan.public_ip_of(plan.eni_address("web1"), "app").address)
    assert web1["NetworkInterfaces"][0]["NetworkInterfaceId"] == plan.eni_id("web1")
    assert reservation["ReservationId"] == names.reservation_id("web1")
    every = ask(made, "DescribeInstances")["Reservations"]
    assert sorted(r["Instances"][0]["Tags"][0]["Value"] for r in every) == sorted(topology.instances)
    with pytest.raises(Ec2Error) as caught:
        ask(made, "DescribeInstances", {"InstanceIds": ["i-0123456789abcdef0"]})
    assert caught.value.code == "InvalidInstanceID.NotFound"


def test_network_interfaces_of_every_kind_as_aws_describes_the_ones_it_manages():
    made = lab("interface-endpoint.yaml")
    topology, plan = made
    found = ask(made, "DescribeNetworkInterfaces", by_name("interface-type", ["vpc_endpoint"]))["NetworkInterfaces"]
    vpce = plan.vpce_id("app", "s3-if")
    mine = [e for e in found if e["Description"] == f"VPC Endpoint Interface {vpce}"]
    assert len(mine) == 2 and all(e["RequesterManaged"] for e in mine)
    assert {e["PrivateIpAddress"] for e in mine} >= {"10.0.3.50"}
    nlb = lab("endpoint-service.yaml")
    provider = "444455556666"  # the NLB's VPC is the provider account's: the consumer's account sees none of it
    wanted = by_name("interface-type", ["network_load_balancer"])
    assert ask(nlb, "DescribeNetworkInterfaces", wanted)["NetworkInterfaces"] == []
    balancers = ask(nlb, "DescribeNetworkInterfaces", wanted, account=provider)["NetworkInterfaces"]
    assert len(balancers) == 2 and all(e["Description"].startswith("ELB net/web-nlb/") for e in balancers)
