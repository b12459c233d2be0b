"""The S3 front of one ingress: every request is read once, checked as S3 checks it, and handed to
moto only in the canonical form of what was authorized (lab.services.s3_backend).

The steps, in S3's order: read the bucket, key and operation off the Host, raw path, method and
query (lab.model.s3_requests; S3's own error for a shape S3 refuses); send a bucket of another
region to its region (301 PermanentRedirect); check the declared payload, then verify the
signature over it (lab.services.sigv4; unsigned is anonymous), and only then read the body, for an
operation that has one (lab.services.s3_chunked: digests checked, aws-chunked decoded); evaluate
the endpoint and bucket policies for every action the request needs, including CopyObject's source
and each key of a DeleteObjects (lab.services.authorize); refuse ACLs, which S3 disables on new
buckets; then moto, which serves exactly that operation. A CORS preflight is answered by the front
from the bucket's CORS rules (lab.services.s3_cors).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

from lab.model.policy import PolicyDocument
from lab.model.s3_operations import ACL_HEADERS, COPY, WRITES_OBJECT
from lab.model.s3_requests import S3Refusal, S3Target, checked, decode_path, operation, parse_target
from lab.services import s3_backend, s3_chunked, sigv4
from lab.services.access import TARGET_KEY
from lab.services.authorize import S3Policies, is_bucket_policy_action
from lab.services.body import MAX_BODY, BodyTooLarge
from lab.services.config import Ingress
from lab.services.s3_bucket_policy import bucket_policy_answer
from lab.services.s3_call import S3Call
from lab.services.s3_cors import preflight
from lab.services.s3_delete import delete_objects
from lab.services.s3_lookups import check_upload, object_tags
from lab.services.s3errors import s3_error, signature_refusal, wrong_region

log = logging.getLogger(__name__)

OWNER_ONLY_ACLS = ("bucket-owner-full-control", "private")  # the owner's full control, nobody else's
SETS_ACL = (*WRITES_OBJECT, "CreateBucket", "PutObjectAcl", "PutBucketAcl")


def raw_path(environ: dict) -> str:
    """The path exactly as the client sent it (the request target may be absolute-form)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "/"))
    return (urlsplit(raw).path or "/") if raw.startswith(("http://", "https://")) else raw.split("?", 1)[0]


def query_pairs(environ: dict) -> list[tuple[str, str]]:
    return parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)


def header_names(environ: dict) -> set[str]:
    return {k[5:].lower().replace("_", "-") for k in environ if k.startswith("HTTP_")}


def copy_source(environ: dict) -> tuple[S3Target, str | None]:
    """x-amz-copy-source: `bucket/key` (optionally `/bucket/key`), URL-encoded, `?versionId=`."""
    value = environ.get("HTTP_X_AMZ_COPY_SOURCE", "")
    path, _, query = value.partition("?")
    if value.startswith("arn:"):
        raise S3Refusal(501, "NotImplemented", "vpclab does not emulate access points as copy sources")
    bucket, _, key = decode_path(path).removeprefix("/").partition("/")
    if not bucket or not key:
        raise S3Refusal(
            400,
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            {"ArgumentName": "x-amz-copy-source", "ArgumentValue": value},
        )
    return checked(S3Target(bucket, key)), s3_backend.first_values(parse_qsl(query)).get("versionId")


def read_call(environ: dict, target: S3Target, region: str) -> S3Call:
    """Everything S3 reads before it authorizes (S3Refusal or SignatureProblem where S3 refuses)."""
    method, pairs = environ.get("REQUEST_METHOD", ""), query_pairs(environ)
    headers = frozenset(header_names(environ))
    op = operation(method, target, {k for k, _ in pairs}, headers)
    signed = sigv4.claimed(environ)
    payload = s3_chunked.declared(environ, signed)
    if signed is not None:
        sigv4.verify(environ, signed, raw_path(environ), payload, service="s3", region=region, s3=True)
    if s3_backend.operation_shape(op.name).body:  # S3 ignores the body of any other operation
        s3_chunked.read_payload(environ, payload, signed, op.name)
    return S3Call(target, op, pairs, signed, copy_source(environ) if COPY in op.needs else None, headers)


