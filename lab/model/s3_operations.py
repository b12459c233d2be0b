"""Which S3 API operation a request is, and which IAM action S3 authorizes it as. Pure data.

S3 tells its operations apart by method, by what the path names (the service, a bucket or an
object), by one query-string subresource (`?acl`, `?tagging`, ...) and by a few required parameters
or headers (`uploadId`, `x-amz-copy-source`); other query parameters are ignored. The shapes are
those of the S3 API reference (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html);
the actions those of https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html.

An operation S3 has but vpclab does not authorize (S3 Metadata, annotations, directory buckets) is
known by name with no action: the front answers it with S3's NotImplemented, never passes it on.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    level: str  # 'service', 'bucket' or 'object': what the path names
    marker: str | None = None  # the subresource query parameter that selects it
    needs: tuple[str, ...] = ()  # query parameters (lower-case 'x-amz-...' names: headers) it requires
    action: str | None = None  # the IAM action; None: not emulated
    version_action: str | None = None  # the action when the request names a versionId

    def action_for(self, params: Collection[str]) -> str | None:
        return self.version_action if self.version_action and "versionId" in params else self.action


def _bucket_config(marker: str, get: str, put: str, delete: str | None, *names: str) -> list[Operation]:
    """A bucket configuration subresource: Get<names[0]>, Put<names[1]>, Delete<names[2]>."""
    ops = [Operation(names[0], "GET", "bucket", marker, action=get), Operation(names[1], "PUT", "bucket", marker, action=put)]
    return ops + ([Operation(names[2], "DELETE", "bucket", marker, action=delete)] if delete else [])


def _object_sub(marker: str, verb_action: dict[str, tuple[str, str | None, str | None]]) -> list[Operation]:
    return [
        Operation(name, method, "object", marker, action=action, version_action=version)
        for method, (name, action, version) in verb_action.items()
    ]


COPY = "x-amz-copy-source"

OPERATIONS: tuple[Operation, ...] = tuple(
    [
        Operation("ListBuckets", "GET", "service", action="s3:ListAllMyBuckets"),
        Operation("CreateBucket", "PUT", "bucket", action="s3:CreateBucket"),
        Operation("DeleteBucket", "DELETE", "bucket", action="s3:DeleteBucket"),
        Operation("HeadBucket", "HEAD", "bucket", action="s3:ListBucket"),
        Operation("ListObjects", "GET", "bucket", action="s3:ListBucket"),
        Operation("ListObjectsV2", "GET", "bucket", "list-type", action="s3:ListBucket"),
        Operation("ListObjectVersions", "GET", "bucket", "versions", action="s3:ListBucketVersions"),
        Operation("ListMultipartUploads", "GET", "bucket", "uploads", action="s3:ListBucketMultipartUploads"),
        Operation("GetBucketLocation", "GET", "bucket", "location", action="s3:GetBucketLocation"),
        Operation("GetBucketPolicyStatus", "GET", "bucket", "policyStatus", action="s3:GetBucketPolicyStatus"),
        Operation("DeleteObjects", "POST", "bucket", "delete", action="s3:DeleteObject", version_action="s3:DeleteObjectVersion"),
        *_bucket_config(
            "policy",
            "s3:GetBucketPolicy",
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "GetBucketPolicy",
            "PutBucketPolicy",
            "DeleteBucketPolicy",
        ),
        *_bucket_config("acl", "s3:GetBucketAcl", "s3:PutBucketAcl", None, "GetBucketAcl", "PutBucketAcl"),
        *_bucket_config(
            "cors",
            "s3:GetBucketCORS",
            "s3:PutBucketCORS",
            "s3:PutBucketCORS",
            "GetBucketCors",
            "PutBucketCors",
            "DeleteBucketCors",
        ),
        *_bucket_config(
            "encryption",
            "s3:GetEncryptionConfiguration",
            "s3:PutEncryptionConfiguration",
            "s3:PutEncryptionConfiguration",
            "GetBucketEncryption",
            "PutBucketEncryption",
            "DeleteBucketEncryption",
        ),
        *_bucket_config(
            "intelligent-tiering",
            "s3:GetIntelligentTieringConfiguration",
            "s3:PutIntelligentTieringConfiguration",
            "s3:PutIntelligentTieringConfiguration",
            "GetBucketIntelligentTieringConfiguration",
            "PutBucketIntelligentTieringConfiguration",
            "DeleteBucketIntelligentTieringConfiguration",
        ),
        *_bucket_config(
            "inventory",
            "s3:GetInventoryConfiguration",
            "s3:PutInventoryConfiguration",
            "s3:PutInventoryConfiguration",
            "GetBucketInventoryConfiguration",
            "PutBucketInventoryConfiguration",
            "DeleteBucketInventoryConfiguration",
        ),
        *_bucket_config(
            "lifecycle",
            "s3:GetLifecycleConfiguration",
            "s3:PutLifecycleConfiguration",
            "s3:PutLifecycleConfiguration",
            "GetBucketLifecycleConfiguration",
            "PutBucketLifecycleConfiguration",
            "DeleteBucketLifecycle",
        ),
        *_bucket_config(
            "metrics",
            "s3:GetMetricsConfiguration",
            "s3:PutMetricsConfiguration",
            "s3:PutMetricsConfiguration",
            "GetBucketMetricsConfiguration",
            "PutBucketMetricsConfiguration",
            "DeleteBucketMetricsConfiguration",
        ),
        *_bucket_config(
            "analytics",
            "s3:GetAnalyticsConfiguration",
            "s3:PutAnalyticsConfiguration",
            "s3:PutAnalyticsConfiguration",
            "GetBucketAnalyticsConfiguration",
            "PutBucketAnalyticsConfiguration",
            "DeleteBucketAnalyticsConfiguration",
        ),
        *_bucket_config(
            "ownershipControls",
            "s3:GetBucketOwnershipControls",
            "s3:PutBucketOwnershipControls",
            "s3:PutBucketOwnershipControls",
            "GetBucketOwnershipControls",
            "PutBucketOwnershipControls",
            "DeleteBucketOwnershipControls",
        ),
        *_bucket_config(
            "replication",
            "s3:GetReplicationConfiguration",
            "s3:PutReplicationConfiguration",
            "s3:PutReplicationConfiguration",
            "GetBucketReplication",
            "PutBucketReplication",
            "DeleteBucketReplication",
        ),
        *_bucket_config(
            "tagging",
            "s3:GetBucketTagging",
            "s3:PutBucketTagging",
            "s3:PutBucketTagging",
            "GetBucketTagging",
            "PutBucketTagging",
            "DeleteBucketTagging",
        ),
        *_bucket_config(
            "website",
            "s3:GetBucketWebsite",
            "s3:PutBucketWebsite",
            "s3:DeleteBucketWebsite",
            "GetBucketWebsite",
            "PutBucketWebsite",
            "DeleteBucketWebsite",
        ),
        *_bucket_config(
            "publicAccessBlock",
            "s3:GetBucketPublicAccessBlock",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketPublicAccessBlock",
            "GetPublicAccessBlock",
            "PutPublicAccessBlock",
            "DeletePublicAccessBlock",
        ),
        *_bucket_config(
            "accelerate",
            "s3:GetAccelerateConfiguration",
            "s3:PutAccelerateConfiguration",
            None,
            "GetBucketAccelerateConfiguration",
            "PutBucketAccelerateConfiguration",
        ),
        *_bucket_config("logging", "s3:GetBucketLogging", "s3:PutBucketLogging", None, "GetBucketLogging", "PutBucketLogging"),
        *_bucket_config(
            "notification",
            "s3:GetBucketNotification",
            "s3:PutBucketNotification",
            None,
            "GetBucketNotificationConfiguration",
            "PutBucketNotificationConfiguration",
        ),
        *_bucket_config(
            "requestPayment",
            "s3:GetBucketRequestPayment",
            "s3:PutBucketRequestPayment",
            None,
            "GetBucketRequestPayment",
            "PutBucketRequestPayment",
        ),
        *_bucket_config(
            "versioning", "s3:GetBucketVersioning", "s3:PutBucketVersioning", None, "GetBucketVersioning", "PutBucketVersioning"
        ),
        *_bucket_config(
            "object-lock",
            "s3:GetBucketObjectLockConfiguration",
            "s3:PutBucketObjectLockConfiguration",
            None,
            "GetObjectLockConfiguration",
            "PutObjectLockConfiguration",
        ),
        Operation("GetObject", "GET", "object", action="s3:GetObject", version_action="s3:GetObjectVersion"),
        Operation("HeadObject", "HEAD", "object", action="s3:GetObject", version_action="s3:GetObjectVersion"),
        Operation("PutObject", "PUT", "object", action="s3:PutObject"),
        Operation("CopyObject", "PUT", "object", needs=(COPY,), action="s3:PutObject"),
        Operation("DeleteObject", "DELETE", "object", action="s3:DeleteObject", version_action="s3:DeleteObjectVersion"),
        Operation("CreateMultipartUpload", "POST", "object", "uploads", action="s3:PutObject"),
        Operation("UploadPart", "PUT", "object", needs=("partNumber", "uploadId"), action="s3:PutObject"),
        Operation("UploadPartCopy", "PUT", "object", needs=("partNumber", "uploadId", COPY), action="s3:PutObject"),
        Operation("CompleteMultipartUpload", "POST", "object", needs=("uploadId",), action="s3:PutObject"),
        Operation("AbortMultipartUpload", "DELETE", "object", needs=("uploadId",), action="s3:AbortMultipartUpload"),
        Operation("ListParts", "GET", "object", needs=("uploadId",), action="s3:ListMultipartUploadParts"),
        Operation("RestoreObject", "POST", "object", "restore", action="s3:RestoreObject"),
        Operation("SelectObjectContent", "POST", "object", "select", action="s3:GetObject"),
        *_object_sub(
            "acl",
            {
                "GET": ("GetObjectAcl", "s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
                "PUT": ("PutObjectAcl", "s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
            },
        ),
        *_object_sub(
            "tagging",
            {
                "GET": ("GetObjectTagging", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
                "PUT": ("PutObjectTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
                "DELETE": ("DeleteObjectTagging", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
            },
        ),
        *_object_sub("attributes", {"GET": ("GetObjectAttributes", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes")}),
        *_object_sub(
            "legal-hold",
            {
                "GET": ("GetObjectLegalHold", "s3:GetObjectLegalHold", None),
                "PUT": ("PutObjectLegalHold", "s3:PutObjectLegalHold", None),
            },
        ),
        *_object_sub(
            "retention",
            {
                "GET": ("GetObjectRetention", "s3:GetObjectRetention", None),
                "PUT": ("PutObjectRetention", "s3:PutObjectRetention", None),
            },
        ),
        *_object_sub("torrent", {"GET": ("GetObjectTorrent", "s3:GetObjectTorrent", "s3:GetObjectVersionTorrent")}),
        # S3 has these; vpclab does not emulate them (no action: NotImplemented, never passed on)
        *(
            Operation(name, method, level, marker)
            for name, method, level, marker in (
                ("PostObject", "POST", "bucket", None),  # browser-based upload with an HTML form and a POST policy
                ("CreateSession", "GET", "bucket", "session"),
                ("GetBucketAbac", "GET", "bucket", "abac"),
                ("PutBucketAbac", "PUT", "bucket", "abac"),
                ("CreateBucketMetadataConfiguration", "POST", "bucket", "metadataConfiguration"),
                ("GetBucketMetadataConfiguration", "GET", "bucket", "metadataConfiguration"),
                ("DeleteBucketMetadataConfiguration", "DELETE", "bucket", "metadataConfiguration"),
                ("CreateBucketMetadataTableConfiguration", "POST", "bucket", "metadataTable"),
                ("GetBucketMetadataTableConfiguration", "GET", "bucket", "metadataTable"),
                ("DeleteBucketMetadataTableConfiguration", "DELETE", "bucket", "metadataTable"),
                ("UpdateBucketMetadataAnnotationTableConfiguration", "PUT", "bucket", "metadataAnnotationTable"),
                ("UpdateBucketMetadataInventoryTableConfiguration", "PUT", "bucket", "metadataInventoryTable"),
                ("UpdateBucketMetadataJournalTableConfiguration", "PUT", "bucket", "metadataJournalTable"),
                ("GetObjectAnnotation", "GET", "object", "annotation"),
                ("PutObjectAnnotation", "PUT", "object", "annotation"),
                ("DeleteObjectAnnotation", "DELETE", "object", "annotation"),
                ("RenameObject", "PUT", "object", "renameObject"),
                ("UpdateObjectEncryption", "PUT", "object", "encryption"),
            )
        ),
    ]
)

# Headers that make an operation do more, and the action each extra needs on the same resource: an
# object written with an ACL needs s3:PutObjectAcl (a bucket made with one s3:PutBucketAcl; only the
# owner's own ACL gets that far, lab.services.s3front refuses the rest), with tags s3:PutObjectTagging,
# with a retention s3:PutObjectRetention, with a legal hold s3:PutObjectLegalHold (API reference:
# PutObject, CopyObject, CreateMultipartUpload);
# a bucket created with Object Lock needs s3:PutBucketObjectLockConfiguration and
# s3:PutBucketVersioning, with an ownership setting s3:PutBucketOwnershipControls (CreateBucket);
# a delete or retention change that bypasses governance-mode retention s3:BypassGovernanceRetention.
WRITES_OBJECT = ("PutObject", "CopyObject", "CreateMultipartUpload")
ACL_HEADERS = (
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
)
HEADER_ACTIONS = {
    **{h: (WRITES_OBJECT, ("s3:PutObjectAcl",)) for h in ACL_HEADERS},
    "x-amz-tagging": (WRITES_OBJECT, ("s3:PutObjectTagging",)),
    "x-amz-object-lock-mode": (WRITES_OBJECT, ("s3:PutObjectRetention",)),
    "x-amz-object-lock-retain-until-date": (WRITES_OBJECT, ("s3:PutObjectRetention",)),
    "x-amz-object-lock-legal-hold": (WRITES_OBJECT, ("s3:PutObjectLegalHold",)),
    "x-amz-bucket-object-lock-enabled": (("CreateBucket",), ("s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning")),
    "x-amz-object-ownership": (("CreateBucket",), ("s3:PutBucketOwnershipControls",)),
    # "To use this header, you must have the s3:BypassGovernanceRetention permission" (DeleteObject,
    # DeleteObjects, PutObjectRetention); DeleteObjects checks it per key (lab.services.s3_delete)
    "x-amz-bypass-governance-retention": (
        ("DeleteObject", "DeleteObjects", "PutObjectRetention"),
        ("s3:BypassGovernanceRetention",),
    ),
}


BUCKET_ACL = ("CreateBucket",), ("s3:PutBucketAcl",)


def extra_actions(op: Operation, headers: Collection[str]) -> list[str]:
    """The actions beyond `op.action` that the request's headers make it need (HEADER_ACTIONS),
    each once."""
    wanted = [
        action
        for header in sorted(set(headers) & HEADER_ACTIONS.keys())
        for ops, actions in (HEADER_ACTIONS[header], *((BUCKET_ACL,) if header in ACL_HEADERS else ()))
        if op.name in ops
        for action in actions
    ]
    return list(dict.fromkeys(wanted))


def identify(method: str, level: str, params: Collection[str], headers: Collection[str]) -> Operation | None:
    """The operation a request is, or None when S3 has none of that method for what the path names.

    Among the operations whose marker and requirements the request carries, the most specific wins
    (PutObject < CopyObject < UploadPartCopy). Markers and required parameters are read from the
    query only (`params`, its parameter names), required `x-amz-...` headers from the headers only
    (`headers`, lower-case names): a header named `policy` selects nothing. Two subresources at once
    resolve to the first in the table: the front hands moto only that operation's parameters, so it
    cannot act on the other.
    """

    def carries(need: str) -> bool:
        return need in (headers if need.startswith("x-amz-") else params)

    candidates = [
        op
        for op in OPERATIONS
        if op.method == method
        and op.level == level
        and (op.marker is None or op.marker in params)
        and all(map(carries, op.needs))
    ]
    return max(candidates, key=lambda op: (op.marker is not None, len(op.needs)), default=None)
