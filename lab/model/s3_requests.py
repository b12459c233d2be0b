"""How S3 reads and authorizes a request, as data: the bucket and key a Host and path name, the
operation and IAM action they are checked as, and the condition keys S3 fills. Pure, so the service
front (lab.services.s3front) and the static explanation (lab.analysis.explain) decide with the same
rules, and the front hands its backend exactly what it authorized.

Addressing (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html): a Host that
is an S3 endpoint is path style (`/bucket/key`); `<bucket>.<endpoint>` is virtual-hosted style; any
other name is the bucket itself (a CNAME to S3: "the bucket name must be the same as the CNAME");
an IP address is path style. The path is percent-decoded once and never normalized: `a//b` and
`../x` are keys of their own.

Which keys S3 sees (aws-behaviour.md section 1; https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):
through an endpoint aws:SourceVpce (the vpce id), aws:SourceVpc (its VPC) and aws:VpcSourceIp (the
private address) and no aws:SourceIp; from the internet only aws:SourceIp (the public address S3
saw). Always aws:SecureTransport, and for a signed request the caller, the account's root user.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote_to_bytes

from lab.model import regions
from lab.model.endpoint_names import endpoint_name_parts
from lab.model.ids import ACCOUNT_ID
from lab.model.s3_names import MAX_KEY_BYTES, bucket_name_problem
from lab.model.s3_operations import Operation, identify

ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"

# S3's endpoint names, longest first so that the most specific suffix wins ('*.' are their
# virtual-hosted forms).
S3_ENDPOINTS = tuple(
    sorted(
        {n for svc in regions.all_services() if svc.service == "s3" for n in svc.hostnames if not n.startswith("*.")},
        key=len,
        reverse=True,
    )
)
# What a request may name as a bucket: the naming rules' alphabet and length
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class S3Refusal(Exception):
    """An answer S3 gives before any bucket is touched: status, S3 error code, message, extra elements."""

    status: int
    code: str
    message: str
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class S3Target:
    bucket: str | None  # None: the request names the service (ListBuckets)
    key: str | None  # None: the request names the bucket

    @property
    def level(self) -> str:
        return "object" if self.key is not None else "bucket" if self.bucket is not None else "service"

    @property
    def arn(self) -> str:
        if self.bucket is None:
            return "*"  # ListBuckets acts on no resource: only "Resource": "*" covers it
        return f"arn:aws:s3:::{self.bucket}" + (f"/{self.key}" if self.key is not None else "")


def _host_name(host: str) -> str:
    """The name a Host header carries: lower case, without the port (the lab is IPv4 only) and
    without the root's trailing dot, which names the same DNS name."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return name.lower().removesuffix(".")


