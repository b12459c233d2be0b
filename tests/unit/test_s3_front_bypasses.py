"""Bypass attempts against the S3 front (issue 8 and our own), each over the real moto app seeded as
topologies/gateway-endpoint-policies.yaml: lab-bucket, other-bucket, vpce-only-bucket (Deny unless
aws:SourceVpce is s3-gw's), and s3-gw's endpoint policy (GetObject, PutObject, ListBucket on
lab-bucket only). Each asserts S3's status and code, and reads moto's own state afterwards: no data
leaked, nothing changed but what the policies allow.

S3's answers: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList;
addressing: https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html; ACLs disabled
on new buckets: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html;
CopyObject/UploadPartCopy read their source (s3:GetObject) and DeleteObjects checks each key:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest
from moto.iam.models import iam_backends

from fronts import OBJECTS, S3_HOST, s3_fronts, stored_objects
from lab.model.policy import DEFAULT_ENDPOINT_POLICY, parse_policy
from signing import CLIENT, call, environ, sign, signed_environ

SECRET = OBJECTS["vpce-only-bucket"]["secret.txt"].encode()
HELLO = OBJECTS["lab-bucket"]["hello.txt"].encode()
REPORT = OBJECTS["other-bucket"]["report.txt"].encode()
LAB, OTHER, VPCE_ONLY = (f"{b}.{S3_HOST}" for b in ("lab-bucket", "other-bucket", "vpce-only-bucket"))
XMLNS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
INSIDE = ("10.0.2.4", 40000)


@pytest.fixture
def lab(tmp_path):
    return s3_fronts(tmp_path)


def code(response) -> tuple[int, str | None]:
    return response.status_code, ET.fromstring(response.data).findtext("Code") if response.data else None


def leaks(response) -> bool:
    """The answer holds a protected object's data, or lists objects or buckets."""
    return any(part in response.data for part in (SECRET, REPORT, b"<Contents>", b"<Buckets>"))


def s3(app, method: str, url: str, body: bytes = b"", headers: dict | None = None, **signing):
    """A request botocore signs, from app1 (10.0.2.4) through the endpoint, else from the internet."""
    signing.setdefault("client", INSIDE if app.ingress.vpce_id else CLIENT)
    return call(app, signed_environ(method, url, body, headers, **signing))


def policy(statements: list[dict]):
    return parse_policy({"Version": "2012-10-17", "Statement": statements}, "test")


