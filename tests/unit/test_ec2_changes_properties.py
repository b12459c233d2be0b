"""Any input of a mutating EC2 call, as botocore's model shapes it, is either refused with an
Ec2Error or gives a topology that compiles (with the running plan kept, as the controller compiles
it) and an answer botocore reads back: never another exception. The strings are drawn mostly from
the lab's own ids, CIDRs, prefix lists and service names, so the calls reach deep into each
handler instead of stopping at the first unknown id."""

from __future__ import annotations

from functools import cache

from ec2_changes_lab import REGION, Lab, read_back
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lab.model.ec2_errors import Ec2Error
from lab.model.ids import ACCOUNT_ID
from lab.plan import names
from lab.plan.compile import compile_plan
from lab.plan.ec2_changes import actions, change
from lab.plan.kept import Kept
from lab.plan.security import groups_of
from lab.services.ec2_query import model

TOPOLOGIES = ("public-private.yaml", "security-groups.yaml", "interface-endpoint.yaml", "endpoint-service.yaml", "peering.yaml")
# characters an XML 1.0 document can carry: an id the call echoes (an Unsuccessful item's ResourceId)
# with any other is the EC2 front's to refuse (lab.services.ec2_query reads the form)
XML_CHARACTERS = st.characters(blacklist_categories=("Cs", "Cc"))
WORDS = [
    "10.0.0.0/16",
    "10.0.2.0/24",
    "0.0.0.0/0",
    "10.0.3.50",
    "192.168.0.0/33",
    "::/0",
    "tcp",
    "6",
    "-1",
    "1",
    "icmp",
    "allow",
    "deny",
    "Gateway",
    "Interface",
    "ipv4",
    "dualstack",
    "Name",
    "vpc-endpoint",
    "pl-78a54011",
    "pl-0d2e4a7b",
    f"com.amazonaws.{REGION}.s3",
    f"com.amazonaws.{REGION}.dynamodb",
    f"com.amazonaws.{REGION}.sqs",
    '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}',
    "{",
    "",
    "10.0.1.0/24",
    "10.0.3.0/24",
    "10.9.0.0/16",
]


@cache
def lab(name: str) -> Lab:
    return Lab(name)


def lab_words(made: Lab) -> list[str]:
    """Every id of the lab a call could name."""
    t, plan = made.topology, made.plan
    found = []
    for vpc in t.vpcs.values():
        found += [plan.vpc_id(vpc.name), plan.route_table(vpc.name, None).aws_id]
        found += [plan.route_table(vpc.name, r).aws_id for r in vpc.route_tables]
        found += [names.subnet_id(vpc.name, s) for s in vpc.subnets]
        found += [names.security_group_id(vpc.name, g) for g in groups_of(vpc)]
        found += [names.network_acl_id(vpc.name, a) for a in (names.DEFAULT_NETWORK_ACL, *vpc.network_acls)]
        found += [plan.vpce_id(vpc.name, e) for e in vpc.endpoints]
        found += [str(plan.nat_gateway(vpc.name, n).aws_id) for n in vpc.nat_gateways]
        found += [str(plan.internet_gateway(vpc.name).aws_id)] if vpc.internet_gateway else []
        found += [plan.peering_id(p) for p in vpc.peerings]
    found += [s.service_id for s in plan.endpoint_services] + [s.service_name for s in plan.endpoint_services]
    return found


ALWAYS = ("VpcId", "RouteTableId", "GroupId", "NetworkAclId", "VpcEndpointId", "ServiceName", "IpProtocol")  # given
PREFIXES = {  # input member -> the prefixes of the ids it takes
    "VpcId": ("vpc-",),
    "RouteTableId": ("rtb-",),
    "SubnetId": ("subnet-",),
    "GroupId": ("sg-",),
    "NetworkAclId": ("acl-",),
    "VpcEndpointId": ("vpce-",),
    "NatGatewayId": ("nat-",),
    "GatewayId": ("igw-", "vpce-"),
    "VpcPeeringConnectionId": ("pcx-",),
    "PrefixListId": ("pl-",),
    "ServiceId": ("vpce-svc-",),
    "ServiceName": ("com.amazonaws.",),
    "CidrIp": ("0", "1"),
    "CidrBlock": ("0", "1"),
}


