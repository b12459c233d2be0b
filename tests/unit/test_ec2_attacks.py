"""The EC2 API's changing calls and the lab's controller, attacked: calls AWS refuses must be refused
(and leave the model as it was), calls AWS takes must not break the model, and no process but the
lab's own fronts may ask the controller (a request written by hand would skip SigV4 and the
endpoint's policy). The same attempts against a real lab: tests/integration/test_ec2_api_attacks.py.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from ec2_changes_lab import REGION, Lab

from lab.model.ids import ACCOUNT_ID
from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.compile import compile_plan
from lab.realize.controller import Controller
from lab.realize.state import owned
from lab.services.control import ask

REPO = Path(__file__).resolve().parents[2]
S3 = f"com.amazonaws.{REGION}.s3"


@pytest.fixture
def lab(monkeypatch):
    monkeypatch.chdir(REPO)
    return Lab("public-private.yaml")


def route(lab: Lab, destination: str) -> dict:
    return {"RouteTableId": lab.rtb("app", "isolated"), "DestinationCidrBlock": destination, "GatewayId": names.igw_id("app")}


@pytest.mark.parametrize("destination", ["169.254.169.253/32", "169.254.169.254/32", "169.254.168.0/22", "169.254.170.0/24"])
def test_a_route_into_awss_reserved_link_local_range_is_refused(lab, destination):
    """AWS: no route may be an exact match or a subset of 169.254.168.0/22 (the DNS server, IMDS;
    subnet-route-tables.html, "Rules and considerations"); before the fix the lab took it and sent
    the subnet's DNS queries to the internet gateway."""
    before = lab.topology
    error = lab.refused("CreateRoute", route(lab, destination))
    assert error.code == "InvalidParameterValue" and "169.254.168.0/22" in error.message
    assert lab.topology is before


def test_a_wider_route_that_includes_the_reserved_range_is_taken(lab):
    lab.call("CreateRoute", route(lab, "169.254.0.0/16"))  # AWS allows it (it carries none of the reserved /22)
    assert any(str(r.destination) == "169.254.0.0/16" for r in lab.topology.vpcs["app"].route_tables["isolated"].routes)


def test_replace_route_cannot_move_a_route_into_the_reserved_range(lab):
    error = lab.refused("ReplaceRoute", route(lab, "169.254.169.253/32"))
    assert error.code == "InvalidParameterValue" and "169.254.168.0/22" in error.message


@pytest.mark.parametrize(
    ("action", "destination", "code"),
    [
        ("CreateRoute", "10.0.0.0/16", "RouteAlreadyExists"),  # the local route
        ("CreateRoute", "10.0.5.0/24", "InvalidParameterValue"),  # inside the VPC, to an igw
        ("ReplaceRoute", "10.0.0.0/16", "InvalidParameterValue"),  # the local route's target
        ("DeleteRoute", "10.0.0.0/16", "InvalidParameterValue"),  # the local route
    ],
)
def test_the_local_route_cannot_be_shadowed_replaced_or_deleted(lab, action, destination, code):
    before = lab.topology
    params = route(lab, destination)
    if action == "DeleteRoute":
        params.pop("GatewayId")
    assert lab.refused(action, params).code == code
    assert lab.topology is before


