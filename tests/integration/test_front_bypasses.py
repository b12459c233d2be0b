"""Every way we found to sidestep an endpoint or bucket policy, tried with real clients (curl, the
AWS CLI, boto3) from real lab nodes of topologies/gateway-endpoint-policies.yaml: each gets the
answer AWS gives, and no data leaves or changes. The same attempts, and many more shapes, run
in process in tests/unit/test_s3_front_bypasses.py; these prove the whole path (nftables, TLS,
werkzeug, the front, moto) holds.

In that topology app1 reaches S3 through s3-gw, whose policy allows lab-bucket only (GetObject,
ListBucket); vpce-only-bucket denies everything that does not come through s3-gw; web1 goes over
the internet; ddb-gw lets table orders be read, not written.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.realize.lab import Lab

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(240)]

SEOUL = "ap-northeast-2"
S3 = f"s3.{SEOUL}.amazonaws.com"
SECRET = "top secret"
SIGN = (
    '--aws-sigv4 aws:amz:ap-northeast-2:s3 --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" '
    "-H \"x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)\""
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        plan = compile_plan(load_topology("topologies/gateway-endpoint-policies.yaml"))
        with Lab(plan, tmp_path_factory.mktemp("bypass") / "run") as running:
            yield running
    finally:
        os.chdir(cwd)


def sh(lab, node: str, command: str) -> str:
    """`command` in `node` as a learner's shell runs it (the lab's resolver, CA and credentials)."""
    run = lab.node(node).popen(
        ["bash", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=lab.node_env(node)
    )
    lab.own(run.pid, f"bypass attempt in {node}")
    return run.communicate(timeout=60)[0]


def front_ip(lab) -> str:
    return str(lab.plan.service_front("s3", SEOUL).addresses[0])


@pytest.mark.parametrize(
    "node, command, answer",
    [
        # a Host that names the bucket another way: S3 reads it as another bucket, or refuses it
        ("web1", f"curl -sS {SIGN} -H 'Host: vpce-only-bucket.{S3}.' http://{{ip}}/secret.txt", "<Code>AccessDenied</Code>"),
        ("web1", f"curl -sS {SIGN} -H 'Host: www.vpce-only-bucket.{S3}' http://{{ip}}/secret.txt", "<Code>NoSuchBucket</Code>"),
        (
            "web1",
            f"curl -sS {SIGN} -H 'Host: vpce-only-bucket.example.com' http://{{ip}}/secret.txt",
            "<Code>NoSuchBucket</Code>",
        ),
        (
            "web1",
            f"curl -sS {SIGN} -H 'Host: vpce-only-bucket.s3-website.{SEOUL}.amazonaws.com' http://{{ip}}/secret.txt",
            "<Code>NoSuchBucket</Code>",
        ),
        ("web1", f"curl -sS {SIGN} -H 'Host: {S3}' http://{{ip}}/vpce-only-bucket/secret.txt", "<Code>AccessDenied</Code>"),
        ("web1", f"curl -sS {SIGN} -H 'Host: {S3}' 'http://{{ip}}/vpce-only-bucket%2Fsecret.txt'", "<Code>AccessDenied</Code>"),
        (
            "web1",
            f"curl -sS --path-as-is {SIGN} -H 'Host: {S3}' 'http://{{ip}}/lab-bucket/../vpce-only-bucket/secret.txt'",
            "<Code>NoSuchKey</Code>",
        ),
        # the method in lower case is no S3 method
        ("app1", f"curl -sS -X get {SIGN} https://vpce-only-bucket.{S3}/secret.txt", "<Code>MethodNotAllowed</Code>"),
        ("app1", f"curl -sS -X delete {SIGN} https://lab-bucket.{S3}/hello.txt", "<Code>MethodNotAllowed</Code>"),
        # a signature that is not the account's
        (
            "web1",
            f'curl -sS --aws-sigv4 aws:amz:{SEOUL}:s3 --user "$AWS_ACCESS_KEY_ID:wrong" '
            f"-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' https://other-bucket.{S3}/report.txt",
            "<Code>SignatureDoesNotMatch</Code>",
        ),
        (
            "web1",
            f"curl -sS -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101/{SEOUL}/s3/"
            f"aws4_request, SignedHeaders=host, Signature=0' https://other-bucket.{S3}/report.txt",
            "<Code>AuthorizationHeaderMalformed</Code>",
        ),
        (
            "web1",
            f"curl -sS -H 'Authorization:' -H 'Authorization: ' https://other-bucket.{S3}/report.txt",
            "<Code>AccessDenied</Code>",
        ),  # an empty header is no signature: anonymous, and the object is private
        (
            "web1",
            f"curl -sS --aws-sigv4 aws:amz:{SEOUL}:s3 --user NOTAKEY:x -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "
            f"https://other-bucket.{S3}/report.txt",
            "<Code>InvalidAccessKeyId</Code>",
        ),
        # the mock's own management API and other AWS services are not there
        ("web1", f"curl -sS -X POST {SIGN} https://lab-bucket.{S3}/moto-api/reset", "<Code>MethodNotAllowed</Code>"),
        ("web1", f"curl -sS {SIGN} https://lab-bucket.{S3}/moto-api/data.json", "<Code>NoSuchKey</Code>"),
        (
            "web1",
            f"aws iam create-user --user-name intruder --endpoint-url https://{S3} --debug 2>&1 | "
            "grep -o '<Code>MethodNotAllowed</Code>' | head -n 1",
            "<Code>MethodNotAllowed</Code>",
        ),
        # CopyObject's source is authorized too: the secret stays where it is
        (
            "web1",
            "aws s3api copy-object --bucket other-bucket --key stolen.txt --copy-source vpce-only-bucket/secret.txt "
            "2>&1; aws s3 ls s3://other-bucket/stolen.txt; echo listed=$?",
            "AccessDenied",
        ),
        # through the endpoint, only what its policy allows: not even a delete of an allowed bucket's key
        (
            "app1",
            "aws s3api delete-objects --bucket lab-bucket --delete 'Objects=[{Key=hello.txt}]' 2>&1",
            '"Code": "AccessDenied"',
        ),
        # DynamoDB through ddb-gw: read-only, however the write is spelt
        ("app1", 'aws dynamodb put-item --table-name orders --item \'{"id": {"S": "x"}}\' 2>&1', "AccessDeniedException"),
        (
            "app1",
            'aws dynamodb batch-write-item --request-items \'{"orders": [{"PutRequest": {"Item": {"id": {"S": "x"}}}}]}\' 2>&1',
            "AccessDeniedException",
        ),
        (
            "app1",
            "aws dynamodb execute-statement --statement \"INSERT INTO orders VALUE {'id': 'x'}\" 2>&1",
            "AccessDeniedException",
        ),
        (
            "app1",
            f'curl -sS -X POST --aws-sigv4 aws:amz:{SEOUL}:dynamodb --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" '
            "-H 'X-Amz-Target: dynamodb_20120810.PutItem' -H 'Content-Type: application/x-amz-json-1.0' "
            f'-d \'{{"TableName": "orders", "Item": {{"id": {{"S": "x"}}}}}}\' https://dynamodb.{SEOUL}.amazonaws.com/',
            "UnknownOperationException",
        ),
    ],
)
def test_the_attempt_gets_aws_answer_and_nothing_leaks(lab, node, command, answer):
    out = sh(lab, node, command.replace("{ip}", front_ip(lab)))
    assert answer in out and SECRET not in out, out
    if "stolen.txt" in command:
        assert "listed=1" in out, out  # no copy was made


def test_nothing_changed_behind_the_attempts(lab):
    """Whatever ran before (the module's attempts), every bucket and table is as the topology made it."""
    listed = sh(lab, "web1", "aws s3 ls s3://other-bucket; aws s3 cp s3://other-bucket/report.txt -")
    assert "report.txt" in listed and "stolen" not in listed
    assert "hello from S3" in sh(lab, "app1", "aws s3 cp s3://lab-bucket/hello.txt -")
    scan = sh(lab, "app1", "aws dynamodb scan --table-name orders --query Count")
    assert scan.strip() == "0", scan


def test_an_expired_presigned_url_is_refused(lab):
    url = sh(lab, "web1", "aws s3 presign s3://other-bucket/report.txt --expires-in 1").strip()
    out = sh(lab, "web1", f"sleep 2; curl -sS '{url}'")
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in out, out
    fresh = sh(lab, "web1", 'curl -sS "$(aws s3 presign s3://other-bucket/report.txt)"')
    assert "anyone in the account" in fresh, fresh


def test_what_aws_allows_is_served(lab, tmp_path):
    """The other half: the AWS CLI's everyday calls all work through the checks, a multipart upload
    (over the CLI's 8 MiB threshold), sync and recursive delete, tagging, a bucket made and removed."""
    data = tmp_path / "big.bin"
    data.write_bytes(os.urandom(9 * 1024 * 1024))
    (tmp_path / "sync").mkdir()
    for name in "ab":
        (tmp_path / "sync" / name).write_text(name)
    out = sh(
        lab,
        "web1",
        f"""set -e
        aws s3 cp {data} s3://other-bucket/big.bin --only-show-errors
        aws s3 cp s3://other-bucket/big.bin - | cmp - {data} && echo SAME
        aws s3api put-object --bucket other-bucket --key tagged.txt --tagging a=b --body {data} >/dev/null
        aws s3api get-object-tagging --bucket other-bucket --key tagged.txt --query 'TagSet[0].Value'
        aws s3 sync {tmp_path / "sync"} s3://other-bucket/sync/ --only-show-errors
        aws s3 rm --recursive s3://other-bucket/sync/ --only-show-errors
        aws s3 mb s3://brand-new-bucket && aws s3 rb s3://brand-new-bucket
        aws s3 rm s3://other-bucket/big.bin --only-show-errors; aws s3 rm s3://other-bucket/tagged.txt --only-show-errors
        aws s3 ls s3://other-bucket/""",
    )
    assert "SAME" in out and '"b"' in out and "make_bucket: brand-new-bucket" in out, out
    assert "remove_bucket: brand-new-bucket" in out and out.strip().endswith("report.txt"), out
