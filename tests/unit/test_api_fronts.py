"""The moto-backed interface-only services (SQS, STS, Secrets Manager): the table and its region data,
the IAM action each request is read as (query `Action=` and JSON `X-Amz-Target`), endpoint policies
with each service's own AccessDenied, and requests shaped to make the front and moto disagree. Over
real boto3 clients and moto's real apps, in process (tests/api_clients.py).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto.secretsmanager.models import secretsmanager_backends
from moto.sqs.models import sqs_backends

from api_clients import client, front_app
from lab.model import ids, regions
from lab.model.ids import ACCOUNT_ID
from lab.model.policy import parse_policy
from lab.plan.fronts import needed_fronts
from lab.services.api_front import ApiFront
from lab.services.catalog import SERVICES, operation_names
from lab.services.config import Ingress
from lab.services.front import service_app
from signing import call, environ, signed_environ

REGION = "ap-northeast-2"
VPCE, VPC = "vpce-0a1b2c3d4e5f60718", "vpc-0a1b2c3d4e5f60718"
INTERNET = Ingress("internet", 1, 2)


def endpoint(*statements: dict) -> Ingress:
    document = {"Version": "2012-10-17", "Statement": [{"Principal": "*", "Resource": "*", **s} for s in statements]}
    return Ingress(VPCE, 3, 4, VPC, parse_policy(document, "endpoint policy"))


ALL_BUT = {"Effect": "Allow", "Action": "*"}


@pytest.fixture(autouse=True)
def empty_moto():
    for backends in (sqs_backends, secretsmanager_backends):
        for account in backends.values():
            for backend in account.values():
                backend.reset()


def clients(tmp_path, service: str, ingress: Ingress, region: str = REGION):
    return client(front_app(service, region, ingress, tmp_path / "requests.jsonl"), service, region)


def logged(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]


# -- the table and its region data -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_table_entry_has_region_data_in_every_region(name):
    assert name in regions.INTERFACE_SERVICES_EMULATED and name in regions.INTERFACE_ONLY_AWS_SERVICES
    for region in regions.REGIONS.values():
        svc = region.services[name]
        assert svc.service_name == f"com.amazonaws.{region.name}.{name}"
        assert f"{name}.{region.name}.amazonaws.com" in svc.hostnames
        assert svc.prefix_list_id is None and not svc.has_gateway_endpoint
        assert svc.addresses and all(svc.covers(a) for a in svc.addresses)
        assert regions.service_for_address(svc.addresses[0]) == svc  # no other service's range holds it


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_table_names_only_real_operations(name):
    entry = SERVICES[name]
    assert set(entry.actions) | entry.not_emulated <= operation_names(name)
    assert entry.warm in operation_names(name)


def test_every_service_front_in_every_region_whatever_the_topology_declares(tmp_path):
    from lab.model.loader import load_topology

    topology = tmp_path / "t.yaml"
    topology.write_text("region: ap-northeast-2\nvpcs:\n  app:\n    cidr: 10.0.0.0/16\n")
    fronts = needed_fronts(load_topology(topology))
    assert set(fronts) == {(s, r) for s in regions.emulated_services() for r in regions.REGIONS}
    assert fronts[0] == ("s3", "ap-northeast-2")  # the lab's own region first


# -- the IAM action of a request -------------------------------------------------------------------


def read_action(service: str, method: str, url: str, body: bytes = b"", headers: dict | None = None) -> str:
    front = ApiFront(service_app(service), SERVICES[service], INTERNET, REGION)
    env = signed_environ(method, url, body, headers, service=SERVICES[service].signing_name, how="header")
    found = front.read(env)
    return SERVICES[service].action(found.operation)


SQS_URL = f"https://sqs.{REGION}.amazonaws.com/"
QUEUE = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/jobs"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("service", "method", "url", "body", "headers", "action"),
    [
        ("sqs", "POST", SQS_URL, b"{}", {"X-Amz-Target": "AmazonSQS.SendMessage"}, "sqs:SendMessage"),
        ("sqs", "POST", SQS_URL, b"{}", {"X-Amz-Target": "AmazonSQS.SendMessageBatch"}, "sqs:SendMessage"),
        ("sqs", "POST", SQS_URL, b"{}", {"X-Amz-Target": "AmazonSQS.DeleteMessageBatch"}, "sqs:DeleteMessage"),
        ("sqs", "POST", SQS_URL, b"Action=ReceiveMessage&QueueUrl=" + QUEUE.encode(), FORM, "sqs:ReceiveMessage"),
        ("sqs", "GET", SQS_URL + "?Action=ListQueues&Version=2012-11-05", b"", None, "sqs:ListQueues"),
        ("sqs", "POST", f"{SQS_URL}{ACCOUNT_ID}/jobs", b"Action=PurgeQueue", FORM, "sqs:PurgeQueue"),
        (
            "sts",
            "POST",
            f"https://sts.{REGION}.amazonaws.com/",
            b"Action=GetCallerIdentity&Version=2011-06-15",
            FORM,
            "sts:GetCallerIdentity",
        ),
        (
            "secretsmanager",
            "POST",
            f"https://secretsmanager.{REGION}.amazonaws.com/",
            b"{}",
            {"X-Amz-Target": "secretsmanager.GetSecretValue"},
            "secretsmanager:GetSecretValue",
        ),
    ],
)
def test_action_read_from_the_request(service, method, url, body, headers, action):
    assert read_action(service, method, url, body, headers) == action


@pytest.mark.parametrize(
    ("service", "headers", "body", "url", "code"),
    [
        ("sqs", {"X-Amz-Target": "AmazonSQS.Nope"}, b"{}", SQS_URL, "UnknownOperationException"),
        ("sqs", {"X-Amz-Target": "amazonsqs.SendMessage"}, b"{}", SQS_URL, "UnknownOperationException"),
        ("sqs", {"X-Amz-Target": "AmazonSQS.SendMessage"}, b"{}", SQS_URL + "?Action=DeleteQueue", "UnknownOperationException"),
        (
            "sqs",
            {"X-Amz-Target": "AmazonSQS.SendMessage"},
            b'{"QueueUrl": "a", "QueueUrl": "b"}',
            SQS_URL,
            "SerializationException",
        ),
        ("sqs", FORM, b"Action=ListQueues&Action=DeleteQueue", SQS_URL, "MalformedQueryString"),
        ("sqs", FORM, b"Action=DeleteQueue", SQS_URL + "?Action=ListQueues", "MalformedQueryString"),
        ("sqs", FORM, b"Action=Frobnicate", SQS_URL, "InvalidAction"),
        ("sqs", FORM, b"Version=2012-11-05", SQS_URL, "MissingAction"),
        ("sqs", {"X-Amz-Target": "AmazonSQS.StartMessageMoveTask"}, b"{}", SQS_URL, "NotImplemented"),
        ("secretsmanager", {"X-Amz-Target": "secretsmanager.BatchGetSecretValue"}, b"{}", None, "NotImplemented"),
        ("secretsmanager", FORM, b"Action=GetSecretValue", None, "UnknownOperationException"),
        ("sts", FORM, b"Action=AssumeRoleWithWebIdentity", None, "NotImplemented"),
    ],
)
def test_requests_the_front_does_not_read_as_an_operation(service, headers, body, url, code):
    from lab.services.catalog import ApiError

    front = ApiFront(service_app(service), SERVICES[service], INTERNET, REGION)
    env = signed_environ("POST", url or f"https://{service}.{REGION}.amazonaws.com/", body, headers, service=service)
    with pytest.raises(ApiError) as refused:
        front.read(env)
    assert refused.value.code == code


# -- real clients, over the internet ingress -------------------------------------------------------


def test_sqs_create_send_receive(tmp_path):
    sqs = clients(tmp_path, "sqs", INTERNET)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    assert url == QUEUE
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["hello"]
    assert [e["action"] for e in logged(tmp_path)] == ["sqs:CreateQueue", "sqs:SendMessage", "sqs:ReceiveMessage"]


def test_sqs_query_protocol_is_served_too(tmp_path):
    """The query protocol SQS still takes (older SDKs), signed, as a form body."""
    app = front_app("sqs", REGION, INTERNET, tmp_path / "requests.jsonl")
    clients(tmp_path, "sqs", INTERNET).create_queue(QueueName="jobs")
    body = f"Action=SendMessage&Version=2012-11-05&QueueUrl={QUEUE}&MessageBody=old".encode()
    answer = call(app, signed_environ("POST", SQS_URL, body, FORM, service="sqs"))
    assert answer.status_code == 200 and b"<SendMessageResponse" in answer.get_data()
    assert [m.body for m in sqs_backends[ACCOUNT_ID][REGION].queues["jobs"]._messages] == ["old"]


def test_sts_get_caller_identity_is_the_lab_accounts_root_user(tmp_path):
    who = clients(tmp_path, "sts", INTERNET).get_caller_identity()
    assert (who["Account"], who["UserId"], who["Arn"]) == (ACCOUNT_ID, ACCOUNT_ID, f"arn:aws:iam::{ACCOUNT_ID}:root")
    assert logged(tmp_path)[-1]["action"] == "sts:GetCallerIdentity"


def test_secrets_manager_round_trip(tmp_path):
    secrets = clients(tmp_path, "secretsmanager", INTERNET)
    made = secrets.create_secret(Name="db", SecretString="hunter2")
    assert made["ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:db-")
    assert secrets.get_secret_value(SecretId="db")["SecretString"] == "hunter2"


def test_regions_are_apart(tmp_path):
    """A queue made in ap-northeast-2 is not in us-east-1's SQS (moto keeps one backend per region)."""
    clients(tmp_path, "sqs", INTERNET).create_queue(QueueName="jobs")
    assert clients(tmp_path, "sqs", INTERNET, "us-east-1").list_queues().get("QueueUrls", []) == []


