"""The moto-backed AWS services reached through interface endpoints, as one table: adding one is one
`ApiService` entry here plus its region data (lab.model.regions: its /28, its public names).

Each entry says what the generic front (lab.services.api_front) needs to read a request as AWS reads
it: the protocols the service speaks (query: `Action=` in the query string or a form body; JSON:
`X-Amz-Target: <prefix>.<Operation>`), the SigV4 signing name, the IAM action of each operation
(the operation's own name under the service's prefix unless the table says otherwise), the resource
each call names, how the service words its errors, and the operations vpclab refuses because it
cannot authorize them as AWS does.

Sources: SQS https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html
(the batch calls need the single call's permission) and sqs-json-api-responses.html (JSON errors carry
the query error code in x-amzn-query-error); STS https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
and reference_sts_vpc_endpoint_policies.html; Secrets Manager
https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html;
KMS https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlsplit

from lab.model.ids import ACCOUNT_ID


class ApiError(Exception):
    """An answer in the service's own words: `code` (AccessDenied, InvalidAction, ...), its HTTP
    status, and whether the client (Sender) or the service (Receiver) is at fault."""

    def __init__(self, code: str, message: str, status: int = 400, sender: bool = True):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.sender = code, message, status, sender


# resources(operation, call, region) -> the ARNs the call acts on ("*" for none), in the front's process
Resources = Callable[[str, dict, str], tuple[str, ...]]


@dataclass(frozen=True)
class ApiService:
    name: str  # as in com.amazonaws.<region>.<name>, the regions table and moto's backend
    signing_name: str  # the service in the SigV4 credential scope
    iam_prefix: str  # IAM actions are <iam_prefix>:<action>
    json_target: str | None  # the X-Amz-Target prefix of its JSON protocol; None: it speaks none
    json_version: str  # application/x-amz-json-<version>
    query_version: str | None  # the API version of its query protocol; None: it speaks none
    xmlns: str  # the namespace of its query (XML) answers
    resources: Resources
    warm: str  # a harmless call the front makes once at start, so that moto builds its app before a client waits
    actions: Mapping[str, str] = field(default_factory=dict)  # operation -> IAM action name, where they differ
    not_emulated: frozenset[str] = frozenset()  # operations refused: vpclab cannot authorize them as AWS does
    json_query_codes: bool = False  # JSON errors carry the query protocol's code (SQS's AWS JSON protocol)
    # operations the front answers itself, once authorized: (region) -> the answer's body (query XML)
    front_answers: Mapping[str, Callable[[str], str]] = field(default_factory=dict)

    def action(self, operation: str) -> str:
        return f"{self.iam_prefix}:{self.actions.get(operation, operation)}"

    @property
    def operations(self) -> frozenset[str]:
        return operation_names(self.name)


@cache
def operation_names(service: str) -> frozenset[str]:
    import botocore.session  # the launcher has it imported already

    return frozenset(botocore.session.get_session().get_service_model(service).operation_names)


def arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


# -- SQS -----------------------------------------------------------------------------------------


def queue_name(url: str) -> str:
    """A queue URL's queue (https://sqs.<region>.amazonaws.com/<account>/<name>): the lab has one
    account, so a URL naming another is a queue that does not exist here (the one parse moto also
    makes: it takes the last path segment as the name)."""
    parts = urlsplit(url).path.split("/")
    if len(parts) != 3 or parts[0] or parts[1] != ACCOUNT_ID or not parts[2]:
        raise ApiError("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
    return parts[2]


def sqs_resources(operation: str, call: dict, region: str) -> tuple[str, ...]:
    if isinstance(call.get("QueueUrl"), str):
        return (arn("sqs", region, queue_name(call["QueueUrl"])),)
    if isinstance(call.get("QueueName"), str):
        return (arn("sqs", region, call["QueueName"]),)
    return ("*",)  # ListQueues


# -- STS -----------------------------------------------------------------------------------------


def caller_identity(region: str) -> str:
    """GetCallerIdentity of the lab's one principal, the account's root user (its key is the only
    one the fronts accept): AWS answers the account id as UserId and `arn:aws:iam::<account>:root`
    (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html). moto does not
    know a root user and would name an IAM user `moto`."""
    return (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
        f"<Arn>arn:aws:iam::{ACCOUNT_ID}:root</Arn><UserId>{ACCOUNT_ID}</UserId><Account>{ACCOUNT_ID}</Account>"
        "</GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )


def sts_resources(operation: str, call: dict, region: str) -> tuple[str, ...]:
    """AssumeRole acts on its role; GetFederationToken on the federated user; the rest on "*"."""
    if isinstance(call.get("RoleArn"), str):
        return (call["RoleArn"],)
    if operation == "GetFederationToken" and isinstance(call.get("Name"), str):
        return (f"arn:aws:sts::{ACCOUNT_ID}:federated-user/{call['Name']}",)
    return ("*",)


# -- Secrets Manager -----------------------------------------------------------------------------


def secret_arn(secret_id: str, region: str) -> str:
    """The ARN of the secret moto would act on (name, full or partial ARN, looked up exactly as moto
    looks it up), so that a policy on `secret:prod-AbCdEf` meets every way of naming it; a secret
    that does not exist is named by the ARN its name would have without its random suffix."""
    from moto.secretsmanager.models import secretsmanager_backends

    found = secretsmanager_backends[ACCOUNT_ID][region].secrets.get(secret_id)
    if found is not None:
        return found.arn
    return secret_id if secret_id.startswith("arn:") else arn("secretsmanager", region, f"secret:{secret_id}")


def secrets_resources(operation: str, call: dict, region: str) -> tuple[str, ...]:
    if isinstance(call.get("SecretId"), str):
        return (secret_arn(call["SecretId"], region),)
    if operation == "CreateSecret" and isinstance(call.get("Name"), str):
        return (arn("secretsmanager", region, f"secret:{call['Name']}"),)
    return ("*",)  # ListSecrets, GetRandomPassword


# -- KMS -----------------------------------------------------------------------------------------


def key_arn(key_id: str, region: str) -> str:
    """The ARN of the key moto would use for `key_id` (key id, key ARN, alias name or alias ARN, read
    as moto reads them: the part after ':key/' or ':alias/'), found without moto's side effects (it
    creates an AWS-managed key when asked for its alias); a key that does not exist is named by the
    ARN its id or alias would have. KMS authorizes a call on the key, whatever names it
    (https://docs.aws.amazon.com/kms/latest/developerguide/cmks-in-iam-policies.html)."""
    from moto.kms.models import kms_backends

    backend = kms_backends[ACCOUNT_ID][region]
    alias = backend.get_alias_name(key_id)
    if alias.startswith("alias/"):
        found = next((k for k in backend.keys.values() if alias in k.aliases), None)
        return found.arn if found is not None else arn("kms", region, alias)
    raw = backend.get_key_id(key_id)
    return backend.keys[raw].arn if raw in backend.keys else arn("kms", region, f"key/{raw}")


def ciphertext_key(blob: str, region: str) -> str | None:
    """The key a Decrypt's ciphertext names (moto's ciphertext carries its key id, as KMS's does);
    None for a blob moto cannot read either."""
    from moto.kms.utils import _deserialize_ciphertext_blob

    try:
        return key_arn(_deserialize_ciphertext_blob(base64.b64decode(blob, validate=True)).key_id, region)
    except (ValueError, struct.error, UnicodeDecodeError):
        return None


def kms_resources(operation: str, call: dict, region: str) -> tuple[str, ...]:
    """Decrypt acts on the key of its ciphertext (moto refuses a KeyId naming another); an alias call
    on the alias and on its key (or keys: UpdateAlias's old and new); the listing and creating calls on "*"."""
    if operation == "Decrypt" and isinstance(call.get("CiphertextBlob"), str):
        found = ciphertext_key(call["CiphertextBlob"], region)
        if found is not None:
            return (found,)
    if isinstance(call.get("AliasName"), str):
        alias = call["AliasName"]
        current = key_arn(alias, region)
        targets = (key_arn(call["TargetKeyId"], region),) if isinstance(call.get("TargetKeyId"), str) else ()
        keys = tuple(k for k in (current, *targets) if ":key/" in k)
        name = "alias/" + alias.split(":alias/", 1)[1] if alias.startswith("arn:") and ":alias/" in alias else alias
        return (arn("kms", region, name), *dict.fromkeys(keys))
    if operation != "ListAliases" and isinstance(call.get("KeyId"), str):  # ListAliases' KeyId only filters
        return (key_arn(call["KeyId"], region),)
    return ("*",)


SERVICES: dict[str, ApiService] = {
    s.name: s
    for s in (
        ApiService(
            "sqs",
            "sqs",
            "sqs",
            "AmazonSQS",
            "1.0",
            "2012-11-05",
            "http://queue.amazonaws.com/doc/2012-11-05/",
            sqs_resources,
            "ListQueues",
            actions={
                "SendMessageBatch": "SendMessage",
                "DeleteMessageBatch": "DeleteMessage",
                "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
            },
            # a message-move task names its queue by a task handle or an ARN of any account
            not_emulated=frozenset({"StartMessageMoveTask", "CancelMessageMoveTask", "ListMessageMoveTasks"}),
            json_query_codes=True,
        ),
        ApiService(
            "sts",
            "sts",
            "sts",
            None,
            "1.1",
            "2011-06-15",
            "https://sts.amazonaws.com/doc/2011-06-15/",
            sts_resources,
            "GetCallerIdentity",
            # federated callers are not the lab account's root user, which is the only principal the lab has
            not_emulated=frozenset({"AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "AssumeRoot"}),
            front_answers={"GetCallerIdentity": caller_identity},
        ),
        ApiService(
            "secretsmanager",
            "secretsmanager",
            "secretsmanager",
            "secretsmanager",
            "1.1",
            None,
            "",
            secrets_resources,
            "ListSecrets",
            # needs secretsmanager:GetSecretValue on every secret it returns, which only the answer tells
            not_emulated=frozenset({"BatchGetSecretValue"}),
        ),
        ApiService(
            "kms",
            "kms",
            "kms",
            "TrentService",
            "1.1",
            None,
            "",
            kms_resources,
            "ListKeys",
            # ReEncrypt needs two actions (kms:ReEncryptFrom, kms:ReEncryptTo) on two keys
            not_emulated=frozenset({"ReEncrypt"}),
        ),
    )
}