def _is_address(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
        return True
    except ValueError:
        return False


def decode_path(raw_path: str) -> str:
    """The path as S3 reads it: percent-decoded once as UTF-8; anything else is S3's InvalidURI."""
    try:
        return unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise S3Refusal(400, "InvalidURI", "Couldn't parse the specified URI.") from None


def parse_target(host: str, raw_path: str) -> S3Target:
    """The bucket and key a request names, from its Host header and its raw (undecoded) path."""
    name, path = _host_name(host), decode_path(raw_path)
    if not path.startswith("/"):
        raise S3Refusal(400, "InvalidURI", "Couldn't parse the specified URI.")
    vpce = endpoint_name_parts(name)
    if vpce and vpce.group("service") == "s3":
        name = endpoint_host(vpce.group("label"))
    endpoint = next((e for e in S3_ENDPOINTS if name == e or name.endswith("." + e)), None)
    if endpoint == name or not name or _is_address(name):  # path style
        bucket, slash, key = path[1:].partition("/")
        # only `/` names the service: `//bucket/key` names the empty bucket, which S3 refuses, never
        # a key without a bucket (an object action on "*" that the backend would read as ListBuckets)
        target = S3Target(bucket if bucket or slash else None, key if slash and key else None)
    else:  # virtual-hosted, or a CNAME whose whole name is the bucket's
        target = S3Target(name[: -len(endpoint) - 1] if endpoint else name, path[1:] or None)
    return checked(target)


def endpoint_host(label: str | None) -> str:
    """What an interface endpoint's name addresses, as the regional name would: its bare name and
    `bucket.vpce-...` are path style (boto3 and the AWS CLI given it as --endpoint-url put the bucket
    in the path), `<bucket>.bucket.vpce-...` is virtual-hosted. Access points and S3 Control
    (`accesspoint.`, `control.`) are not emulated."""
    if label is None or label == "bucket":
        return ""
    if label.endswith(".bucket"):
        return label.removesuffix(".bucket")
    raise S3Refusal(
        501,
        "NotImplemented",
        f"vpclab does not emulate S3's {label.split('.')[-1]} API; use the endpoint's bucket. name",
    )


def checked(target: S3Target) -> S3Target:
    """`target`, if S3 takes its bucket name and key; else S3's error."""
    if target.bucket is not None and not BUCKET_NAME.fullmatch(target.bucket):
        raise S3Refusal(400, "InvalidBucketName", "The specified bucket is not valid.", {"BucketName": target.bucket})
    if target.key is not None and len(target.key.encode()) > MAX_KEY_BYTES:
        raise S3Refusal(400, "KeyTooLongError", "Your key is too long", {"MaxSizeAllowed": str(MAX_KEY_BYTES)})
    return target


def operation(method: str, target: S3Target, params: AbstractSet[str], headers: AbstractSet[str]) -> Operation:
    """The operation S3 runs for this request; S3's own error where it has none (any method S3 does not
    know, a lower-case one included) or vpclab lacks it."""
    op = identify(method, target.level, params, headers)
    if op is None:
        raise S3Refusal(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            {"Method": method, "ResourceType": target.level.upper()},
        )
    if op.name == "CreateBucket" and bucket_name_problem(target.bucket or ""):
        raise S3Refusal(400, "InvalidBucketName", "The specified bucket is not valid.", {"BucketName": target.bucket or ""})
    if op.action is None:
        raise S3Refusal(
            501,
            "NotImplemented",
            f"vpclab does not emulate S3's {op.name}; the lab's S3 serves "
            "object, bucket and configuration operations (docs/architecture.md)",
        )
    return op


def s3_action(method: str, bucket: str | None, key: str | None, query: str) -> tuple[str | None, str]:
    """The IAM action and resource ARN S3 authorizes a request as (None for a request S3 refuses
    before authorizing it, such as an OPTIONS preflight)."""
    target = S3Target(bucket, key)
    params = set(parse_qs(query, keep_blank_values=True))
    try:
        return operation(method, target, params, set()).action_for(params), target.arn
    except S3Refusal:
        return None, target.arn


# S3's own condition keys that a request carries (a Deny conditioned on a key the front left out
# would never apply): https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html#amazons3-policy-keys,
# the signature's https://docs.aws.amazon.com/AmazonS3/latest/API/bucket-policy-s3-sigv4-conditions.html,
# the tags' https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-and-policies.html.
HEADER_KEYS = (
    "x-amz-acl",
    "x-amz-content-sha256",
    "x-amz-copy-source",
    "x-amz-grant-full-control",
    "x-amz-grant-read",
    "x-amz-grant-read-acp",
    "x-amz-grant-write",
    "x-amz-grant-write-acp",
    "x-amz-metadata-directive",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
    "x-amz-object-ownership",
)
LIST_KEYS = {"s3:ListBucket": ("prefix", "delimiter", "max-keys"), "s3:ListBucketVersions": ("prefix", "delimiter", "max-keys")}


def request_keys(
    action: str,
    params: dict[str, str],
    headers: dict[str, str],
    auth: str | None,
    tags: list[tuple[str, str]],
    on_bucket: bool = True,
) -> dict[str, str]:
    """S3's condition keys of one request, lower-cased: from its headers (lower-case names), query
    parameters, the way it was signed (`auth`: REST-HEADER, REST-QUERY-STRING or None) and the tags
    it sets. A presigned URL's payload is always UNSIGNED-PAYLOAD. Every bucket is the lab account's
    (`on_bucket`: the request names one; ListAllMyBuckets names none)."""
    keys = {f"s3:{h}": headers[h] for h in HEADER_KEYS if h in headers}
    if on_bucket:
        keys |= {"s3:ResourceAccount": ACCOUNT_ID, "aws:ResourceAccount": ACCOUNT_ID}
    keys |= {f"s3:{p}": params[p] for p in LIST_KEYS.get(action, ()) if p in params}
    keys |= {f"s3:RequestObjectTag/{k}": v for k, v in tags}
    if "versionId" in params:
        keys["s3:VersionId"] = params["versionId"]
    if auth is not None:
        keys |= {"s3:authType": auth, "s3:signatureversion": "AWS4-HMAC-SHA256"}
    if auth == "REST-QUERY-STRING":
        keys["s3:x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    keys |= {name: headers[h] for h, name in (("user-agent", "aws:UserAgent"), ("referer", "aws:Referer")) if h in headers}
    return {k.lower(): v for k, v in keys.items()}


def request_context(
    https: bool, is_signed: bool, source_ip: str, vpce_id: str | None, vpc_id: str | None, now: datetime | None = None
) -> dict[str, str]:
    """The global condition keys of one request, lower-cased (IAM ignores their case): the caller
    (the account's root user, or anonymous), how it came (TLS, its address or endpoint) and when."""
    when = now or datetime.now(UTC)
    keys = {
        "aws:SecureTransport": "true" if https else "false",
        "aws:ViaAWSService": "false",
        "aws:PrincipalIsAWSService": "false",
        "aws:CurrentTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(when.timestamp())),
    }
    if is_signed:
        keys |= {
            "aws:PrincipalArn": ROOT,
            "aws:PrincipalAccount": ACCOUNT_ID,
            "aws:PrincipalType": "Account",
            "aws:userid": ACCOUNT_ID,
        }
    else:
        keys |= {"aws:PrincipalType": "Anonymous", "aws:userid": "anonymous"}
    if vpce_id:
        keys |= {"aws:SourceVpce": vpce_id, "aws:SourceVpc": vpc_id or "", "aws:VpcSourceIp": source_ip}
    else:
        keys["aws:SourceIp"] = source_ip
    return {k.lower(): v for k, v in keys.items()}