# -- signatures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "signing", "code", "status"),
    [
        ("sqs", None, "MissingAuthenticationToken", 403),
        ("sqs", {"region": "us-east-1"}, "SignatureDoesNotMatch", 403),
        ("sts", None, "MissingAuthenticationToken", 403),
        ("secretsmanager", {"region": "us-east-1"}, "InvalidSignatureException", 400),
    ],
)
def test_signature_refusals_in_the_services_words(tmp_path, service, signing, code, status):
    app = front_app(service, REGION, INTERNET, tmp_path / "requests.jsonl")
    entry = SERVICES[service]
    if entry.json_target:
        headers = {"X-Amz-Target": f"{entry.json_target}.{entry.warm}", "Content-Type": "application/x-amz-json-1.0"}
        body = b"{}"
    else:
        headers, body = FORM, f"Action={entry.warm}".encode()
    env = signed_environ(
        "POST", f"https://{service}.{REGION}.amazonaws.com/", body, headers, service=service, **(signing or {"how": None})
    )
    answer = call(app, env)
    assert answer.status_code == status
    text = answer.get_data(as_text=True)
    assert code in (answer.headers.get("x-amzn-query-error", "") + text)


# -- endpoint policies -----------------------------------------------------------------------------


def test_sqs_endpoint_policy_denies_one_action(tmp_path):
    sqs = clients(tmp_path, "sqs", endpoint(ALL_BUT, {"Effect": "Deny", "Action": "sqs:SendMessage"}))
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    for attempt in (
        lambda: sqs.send_message(QueueUrl=url, MessageBody="x"),
        lambda: sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "x"}]),
    ):
        with pytest.raises(ClientError) as denied:
            attempt()
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        assert "explicit deny in a VPC endpoint policy" in denied.value.response["Error"]["Message"]
    assert sqs_backends[ACCOUNT_ID][REGION].queues["jobs"]._messages == []
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []  # other actions still pass
    assert logged(tmp_path)[-2]["denied_by"].startswith(f"endpoint policy of {VPCE}")


