"""The EC2 API inside a real lab, attacked from the lab's own instances with the real AWS CLI and by
hand on the controller's socket: what AWS refuses is refused and leaves the live model and the
kernel as they were; a process in a node cannot skip the EC2 front (SigV4, the endpoint's policy)
by writing to the controller's socket itself; calls made at the same time all land, one at a time;
an endpoint deleted under an open connection cuts it as AWS documents, a revoked security-group
rule keeps a tracked one; a kernel step that fails in the middle of a change leaves the model as it
was. Two gaps are kept as expected failures until fixed: the retry of a change whose kernel step
failed, and the answer to a call that deletes the endpoint it came through. Each lab leaves nothing
behind. The pure attempts: tests/unit/test_ec2_attacks.py. (tests/data/ec2-api/attacks.yaml)
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from labsafety import LabRecord, hold_connection, residue, use_held

from lab.analysis.explain import explain
from lab.model.ids import ACCOUNT_ID
from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.compile import compile_plan
from lab.realize.controller import Controller
from lab.realize.errors import RealizeError
from lab.realize.lab import Lab
from lab.scenario.observe import trace

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = REPO / "tests" / "data" / "ec2-api" / "attacks.yaml"
REGION = "ap-northeast-2"
BUCKET = "lab-bucket.s3.ap-northeast-2.amazonaws.com"
EC2_HOST = f"ec2.{REGION}.amazonaws.com"
S3 = f"com.amazonaws.{REGION}.s3"

# A request written by hand to the controller's socket, as any process in a node can (nodes share
# the host's files): what the controller answers, or NO ANSWER.
FORGE = (
    "import socket, sys; sock = socket.socket(socket.AF_UNIX); sock.settimeout(20); sock.connect(sys.argv[1]); "
    "sock.sendall(bytes.fromhex(sys.argv[2]) * int(sys.argv[3]) + b'\\n'); print(sock.recv(65536).decode() or 'NO ANSWER')"
)
SILENT = "import socket, sys, time; sock = socket.socket(socket.AF_UNIX); sock.connect(sys.argv[1]); time.sleep(60)"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    topology = load_topology(str(TOPOLOGY))
    run = tmp_path_factory.mktemp("ec2-attacks") / "run"
    with Lab(compile_plan(topology), run) as lab, Controller(lab, topology) as controller:
        record = LabRecord.of(lab.state)
        yield controller
    assert residue(record) == []


def aws(lab, node: str, *words: str, env: str = "") -> tuple[int, str]:
    """The AWS CLI at `node`: its exit status and its output (JSON, or its error line)."""
    out = lab.node(node).cmd(f'{env} aws --output json {" ".join(shlex.quote(w) for w in words)} 2>&1; echo "exit=$?"').strip()
    text, _, status = out.rpartition("exit=")
    return int(status), text.strip()


def forge(live: Controller, node: str, message: dict | bytes, times: int = 1) -> str:
    """`message` (`times` over) sent to the controller's socket by a process of `node`."""
    data = message if isinstance(message, bytes) else json.dumps(message).encode()
    argv = [sys.executable, "-c", FORGE, str(live.path), data.hex(), str(times)]
    return live.lab.node(node).cmd(" ".join(shlex.quote(a) for a in argv)).strip()


def rtb(live: Controller, vpc: str, table: str) -> str:
    return live.plan.route_table(vpc, table).aws_id


def kinds(live: Controller, source: str) -> list[str]:
    result = trace(live.lab, explain(live.topology, live.plan, source, BUCKET, 443), source, BUCKET, 443)
    assert result.agrees, result.disagreements
    return [h["kind"] for h in result.to_dict(None)["path"]]


def create_route(live: Controller, destination: str = "198.51.100.0/24") -> list[str]:
    return [
        "ec2",
        "create-route",
        "--route-table-id",
        rtb(live, "web", "private"),
        "--destination-cidr-block",
        destination,
        "--gateway-id",
        names.igw_id("web"),
    ]


