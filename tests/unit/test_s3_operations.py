"""Which S3 operation a request is, and what it is authorized as: method, what the path names, one
subresource and required parameters or headers, as in S3's API reference; unknown query parameters
are ignored, as S3 ignores them."""

from __future__ import annotations

import pytest

from lab.model.s3_operations import OPERATIONS, extra_actions, identify


@pytest.mark.parametrize(
    "method, level, params, headers, name",
    [
        ("GET", "service", (), (), "ListBuckets"),
        ("GET", "bucket", (), (), "ListObjects"),
        ("GET", "bucket", ("list-type", "prefix"), (), "ListObjectsV2"),
        ("GET", "bucket", ("acl",), (), "GetBucketAcl"),
        ("PUT", "object", (), (), "PutObject"),
        ("PUT", "object", (), ("x-amz-copy-source",), "CopyObject"),
        ("PUT", "object", ("partNumber", "uploadId"), (), "UploadPart"),
        ("PUT", "object", ("partNumber", "uploadId"), ("x-amz-copy-source",), "UploadPartCopy"),
        ("GET", "object", ("uploadId",), (), "ListParts"),
        ("GET", "object", ("response-content-type", "foo"), (), "GetObject"),  # unknown parameters ignored
        ("GET", "object", ("policy",), (), "GetObject"),  # a bucket subresource means nothing on an object
        ("POST", "bucket", ("delete",), (), "DeleteObjects"),
        ("DELETE", "object", ("tagging", "versionId"), (), "DeleteObjectTagging"),
        ("POST", "object", ("select", "select-type"), (), "SelectObjectContent"),
    ],
)
def test_the_operation_a_request_is(method, level, params, headers, name):
    assert identify(method, level, params, headers).name == name


@pytest.mark.parametrize(
    "method, level", [("PUT", "service"), ("POST", "object"), ("HEAD", "service"), ("PATCH", "object"), ("get", "object")]
)
def test_no_operation_of_that_shape(method, level):
    assert identify(method, level, (), ()) is None


def test_versions_and_the_operations_vpclab_does_not_emulate():
    get = identify("GET", "object", ("versionId",), ())
    assert (get.action_for({"versionId"}), get.action_for(set())) == ("s3:GetObjectVersion", "s3:GetObject")
    assert identify("PUT", "object", ("renameObject",), ()).action is None
    assert identify("POST", "bucket", (), ()).name == "PostObject" and identify("POST", "bucket", (), ()).action is None


def test_every_operation_name_is_unique_and_every_action_is_s3s():
    names = [op.name for op in OPERATIONS]
    assert len(names) == len(set(names))
    assert all(op.action is None or op.action.startswith("s3:") for op in OPERATIONS)


def test_headers_that_make_a_write_need_more():
    put = identify("PUT", "object", (), ("x-amz-tagging",))
    assert extra_actions(put, {"x-amz-tagging", "x-amz-object-lock-legal-hold"}) == [
        "s3:PutObjectLegalHold",
        "s3:PutObjectTagging",
    ]
    create = identify("PUT", "bucket", (), ())
    assert extra_actions(create, {"x-amz-bucket-object-lock-enabled"}) == [
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketVersioning",
    ]
    assert extra_actions(identify("GET", "object", (), ()), {"x-amz-tagging"}) == []


def test_markers_come_from_the_query_and_copy_sources_from_the_headers():
    """A header named like a subresource selects nothing; a query parameter named like a header
    makes no copy (S3 reads each from its own place)."""
    assert identify("GET", "bucket", (), ("policy", "location")).name == "ListObjects"
    assert identify("PUT", "object", ("x-amz-copy-source",), ()).name == "PutObject"


def test_an_acl_on_a_write_needs_the_acl_action():
    put = identify("PUT", "object", (), ("x-amz-acl",))
    assert extra_actions(put, {"x-amz-acl"}) == ["s3:PutObjectAcl"]
    assert extra_actions(identify("PUT", "bucket", (), ()), {"x-amz-acl", "x-amz-grant-read"}) == ["s3:PutBucketAcl"]
    assert extra_actions(identify("POST", "object", ("uploads",), ()), {"x-amz-grant-read"}) == ["s3:PutObjectAcl"]