def test_sqs_policy_on_one_queue_meets_every_spelling_of_its_url(tmp_path):
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:secret-jobs"
    sqs = clients(tmp_path, "sqs", endpoint(ALL_BUT, {"Effect": "Deny", "Action": "sqs:*", "Resource": queue}))
    sqs.create_queue(QueueName="jobs")
    clients(tmp_path, "sqs", INTERNET).create_queue(QueueName="secret-jobs")
    for url in (
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/secret-jobs",
        f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT_ID}/secret-jobs",
        f"http://localhost/{ACCOUNT_ID}/secret-jobs",
    ):
        with pytest.raises(ClientError) as denied:
            sqs.receive_message(QueueUrl=url)
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as other_account:
        sqs.receive_message(QueueUrl=f"https://sqs.{REGION}.amazonaws.com/999999999999/secret-jobs")
    assert other_account.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_secret_denied_by_name_full_and_partial_arn(tmp_path):
    clients(tmp_path, "secretsmanager", INTERNET).create_secret(Name="prod/db", SecretString="hunter2")
    real = secretsmanager_backends[ACCOUNT_ID][REGION].secrets.get("prod/db").arn
    secrets = clients(
        tmp_path,
        "secretsmanager",
        endpoint(ALL_BUT, {"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": real}),
    )
    for spelling in ("prod/db", real, real.rsplit("-", 1)[0]):
        with pytest.raises(ClientError) as denied:
            secrets.get_secret_value(SecretId=spelling)
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
        assert real in denied.value.response["Error"]["Message"]
    assert secrets.describe_secret(SecretId="prod/db")["Name"] == "prod/db"