def test_a_process_in_a_node_cannot_forge_a_change_past_the_front(live):
    """iso1's endpoint allows Describe calls only: the CLI's create-route is UnauthorizedOperation;
    the same call written to the controller's socket by hand (no SigV4, no endpoint policy) must
    fail too. Before the controller checked its caller (SO_PEERCRED) the forged route was created."""
    before = live.topology
    status, out = aws(live.lab, "iso1", *create_route(live))
    assert status != 0 and "UnauthorizedOperation" in out, out
    # DryRun answers DryRunOperation only to a caller allowed to make the call (API_CreateRoute.html, DryRun)
    status, out = aws(live.lab, "iso1", *create_route(live), "--dry-run")
    assert status != 0 and "UnauthorizedOperation" in out, out
    params = {
        "RouteTableId": rtb(live, "web", "private"),
        "DestinationCidrBlock": "198.51.100.0/24",
        "GatewayId": names.igw_id("web"),
    }
    for node in ("iso1", "app1"):
        message = {"action": "CreateRoute", "params": params, "region": REGION, "account": ACCOUNT_ID}
        said = forge(live, node, message)
        assert '"AuthFailure"' in said, said
        said = forge(live, node, message | {"service": "s3", "action": "DeleteBucketPolicy", "params": {"Bucket": "lab-bucket"}})
        assert '"AuthFailure"' in said, said
    assert live.topology is before
    routes = live.lab.node(names.router_node("web")).cmd("ip route show table all")
    assert "198.51.100.0/24" not in routes, routes


def test_bytes_that_are_not_a_request_and_a_silent_caller_do_not_stop_the_controller(live):
    silent = live.lab.node("app1").popen([sys.executable, "-c", SILENT, str(live.path)])
    try:
        for garbage, times in (
            (b"\xff\xfe\x00 not json", 1),
            (b"[1, 2, 3]", 1),
            (b'{"action": "CreateRoute"}', 1),
            (b"x", 2 << 20),
        ):
            said = forge(live, "app1", garbage, times)
            # no answer, an error, or (2 MiB: over the 1 MiB a request may have) the line cut off
            assert said == "NO ANSWER" or '"error"' in said or "BrokenPipeError" in said or "ConnectionResetError" in said, said
        status, out = aws(live.lab, "app1", "ec2", "describe-vpcs", "--filters", "Name=tag:Name,Values=web")
        assert status == 0 and live.plan.vpc_id("web") in out, out  # served while a caller says nothing
    finally:
        silent.kill()
        silent.wait()


def test_a_route_into_the_reserved_link_local_range_is_refused_and_dns_keeps_working(live):
    """AWS: no route to 169.254.168.0/22 or a subset (the Amazon DNS server, IMDS)."""
    before = live.topology
    for destination in ("169.254.169.253/32", "169.254.168.0/22"):
        status, out = aws(live.lab, "app1", *create_route(live, destination))
        assert status != 0 and "InvalidParameterValue" in out and "169.254.168.0/22" in out, out
    assert live.topology is before
    assert live.lab.node("app1").cmd(f"dig +short +tries=1 {BUCKET}").strip(), "the VPC's DNS stopped answering"


