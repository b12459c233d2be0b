"""SQS, STS and Secrets Manager in a real lab, used with the real AWS CLI from lab instances: over the
internet path (a private instance behind its NAT gateway, in a VPC of its own: private DNS would
send a client in the endpoints' VPC to them) and through interface endpoints with private DNS whose
SQS policy denies one action; every service answers in every region the lab
emulates, though the topology declares nothing there (`s3.us-east-1` from a lab with no us-east-1
bucket), and S3's ListBuckets lists the account's buckets of every region. One lab for the module.
"""

from __future__ import annotations

import base64
import json
import os
import shlex

import pytest

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.names import aws_id
from lab.realize.lab import Lab
from lab.scenario.observe import trace

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(300)]

TOPOLOGY = """
region: ap-northeast-2
vpcs:
  app:
    cidr: 10.0.0.0/16
    subnets:
      iso-a: {cidr: 10.0.3.0/24, az: a, route_table: isolated}
    route_tables:
      isolated: []
    endpoints:
      sqs-if: {type: interface, service: sqs, subnets: [iso-a], policy: no-send.json}
      sts-if: {type: interface, service: sts, subnets: [iso-a]}
      secrets-if: {type: interface, service: secretsmanager, subnets: [iso-a]}
      kms-if: {type: interface, service: kms, subnets: [iso-a]}
    instances:
      iso1: {subnet: iso-a}
  web:
    cidr: 10.1.0.0/16
    internet_gateway: true
    subnets:
      public-a:  {cidr: 10.1.1.0/24, az: a, route_table: public}
      private-a: {cidr: 10.1.2.0/24, az: a, route_table: private}
    route_tables:
      public:   [{destination: 0.0.0.0/0, target: igw}]
      private:  [{destination: 0.0.0.0/0, target: nat-a}]
    nat_gateways: {nat-a: {subnet: public-a}}
    instances:
      app1: {subnet: private-a}
services:
  s3:
    buckets:
      seoul-bucket: {objects: {hello.txt: "hello\\n"}}
"""
NO_SEND = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"},
    ],
}
SQS_VPCE = aws_id("vpce", "app", "sqs-if")
# The AWS CLI v1 sends SQS calls to the legacy ap-northeast-2.queue.amazonaws.com, which private DNS
# does not take over: through the endpoint it must be given SQS's current name, as in AWS.
SQS_NAME = ("--endpoint-url", "https://sqs.ap-northeast-2.amazonaws.com")


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    where = tmp_path_factory.mktemp("api-services")
    (where / "no-send.json").write_text(json.dumps(NO_SEND))
    (where / "lab.yaml").write_text(TOPOLOGY)
    return load_topology(str(where / "lab.yaml"))


@pytest.fixture(scope="module")
def lab(topology, tmp_path_factory):
    with Lab(compile_plan(topology), tmp_path_factory.mktemp("api-services-run") / "run") as running:
        yield running


@pytest.mark.parametrize(
    ("source", "target", "ingress"),
    [
        ("iso1", "sqs.ap-northeast-2.amazonaws.com", SQS_VPCE),  # through the interface endpoint (private DNS)
        ("iso1", "kms.ap-northeast-2.amazonaws.com", aws_id("vpce", "app", "kms-if")),
        ("app1", "sts.us-east-1.amazonaws.com", "internet"),  # another region, over the NAT gateway
        ("app1", "secretsmanager.ap-northeast-2.amazonaws.com", "internet"),
    ],
)
def test_trace_agrees_with_explain_for_the_new_services(topology, lab, source, target, ingress):
    """`vpclab trace`'s signed GET (signed for the service the name is) reaches the front by the
    predicted path, and the front saw it come by the predicted ingress."""
    result = trace(lab, explain(topology, lab.plan, source, target), source, target, 443)
    assert result.agrees, result.disagreements
    assert result.outcome == "ok" and result.observed.service_saw.ingress == ingress, result.probe


def aws(lab, node: str, *words: str) -> tuple[int, str]:
    """The AWS CLI at `node` (its JSON answer, or its error line), and its exit status."""
    out = lab.node(node).cmd(f'aws --output json {" ".join(shlex.quote(w) for w in words)} 2>&1; echo "exit=$?"').strip()
    text, _, status = out.rpartition("exit=")
    return int(status), text.strip()