def test_sts_endpoint_policy_allowing_other_actions_only(tmp_path):
    sts = clients(tmp_path, "sts", endpoint({"Effect": "Allow", "Action": "sts:AssumeRole"}))
    with pytest.raises(ClientError) as denied:
        sts.get_caller_identity()
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "because no VPC endpoint policy allows the sts:GetCallerIdentity action" in denied.value.response["Error"]["Message"]


# -- KMS -------------------------------------------------------------------------------------------


def test_kms_encrypt_decrypt_round_trip(tmp_path):
    kms = clients(tmp_path, "kms", INTERNET)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=key)
    blob = kms.encrypt(KeyId="alias/app", Plaintext=b"hunter2")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hunter2"
    assert [e["action"] for e in logged(tmp_path)][-3:] == ["kms:CreateAlias", "kms:Encrypt", "kms:Decrypt"]


def test_kms_policy_on_a_key_meets_its_alias_its_arn_and_its_ciphertext(tmp_path):
    """A Deny on one key's ARN: by key id, key ARN, alias name, alias ARN, and Decrypt with no KeyId
    (the key read from the ciphertext, as moto reads it)."""
    internet = clients(tmp_path, "kms", INTERNET)
    key = internet.create_key()["KeyMetadata"]
    internet.create_alias(AliasName="alias/secret", TargetKeyId=key["KeyId"])
    blob = internet.encrypt(KeyId=key["KeyId"], Plaintext=b"s")["CiphertextBlob"]
    kms = clients(tmp_path, "kms", endpoint(ALL_BUT, {"Effect": "Deny", "Action": "kms:*", "Resource": key["Arn"]}))
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/secret"
    for key_id in (key["KeyId"], key["Arn"], "alias/secret", alias_arn):
        with pytest.raises(ClientError) as denied:
            kms.encrypt(KeyId=key_id, Plaintext=b"x")
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException", key_id
    for attempt in (lambda: kms.decrypt(CiphertextBlob=blob), lambda: kms.decrypt(CiphertextBlob=blob, KeyId="alias/other")):
        with pytest.raises(ClientError) as denied:
            attempt()
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
        assert key["Arn"] in denied.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as moved:  # pointing the alias elsewhere needs the key too
        kms.update_alias(AliasName="alias/secret", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    assert moved.value.response["Error"]["Code"] == "AccessDeniedException"


def test_kms_decrypt_naming_another_key_than_its_ciphertexts(tmp_path):
    """An allowed KeyId does not unlock a ciphertext of a denied key: moto decrypts with the
    ciphertext's key, so the front authorizes that one."""
    internet = clients(tmp_path, "kms", INTERNET)
    secret = internet.create_key()["KeyMetadata"]
    open_key = internet.create_key()["KeyMetadata"]
    blob = internet.encrypt(KeyId=secret["KeyId"], Plaintext=b"s")["CiphertextBlob"]
    kms = clients(tmp_path, "kms", endpoint({"Effect": "Allow", "Action": "kms:*", "Resource": open_key["Arn"]}))
    with pytest.raises(ClientError) as denied:
        kms.decrypt(CiphertextBlob=blob, KeyId=open_key["KeyId"])
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "because no VPC endpoint policy allows the kms:Decrypt action" in denied.value.response["Error"]["Message"]


def test_a_body_nested_past_pythons_limit_is_refused_not_a_traceback(tmp_path):
    deep = b'{"a":' * 100000 + b"1" + b"}" * 100000
    app = front_app("sqs", REGION, INTERNET, tmp_path / "requests.jsonl")
    answer = call(app, signed_environ("POST", SQS_URL, deep, {"X-Amz-Target": "AmazonSQS.ListQueues"}, service="sqs"))
    assert answer.status_code == 400 and "SerializationException" in answer.headers["x-amzn-query-error"]


def test_a_presigned_sts_url_is_good_for_its_signed_method_only(tmp_path):
    """botocore presigns a query-protocol call for its HTTP method (POST), its parameters in the URL."""
    sts = client(front_app("sts", REGION, INTERNET, tmp_path / "requests.jsonl"), "sts", REGION)
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60)
    app = front_app("sts", REGION, INTERNET, tmp_path / "requests.jsonl")
    assert call(app, environ("POST", url)).status_code == 200
    refused = call(app, environ("GET", url))
    assert refused.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in refused.get_data()