def test_what_aws_refuses_is_refused_through_the_cli(live):
    before = live.topology
    vpc = live.plan.vpc_id("web")
    attempts = [
        (create_route(live, "10.1.0.0/16"), "RouteAlreadyExists"),  # the local route
        (create_route(live, "10.1.2.0/24"), "InvalidParameterValue"),  # inside the VPC, to an internet gateway
        (
            ["ec2", "delete-route", "--route-table-id", rtb(live, "web", "private"), "--destination-cidr-block", "10.1.0.0/16"],
            "InvalidParameterValue",
        ),
        (
            [
                "ec2",
                "create-vpc-endpoint",
                "--vpc-id",
                vpc,
                "--service-name",
                S3,
                "--route-table-ids",
                rtb(live, "iso", "isolated"),
            ],
            "InvalidRouteTableID.NotFound",
        ),
        (
            [
                "ec2",
                "create-vpc-endpoint",
                "--vpc-id",
                vpc,
                "--service-name",
                "com.amazonaws.us-east-1.s3",
                "--route-table-ids",
                rtb(live, "web", "private"),
            ],
            "InvalidServiceName",
        ),
        (create_route(live) + ["--dry-run"], "DryRunOperation"),
        (
            [
                "ec2",
                "create-network-acl-entry",
                "--network-acl-id",
                names.network_acl_id("web", names.DEFAULT_NETWORK_ACL),
                "--rule-number",
                "32767",
                "--protocol",
                "-1",
                "--rule-action",
                "deny",
                "--ingress",
                "--cidr-block",
                "0.0.0.0/0",
            ],
            "InvalidParameterValue",
        ),
        (
            [
                "ec2",
                "accept-vpc-endpoint-connections",
                "--service-id",
                "vpce-svc-0123456789abcdef0",
                "--vpc-endpoint-ids",
                "vpce-0123456789abcdef0",
            ],
            "InvalidVpcEndpointServiceId.NotFound",
        ),
        # signed for us-east-1, sent to ap-northeast-2's endpoint: the scope names another region
        (
            ["ec2", "describe-vpcs", "--region", "us-east-1", "--endpoint-url", f"https://ec2.{REGION}.amazonaws.com"],
            "AuthFailure",
        ),
    ]
    for words, code in attempts:
        status, out = aws(live.lab, "app1", *words)
        assert status != 0 and f"({code})" in out, (words, out)
    assert live.topology is before


def test_an_internet_gateway_route_for_a_subnet_without_public_addresses_goes_nowhere(live):
    """replace-route sends the private subnet's default route to the internet gateway: AWS takes it,
    but the gateway translates only addresses that have a public IPv4 address, so app1 (none) reaches
    nothing, not even the EC2 API to undo it; the lab must not carry it anyway. Predicted and
    observed agree; the prompt (the controller's own process) puts the NAT gateway back."""
    table = rtb(live, "web", "private")
    status, out = aws(
        live.lab, "app1", "ec2", "replace-route", "--route-table-id", table, "--destination-cidr-block", "0.0.0.0/0",
        "--gateway-id", names.igw_id("web"),
    )  # fmt: skip
    assert status == 0, out
    try:
        result = trace(live.lab, explain(live.topology, live.plan, "app1", BUCKET, 443), "app1", BUCKET, 443)
        assert result.agrees, result.disagreements
        assert result.outcome != "ok" and result.observed.service_saw is None, result.to_dict(None)
        status, out = aws(live.lab, "app1", "--cli-connect-timeout", "3", "ec2", "describe-vpcs", env="AWS_MAX_ATTEMPTS=1")
        assert status != 0, out
    finally:
        back = {"RouteTableId": table, "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": names.nat_id("web", "nat-a")}
        assert "result" in live.answer({"action": "ReplaceRoute", "params": back, "region": REGION, "account": ACCOUNT_ID})
    assert "nat-gateway" in kinds(live, "app1")


def test_two_endpoints_created_at_once_from_two_instances_both_land(live):
    """The controller takes one change at a time: two create-vpc-endpoint calls racing from app1
    and app2 (each to its own route table) both land, each with its own fresh id, and the kernel
    carries both (the trace from app1 goes through the new S3 endpoint)."""
    vpc = live.plan.vpc_id("web")
    calls = {
        "app1": [
            "ec2",
            "create-vpc-endpoint",
            "--vpc-id",
            vpc,
            "--service-name",
            S3,
            "--route-table-ids",
            rtb(live, "web", "private"),
        ],
        "app2": [
            "ec2",
            "create-vpc-endpoint",
            "--vpc-id",
            vpc,
            "--service-name",
            f"com.amazonaws.{REGION}.dynamodb",
            "--route-table-ids",
            rtb(live, "web", "public"),
        ],
    }
    for node, words in calls.items():
        live.lab.node(node).sendCmd(f'aws --output json {" ".join(shlex.quote(w) for w in words)} 2>&1; echo "exit=$?"')
    answers = {node: live.lab.node(node).waitOutput().strip() for node in calls}
    ids = set()
    for out in answers.values():
        text, _, status = out.rpartition("exit=")
        assert status.strip() == "0", out
        ids.add(json.loads(text)["VpcEndpoint"]["VpcEndpointId"])
    endpoints = live.topology.vpcs["web"].endpoints
    assert len(ids) == 2 and {e.vpce_id for e in endpoints.values()} == ids and live.topology.created == 2
    status, out = aws(live.lab, "iso1", "ec2", "describe-vpc-endpoints", "--filters", f"Name=vpc-id,Values={vpc}")
    assert status == 0 and {e["VpcEndpointId"] for e in json.loads(out)["VpcEndpoints"]} == ids, out
    assert kinds(live, "app1") == ["instance", "vpc-router", "gateway-endpoint", "service"]