HOST_VARIANTS = [  # (Host, path, the bucket S3 reads, its answer to the internet)
    (f"{VPCE_ONLY}.", "/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    (VPCE_ONLY.upper(), "/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    (f"{VPCE_ONLY}:443", "/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    ("vpce-only-bucket.s3.dualstack.ap-northeast-2.amazonaws.com", "/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    ("vpce-only-bucket.s3.amazonaws.com", "/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    (f"{S3_HOST}.", "/vpce-only-bucket/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    ("52.219.60.10", "/vpce-only-bucket/secret.txt", "vpce-only-bucket", (403, "AccessDenied")),
    (f"www.{VPCE_ONLY}", "/secret.txt", "www.vpce-only-bucket", (404, "NoSuchBucket")),
    ("vpce-only-bucket.s3-website.ap-northeast-2.amazonaws.com", "/secret.txt",
     "vpce-only-bucket.s3-website.ap-northeast-2.amazonaws.com", (404, "NoSuchBucket")),  # a CNAME's whole name
    ("vpce-only-bucket.s3-ap-northeast-2.amazonaws.com", "/secret.txt",
     "vpce-only-bucket.s3-ap-northeast-2.amazonaws.com", (404, "NoSuchBucket")),
    ("vpce-only-bucket.example.com", "/secret.txt", "vpce-only-bucket.example.com", (404, "NoSuchBucket")),
    (f"{VPCE_ONLY}.", "/", "vpce-only-bucket", (403, "AccessDenied")),
    (f"www.{VPCE_ONLY}", "/", "www.vpce-only-bucket", (404, "NoSuchBucket")),
    ("vpce-only-bucket.example.com", "/", "vpce-only-bucket.example.com", (404, "NoSuchBucket")),
]


@pytest.mark.parametrize("host, path, bucket, expected", HOST_VARIANTS)
def test_no_host_form_reads_a_bucket_its_policy_denies(lab, host, path, bucket, expected):
    response = s3(lab.internet, "GET", f"https://{host}{path}")
    assert code(response) == expected and not leaks(response)
    (line,) = lab.logged()  # moto was asked about exactly the bucket the front checked
    assert line["bucket"] == bucket


@pytest.mark.parametrize("host", [LAB, f"{LAB}.", LAB.upper(), f"www.{LAB}", "lab-bucket.example.com",
                                  f"lab-bucket.{OTHER}", "lab-bucket.s3-website.ap-northeast-2.amazonaws.com"])
def test_a_put_through_the_endpoint_lands_in_the_bucket_it_was_checked_for_or_nowhere(lab, host):
    response = s3(lab.endpoint, "PUT", f"https://{host}/pwned.txt", b"pwned")
    after = stored_objects()
    assert {b: set(keys) for b, keys in after.items() if b != "lab-bucket"} == {
        "other-bucket": {"report.txt"}, "vpce-only-bucket": {"secret.txt"}}
    written = response.status_code == 200
    assert written == (host.lower().removesuffix(".") == LAB.lower())
    assert ("pwned.txt" in after["lab-bucket"]) == written


@pytest.mark.parametrize("method", ["get", "Get", "put", "delete", "head", "PATCH", "TRACE", "COPY"])
def test_a_method_s3_does_not_have_is_method_not_allowed(lab, method):
    before = stored_objects()
    for app, host in ((lab.internet, VPCE_ONLY), (lab.endpoint, OTHER)):
        response = call(app, signed_environ(method, f"https://{host}/secret.txt", b"overwritten"))
        assert code(response) == (405, "MethodNotAllowed") and not leaks(response)
        assert ET.fromstring(response.data).findtext("Method") == method
    assert stored_objects() == before


@pytest.mark.parametrize("source", ["vpce-only-bucket/secret.txt", "/vpce-only-bucket/secret.txt",
                                    "vpce-only-bucket%2Fsecret.txt", "vpce-only-bucket/secret.txt?versionId=null",
                                    "other-bucket/report.txt", "%2Fother-bucket%2Freport.txt"])
def test_copy_object_needs_to_read_its_source(lab, source):
    """Through s3-gw: lab-bucket may be written, but the source's bucket policy or the endpoint
    policy denies reading it; from the internet vpce-only-bucket's policy denies it."""
    for app in (lab.endpoint, lab.internet):
        response = s3(app, "PUT", f"https://{LAB}/copy.txt", headers={"x-amz-copy-source": source})
        if app is lab.internet and source.lstrip("/%2F").startswith("other"):
            assert response.status_code == 200  # the internet has no endpoint policy; other-bucket none
            continue
        assert code(response) == (403, "AccessDenied") and not leaks(response)
        assert "copy.txt" not in stored_objects()["lab-bucket"]


def test_copy_object_from_an_allowed_source_copies(lab):
    response = s3(lab.endpoint, "PUT", f"https://{LAB}/copy.txt", headers={"x-amz-copy-source": "lab-bucket/hello.txt"})
    assert response.status_code == 200 and stored_objects()["lab-bucket"]["copy.txt"] == HELLO
    arn = s3(lab.endpoint, "PUT", f"https://{LAB}/c2.txt", headers={"x-amz-copy-source": "arn:aws:s3:::lab-bucket/hello.txt"})
    assert code(arn) == (501, "NotImplemented")  # access points and their ARNs are not emulated


def start_upload(app, url: str) -> str:
    created = s3(app, "POST", f"{url}?uploads")
    assert created.status_code == 200, created.data
    return re.search(rb"<UploadId>(.+?)</UploadId>", created.data)[1].decode()


def test_upload_part_copy_needs_to_read_its_source(lab):
    upload = start_upload(lab.endpoint, f"https://{LAB}/big.bin")
    for app in (lab.endpoint, lab.internet):
        copied = s3(app, "PUT", f"https://{LAB}/big.bin?partNumber=1&uploadId={upload}",
                    headers={"x-amz-copy-source": "vpce-only-bucket/secret.txt"})
        assert code(copied) == (403, "AccessDenied") and not leaks(copied)
    parts = s3(lab.internet, "GET", f"https://{LAB}/big.bin?uploadId={upload}")
    assert parts.status_code == 200 and b"<Part>" not in parts.data


def test_an_upload_id_serves_only_its_own_key(lab):
    """Parts sent to a key the endpoint policy allows must not land in another key's upload: moto
    finds uploads by id alone; S3 answers NoSuchUpload."""
    lab = s3_fronts(lab.log.parent, endpoint_policy=policy([{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
                                                             "Resource": "arn:aws:s3:::lab-bucket/public/*"}]))
    upload = start_upload(lab.internet, f"https://{LAB}/private.txt")
    part = s3(lab.endpoint, "PUT", f"https://{LAB}/public/x?partNumber=1&uploadId={upload}", b"hijacked")
    assert code(part) == (404, "NoSuchUpload") and ET.fromstring(part.data).findtext("UploadId") == upload
    done = s3(lab.endpoint, "POST", f"https://{LAB}/public/x?uploadId={upload}",
              b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>")
    assert code(done) == (404, "NoSuchUpload")
    assert set(stored_objects()["lab-bucket"]) == {"hello.txt"}
    own = start_upload(lab.endpoint, f"https://{LAB}/public/x")  # its own upload works from end to end
    etag = s3(lab.endpoint, "PUT", f"https://{LAB}/public/x?partNumber=1&uploadId={own}", b"mine").headers["ETag"]
    done = s3(lab.endpoint, "POST", f"https://{LAB}/public/x?uploadId={own}",
              f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
              "</CompleteMultipartUpload>".encode())
    assert done.status_code == 200 and stored_objects()["lab-bucket"]["public/x"] == b"mine"


def delete_request(keys: list[str], quiet: bool = False) -> bytes:
    objects = "".join(f"<Object><Key>{k}</Key></Object>" for k in keys)
    return f"<Delete><Quiet>{str(quiet).lower()}</Quiet>{objects}</Delete>".encode()


def delete_result(response) -> tuple[list[str], list[tuple[str, str]]]:
    root = ET.fromstring(response.data)
    return ([d.findtext(f"{XMLNS}Key") for d in root.iter(f"{XMLNS}Deleted")],
            [(e.findtext(f"{XMLNS}Key"), e.findtext(f"{XMLNS}Code")) for e in root.iter(f"{XMLNS}Error")])


@pytest.mark.parametrize("quiet", [False, True])
def test_delete_objects_deletes_only_the_keys_the_policies_allow(tmp_path, quiet):
    keep = policy([{"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                    "Resource": "arn:aws:s3:::lab-bucket/keep/*"}])
    lab = s3_fronts(tmp_path, {**OBJECTS, "lab-bucket": {"keep/a.txt": "a", "tmp/b.txt": "b", "keep/c": "c"}},
                    bucket_policies={"lab-bucket": keep})
    response = s3(lab.internet, "POST", f"https://{LAB}/?delete",
                  delete_request(["keep/a.txt", "tmp/b.txt", "keep/c", "../other-bucket/report.txt"], quiet))
    deleted, errors = delete_result(response)
    assert response.status_code == 200 and errors == [("keep/a.txt", "AccessDenied"), ("keep/c", "AccessDenied")]
    assert deleted == ([] if quiet else ["tmp/b.txt", "../other-bucket/report.txt"])
    assert set(stored_objects()["lab-bucket"]) == {"keep/a.txt", "keep/c"}
    assert stored_objects()["other-bucket"] == {"report.txt": REPORT}


def test_delete_objects_through_an_endpoint_that_allows_no_delete_deletes_nothing(lab):
    response = s3(lab.endpoint, "POST", f"https://{LAB}/?delete", delete_request(["hello.txt", "nope"]))
    assert delete_result(response) == ([], [("hello.txt", "AccessDenied"), ("nope", "AccessDenied")])
    assert stored_objects()["lab-bucket"] == {"hello.txt": HELLO}


def test_delete_objects_hands_moto_exactly_the_keys_it_checked(tmp_path):
    """A carriage return (&#13;) stays one: written raw, moto's XML parser would make it a line feed
    and delete the key 'a\\nb', which nobody authorized."""
    lab = s3_fronts(tmp_path, {"lab-bucket": {"a\nb": "newline", " padded ": "spaces"}}, bucket_policies={})
    response = s3(lab.internet, "POST", f"https://{LAB}/?delete", delete_request(["a&#13;b", "padded"]))
    assert response.status_code == 200
    assert stored_objects()["lab-bucket"] == {"a\nb": b"newline", " padded ": b"spaces"}


@pytest.mark.parametrize("document", [b"<Delete></Delete>", b"<Delete><Object/></Delete>", b"not xml",
                                      delete_request(["k"] * 1001), b"<Other><Object><Key>hello.txt</Key></Object></Other>"])
def test_a_delete_document_s3_cannot_read_is_malformed_xml(lab, document):
    assert code(s3(lab.internet, "POST", f"https://{LAB}/?delete", document)) == (400, "MalformedXML")
    assert stored_objects()["lab-bucket"] == {"hello.txt": HELLO}


@pytest.mark.parametrize("method, host, path, expected", [
    ("POST", S3_HOST, "/moto-api/reset", (405, "MethodNotAllowed")),
    ("POST", LAB, "/moto-api/reset", (405, "MethodNotAllowed")),
    ("POST", "52.219.60.10", "/moto-api/reset", (405, "MethodNotAllowed")),
    ("GET", S3_HOST, "/moto-api/data.json", (404, "NoSuchBucket")),
    ("GET", LAB, "/moto-api/data.json", (404, "NoSuchKey")),
    ("POST", S3_HOST, "/moto-api/recorder/upload-recording", (405, "MethodNotAllowed")),
    ("GET", S3_HOST, "/moto-api/recorder/download-recording", (404, "NoSuchBucket")),
    ("POST", S3_HOST, "/moto-api/state-manager/set-transition", (405, "MethodNotAllowed")),
    ("GET", S3_HOST, "/moto-api/", (404, "NoSuchBucket")),
])
def test_the_mocks_management_api_is_not_there(lab, method, host, path, expected):
    before = stored_objects()
    for signed in (True, False):
        env = (signed_environ if signed else environ)(method, f"https://{host}{path}", b"{}" * (method == "POST"))
        response = call(lab.internet, env)
        assert code(response) == (expected if signed or expected[0] == 405 else (403, "AccessDenied"))
        assert b'"s3"' not in response.data and not leaks(response)
    assert stored_objects() == before  # reset did not empty moto
    listed = s3(lab.internet, "GET", f"https://{VPCE_ONLY}/", client=INSIDE)
    assert code(listed) == (403, "AccessDenied")  # and the bucket policy still rules


def test_the_s3_front_answers_no_iam(lab):
    form = b"Action=CreateUser&UserName=mallory&Version=2010-05-08"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert code(s3(lab.internet, "POST", f"https://{S3_HOST}/", form, headers)) == (405, "MethodNotAllowed")
    as_iam = s3(lab.internet, "POST", f"https://{S3_HOST}/", form, {**headers, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
                service="iam")
    assert code(as_iam) == (405, "MethodNotAllowed")  # S3 has no POST on the service, whoever signed it
    assert all(not backend.users for account in iam_backends.values() for backend in account.values())


@pytest.mark.parametrize("app, url, expected", [
    ("internet", f"https://{S3_HOST}/lab-bucket/..%2Fvpce-only-bucket%2Fsecret.txt", (404, "NoSuchKey")),
    ("internet", f"https://{S3_HOST}/lab-bucket/../vpce-only-bucket/secret.txt", (404, "NoSuchKey")),
    ("internet", f"https://{LAB}/../vpce-only-bucket/secret.txt", (404, "NoSuchKey")),
    ("internet", f"https://{LAB}/%2E%2E/%2E%2E/vpce-only-bucket/secret.txt", (404, "NoSuchKey")),
    ("internet", f"https://{S3_HOST}/vpce-only-bucket%2Fsecret.txt", (403, "AccessDenied")),
    ("internet", f"https://{S3_HOST}/vpce-only-bucket/./secret.txt", (403, "AccessDenied")),
    ("internet", f"https://{S3_HOST}/vpce-only-bucket//secret.txt", (403, "AccessDenied")),
    ("endpoint", f"https://{S3_HOST}/lab-bucket/..%2Fother-bucket%2Freport.txt", (404, "NoSuchKey")),
    ("endpoint", f"https://{S3_HOST}/lab-bucket/../other-bucket/report.txt", (404, "NoSuchKey")),
    ("endpoint", f"https://{S3_HOST}/other-bucket%2Freport.txt", (403, "AccessDenied")),
    ("endpoint", f"https://{S3_HOST}//other-bucket/report.txt", (400, "InvalidBucketName")),
    ("endpoint", f"https://{S3_HOST}//", (400, "InvalidBucketName")),
    ("endpoint", f"https://{LAB}//hello.txt", (404, "NoSuchKey")),
    ("endpoint", f"https://{LAB}/%2Fhello.txt", (404, "NoSuchKey")),
])
def test_encoded_slashes_dots_and_double_slashes_are_parts_of_the_key(lab, app, url, expected):
    response = s3(getattr(lab, app), "GET", url)
    assert code(response) == expected and not leaks(response)


def test_a_double_slash_is_no_list_of_buckets_past_the_endpoint_policy(tmp_path):
    """`//bucket/key` once read as an object action on "*" that moto served as ListBuckets."""
    any_object = policy([{"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}])
    lab = s3_fronts(tmp_path, endpoint_policy=any_object)
    for method in ("GET", "PUT"):
        response = s3(lab.endpoint, method, f"https://{S3_HOST}//vpce-only-bucket/secret.txt", b"x" * (method == "PUT"))
        assert code(response) == (400, "InvalidBucketName") and b"<Bucket>" not in response.data
    assert s3(lab.endpoint, "GET", f"https://{S3_HOST}/").status_code == 403  # no ListAllMyBuckets there


@pytest.mark.parametrize("key", ["../vpce-only-bucket/pwned", "..%2Fvpce-only-bucket%2Fpwned", "%2E%2E/x", "a//b",
                                 "/lead", "trail/", "./.", "%252F"])
def test_a_put_with_dots_or_slashes_writes_that_very_key_in_lab_bucket(lab, key):
    response = s3(lab.endpoint, "PUT", f"https://{S3_HOST}/lab-bucket/{key}", b"dots")
    assert response.status_code == 200
    after = stored_objects()
    assert after["lab-bucket"][unquote(key)] == b"dots"
    assert after["vpce-only-bucket"] == {"secret.txt": SECRET} and after["other-bucket"] == {"report.txt": REPORT}