def logged(lab, service: str, region: str = "ap-northeast-2") -> list[dict]:
    path = lab.run_dir / "services" / f"{service}-{region}-requests.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_sqs_over_the_internet_path(lab):
    status, made = aws(lab, "app1", "sqs", "create-queue", "--queue-name", "jobs")
    assert status == 0, made
    url = json.loads(made)["QueueUrl"]
    assert url.endswith("/111122223333/jobs") and url.startswith("https://sqs.ap-northeast-2.amazonaws.com/")
    status, sent = aws(lab, "app1", "sqs", "send-message", "--queue-url", url, "--message-body", "from app1")
    assert status == 0, sent
    status, got = aws(lab, "app1", "sqs", "receive-message", "--queue-url", url)
    assert status == 0 and [m["Body"] for m in json.loads(got)["Messages"]] == ["from app1"]
    seen = [(r["ingress"], r["action"], r["status"]) for r in logged(lab, "sqs")[-3:]]
    assert seen == [("internet", a, 200) for a in ("sqs:CreateQueue", "sqs:SendMessage", "sqs:ReceiveMessage")]
    nat_ips = {p.address for p in lab.plan.public_ips if p.vpc == "web"}
    assert {r["source_ip"] for r in logged(lab, "sqs")[-3:]} <= {str(a) for a in nat_ips}  # the NAT gateway's public IP


def test_sts_and_secrets_manager_over_the_internet_path(lab):
    status, who = aws(lab, "app1", "sts", "get-caller-identity")
    assert status == 0 and json.loads(who)["Arn"] == "arn:aws:iam::111122223333:root"
    assert aws(lab, "app1", "secretsmanager", "create-secret", "--name", "db", "--secret-string", "hunter2")[0] == 0
    status, got = aws(lab, "app1", "secretsmanager", "get-secret-value", "--secret-id", "db")
    assert status == 0 and json.loads(got)["SecretString"] == "hunter2"


def test_through_interface_endpoints_the_policy_denies_one_action(lab):
    """Private DNS sends iso1 (no route to the internet) to the endpoints' ENIs; the SQS endpoint's
    policy denies sqs:SendMessage only."""
    status, made = aws(lab, "iso1", "sqs", "create-queue", "--queue-name", "private-jobs", *SQS_NAME)
    assert status == 0, made
    url = json.loads(made)["QueueUrl"]
    status, denied = aws(lab, "iso1", "sqs", "send-message", "--queue-url", url, "--message-body", "x", *SQS_NAME)
    assert status != 0 and "(AccessDenied)" in denied and "explicit deny in a VPC endpoint policy" in denied
    assert aws(lab, "iso1", "sqs", "receive-message", "--queue-url", url, *SQS_NAME)[0] == 0
    last = logged(lab, "sqs")[-2:]
    assert [(r["ingress"], r["action"], r["decision"]) for r in last] == [
        (SQS_VPCE, "sqs:SendMessage", "deny"),
        (SQS_VPCE, "sqs:ReceiveMessage", "allow"),
    ]
    assert last[0]["source_ip"] == str(lab.plan.node("iso1").addresses()[0])  # the client's private IP
    status, who = aws(lab, "iso1", "sts", "get-caller-identity")
    assert status == 0 and json.loads(who)["Account"] == "111122223333"
    assert aws(lab, "iso1", "secretsmanager", "create-secret", "--name", "iso", "--secret-string", "s")[0] == 0
    status, got = aws(lab, "iso1", "secretsmanager", "get-secret-value", "--secret-id", "iso")
    assert status == 0 and json.loads(got)["SecretString"] == "s"
    assert logged(lab, "secretsmanager")[-1]["ingress"] == aws_id("vpce", "app", "secrets-if")


def test_kms_through_its_interface_endpoint(lab):
    status, made = aws(lab, "iso1", "kms", "create-key")
    assert status == 0, made
    key = json.loads(made)["KeyMetadata"]["KeyId"]
    status, sealed = aws(lab, "iso1", "kms", "encrypt", "--key-id", key, "--plaintext", "hunter2")
    assert status == 0, sealed
    blob = json.loads(sealed)["CiphertextBlob"]
    script = f"import base64,sys; sys.stdout.buffer.write(base64.b64decode('{blob}'))"
    lab.node("iso1").cmd(f"python3 -c {shlex.quote(script)} > /tmp/helperD-blob.bin")
    status, opened = aws(lab, "iso1", "kms", "decrypt", "--ciphertext-blob", "fileb:///tmp/helperD-blob.bin")
    lab.node("iso1").cmd("rm -f /tmp/helperD-blob.bin")
    assert status == 0, opened
    assert base64.b64decode(json.loads(opened)["Plaintext"]) == b"hunter2"
    assert [r["ingress"] for r in logged(lab, "kms")[-3:]] == [aws_id("vpce", "app", "kms-if")] * 3