def test_an_endpoint_deleted_under_an_open_connection_cuts_it_and_leaves_no_node(live):
    """AWS: when a gateway endpoint's route goes, the connections through it are dropped
    (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html, "Routing")."""
    endpoint = next((e for e in live.topology.vpcs["web"].endpoints.values() if e.service == "s3"), None)
    if endpoint is None:  # run on its own
        status, out = aws(
            live.lab, "app1", "ec2", "create-vpc-endpoint", "--vpc-id", live.plan.vpc_id("web"),
            "--service-name", S3, "--route-table-ids", rtb(live, "web", "private"),
        )  # fmt: skip
        assert status == 0, out
        endpoint = next(e for e in live.topology.vpcs["web"].endpoints.values() if e.service == "s3")
    node = names.gateway_endpoint_node("web", endpoint.name)
    assert node in live.lab.nodes
    held = hold_connection(live.lab, "app1", BUCKET)
    status, out = aws(live.lab, "app1", "ec2", "delete-vpc-endpoints", "--vpc-endpoint-ids", endpoint.vpce_id)
    assert status == 0 and json.loads(out)["Unsuccessful"] == [], out
    said = use_held(held)
    assert said.split()[0] in ("RESET", "ANSWER", "TIMEOUT") and "HTTP/1.1" not in said, said
    assert node not in live.lab.nodes and node not in live.plan.nodes
    assert "nat-gateway" in kinds(live, "app1")
    status, out = aws(live.lab, "app1", "ec2", "delete-vpc-endpoints", "--vpc-endpoint-ids", endpoint.vpce_id)
    assert status == 0 and json.loads(out)["Unsuccessful"][0]["Error"]["Code"] == "InvalidVpcEndpoint.NotFound", out


def test_a_revoked_security_group_rule_keeps_a_tracked_connection_and_stops_new_ones(live):
    """From app1, the iso VPC's default group loses the rule that lets its members in: iso1's open
    connection to the `ec2` endpoint still gets its answer ("existing flows of traffic that are
    tracked may not be interrupted when you remove the security group rule that enables that flow":
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/security-group-connection-tracking.html),
    a new one does not get in; authorized again, it does."""
    group = names.security_group_id("iso", names.DEFAULT_SECURITY_GROUP)
    rule = ["--group-id", group, "--ip-permissions", f"IpProtocol=-1,UserIdGroupPairs=[{{GroupId={group}}}]"]
    held = hold_connection(live.lab, "iso1", EC2_HOST)
    status, out = aws(live.lab, "app1", "ec2", "revoke-security-group-ingress", *rule)
    assert status == 0, out
    try:
        said = use_held(held)
        assert said.startswith("ANSWER") and "HTTP/1.1" in said, said
        status, out = aws(live.lab, "iso1", "--cli-connect-timeout", "3", "ec2", "describe-vpcs", env="AWS_MAX_ATTEMPTS=1")
        assert status != 0 and "timeout" in out.lower(), out
    finally:
        status, out = aws(live.lab, "app1", "ec2", "authorize-security-group-ingress", *rule)
        assert status == 0, out
    status, out = aws(live.lab, "iso1", "ec2", "describe-vpcs")
    assert status == 0, out