def test_the_main_route_table_is_not_changed(lab):
    main = lab.rtb("app", None)
    params = {"RouteTableId": main, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": names.igw_id("app")}
    for action in ("CreateRoute", "ReplaceRoute", "DeleteRoute"):
        assert lab.refused(action, params).code == "vpclab.MainRouteTableNotEmulated"


@pytest.mark.parametrize(
    ("member", "value", "code"),
    [
        ("GatewayId", "igw-0123456789abcdef0", "InvalidGatewayID.NotFound"),  # another VPC's (or no one's)
        ("NatGatewayId", "nat-0123456789abcdef0", "InvalidNatGatewayID.NotFound"),
        ("GatewayId", "local", "InvalidGatewayID.NotFound"),
        ("InstanceId", "i-0123456789abcdef0", "vpclab.RouteTargetNotEmulated"),
    ],
)
def test_a_target_that_is_not_this_vpcs_is_refused(lab, member, value, code):
    params = {"RouteTableId": lab.rtb("app", "isolated"), "DestinationCidrBlock": "198.51.100.0/24", member: value}
    assert lab.refused("CreateRoute", params).code == code


def test_a_nat_gateway_named_as_a_gateway_id_is_not_found(lab):
    params = route(lab, "198.51.100.0/24") | {"GatewayId": names.nat_id("app", "nat-a")}
    assert lab.refused("CreateRoute", params).code == "InvalidGatewayID.NotFound"


def test_a_route_table_named_twice_or_300_times_is_one_association(lab):
    iso = lab.rtb("app", "isolated")
    answer = lab.call("CreateVpcEndpoint", {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3, "RouteTableIds": [iso] * 300})
    assert answer["VpcEndpoint"]["RouteTableIds"] == [iso]
    (endpoint,) = lab.topology.vpcs["app"].endpoints.values()
    assert endpoint.route_tables == ("isolated",)


def test_300_route_tables_that_do_not_exist_are_not_found(lab):
    tables = [f"rtb-{i:017x}" for i in range(300)]
    params = {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3, "RouteTableIds": tables}
    assert lab.refused("CreateVpcEndpoint", params).code == "InvalidRouteTableID.NotFound"


def test_a_gateway_endpoint_to_another_regions_service_is_refused(lab):
    """ "Gateway endpoints do not allow access from other Regions" (Considerations of
    https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html)."""
    params = {"VpcId": lab.plan.vpc_id("app"), "ServiceName": "com.amazonaws.us-east-1.s3"}
    assert lab.refused("CreateVpcEndpoint", params | {"RouteTableIds": [lab.rtb("app", "isolated")]}).code == "InvalidServiceName"


def test_a_policy_over_20480_characters_is_refused_and_another_accounts_principal_is_taken(lab):
    statements = [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b{i:05d}/*"}
        for i in range(400)
    ]
    big = json.dumps({"Version": "2012-10-17", "Statement": statements})
    params = {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3, "RouteTableIds": [lab.rtb("app", "isolated")]}
    assert len(big) > 30_000
    assert lab.refused("CreateVpcEndpoint", params | {"PolicyDocument": big}).code == "InvalidPolicyDocument"
    other = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "*", "Resource": "*"}
    lab.call("CreateVpcEndpoint", params | {"PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": [other]})})


@pytest.mark.parametrize(
    ("permission", "code"),
    [
        ({"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65536}, "InvalidParameterValue"),
        ({"IpProtocol": "tcp", "FromPort": -5, "ToPort": 22}, "InvalidParameterValue"),
        ({"IpProtocol": "999", "FromPort": 0, "ToPort": 1}, "InvalidParameterValue"),
        ({"IpProtocol": "icmp", "FromPort": 8, "ToPort": 256}, "InvalidParameterValue"),
        ({"IpProtocol": "tcp", "FromPort": 22}, "MissingParameter"),
    ],
)
def test_a_rule_with_impossible_ports_or_protocol_is_refused(lab, permission, code):
    before = lab.topology
    params = {
        "GroupId": names.security_group_id("app", "ssh"),
        "IpPermissions": [permission | {"IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    }
    assert lab.refused("AuthorizeSecurityGroupIngress", params).code == code
    assert lab.topology is before


@pytest.mark.parametrize("number", [0, -1, 32767, 65535, "100"])
def test_a_network_acl_entry_outside_1_to_32766_is_refused(lab, number):
    params = {
        "NetworkAclId": names.network_acl_id("app", names.DEFAULT_NETWORK_ACL),
        "RuleNumber": number,
        "Protocol": "-1",
        "RuleAction": "deny",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
    }
    assert lab.refused("CreateNetworkAclEntry", params).code == "InvalidParameterValue"


def test_connection_decisions_on_a_service_of_no_one_are_not_found(lab):
    params = {"ServiceId": "vpce-svc-0123456789abcdef0", "VpcEndpointIds": ["vpce-0123456789abcdef0"]}
    for action in ("AcceptVpcEndpointConnections", "RejectVpcEndpointConnections"):
        assert lab.refused(action, params).code == "InvalidVpcEndpointServiceId.NotFound"


def test_another_accounts_caller_sees_none_of_the_labs_resources(lab):
    params = {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3, "RouteTableIds": [lab.rtb("app", "isolated")]}
    assert lab.refused("CreateVpcEndpoint", params, account="999999999999").code == "InvalidVpcID.NotFound"
    assert lab.refused("CreateRoute", route(lab, "198.51.100.0/24"), account="999999999999").code.endswith(".NotFound")


# -- the controller's socket: only the lab's fronts ---------------------------------------------------


class FrontsLab:
    """What the controller reads of a lab: its plan, run directory, and the services' children (pid ->
    service name, as lab.realize.services keeps them); `apply` records the plans it is asked to run."""

    def __init__(self, plan, run_dir: Path):
        self.plan, self.run_dir, self.applied = plan, run_dir, []
        self.services = SimpleNamespace(children={})
        self.state = SimpleNamespace(processes=[])  # as lab.realize.state records the services

    def apply(self, plan):
        self.applied.append(plan)
        self.plan = plan


ASKER = """
import json, sys
from pathlib import Path
from lab.services.control import ask
sys.stdin.readline()  # until the test has (or has not) registered this process as a front
print(json.dumps(ask(Path(sys.argv[1]), json.loads(sys.argv[2]))))
"""


def asked_by_another_process(live: Controller, message: dict, as_front: str | None = None) -> dict:
    """`message` sent by a process other than the controller's; registered as the front `as_front`."""
    child = subprocess.Popen(
        [sys.executable, "-c", ASKER, str(live.path), json.dumps(message)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
        text=True,
    )
    if as_front is not None:
        live.lab.services.children[child.pid] = as_front
        live.lab.state.processes.append(owned(child.pid, f"front {as_front}"))
    out, _ = child.communicate("go\n", timeout=60)
    return json.loads(out)


@pytest.fixture
def controller(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    topology = load_topology("topologies/public-private.yaml")
    with Controller(FrontsLab(compile_plan(topology), tmp_path), topology) as live:
        yield live


def create_route(live: Controller, region: str = REGION, service: str | None = None) -> dict:
    params = {
        "RouteTableId": live.plan.route_table("app", "isolated").aws_id,
        "DestinationCidrBlock": "198.51.100.0/24",
        "GatewayId": names.igw_id("app"),
    }
    message = {"action": "CreateRoute", "params": params, "region": region, "account": ACCOUNT_ID}
    return message | ({"service": service} if service else {})


def test_a_process_that_is_not_a_front_cannot_ask_the_controller(controller):
    """A process in a node reaches the socket (nodes share the host's files): its own request would
    skip SigV4 and the endpoint's policy. Before the fix the route was created."""
    answer = asked_by_another_process(controller, create_route(controller))
    assert answer["error"]["code"] == "AuthFailure", answer
    assert controller.lab.applied == []


def test_a_front_asks_for_its_own_service_and_region_only(controller):
    assert (
        asked_by_another_process(controller, create_route(controller, "us-east-1"), "ec2-ap-northeast-2")["error"]["code"]
        == "AuthFailure"
    )
    assert (
        asked_by_another_process(controller, create_route(controller, service="s3"), "ec2-ap-northeast-2")["error"]["code"]
        == "AuthFailure"
    )
    assert asked_by_another_process(controller, create_route(controller), "s3-ap-northeast-2")["error"]["code"] == "AuthFailure"
    assert controller.lab.applied == []
    assert asked_by_another_process(controller, create_route(controller), "ec2-ap-northeast-2") == {"result": {"Return": True}}
    assert len(controller.lab.applied) == 1


def test_a_process_with_a_dead_fronts_pid_is_not_that_front(controller):
    """The launcher's record names the pid; the lab's record (pid and start time) says whether the
    process is still the one it started: a process that got a dead front's pid is not the front."""
    child = subprocess.Popen(
        [sys.executable, "-c", ASKER, str(controller.path), json.dumps(create_route(controller))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
        text=True,
    )
    controller.lab.services.children[child.pid] = "ec2-ap-northeast-2"
    dead = owned(child.pid, "front ec2-ap-northeast-2")
    controller.lab.state.processes.append(dataclasses.replace(dead, start=(dead.start or 0) - 1))
    out, _ = child.communicate("go\n", timeout=60)
    assert json.loads(out)["error"]["code"] == "AuthFailure" and controller.lab.applied == []


def test_the_controllers_own_process_asks_for_anything(controller):
    assert "result" in ask(controller.path, create_route(controller))


# -- an interface endpoint's address: no one else's ----------------------------------------------------


def interface(lab: Lab, ip: str) -> dict:
    return {
        "VpcId": lab.plan.vpc_id("app"),
        "ServiceName": f"com.amazonaws.{REGION}.sqs",
        "VpcEndpointType": "Interface",
        "SubnetConfigurations": [{"SubnetId": names.subnet_id("app", "public-a"), "Ipv4": ip}],
        "PrivateDnsEnabled": False,
    }


@pytest.mark.parametrize("holder", ["web1", "app-nat-a"])
def test_an_endpoint_address_an_instance_or_a_nat_gateway_has_is_in_use(lab, holder):
    """Before the fix, web1's address renumbered web1 in the running plan (lab.plan.difference then
    raised, and the controller answered nothing) and the NAT gateway's was given to the ENI too."""
    (address,) = lab.plan.node(holder).addresses()
    before = lab.topology
    error = lab.refused("CreateVpcEndpoint", interface(lab, str(address)))
    assert (error.code, error.message) == ("InvalidIPAddress.InUse", f"Address {address} is in use.")
    assert lab.topology is before


def test_an_endpoint_keeps_its_own_address_when_modified_and_takes_a_free_one(lab):
    created = lab.call("CreateVpcEndpoint", interface(lab, "10.0.1.40"))["VpcEndpoint"]["VpcEndpointId"]
    same = {"VpcEndpointId": created, "SubnetConfigurations": interface(lab, "10.0.1.40")["SubnetConfigurations"]}
    assert lab.call("ModifyVpcEndpoint", same) == {"Return": True}
    taken = same | {"SubnetConfigurations": interface(lab, "10.0.1.4")["SubnetConfigurations"]}  # web1's
    assert lab.refused("ModifyVpcEndpoint", taken).code == "InvalidIPAddress.InUse"


class BrokenLab(FrontsLab):
    def apply(self, plan):
        raise ValueError("node web1: interfaces eth0 would change in place (a vpclab bug: lab.plan.kept)")


def test_a_change_the_plans_cannot_be_diffed_for_is_internal_error_not_silence(tmp_path, monkeypatch):
    """Silence made the front answer 503 "no controller running", which was not true."""
    monkeypatch.chdir(REPO)
    topology = load_topology("topologies/public-private.yaml")
    with Controller(BrokenLab(compile_plan(topology), tmp_path), topology) as live:
        answer = ask(live.path, create_route(live))
        assert answer["error"]["code"] == "InternalError" and answer["error"]["status"] == 500, answer
        assert live.topology is topology


@pytest.mark.parametrize(("kind", "limit"), [("Gateway", 20), ("Interface", 50)])
def test_a_loop_of_create_calls_stops_at_awss_endpoint_quota(lab, kind, limit):
    """Each endpoint is nodes and processes on the lab's machine: without a quota a loop made 60."""
    params = {"VpcId": lab.plan.vpc_id("app"), "ServiceName": S3}
    if kind == "Interface":
        params = interface(lab, "10.0.1.40") | {"SubnetConfigurations": [], "SubnetIds": [names.subnet_id("app", "private-a")]}
    for _ in range(limit):
        lab.call("CreateVpcEndpoint", params)
    before = lab.topology
    assert lab.refused("CreateVpcEndpoint", params).code == "VpcEndpointLimitExceeded"
    assert lab.topology is before
    deleted = next(iter(before.vpcs["app"].endpoints.values())).vpce_id
    lab.call("DeleteVpcEndpoints", {"VpcEndpointIds": [deleted]})
    lab.call("CreateVpcEndpoint", params)  # one freed, one more


def test_a_bucket_policy_asked_for_from_another_regions_front_is_a_redirect(monkeypatch):
    """Each front may ask for its own region only (the controller's caller check); the bucket's
    region is checked too, as S3 answers a request sent to the wrong region (301 PermanentRedirect)."""
    from lab.model.api_errors import ApiCallError
    from lab.plan import bucket_policy_changes

    monkeypatch.chdir(REPO)
    topology = load_topology("topologies/public-private.yaml")
    with pytest.raises(ApiCallError) as caught:
        bucket_policy_changes.handle(
            topology, compile_plan(topology), "DeleteBucketPolicy", {"Bucket": "lab-bucket"}, "us-east-1", ACCOUNT_ID
        )
    assert (caught.value.code, caught.value.status) == ("PermanentRedirect", 301)


def test_only_the_services_owner_decides_on_its_connections(monkeypatch):
    """Consumers (the consumer's account, an account not allowed) name the provider's real service id:
    it is not theirs to accept or reject (InvalidVpcEndpointServiceId.NotFound); the owner's is taken."""
    monkeypatch.chdir(REPO)
    lab = Lab("endpoint-service.yaml")
    (svc,) = lab.topology.endpoint_services()
    vpces = [c.vpce for c in lab.plan.endpoint_service(svc.vpc, svc.name).connections]
    params = {"ServiceId": svc.service_id, "VpcEndpointIds": vpces}
    for account in {v.account for v in lab.topology.vpcs.values()} - {svc.account}:
        for action in ("AcceptVpcEndpointConnections", "RejectVpcEndpointConnections"):
            assert lab.refused(action, params, account=account).code == "InvalidVpcEndpointServiceId.NotFound"
    assert lab.call("RejectVpcEndpointConnections", params, account=svc.account) == {"Unsuccessful": []}


def test_a_request_too_big_for_the_controller_is_too_large_not_no_controller(tmp_path, monkeypatch):
    """A signed DescribeVpcs with 1.4 MB of filter values: the front takes bodies up to 256 MiB, the
    controller messages up to 1 MiB. It was dropped unanswered, and the front said the controller
    was not running (Unavailable, 503); it is too large (413), and the controller keeps serving."""
    from botocore.exceptions import ClientError
    from test_ec2_front import Recording, client_without_retries, error_of

    monkeypatch.chdir(REPO)
    topology = load_topology("topologies/gateway-endpoint.yaml")
    with Recording(FrontsLab(compile_plan(topology), tmp_path), topology):
        made = client_without_retries(tmp_path)
        with pytest.raises(ClientError) as caught:
            made.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"v{i:06d}" for i in range(100_000)]}])
        assert error_of(caught) == ("RequestEntityTooLarge", 413)
        assert made.describe_vpcs()["Vpcs"]


def test_a_bucket_policy_too_big_for_the_controller_is_policy_too_large(tmp_path):
    """A 2 MB PutBucketPolicy body (S3 allows 20 KB) reached the controller's 1 MiB limit and was
    answered ServiceUnavailable; S3's own answer is PolicyTooLarge."""
    import io

    from lab.services.body import BODY_KEY
    from lab.services.s3_bucket_policy import bucket_policy_answer

    body = b'{"Version": "2012-10-17", "Statement": []' + b" " * (2 << 20) + b"}"
    environ = {"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), BODY_KEY: body}
    said: list[str] = []
    out = b"".join(
        bucket_policy_answer(
            environ,
            lambda status, headers: said.append(status),
            "s3:PutBucketPolicy",
            "lab-bucket",
            None,
            tmp_path / "control.sock",
            REGION,
        )
    )
    assert said == ["400 Bad Request"] and b"<Code>PolicyTooLarge</Code>" in out, (said, out[:300])


@pytest.mark.parametrize("text", ["vpce-\x1f0123", "vpce-\x00", "\ufffe", "vpce-\ud800"])
def test_a_parameter_xml_cannot_carry_is_refused_before_it_could_be_echoed(text):
    """DeleteVpcEndpoints echoes an unknown id in its Unsuccessful items: a control character there
    would make the answer XML no parser reads, so it is refused up front."""
    from lab.services.catalog import ApiError
    from lab.services.ec2_query import parse

    with pytest.raises(ApiError) as refused:
        parse("DeleteVpcEndpoints", [("VpcEndpointId.1", text)])
    assert refused.value.code == "InvalidParameterValue"
    assert parse("DeleteVpcEndpoints", [("VpcEndpointId.1", "vpce-0123\tx")]) == {"VpcEndpointIds": ["vpce-0123\tx"]}