def test_private_dns_does_not_take_over_sqs_legacy_name(lab):
    """The CLI v1's default SQS name resolves to SQS's public address even inside the endpoint's VPC,
    so from the isolated subnet it goes nowhere (AWS's documented need for sqs.<region>.amazonaws.com)."""
    legacy = "ap-northeast-2.queue.amazonaws.com"
    public = str(lab.plan.service_front("sqs", "ap-northeast-2").addresses[0])
    assert lab.node("iso1").cmd(f"getent hosts {legacy}").split()[:1] == [public]
    said = lab.node("iso1").cmd("AWS_MAX_ATTEMPTS=1 aws sqs list-queues --cli-connect-timeout 2 2>&1; echo exit=$?")
    assert f"https://{legacy}/" in said and "exit=0" not in said


def test_an_endpoint_serves_only_its_region(lab):
    """A request signed for us-east-1 sent to the ap-northeast-2 service through the endpoint."""
    status, said = aws(
        lab, "iso1", "sqs", "list-queues", "--region", "us-east-1", "--endpoint-url", "https://sqs.ap-northeast-2.amazonaws.com"
    )
    assert status != 0 and "Credential should be scoped to a valid region" in said


def test_every_region_answers_though_the_topology_declares_nothing_there(lab):
    """us-east-1 has no bucket, queue or endpoint in this topology; its public endpoints answer."""
    status, listed = aws(lab, "app1", "s3api", "list-buckets", "--region", "us-east-1")
    assert status == 0, listed
    assert [b["Name"] for b in json.loads(listed)["Buckets"]] == ["seoul-bucket"]  # every region's buckets
    status, queues = aws(lab, "app1", "sqs", "list-queues", "--region", "us-east-1")
    assert status == 0 and "jobs" not in queues  # a queue of ap-northeast-2 is not in us-east-1
    status, who = aws(lab, "app1", "sts", "get-caller-identity", "--region", "us-east-1")
    assert status == 0 and json.loads(who)["Account"] == "111122223333"
    assert logged(lab, "s3", "us-east-1")[-1]["ingress"] == "internet"


def test_s3_of_another_region_follows_the_redirect(lab):
    """`aws s3 ls` of a Seoul bucket asked in us-east-1: the 301 sends the CLI to the bucket's region."""
    status, listed = aws(lab, "app1", "s3", "ls", "s3://seoul-bucket/", "--region", "us-east-1")
    assert status == 0 and "hello.txt" in listed


# -- sidesteps tried against the real lab ----------------------------------------------------------


def curl_sqs(lab, node: str, path: str, form: str) -> tuple[str, str]:
    """A query-protocol SQS call signed by curl (not the CLI's JSON protocol): (HTTP status, body)."""
    signed = '--aws-sigv4 aws:amz:ap-northeast-2:sqs --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"'
    out = lab.node(node).cmd(
        f"curl -sS -m 5 {signed} -H 'Content-Type: application/x-www-form-urlencoded' "
        f"--data {shlex.quote(form)} -w '\\n%{{http_code}}' https://sqs.ap-northeast-2.amazonaws.com{path}"
    )
    body, _, status = out.strip().rpartition("\n")
    return status, body


def test_the_query_protocol_meets_the_same_endpoint_policy(lab):
    """SendMessage in SQS's query protocol, by QueueUrl and by the queue's path, through the endpoint."""
    assert aws(lab, "iso1", "sqs", "create-queue", "--queue-name", "sidestep", *SQS_NAME)[0] == 0
    queue = "https://sqs.ap-northeast-2.amazonaws.com/111122223333/sidestep"
    for path, form in (
        ("/", f"Action=SendMessage&Version=2012-11-05&QueueUrl={queue}&MessageBody=x"),
        ("/111122223333/sidestep", "Action=SendMessage&Version=2012-11-05&MessageBody=x"),
    ):
        status, body = curl_sqs(lab, "iso1", path, form)
        assert status == "403" and "<Code>AccessDenied</Code>" in body, (path, status, body)
    status, body = curl_sqs(lab, "iso1", "/", f"Action=GetQueueAttributes&Version=2012-11-05&QueueUrl={queue}")
    assert status == "200" and "GetQueueAttributesResponse" in body


def test_only_80_and_443_answer_at_a_new_front(lab, tmp_path):
    """The fronts' ingress rules hold for the new services: a scan of SQS's public address from the internet."""
    from test_front_ingress import NEAR_PORTS, scan

    address = str(lab.plan.service_front("sqs", "us-east-1").addresses[0])
    assert scan(lab, "internet-client", address, NEAR_PORTS, tmp_path) == [80, 443]