def test_an_endpoint_deleted_through_itself_answers_its_caller(live):
    """iso1 reaches EC2 only through its `ec2` endpoint; with a policy that allows it (reset from app1,
    over the internet), iso1 deletes that very endpoint through it. EC2 answers the call and then
    deletes (the endpoint is `deleting` meanwhile): the controller applies such a change only once
    the answer is on its way back over the endpoint's path (Controller.apply_after_answer)."""
    vpce = live.plan.vpce_id("iso", "ec2-if")
    status, out = aws(live.lab, "app1", "ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", vpce, "--reset-policy")
    assert status == 0, out
    status, out = aws(
        live.lab, "iso1", "--cli-read-timeout", "10", "ec2", "delete-vpc-endpoints", "--vpc-endpoint-ids", vpce,
        env="AWS_MAX_ATTEMPTS=1",  # one attempt: a retry would find the endpoint gone
    )  # fmt: skip
    assert status == 0 and json.loads(out)["Unsuccessful"] == [], out
    with live.lock:  # the deletion, applied after the answer, holds it until it is done
        assert "ec2-if" not in live.topology.vpcs["iso"].endpoints
        assert not any(n.startswith("iso-ec2-if") for n in live.lab.nodes)


# -- a kernel step that fails in the middle of a change -------------------------------------------------


class FailingLab(Lab):
    """A lab whose next live change of the nodes' routes fails half-way: every changed node but
    one gets its files, as a kernel refusing one node's `ip -batch` line would leave it."""

    fail_next = False

    def in_every_shell(self, step: str, files: dict[str, dict]) -> None:
        if step == "live change of" and self.fail_next and files:
            self.fail_next = False
            spared = sorted(files)[-1]
            super().in_every_shell(step, {n: f for n, f in files.items() if n != spared})
            raise RealizeError(f"{step} {spared}", "RTNETLINK answers: injected failure")
        super().in_every_shell(step, files)


def test_a_change_whose_kernel_step_fails_leaves_the_model_and_a_changeable_lab(tmp_path):
    """The call is EC2's InternalError (500) and the model is as it was. Then the AWS CLI retries a
    500 on its own: the same call must then succeed, so what the failed attempt applied (a new node,
    its links, some nodes' routes and tables) is undone (lab.realize.changes.undo); before that, the
    retry's difference made them again ("RTNETLINK answers: File exists") and that endpoint could
    never be created in the lab."""
    topology = load_topology(str(TOPOLOGY))
    with FailingLab(compile_plan(topology), tmp_path / "run") as lab, Controller(lab, topology) as live:
        record = LabRecord.of(lab.state)
        before, plan = live.topology, live.plan
        request = {
            "action": "CreateVpcEndpoint",
            "params": {"VpcId": plan.vpc_id("web"), "ServiceName": S3, "RouteTableIds": [rtb(live, "web", "private")]},
            "region": REGION,
            "account": ACCOUNT_ID,
        }
        lab.fail_next = True
        failed = live.answer(request)
        assert failed["error"]["code"] == "InternalError" and failed["error"]["status"] == 500, failed
        assert live.topology is before and live.plan is plan  # the model is as it was
        assert "nat-gateway" in kinds(live, "app1")  # and so is what the packets do

        status, out = aws(lab, "app1", *create_route(live))  # a change that does not touch the failed one
        assert status == 0, out
        again = live.answer(request)  # what the CLI does on a 500: it retries
        assert "result" in again, again
        assert kinds(live, "app1") == ["instance", "vpc-router", "gateway-endpoint", "service"]
        vpce = again["result"]["VpcEndpoint"]["VpcEndpointId"]
        assert "result" in live.answer(request | {"action": "DeleteVpcEndpoints", "params": {"VpcEndpointIds": [vpce]}})
        assert "nat-gateway" in kinds(live, "app1")
    assert residue(record) == []
