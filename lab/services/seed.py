"""Buckets and tables declared in the topology, created through the service's own HTTP API.

Going through the app rather than moto's backend objects keeps to moto's public surface (the
requests boto3 sends), puts the state exactly where clients will look for it, and builds moto's
per-service apps before the first client arrives (the first request otherwise costs ~100 ms).
moto routes a request by the SigV4 credential scope in its Authorization header and does not check
the signature, so a scope is all these requests carry.
"""

from __future__ import annotations

import io
import json
import mimetypes
from urllib.parse import quote

from werkzeug.test import Client

from lab.model.topology import Bucket, Table
from lab.services.catalog import SERVICES, ApiService
from lab.services.errors import ServiceError

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _scope(region: str, service: str) -> dict[str, str]:
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=vpclab/20250101/{region}/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0"
    }


def _check(response, what: str) -> None:
    if response.status_code // 100 != 2:
        raise ServiceError(f"{what}: the service answered {response.status}: {response.get_data(as_text=True)}")


def create_bucket(client: Client, bucket: Bucket) -> None:
    """CreateBucket in the bucket's region: a LocationConstraint everywhere but us-east-1, which takes none.

    https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
    """
    headers = {"Host": f"s3.{bucket.region}.amazonaws.com", **_scope(bucket.region, "s3")}
    body = (
        ""
        if bucket.region == "us-east-1"
        else (
            f'<CreateBucketConfiguration xmlns="{S3_XMLNS}"><LocationConstraint>{bucket.region}'
            "</LocationConstraint></CreateBucketConfiguration>"
        )
    )
    _check(client.put(f"/{bucket.name}", headers=headers, data=body), f"creating bucket {bucket.name}")
    for key, text in bucket.objects.items():
        kind = mimetypes.guess_type(key)[0] or "text/plain"
        response = (_post_object if "\n" in key else _put_object)(client, bucket.name, key, text, kind, headers)
        _check(response, f"creating object s3://{bucket.name}/{key!r}")


def _put_object(client: Client, bucket: str, key: str, text: str, kind: str, headers: dict):
    """PutObject, path-style, as boto3 sends it."""
    return client.put(f"/{bucket}/{quote(key)}", data=text.encode(), headers={**headers, "Content-Type": kind})


def _post_object(client: Client, bucket: str, key: str, text: str, kind: str, headers: dict):
    """POST Object (an HTML form upload), for a key with a line break: S3 takes any character in a
    key (object-keys.html), but moto routes PutObject's path with a werkzeug rule whose `.` stops at
    a newline, so such a key 404s there; a form carries the key in its body. The file is named
    `${filename}` because S3 replaces that text in the key with the file's name, which then changes
    nothing. https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html"""
    form = {"key": key, "Content-Type": kind, "file": (io.BytesIO(text.encode()), "${filename}")}
    return client.post(f"/{bucket}", headers=headers, data=form)


def create_table(client: Client, table: Table) -> None:
    """An on-demand table keyed by a string partition key: enough for GetItem/PutItem exercises."""
    request = {
        "TableName": table.name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": table.partition_key, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": table.partition_key, "AttributeType": "S"}],
    }
    _check(_dynamodb(client, table.region, "CreateTable", request), f"creating table {table.name}")


def _dynamodb(client: Client, region: str, operation: str, request: dict):
    headers = {
        "Host": f"dynamodb.{region}.amazonaws.com",
        "X-Amz-Target": f"DynamoDB_20120810.{operation}",
        "Content-Type": "application/x-amz-json-1.0",
        **_scope(region, "dynamodb"),
    }
    return client.post("/", headers=headers, data=json.dumps(request))


def seed(app, service: str, region: str, buckets: tuple[Bucket, ...], tables: tuple[Table, ...]) -> None:
    """Create what the topology declares; with nothing declared, a harmless list warms the app up."""
    client = Client(app)
    if service == "s3":
        headers = {"Host": f"s3.{region}.amazonaws.com", **_scope(region, "s3")}
        _check(client.get("/", headers=headers), "listing buckets")
        for bucket in buckets:
            create_bucket(client, bucket)
    elif service == "dynamodb":
        _check(_dynamodb(client, region, "ListTables", {}), "listing tables")
        for table in tables:
            create_table(client, table)
    else:
        _check(_warm_api(client, SERVICES[service], region), f"{service} {SERVICES[service].warm}")


def _warm_api(client: Client, service: ApiService, region: str):
    """The service's harmless call (a list, or who am I), in its JSON protocol where it has one."""
    headers = {"Host": f"{service.name}.{region}.amazonaws.com", **_scope(region, service.signing_name)}
    if service.json_target is None:
        return client.post("/", headers=headers, query_string={"Action": service.warm, "Version": service.query_version})
    headers |= {
        "X-Amz-Target": f"{service.json_target}.{service.warm}",
        "Content-Type": f"application/x-amz-json-{service.json_version}",
    }
    return client.post("/", headers=headers, query_string={"Action": service.warm}, data="{}")
