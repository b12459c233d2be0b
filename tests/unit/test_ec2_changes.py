"""The EC2 API's endpoint and route calls as model changes (lab.plan.ec2_changes): each changed
topology compiles, with the running plan kept, into a plan that shows the change (a prefix-list
route to the new vpce, an ENI node in the chosen subnet, a route to the NAT gateway), every answer
is botocore's output shape, and every refusal is EC2's code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ec2_changes_lab import REGION, Lab

from lab.model.ids import ACCOUNT_ID
from lab.plan import names
from lab.plan.ec2_changes import actions
from lab.plan.ec2_describe import describe
from lab.services.ec2_query import model

REPO = Path(__file__).resolve().parents[2]
S3 = f"com.amazonaws.{REGION}.s3"


def routes_to(plan, vpc: str, table: str, origin_part: str) -> set[str]:
    return {str(r.destination) for r in plan.route_table(vpc, table).routes if origin_part in r.origin}


@pytest.fixture
def public_private():
    return Lab("public-private.yaml")


def test_every_mutating_call_of_the_issue_is_handled():
    assert actions() == {
        "CreateVpcEndpoint",
        "DeleteVpcEndpoints",
        "ModifyVpcEndpoint",
        "CreateRoute",
        "ReplaceRoute",
        "DeleteRoute",
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "CreateNetworkAclEntry",
        "ReplaceNetworkAclEntry",
        "DeleteNetworkAclEntry",
        "AcceptVpcEndpointConnections",
        "RejectVpcEndpointConnections",
    }
    assert {a for a in actions() if a not in model().operation_names} == set()


def test_a_gateway_endpoint_created_adds_its_prefix_list_route_and_describe_shows_it(public_private):
    lab = public_private
    nat_routes = routes_to(lab.plan, "app", "private", "nat-")
    answer = lab.call(
        "CreateVpcEndpoint",
        {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3, "RouteTableIds": [lab.rtb("app", "private")]},
    )
    endpoint = answer["VpcEndpoint"]
    vpce = endpoint["VpcEndpointId"]
    assert (endpoint["VpcEndpointType"], endpoint["ServiceName"], endpoint["RouteTableIds"]) == (
        "Gateway",
        S3,
        [lab.rtb("app", "private")],
    )
    assert vpce == names.created_vpce_id("app", 1) and lab.topology.created == 1
    assert endpoint["Tags"] == []  # no Name tag given: none shown, as AWS shows it
    s3_ranges = {str(c) for c in lab.plan.prefix_lists["pl-78a54011"]}
    assert routes_to(lab.plan, "app", "private", f"-> {vpce}") == s3_ranges
    assert routes_to(lab.plan, "app", "private", "nat-") == nat_routes  # the default route stays
    assert routes_to(lab.plan, "app", "public", "vpce-") == set()
    described = describe(lab.topology, lab.plan, "DescribeVpcEndpoints", {"VpcEndpointIds": [vpce]}, REGION, ACCOUNT_ID)
    assert described["VpcEndpoints"] == [endpoint]


def test_an_endpoint_deleted_takes_its_route_away_and_its_id_is_never_handed_out_again(public_private):
    lab = public_private
    create = {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3, "RouteTableIds": [lab.rtb("app", "private")]}
    first = lab.call("CreateVpcEndpoint", create)["VpcEndpoint"]["VpcEndpointId"]
    answer = lab.call("DeleteVpcEndpoints", {"VpcEndpointIds": [first, "vpce-0000000000000000a"]})
    assert answer == {
        "Unsuccessful": [
            {
                "Error": {
                    "Code": "InvalidVpcEndpoint.NotFound",
                    "Message": "The VpcEndpoint Id 'vpce-0000000000000000a' does not exist",
                },
                "ResourceId": "vpce-0000000000000000a",
            }
        ]
    }
    assert lab.topology.vpcs["app"].endpoints == {}
    assert routes_to(lab.plan, "app", "private", "vpce-") == set()
    again = lab.call("CreateVpcEndpoint", create)["VpcEndpoint"]["VpcEndpointId"]
    assert again != first


def test_the_name_tag_names_the_endpoint_in_the_model(public_private):
    lab = public_private
    tags = [{"ResourceType": "vpc-endpoint", "Tags": [{"Key": "Name", "Value": "s3-gw"}]}]
    params = {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3, "RouteTableIds": [lab.rtb("app", "private")]}
    answer = lab.call("CreateVpcEndpoint", params | {"TagSpecifications": tags})
    assert list(lab.topology.vpcs["app"].endpoints) == ["s3-gw"]
    assert answer["VpcEndpoint"]["Tags"] == [{"Key": "Name", "Value": "s3-gw"}]
    assert lab.plan.gateway_endpoint("app", "s3-gw").kind == "gateway-endpoint"


@pytest.mark.parametrize("tag", ["router", "igw", "nat-a", "nat", "not a name"])
def test_a_name_tag_that_would_clash_leaves_the_endpoint_named_by_its_id(public_private, tag):
    lab = public_private
    tags = [{"ResourceType": "vpc-endpoint", "Tags": [{"Key": "Name", "Value": tag}]}]
    params = {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3, "TagSpecifications": tags}
    vpce = lab.call("CreateVpcEndpoint", params)["VpcEndpoint"]["VpcEndpointId"]
    assert list(lab.topology.vpcs["app"].endpoints) == [vpce]


def test_an_interface_endpoint_gets_an_eni_in_its_subnet_with_its_groups_and_private_dns(public_private):
    lab = public_private
    answer = lab.call(
        "CreateVpcEndpoint",
        {
            "VpcId": lab.plan.vpc_id("app"),
            "ServiceName": f"com.amazonaws.{REGION}.sqs",
            "VpcEndpointType": "Interface",
            "SubnetIds": [names.subnet_id("app", "isolated-a")],
            "SecurityGroupIds": [names.security_group_id("app", "ssh")],
        },
    )["VpcEndpoint"]
    (ep,) = lab.topology.vpcs["app"].endpoints.values()
    assert (ep.type, ep.subnets, ep.security_groups, ep.private_dns) == ("interface", ("isolated-a",), ("ssh",), True)
    node = lab.plan.node(names.endpoint_eni_node("app", ep.name, "ap-northeast-2a"))
    assert node.kind == "interface-endpoint"
    assert lab.plan.eni_address(node.name) in lab.topology.vpcs["app"].subnets["isolated-a"].cidr
    assert answer["PrivateDnsEnabled"] is True and answer["Groups"][0]["GroupName"] == "ssh"
    records = {r.name for r in lab.plan.resolvers["app"].records}
    assert f"sqs.{REGION}.amazonaws.com" in records


def test_modify_vpc_endpoint_moves_routes_subnets_groups_and_the_policy(public_private):
    lab = public_private
    create = {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3, "RouteTableIds": [lab.rtb("app", "private")]}
    vpce = lab.call("CreateVpcEndpoint", create)["VpcEndpoint"]["VpcEndpointId"]
    policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}
    answer = lab.call(
        "ModifyVpcEndpoint",
        {
            "VpcEndpointId": vpce,
            "AddRouteTableIds": [lab.rtb("app", "isolated")],
            "RemoveRouteTableIds": [lab.rtb("app", "private")],
            "PolicyDocument": json.dumps(policy),
        },
    )
    assert answer == {"Return": True}
    assert routes_to(lab.plan, "app", "private", vpce) == set()
    assert routes_to(lab.plan, "app", "isolated", vpce)
    (ep,) = lab.topology.vpcs["app"].endpoints.values()
    assert ep.policy is not None and ep.policy.document == policy
    lab.call("ModifyVpcEndpoint", {"VpcEndpointId": vpce, "ResetPolicy": True})
    assert next(iter(lab.topology.vpcs["app"].endpoints.values())).policy is None


def test_modify_an_interface_endpoints_subnets_and_groups():
    lab = Lab("interface-endpoint.yaml")
    vpce = lab.plan.vpce_id("app", "sqs-if")
    lab.call(
        "ModifyVpcEndpoint",
        {
            "VpcEndpointId": vpce,
            "AddSubnetIds": [names.subnet_id("app", "isolated-c")],
            "RemoveSecurityGroupIds": [names.security_group_id("app", "endpoints")],
            "AddSecurityGroupIds": [names.security_group_id("app", "default")],
            "PrivateDnsEnabled": False,
        },
    )
    ep = lab.topology.vpcs["app"].endpoints["sqs-if"]
    assert (ep.subnets, ep.security_groups, ep.private_dns) == (("isolated-a", "isolated-c"), ("default",), False)
    assert lab.plan.node(names.endpoint_eni_node("app", "sqs-if", "ap-northeast-2c")).kind == "interface-endpoint"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"VpcId": "vpc-0000000000000000a", "ServiceName": S3}, "InvalidVpcID.NotFound"),
        ({"VpcId": "subnet-1", "ServiceName": S3}, "InvalidVpcID.Malformed"),
        ({"ServiceName": "com.amazonaws.ap-northeast-2.nothing"}, "InvalidServiceName"),
        ({"ServiceName": "s3"}, "InvalidServiceName"),
        ({"ServiceName": "com.amazonaws.us-east-1.s3"}, "InvalidServiceName"),
        ({"ServiceName": f"com.amazonaws.{REGION}.sqs"}, "InvalidParameter"),  # sqs has no gateway endpoint
        ({"VpcEndpointType": "GatewayLoadBalancer"}, "InvalidVpcEndpointType"),
        ({"VpcEndpointType": "Interface", "RouteTableIds": ["private"]}, "InvalidParameter"),
        ({"RouteTableIds": ["rtb-0000000000000000a"]}, "InvalidRouteTableID.NotFound"),
        ({"RouteTableIds": ["main"]}, "vpclab.MainRouteTableNotEmulated"),
        ({"VpcEndpointType": "Interface", "SubnetIds": ["subnet-0000000000000000a"]}, "InvalidSubnetID.NotFound"),
        ({"VpcEndpointType": "Interface"}, "MissingParameter"),
        (
            {"VpcEndpointType": "Interface", "SubnetIds": ["isolated-a"], "SecurityGroupIds": ["sg-0000000000000000a"]},
            "InvalidGroup.NotFound",
        ),
        ({"PolicyDocument": "{not json"}, "InvalidPolicyDocument"),
        (
            {
                "PolicyDocument": json.dumps(
                    {"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "*", "Resource": "*"}]}
                )
            },
            "InvalidPolicyDocument",
        ),
        ({"RouteTableIds": ["private", "private-again"]}, "InvalidParameter"),  # a second S3 route in one table
    ],
)
def test_create_vpc_endpoint_refusals_are_ec2s(public_private, params, code):
    lab = public_private
    real = {
        "private": lab.rtb("app", "private"),
        "main": lab.rtb("app", None),
        "isolated-a": names.subnet_id("app", "isolated-a"),
    }
    if params.get("RouteTableIds") == ["private", "private-again"]:
        first = {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3, "RouteTableIds": [real["private"]]}
        lab.call("CreateVpcEndpoint", first)
        params = {"RouteTableIds": ["private"]}
    full = {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3} | params
    for member in ("RouteTableIds", "SubnetIds"):
        if member in full:
            full[member] = [real.get(v, v) for v in full[member]]
    assert lab.refused("CreateVpcEndpoint", full).code == code


def test_another_accounts_vpc_is_not_found(public_private):
    lab = public_private
    error = lab.refused("CreateVpcEndpoint", {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3}, account="999988887777")
    assert (error.code, error.message) == ("InvalidVpcID.NotFound", f"The vpc ID '{lab.plan.vpc_id('app')}' does not exist")


def test_create_replace_delete_route(public_private):
    lab = public_private
    isolated, nat = lab.rtb("app", "isolated"), lab.plan.nat_gateway("app", "nat-a").aws_id
    assert lab.call("CreateRoute", {"RouteTableId": isolated, "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": nat}) == {
        "Return": True
    }
    assert routes_to(lab.plan, "app", "isolated", nat) == {"0.0.0.0/0"}
    igw = lab.plan.internet_gateway("app").aws_id
    lab.call("ReplaceRoute", {"RouteTableId": isolated, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw})
    assert routes_to(lab.plan, "app", "isolated", igw) == {"0.0.0.0/0"}
    lab.call("CreateRoute", {"RouteTableId": isolated, "DestinationPrefixListId": "pl-78a54011", "NatGatewayId": nat})
    assert routes_to(lab.plan, "app", "isolated", nat) == {str(c) for c in lab.plan.prefix_lists["pl-78a54011"]}
    lab.call("DeleteRoute", {"RouteTableId": isolated, "DestinationCidrBlock": "0.0.0.0/0"})
    lab.call("DeleteRoute", {"RouteTableId": isolated, "DestinationPrefixListId": "pl-78a54011"})
    assert lab.topology.vpcs["app"].route_tables["isolated"].routes == ()


def test_a_peering_route_and_the_peer_sees_it():
    lab = Lab("peering.yaml") if (REPO / "topologies" / "peering.yaml").exists() else None
    assert lab is not None
    vpc = next(v for v in lab.topology.vpcs.values() if v.peerings)
    pcx = next(iter(vpc.peerings.values()))
    table = next(iter(vpc.route_tables))
    lab.call(
        "CreateRoute",
        {
            "RouteTableId": lab.rtb(vpc.name, table),
            "DestinationCidrBlock": "192.168.77.0/24",
            "VpcPeeringConnectionId": lab.plan.peering_id(pcx.name),
        },
    )
    assert routes_to(lab.plan, vpc.name, table, lab.plan.peering_id(pcx.name)) >= {"192.168.77.0/24"}


@pytest.mark.parametrize(
    ("action", "params", "code"),
    [
        ("CreateRoute", {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw"}, "RouteAlreadyExists"),
        ("CreateRoute", {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "igw"}, "RouteAlreadyExists"),
        ("CreateRoute", {"DestinationCidrBlock": "10.0.5.0/24", "GatewayId": "igw"}, "InvalidParameterValue"),
        ("CreateRoute", {"DestinationCidrBlock": "10.9.0.0/16"}, "MissingParameter"),
        (
            "CreateRoute",
            {"DestinationCidrBlock": "10.9.0.0/16", "GatewayId": "igw", "NatGatewayId": "nat"},
            "InvalidParameterCombination",
        ),
        ("CreateRoute", {"GatewayId": "igw"}, "MissingParameter"),
        ("CreateRoute", {"DestinationCidrBlock": "10.9.0.1/16", "GatewayId": "igw"}, "InvalidParameterValue"),
        (
            "CreateRoute",
            {"DestinationCidrBlock": "10.9.0.0/16", "GatewayId": "igw-0000000000000000a"},
            "InvalidGatewayID.NotFound",
        ),
        (
            "CreateRoute",
            {"DestinationCidrBlock": "10.9.0.0/16", "NatGatewayId": "nat-0000000000000000a"},
            "InvalidNatGatewayID.NotFound",
        ),
        (
            "CreateRoute",
            {"DestinationCidrBlock": "10.9.0.0/16", "InstanceId": "i-0000000000000000a"},
            "vpclab.RouteTargetNotEmulated",
        ),
        ("CreateRoute", {"DestinationPrefixListId": "pl-00000000", "GatewayId": "igw"}, "InvalidPrefixListID.NotFound"),
        ("CreateRoute", {"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw"}, "InvalidParameterValue"),
        ("CreateRoute", {"DestinationCidrBlock": "10.9.0.0/16", "GatewayId": "vpce"}, "RouteNotSupported"),
        (
            "CreateRoute",
            {"RouteTableId": "rtb-0000000000000000a", "DestinationCidrBlock": "10.9.0.0/16", "GatewayId": "igw"},
            "InvalidRouteTableID.NotFound",
        ),
        (
            "CreateRoute",
            {"RouteTableId": "main", "DestinationCidrBlock": "10.9.0.0/16", "GatewayId": "igw"},
            "vpclab.MainRouteTableNotEmulated",
        ),
        ("DeleteRoute", {"DestinationCidrBlock": "10.9.0.0/16"}, "InvalidRoute.NotFound"),
        ("DeleteRoute", {"DestinationCidrBlock": "10.0.0.0/16"}, "InvalidParameterValue"),
        ("DeleteRoute", {"DestinationPrefixListId": "pl-78a54011"}, "InvalidParameterValue"),
        ("ReplaceRoute", {"DestinationCidrBlock": "10.9.0.0/16", "GatewayId": "igw"}, "InvalidParameterValue"),
        ("ReplaceRoute", {"DestinationPrefixListId": "pl-78a54011", "GatewayId": "igw"}, "InvalidParameterValue"),
    ],
)
def test_route_refusals_are_ec2s(public_private, action, params, code):
    lab = public_private
    vpce = lab.call(
        "CreateVpcEndpoint", {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3, "RouteTableIds": [lab.rtb("app", "public")]}
    )["VpcEndpoint"]["VpcEndpointId"]
    real = {
        "igw": lab.plan.internet_gateway("app").aws_id,
        "nat": lab.plan.nat_gateway("app", "nat-a").aws_id,
        "vpce": vpce,
        "main": lab.rtb("app", None),
    }
    full = {"RouteTableId": lab.rtb("app", "public")} | {k: real.get(v, v) for k, v in params.items()}
    assert lab.refused(action, full).code == code


def test_route_refusal_texts_are_ec2s(public_private):
    lab = public_private
    rtb, igw = lab.rtb("app", "public"), lab.plan.internet_gateway("app").aws_id
    assert lab.refused("DeleteRoute", {"RouteTableId": rtb, "DestinationCidrBlock": "10.9.0.0/16"}).message == (
        f"no route with destination-cidr-block 10.9.0.0/16 in route table {rtb}"
    )
    assert lab.refused("CreateRoute", {"RouteTableId": rtb, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw}).message == (
        "The route identified by 0.0.0.0/0 already exists."
    )


def test_provider_accepts_and_rejects_connections_with_unsuccessful_items():
    lab = Lab("endpoint-service.yaml")
    provider = lab.topology.vpcs["provider"].account
    service = lab.plan.endpoint_service("provider", "web-svc").service_id
    staging = lab.plan.vpce_id("staging", "web")
    consumer = lab.plan.vpce_id("consumer", "web")
    assert lab.plan.endpoint_connection(staging)[1].state == "pendingAcceptance"
    answer = lab.call(
        "AcceptVpcEndpointConnections",
        {"ServiceId": service, "VpcEndpointIds": [staging, consumer, "vpce-0000000000000000a"]},
        account=provider,
    )
    assert [(u["ResourceId"], u["Error"]["Code"]) for u in answer["Unsuccessful"]] == [
        (consumer, "IncorrectState"),
        ("vpce-0000000000000000a", "InvalidVpcEndpoint.NotFound"),
    ]
    assert lab.plan.endpoint_connection(staging)[1].state == "available"
    lab.call("RejectVpcEndpointConnections", {"ServiceId": service, "VpcEndpointIds": [consumer]}, account=provider)
    assert lab.plan.endpoint_connection(consumer)[1].state == "rejected"
    error = lab.refused("AcceptVpcEndpointConnections", {"ServiceId": service, "VpcEndpointIds": [staging]})
    assert error.code == "InvalidVpcEndpointServiceId.NotFound"  # only the service's owner decides


def test_a_consumer_endpoint_to_an_endpoint_service_created_and_deleted():
    lab = Lab("endpoint-service.yaml")
    service = lab.plan.endpoint_service("provider", "web-svc")
    answer = lab.call(
        "CreateVpcEndpoint",
        {
            "VpcId": lab.plan.vpc_id("staging"),
            "ServiceName": service.service_name,
            "VpcEndpointType": "Interface",
            "SubnetIds": [names.subnet_id("staging", "stage-c")],
        },
    )["VpcEndpoint"]
    assert (answer["State"], answer["PrivateDnsEnabled"]) == ("pendingAcceptance", False)
    provider = lab.topology.vpcs["provider"].account
    lab.call(
        "AcceptVpcEndpointConnections",
        {"ServiceId": service.service_id, "VpcEndpointIds": [answer["VpcEndpointId"]]},
        account=provider,
    )
    lab.call("DeleteVpcEndpoints", {"VpcEndpointIds": [answer["VpcEndpointId"]]})
    assert all("vpce-" not in ref for ref in lab.topology.vpcs["provider"].endpoint_services["web-svc"].accepted)


def test_modify_an_unknown_or_malformed_endpoint_id(public_private):
    lab = public_private
    assert lab.refused("ModifyVpcEndpoint", {"VpcEndpointId": "vpce-0000000000000000a"}).code == "InvalidVpcEndpointId.NotFound"
    assert lab.refused("ModifyVpcEndpoint", {"VpcEndpointId": "sg-0000000000000000a"}).code == "InvalidVpcEndpointId.Malformed"
