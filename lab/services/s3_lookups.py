"""What the S3 front asks moto before it decides, through moto's public API: whose multipart
upload an upload id is, and which tags an object has.

A multipart upload belongs to the one key it was started for: S3 finds an upload by bucket, key
and upload id together, and answers UploadPart, UploadPartCopy, CompleteMultipartUpload,
AbortMultipartUpload and ListParts for any other key with 404 NoSuchUpload
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList: "The specified
multipart upload does not exist"). moto finds an upload by its id alone, so a part sent to a key the
policies allow would land in the upload of a key they deny; the front checks the pair first.

An object's tags fill s3:ExistingObjectTag/<key>, which bucket and endpoint policies may test
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-and-policies.html).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import quote

from werkzeug.test import Client

from lab.model.s3_requests import S3Refusal, S3Target
from lab.services.s3_backend import scope_header
from lab.services.s3_xml import XMLNS, document_tags

NS = f"{{{XMLNS}}}"  # ElementTree's form of S3's namespace


def backend_get(backend: Callable, region: str, path: str, query: str) -> tuple[int, bytes]:
    """moto's answer to a GET of `path` (text, encoded here) and `query` (encoded)."""
    response = Client(backend).get(
        quote(path, safe="/"),
        query_string=query,
        headers={"Host": f"s3.{region}.amazonaws.com", "Authorization": scope_header(region)},
    )
    return response.status_code, response.get_data()


def no_such_upload(upload_id: str) -> S3Refusal:
    return S3Refusal(
        404,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        {"UploadId": upload_id},
    )


def upload_keys(backend: Callable, region: str, target: S3Target, upload_id: str) -> list[str]:
    """The keys moto holds an upload `upload_id` for, among the uploads of keys starting with target's."""
    status, body = backend_get(backend, region, f"/{target.bucket}", f"uploads&prefix={quote(target.key or '', safe='')}")
    uploads = ET.fromstring(body).iter(f"{NS}Upload") if status == 200 else ()
    return [u.findtext(f"{NS}Key") or "" for u in uploads if u.findtext(f"{NS}UploadId") == upload_id]


def check_upload(backend: Callable, region: str, target: S3Target, upload_id: str) -> None:
    """NoSuchUpload unless `upload_id` is an upload of exactly target's bucket and key."""
    if target.key not in upload_keys(backend, region, target, upload_id):
        raise no_such_upload(upload_id)


def object_tags(backend: Callable, region: str, bucket: str, key: str, version: str | None) -> list[tuple[str, str]]:
    """The tags moto holds for an object (none if it does not exist)."""
    query = "tagging" + (f"&versionId={quote(version, safe='')}" if version else "")
    status, body = backend_get(backend, region, f"/{bucket}/{key}", query)
    return document_tags(body) if status == 200 else []
