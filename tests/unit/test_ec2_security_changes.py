"""Security group rules and network ACL entries changed through the EC2 API (lab.plan.ec2_changes):
the changed topology compiles into a plan whose ENI rules and subnet ACLs show the change, and
every refusal is EC2's code (InvalidPermission.Duplicate/NotFound, NetworkAclEntryAlreadyExists...)."""

from __future__ import annotations

import ipaddress

import pytest
from ec2_changes_lab import Lab

from lab.model.ids import ACCOUNT_ID
from lab.plan import names
from lab.plan.ec2_describe import describe

HTTPS_FROM_VPC = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}


@pytest.fixture
def shop():
    return Lab("security-groups.yaml")


def rules(lab: Lab, node: str, direction: str) -> set[tuple[str, str]]:
    security = lab.plan.eni_security(node)
    assert security is not None
    return {(r.peer, str(r.match)) for r in getattr(security, direction)}


def test_authorize_then_revoke_ingress_changes_the_enis_rules(shop):
    lab, group = shop, names.security_group_id("shop", "app")
    before = rules(lab, "app1", "ingress")
    assert lab.call("AuthorizeSecurityGroupIngress", {"GroupId": group, "IpPermissions": [HTTPS_FROM_VPC]}) == {"Return": True}
    added = rules(lab, "app1", "ingress") - before
    assert [peer for peer, _ in added] == ["10.0.0.0/16"] and "443" in next(iter(added))[1]
    shown = describe(lab.topology, lab.plan, "DescribeSecurityGroups", {"GroupIds": [group]}, "ap-northeast-2", ACCOUNT_ID)
    assert (
        HTTPS_FROM_VPC | {"Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}
        in (shown["SecurityGroups"][0]["IpPermissions"])
    )
    lab.call("RevokeSecurityGroupIngress", {"GroupId": group, "IpPermissions": [HTTPS_FROM_VPC]})
    assert rules(lab, "app1", "ingress") == before


def test_one_permission_with_several_peers_is_several_rules_and_the_old_members_work(shop):
    lab, group = shop, names.security_group_id("shop", "db")
    permission = {
        "IpProtocol": "-1",
        "IpRanges": [{"CidrIp": "10.0.9.0/24"}],
        "PrefixListIds": [{"PrefixListId": "pl-0d2e4a7b"}],
        "UserIdGroupPairs": [{"GroupId": names.security_group_id("shop", "web")}],
    }
    lab.call("AuthorizeSecurityGroupEgress", {"GroupId": group, "IpPermissions": [permission]})
    egress = lab.topology.vpcs["shop"].security_groups["db"].egress
    assert [str(r.peer) for r in egress[-3:]] == ["10.0.9.0/24", "pl-0d2e4a7b", "web"]
    lab.call(
        "AuthorizeSecurityGroupIngress",
        {"GroupId": group, "IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "CidrIp": "10.0.0.0/16"},
    )
    rule = lab.topology.vpcs["shop"].security_groups["db"].ingress[-1]
    assert (rule.protocol, rule.from_port, rule.to_port, rule.peer) == ("udp", 53, 53, ipaddress.IPv4Network("10.0.0.0/16"))


def test_revoke_egress_takes_the_prefix_list_rule_off_the_eni(shop):
    lab, group = shop, names.security_group_id("shop", "db")
    assert "pl-78a54011" in {peer for peer, _ in rules(lab, "db1", "egress")}
    to_s3 = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": "pl-78a54011"}]}
    lab.call("RevokeSecurityGroupEgress", {"GroupId": group, "IpPermissions": [to_s3]})
    assert rules(lab, "db1", "egress") == set()
    assert lab.topology.vpcs["shop"].security_groups["db"].egress == ()


def test_the_default_group_is_changed_like_any_other(shop):
    lab, group = shop, names.security_group_id("shop", "default")
    lab.call("AuthorizeSecurityGroupIngress", {"GroupId": group, "IpPermissions": [HTTPS_FROM_VPC]})
    assert "10.0.0.0/16" in {peer for peer, _ in rules(lab, "ops1", "ingress")}


@pytest.mark.parametrize(
    ("action", "params", "code"),
    [
        (
            "AuthorizeSecurityGroupIngress",
            {"IpPermissions": [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.2.0/24"}]}]},
            "InvalidPermission.Duplicate",
        ),
        ("RevokeSecurityGroupIngress", {"IpPermissions": [HTTPS_FROM_VPC]}, "InvalidPermission.NotFound"),
        (
            "AuthorizeSecurityGroupIngress",
            {"IpPermissions": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "IpRanges": [{"CidrIp": "10.0.0.1/16"}]}]},
            "InvalidPermission.Malformed",
        ),
        (
            "AuthorizeSecurityGroupIngress",
            {"IpPermissions": [{"IpProtocol": "gre", "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]},
            "InvalidParameterValue",
        ),
        (
            "AuthorizeSecurityGroupIngress",
            {"IpPermissions": [{"IpProtocol": "tcp", "FromPort": 9, "ToPort": 1, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]},
            "InvalidParameterValue",
        ),
        (
            "AuthorizeSecurityGroupIngress",
            {"IpPermissions": [{"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]},
            "MissingParameter",
        ),
        (
            "AuthorizeSecurityGroupIngress",
            {"IpPermissions": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1}]},
            "MissingParameter",
        ),
        (
            "AuthorizeSecurityGroupIngress",
            {"IpPermissions": [{"IpProtocol": "-1", "PrefixListIds": [{"PrefixListId": "pl-00000000"}]}]},
            "InvalidPrefixListID.NotFound",
        ),
        (
            "AuthorizeSecurityGroupIngress",
            {"IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-0000000000000000a"}]}]},
            "InvalidGroup.NotFound",
        ),
        (
            "AuthorizeSecurityGroupIngress",
            {"GroupId": "sg-0000000000000000a", "IpPermissions": [HTTPS_FROM_VPC]},
            "InvalidGroup.NotFound",
        ),
        (
            "AuthorizeSecurityGroupIngress",
            {"GroupId": None, "GroupName": "db", "IpPermissions": [HTTPS_FROM_VPC]},
            "VPCIdNotSpecified",
        ),
        ("AuthorizeSecurityGroupIngress", {}, "MissingParameter"),
        ("RevokeSecurityGroupEgress", {"SecurityGroupRuleIds": ["sgr-0000000000000000a"]}, "InvalidSecurityGroupRuleId.NotFound"),
    ],
)
def test_security_group_refusals_are_ec2s(shop, action, params, code):
    full = {"GroupId": names.security_group_id("shop", "db")} | params
    assert shop.refused(action, {k: v for k, v in full.items() if v is not None}).code == code


def test_a_call_is_all_or_nothing(shop):
    lab, group = shop, names.security_group_id("shop", "db")
    existing = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.2.0/24"}]}
    error = lab.refused("RevokeSecurityGroupIngress", {"GroupId": group, "IpPermissions": [existing, HTTPS_FROM_VPC]})
    assert (error.code, error.message) == (
        "InvalidPermission.NotFound",
        "The specified rule does not exist in this security group.",
    )
    error = lab.refused("AuthorizeSecurityGroupIngress", {"GroupId": group, "IpPermissions": [HTTPS_FROM_VPC, existing]})
    assert error.message == 'the specified rule "peer: 10.0.2.0/24, TCP, from port: 5432, to port: 5432, ALLOW" already exists'
    web = names.security_group_id("shop", "web")
    from_web = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": web}]}
    error = lab.refused(
        "AuthorizeSecurityGroupIngress", {"GroupId": names.security_group_id("shop", "app"), "IpPermissions": [from_web]}
    )
    assert error.message == f'the specified rule "peer: {web}, TCP, from port: 8080, to port: 8080, ALLOW" already exists'


def acl(lab: Lab, subnet: str, direction: str) -> list[tuple]:
    entries = getattr(lab.plan.subnet_acl("shop", subnet), direction)
    return [(e.rule_number, str(e.cidr), e.action) for e in entries]


def test_network_acl_entries_created_replaced_and_deleted(shop):
    lab, acl_id = shop, names.network_acl_id("shop", "vault")
    entry = {"NetworkAclId": acl_id, "RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": False}
    lab.call("CreateNetworkAclEntry", entry | {"CidrBlock": "10.0.2.0/24", "PortRange": {"From": 22, "To": 22}})
    assert acl(lab, "vault-a", "ingress") == [(100, "10.0.2.0/24", "allow"), (None, "0.0.0.0/0", "deny")]
    lab.call("ReplaceNetworkAclEntry", entry | {"CidrBlock": "10.0.1.0/24", "RuleAction": "deny", "Protocol": "-1"})
    assert acl(lab, "vault-a", "ingress")[0] == (100, "10.0.1.0/24", "deny")
    lab.call(
        "CreateNetworkAclEntry",
        entry | {"Egress": True, "Protocol": "1", "CidrBlock": "0.0.0.0/0", "IcmpTypeCode": {"Type": 0, "Code": -1}},
    )
    (made,) = lab.topology.vpcs["shop"].network_acls["vault"].egress
    assert (made.protocol, made.from_port, made.to_port) == ("icmp", 0, None)
    lab.call("DeleteNetworkAclEntry", {"NetworkAclId": acl_id, "RuleNumber": 100, "Egress": False})
    assert acl(lab, "vault-a", "ingress") == [(None, "0.0.0.0/0", "deny")]


def test_the_default_network_acl_is_declared_on_its_first_change(shop):
    lab, acl_id = shop, names.network_acl_id("shop", names.DEFAULT_NETWORK_ACL)
    assert acl(lab, "public-a", "ingress") == [(100, "0.0.0.0/0", "allow"), (None, "0.0.0.0/0", "deny")]
    lab.call(
        "CreateNetworkAclEntry",
        {
            "NetworkAclId": acl_id,
            "RuleNumber": 50,
            "Protocol": "-1",
            "RuleAction": "deny",
            "Egress": False,
            "CidrBlock": "203.0.113.0/24",
        },
    )
    assert acl(lab, "public-a", "ingress") == [
        (50, "203.0.113.0/24", "deny"),
        (100, "0.0.0.0/0", "allow"),
        (None, "0.0.0.0/0", "deny"),
    ]
    assert acl(lab, "public-a", "egress") == [(100, "0.0.0.0/0", "allow"), (None, "0.0.0.0/0", "deny")]
    shown = describe(lab.topology, lab.plan, "DescribeNetworkAcls", {"NetworkAclIds": [acl_id]}, "ap-northeast-2", ACCOUNT_ID)
    (default,) = shown["NetworkAcls"]
    assert default["IsDefault"] is True and [e["RuleNumber"] for e in default["Entries"] if not e["Egress"]] == [50, 100, 32767]


@pytest.mark.parametrize(
    ("action", "params", "code"),
    [
        ("CreateNetworkAclEntry", {"RuleNumber": 100, "CidrBlock": "10.0.0.0/16"}, "NetworkAclEntryAlreadyExists"),
        ("ReplaceNetworkAclEntry", {"RuleNumber": 7, "CidrBlock": "10.0.0.0/16"}, "InvalidNetworkAclEntry.NotFound"),
        ("DeleteNetworkAclEntry", {"RuleNumber": 7}, "InvalidNetworkAclEntry.NotFound"),
        ("CreateNetworkAclEntry", {"RuleNumber": 0, "CidrBlock": "10.0.0.0/16"}, "InvalidParameterValue"),
        ("CreateNetworkAclEntry", {"RuleNumber": 32767, "CidrBlock": "10.0.0.0/16"}, "InvalidParameterValue"),
        ("CreateNetworkAclEntry", {"RuleNumber": 7, "Protocol": "6", "CidrBlock": "10.0.0.0/16"}, "MissingParameter"),
        ("CreateNetworkAclEntry", {"RuleNumber": 7, "Protocol": "1", "CidrBlock": "10.0.0.0/16"}, "MissingParameter"),
        ("CreateNetworkAclEntry", {"RuleNumber": 7}, "MissingParameter"),
        ("CreateNetworkAclEntry", {"RuleNumber": 7, "CidrBlock": "10.0.0.0/33"}, "InvalidParameterValue"),
        ("CreateNetworkAclEntry", {"RuleNumber": 7, "CidrBlock": "10.0.0.0/16", "RuleAction": "maybe"}, "InvalidParameterValue"),
        ("CreateNetworkAclEntry", {"RuleNumber": 7, "Ipv6CidrBlock": "::/0"}, "InvalidParameterValue"),
        (
            "CreateNetworkAclEntry",
            {"NetworkAclId": "acl-0000000000000000a", "RuleNumber": 7, "CidrBlock": "10.0.0.0/16"},
            "InvalidNetworkAclID.NotFound",
        ),
    ],
)
def test_network_acl_refusals_are_ec2s(shop, action, params, code):
    base = {"NetworkAclId": names.network_acl_id("shop", "data"), "Protocol": "-1", "RuleAction": "allow", "Egress": False}
    assert shop.refused(action, base | params).code == code