# -- the front and moto agree on the queue -------------------------------------------------------

QUEUE_URL_PARTS = st.lists(
    st.sampled_from(
        [
            "https://",
            "http://",
            "sqs.ap-northeast-2.amazonaws.com",
            "localhost",
            "/",
            "//",
            ACCOUNT_ID,
            "999999999999",
            "secret-jobs",
            "jobs",
            "?x=/secret-jobs",
            "#secret-jobs",
            "%2F",
            "..",
            ".",
            "secret-jobs/",
            " ",
        ]
    ),
    max_size=7,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(parts=QUEUE_URL_PARTS)
@example(parts=["https://", "sqs.ap-northeast-2.amazonaws.com", "/", ACCOUNT_ID, "/", "secret-jobs"])
def test_no_queue_url_sends_to_the_denied_queue(tmp_path, parts):
    """Whatever the QueueUrl, a message moto stores in secret-jobs was authorized for secret-jobs:
    with SendMessage denied on it, it stays empty (and jobs takes only what was allowed)."""
    for account in sqs_backends.values():
        for backend in account.values():
            backend.reset()
    internet = clients(tmp_path, "sqs", INTERNET)
    for name in ("jobs", "secret-jobs"):
        internet.create_queue(QueueName=name)
    secret = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:secret-jobs"
    app = front_app(
        "sqs",
        REGION,
        endpoint(ALL_BUT, {"Effect": "Deny", "Action": "sqs:SendMessage", "Resource": secret}),
        tmp_path / "requests.jsonl",
    )
    body = json.dumps({"QueueUrl": "".join(parts), "MessageBody": "x"}).encode()
    call(app, signed_environ("POST", SQS_URL, body, {"X-Amz-Target": "AmazonSQS.SendMessage"}, service="sqs"))
    assert sqs_backends[ACCOUNT_ID][REGION].queues["secret-jobs"]._messages == []


def test_temporary_credentials_from_sts_are_not_accepted(tmp_path):
    """moto issues them (under the lab's key id, as its fixed example key, with a secret of its own),
    but the lab's one principal is the account's root user: its key pair only, so a request signed
    with them does not verify."""
    app = front_app("sts", REGION, INTERNET, tmp_path / "requests.jsonl")
    issued = client(app, "sts", REGION).get_session_token()["Credentials"]
    keys = {
        "aws_access_key_id": issued["AccessKeyId"],
        "aws_secret_access_key": issued["SecretAccessKey"],
        "aws_session_token": issued["SessionToken"],
    }
    with pytest.raises(ClientError) as refused:
        client(app, "sts", REGION, keys).get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


@pytest.mark.parametrize("service", ["s3", "dynamodb", *sorted(SERVICES)])
def test_the_probe_signs_for_the_service_its_target_names(monkeypatch, service):
    """`vpclab trace`'s GET is signed as an SDK signs for that service (S3's signer for S3 only)."""
    from lab.services.probe import signature

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ids.ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ids.SECRET_ACCESS_KEY)
    headers = signature(f"{service}.us-east-1.amazonaws.com", "/", True)
    assert f"/us-east-1/{service}/aws4_request" in headers["Authorization"]
    assert ("X-Amz-Content-SHA256" in headers) == (service == "s3")
