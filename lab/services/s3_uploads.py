"""A multipart upload belongs to the one key it was started for: S3 finds an upload by bucket, key
and upload id together, and answers UploadPart, UploadPartCopy, CompleteMultipartUpload,
AbortMultipartUpload and ListParts for any other key with 404 NoSuchUpload
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList: "The specified
multipart upload does not exist").

moto finds an upload by its id alone, so a part sent to a key the policies allow would land in the
upload of a key they deny, and CompleteMultipartUpload would write that key. The front therefore
asks moto, through its public API (ListMultipartUploads with the key as prefix), whether the upload
id is one of this key's before it hands moto the request.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import quote

from werkzeug.test import Client

from lab.model.s3_requests import S3Refusal, S3Target
from lab.services.s3_backend import scope_header

XMLNS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def no_such_upload(upload_id: str) -> S3Refusal:
    return S3Refusal(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, "
                     "or the upload may have been aborted or completed.", {"UploadId": upload_id})


def upload_keys(backend: Callable, region: str, target: S3Target, upload_id: str) -> list[str]:
    """The keys moto holds an upload `upload_id` for, among the uploads of keys starting with target's."""
    response = Client(backend).get(f"/{target.bucket}", query_string=f"uploads&prefix={quote(target.key or '', safe='')}",
                                   headers={"Host": f"s3.{region}.amazonaws.com", "Authorization": scope_header(region)})
    if response.status_code != 200:
        return []
    uploads = ET.fromstring(response.get_data()).iter(f"{XMLNS}Upload")
    return [u.findtext(f"{XMLNS}Key") or "" for u in uploads if u.findtext(f"{XMLNS}UploadId") == upload_id]


def check_upload(backend: Callable, region: str, target: S3Target, upload_id: str) -> None:
    """NoSuchUpload unless `upload_id` is an upload of exactly target's bucket and key."""
    if target.key not in upload_keys(backend, region, target, upload_id):
        raise no_such_upload(upload_id)