def text_for(words: list[str], member: str):
    """Mostly the lab's words of the member's kind (ids of its prefix), else any word or text."""
    key = next(
        (k for k in PREFIXES if member.removeprefix("Add").removeprefix("Remove").rstrip("s") in (k, "Destination" + k)), ""
    )
    fitting = [w for w in words if w.startswith(PREFIXES.get(key, ("\0",)))]
    anything = st.sampled_from(words + WORDS) | st.text(XML_CHARACTERS, max_size=12)
    return st.one_of(st.sampled_from(fitting), st.sampled_from(fitting), anything) if fitting else anything


def values(shape, words: list[str], depth: int = 0, member: str = ""):
    kind = shape.type_name
    if kind == "structure":
        members = {
            n: m for n, m in shape.members.items() if n != "DryRun" and (depth < 3 or m.type_name not in ("structure", "list"))
        }
        required = [n for n in members if n in shape.required_members or n in ALWAYS]
        return st.fixed_dictionaries(
            {n: values(members[n], words, depth + 1, n) for n in required},
            optional={n: values(members[n], words, depth + 1, n) for n in members if n not in required},
        )
    if kind == "list":
        return st.lists(values(shape.member, words, depth + 1, member), max_size=3)
    if kind in ("integer", "long"):
        return st.sampled_from([-1, 0, 1, 22, 53, 100, 443, 32766, 32767, 65535, 70000]) | st.integers()
    if kind == "boolean":
        return st.booleans()
    if kind == "map":
        return st.dictionaries(text_for(words, ""), text_for(words, ""), max_size=2)
    if kind == "string":
        return text_for(words, member)
    return st.nothing()


@st.composite
def calls(draw):
    made = lab(draw(st.sampled_from(TOPOLOGIES)))
    action = draw(st.sampled_from(sorted(actions())))
    params = draw(values(model().operation_model(action).input_shape, lab_words(made)))
    accounts = sorted({ACCOUNT_ID, *(v.account for v in made.topology.vpcs.values())})
    return made, action, params, draw(st.sampled_from(accounts))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(calls())
def test_any_input_is_a_change_that_compiles_or_an_ec2_error(call):
    made, action, params, account = call
    try:
        changed, answer = change(made.topology, made.plan, action, params, REGION, account)
    except Ec2Error as exc:
        assert exc.code and exc.message
        event(f"{action}: {exc.code}")
        return
    event(f"{action}: changed")
    compile_plan(changed, made.plan.settings, Kept.of(made.plan))
    assert read_back(action, answer) == answer


def ids_of(made: Lab, prefix: str) -> list[str]:
    return [w for w in lab_words(made) if w.startswith(prefix)] or [prefix + "0"]


CIDRS = st.sampled_from(["0.0.0.0/0", "10.0.0.0/16", "10.0.2.0/24", "10.9.0.0/16", "52.219.60.0/23", "10.0.1.10/32"])
PORTS = st.sampled_from([-1, 0, 22, 443, 1024, 65535])