def acls_refused(environ: dict, call: S3Call) -> S3Refusal | None:
    """Buckets S3 makes today have ACLs disabled (Object Ownership: bucket owner enforced): a request
    that sets any ACL but the owner's own fails with AccessControlListNotSupported, a CreateBucket
    with InvalidBucketAclWithObjectOwnership
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html)."""
    if call.op.name not in SETS_ACL:
        return None
    canned = environ.get("HTTP_X_AMZ_ACL")
    grants = any(h in call.headers for h in ACL_HEADERS if h != "x-amz-acl")
    in_body = call.op.name in ("PutObjectAcl", "PutBucketAcl") and canned is None and not grants
    if not (grants or in_body or (canned is not None and canned not in OWNER_ONLY_ACLS)):
        return None
    if call.op.name == "CreateBucket":
        return S3Refusal(
            400,
            "InvalidBucketAclWithObjectOwnership",
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        )
    return S3Refusal(400, "AccessControlListNotSupported", "The bucket does not allow ACLs")


class S3Front:
    """WSGI app for one ingress of an S3 front: reads, verifies, authorizes, then calls moto."""

    def __init__(
        self,
        backend: Callable,
        region: str,
        ingress: Ingress,
        bucket_policies: Mapping[str, PolicyDocument],
        elsewhere: Mapping[str, str],
        control: Path | None = None,
    ):
        """`control`: the lab controller's socket, which takes the bucket policies put and deleted."""
        self.backend, self.region, self.elsewhere, self.control = backend, region, elsewhere, control
        s3_backend.opaque_bodies(backend)
        self.policies = S3Policies(
            ingress, region, bucket_policies, lambda bucket, key, version: object_tags(backend, region, bucket, key, version)
        )

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            return self.serve(environ, start_response)
        except S3Refusal as refusal:
            return s3_error(environ, start_response, refusal)
        except sigv4.SignatureProblem as problem:
            return s3_error(environ, start_response, signature_refusal(problem))
        except BodyTooLarge:
            return s3_error(
                environ,
                start_response,
                S3Refusal(
                    400,
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                    {"MaxSizeAllowed": str(MAX_BODY)},
                ),
            )

    def serve(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        target = parse_target(environ.get("HTTP_HOST", ""), raw_path(environ))
        environ[TARGET_KEY] = target
        if target.bucket is not None and target.bucket in self.elsewhere:
            return wrong_region(environ, start_response, target.bucket, self.elsewhere[target.bucket])
        if environ.get("REQUEST_METHOD") == "OPTIONS":  # a CORS preflight: no IAM action, no data, not for moto
            return preflight(environ, start_response, target, self.backend, self.region)
        call = read_call(environ, target, self.region)
        if call.op.name == "DeleteObjects":
            return delete_objects(environ, start_response, call, self.policies, self.to_backend)
        denial = self.policies.check(environ, call)
        if denial is not None:
            return s3_error(environ, start_response, denial)
        refused = acls_refused(environ, call)
        if refused is not None:
            return s3_error(environ, start_response, refused)
        if call.op.action is not None and call.target.bucket is not None and is_bucket_policy_action(call.op.action):
            return bucket_policy_answer(
                environ,
                start_response,
                call.op.action,
                call.target.bucket,
                self.policies.bucket_policy(call.target.bucket),
                self.control,
                self.region,
            )
        if "uploadId" in call.op.needs:
            check_upload(self.backend, self.region, call.target, s3_backend.first_values(call.pairs)["uploadId"])
        return self.to_backend(environ, start_response, call)

    def to_backend(self, environ: dict, start_response: Callable, call: S3Call) -> Iterable[bytes]:
        source = None
        if call.copy_source is not None:
            src, version = call.copy_source
            source = quote(f"{src.bucket}/{src.key}", safe="/") + (f"?versionId={quote(version)}" if version else "")
        s3_backend.rewrite(environ, call.op, call.target, call.pairs, self.region, source)
        try:
            return self.backend(environ, start_response)
        except Exception:  # noqa: BLE001 - moto (debug app) raises where S3 answers an error, e.g. a body it cannot parse
            log.exception("moto raised on %s %s", call.op.name, s3_backend.object_path(call.target))
            raise S3Refusal(500, "InternalError", "We encountered an internal error. Please try again.") from None