def well_formed_call(made: Lab):
    """(action, params) of a call whose every id is one of the lab's (or of an endpoint the lab's
    first calls create), each member of the kind the call needs: what a learner typing the book's
    commands sends, in any combination."""
    ids = {p: ids_of(made, p) for p in ("vpc-", "rtb-", "subnet-", "sg-", "acl-", "vpce-", "nat-", "igw-", "pcx-")}
    ids["vpce-"] += [names.created_vpce_id(v, n) for v in made.topology.vpcs for n in (1, 2, 3)]
    pick = {p: st.sampled_from(v) for p, v in ids.items()}
    target = st.one_of(
        st.fixed_dictionaries({"GatewayId": pick["igw-"] | pick["vpce-"]}),
        st.fixed_dictionaries({"NatGatewayId": pick["nat-"]}),
        st.fixed_dictionaries({"VpcPeeringConnectionId": pick["pcx-"]}),
    )
    destination = st.one_of(
        st.fixed_dictionaries({"DestinationCidrBlock": CIDRS}),
        st.fixed_dictionaries({"DestinationPrefixListId": st.sampled_from(["pl-78a54011", "pl-0d2e4a7b"])}),
    )
    route = st.builds(lambda t, d, r: t | d | {"RouteTableId": r}, target, destination, pick["rtb-"])
    permission = st.fixed_dictionaries(
        {"IpProtocol": st.sampled_from(["tcp", "udp", "icmp", "-1"]), "FromPort": PORTS, "ToPort": PORTS},
        optional={
            "IpRanges": st.lists(st.fixed_dictionaries({"CidrIp": CIDRS}), min_size=1, max_size=2),
            "UserIdGroupPairs": st.lists(st.fixed_dictionaries({"GroupId": pick["sg-"]}), min_size=1, max_size=2),
            "PrefixListIds": st.lists(st.fixed_dictionaries({"PrefixListId": st.just("pl-78a54011")}), max_size=1),
        },
    )
    group_call = st.fixed_dictionaries({"GroupId": pick["sg-"], "IpPermissions": st.lists(permission, min_size=1, max_size=2)})
    entry = st.fixed_dictionaries(
        {
            "NetworkAclId": pick["acl-"],
            "RuleNumber": st.sampled_from([1, 50, 90, 100, 110, 32766]),
            "Protocol": st.sampled_from(["-1", "6", "17", "1"]),
            "RuleAction": st.sampled_from(["allow", "deny"]),
            "Egress": st.booleans(),
            "CidrBlock": CIDRS,
        },
        optional={
            "PortRange": st.fixed_dictionaries({"From": PORTS, "To": PORTS}),
            "IcmpTypeCode": st.fixed_dictionaries({"Type": st.sampled_from([-1, 0, 8]), "Code": st.sampled_from([-1, 0])}),
        },
    )
    endpoint = st.fixed_dictionaries(
        {
            "VpcId": pick["vpc-"],
            "ServiceName": st.sampled_from([w for w in lab_words(made) + WORDS if w.startswith("com.amazonaws.")]),
        },
        optional={
            "VpcEndpointType": st.sampled_from(["Gateway", "Interface"]),
            "RouteTableIds": st.lists(pick["rtb-"], max_size=2),
            "SubnetIds": st.lists(pick["subnet-"], max_size=2),
            "SecurityGroupIds": st.lists(pick["sg-"], max_size=2),
            "PrivateDnsEnabled": st.booleans(),
        },
    )
    modify = st.fixed_dictionaries(
        {"VpcEndpointId": pick["vpce-"]},
        optional={
            "AddRouteTableIds": st.lists(pick["rtb-"], max_size=2),
            "RemoveRouteTableIds": st.lists(pick["rtb-"], max_size=2),
            "AddSubnetIds": st.lists(pick["subnet-"], max_size=2),
            "RemoveSubnetIds": st.lists(pick["subnet-"], max_size=2),
            "AddSecurityGroupIds": st.lists(pick["sg-"], max_size=2),
            "ResetPolicy": st.booleans(),
            "PrivateDnsEnabled": st.booleans(),
        },
    )
    return st.one_of(
        st.tuples(st.sampled_from(["CreateRoute", "ReplaceRoute", "DeleteRoute"]), route),
        st.tuples(st.sampled_from(sorted(a for a in actions() if "SecurityGroup" in a)), group_call),
        st.tuples(st.sampled_from(sorted(a for a in actions() if "NetworkAclEntry" in a)), entry),
        st.tuples(st.just("CreateVpcEndpoint"), endpoint),
        st.tuples(st.just("ModifyVpcEndpoint"), modify),
        st.tuples(st.just("DeleteVpcEndpoints"), st.fixed_dictionaries({"VpcEndpointIds": st.lists(pick["vpce-"], max_size=2)})),
    )


def accounts_of(made: Lab) -> list[str]:
    return sorted({ACCOUNT_ID, *(v.account for v in made.topology.vpcs.values())})


@st.composite
def well_formed_calls(draw):
    made = lab(draw(st.sampled_from(TOPOLOGIES)))
    action, params = draw(well_formed_call(made))
    return made, action, params, draw(st.sampled_from(accounts_of(made)))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(well_formed_calls())
def test_any_well_formed_call_is_a_change_that_compiles_or_an_ec2_error(call):
    test_any_input_is_a_change_that_compiles_or_an_ec2_error.hypothesis.inner_test(call)


@st.composite
def call_sequences(draw):
    name = draw(st.sampled_from(TOPOLOGIES))
    made = lab(name)
    calls = st.tuples(well_formed_call(made), st.sampled_from(accounts_of(made)))
    return name, draw(st.lists(calls, min_size=2, max_size=6))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(call_sequences())
def test_any_sequence_of_calls_keeps_the_lab_compilable(sequence):
    """Calls applied one after the other, as the controller applies them: each refused one leaves
    the lab as it was, each accepted one gives a model that validates and compiles, keeping what
    the running plan holds, and an answer botocore reads back."""
    name, calls = sequence
    running = Lab(name)
    for (action, params), account in calls:
        try:
            running.call(action, params, account)
        except Ec2Error:
            event(f"{action}: refused")
            continue
        event(f"{action}: changed")
