"""Bypass attempts against the S3 front, part two: what a request does (CopyObject and
UploadPartCopy sources, upload ids of other keys, DeleteObjects key by key, version ids, two
subresources and unknown markers, ACL headers, anonymous reads a bucket policy grants, parameters
given twice). Same world and checks as part one (test_s3_front_bypasses.py).

ACLs disabled on new buckets: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html;
CopyObject/UploadPartCopy read their source (s3:GetObject) and DeleteObjects checks each key:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from bypass import HELLO, INSIDE, LAB, OTHER, REPORT, SECRET, VPCE_ONLY, XMLNS, code, leaks, policy, s3
from fronts import OBJECTS, s3_fronts, stored_objects
from lab.model.policy import DEFAULT_ENDPOINT_POLICY, parse_policy
from signing import call, environ


@pytest.fixture
def lab(tmp_path):
    return s3_fronts(tmp_path)


@pytest.mark.parametrize(
    "source",
    [
        "vpce-only-bucket/secret.txt",
        "/vpce-only-bucket/secret.txt",
        "vpce-only-bucket%2Fsecret.txt",
        "vpce-only-bucket/secret.txt?versionId=null",
        "other-bucket/report.txt",
        "%2Fother-bucket%2Freport.txt",
    ],
)
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
        copied = s3(
            app,
            "PUT",
            f"https://{LAB}/big.bin?partNumber=1&uploadId={upload}",
            headers={"x-amz-copy-source": "vpce-only-bucket/secret.txt"},
        )
        assert code(copied) == (403, "AccessDenied") and not leaks(copied)
    parts = s3(lab.internet, "GET", f"https://{LAB}/big.bin?uploadId={upload}")
    assert parts.status_code == 200 and b"<Part>" not in parts.data


def test_an_upload_id_serves_only_its_own_key(lab):
    """Parts sent to a key the endpoint policy allows must not land in another key's upload: moto
    finds uploads by id alone; S3 answers NoSuchUpload."""
    lab = s3_fronts(
        lab.log.parent,
        endpoint_policy=policy(
            [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::lab-bucket/public/*"}]
        ),
    )
    upload = start_upload(lab.internet, f"https://{LAB}/private.txt")
    part = s3(lab.endpoint, "PUT", f"https://{LAB}/public/x?partNumber=1&uploadId={upload}", b"hijacked")
    assert code(part) == (404, "NoSuchUpload") and ET.fromstring(part.data).findtext("UploadId") == upload
    done = s3(
        lab.endpoint,
        "POST",
        f"https://{LAB}/public/x?uploadId={upload}",
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
    )
    assert code(done) == (404, "NoSuchUpload")
    assert set(stored_objects()["lab-bucket"]) == {"hello.txt"}
    own = start_upload(lab.endpoint, f"https://{LAB}/public/x")  # its own upload works from end to end
    etag = s3(lab.endpoint, "PUT", f"https://{LAB}/public/x?partNumber=1&uploadId={own}", b"mine").headers["ETag"]
    done = s3(
        lab.endpoint,
        "POST",
        f"https://{LAB}/public/x?uploadId={own}",
        f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>".encode(),
    )
    assert done.status_code == 200 and stored_objects()["lab-bucket"]["public/x"] == b"mine"


def delete_request(keys: list[str], quiet: bool = False) -> bytes:
    objects = "".join(f"<Object><Key>{k}</Key></Object>" for k in keys)
    return f"<Delete><Quiet>{str(quiet).lower()}</Quiet>{objects}</Delete>".encode()


def delete_result(response) -> tuple[list[str], list[tuple[str, str]]]:
    root = ET.fromstring(response.data)
    return (
        [d.findtext(f"{XMLNS}Key") for d in root.iter(f"{XMLNS}Deleted")],
        [(e.findtext(f"{XMLNS}Key"), e.findtext(f"{XMLNS}Code")) for e in root.iter(f"{XMLNS}Error")],
    )


@pytest.mark.parametrize("quiet", [False, True])
def test_delete_objects_deletes_only_the_keys_the_policies_allow(tmp_path, quiet):
    keep = policy(
        [{"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::lab-bucket/keep/*"}]
    )
    lab = s3_fronts(
        tmp_path,
        {**OBJECTS, "lab-bucket": {"keep/a.txt": "a", "tmp/b.txt": "b", "keep/c": "c"}},
        bucket_policies={"lab-bucket": keep},
    )
    response = s3(
        lab.internet,
        "POST",
        f"https://{LAB}/?delete",
        delete_request(["keep/a.txt", "tmp/b.txt", "keep/c", "../other-bucket/report.txt"], quiet),
    )
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


@pytest.mark.parametrize(
    "document",
    [
        b"<Delete></Delete>",
        b"<Delete><Object/></Delete>",
        b"not xml",
        delete_request(["k"] * 1001),
        b"<Other><Object><Key>hello.txt</Key></Object></Other>",
    ],
)
def test_a_delete_document_s3_cannot_read_is_malformed_xml(lab, document):
    assert code(s3(lab.internet, "POST", f"https://{LAB}/?delete", document)) == (400, "MalformedXML")
    assert stored_objects()["lab-bucket"] == {"hello.txt": HELLO}


@pytest.mark.parametrize(
    "method, url, action",
    [
        ("GET", f"https://{LAB}/hello.txt?versionId=null", "s3:GetObjectVersion"),
        ("HEAD", f"https://{LAB}/hello.txt?versionId=null", "s3:GetObjectVersion"),
        ("DELETE", f"https://{LAB}/hello.txt?versionId=null", "s3:DeleteObjectVersion"),
        ("GET", f"https://{LAB}/hello.txt?versionId=null&acl", "s3:GetObjectVersionAcl"),
        ("GET", f"https://{LAB}/?versions", "s3:ListBucketVersions"),
    ],
)
def test_a_version_id_is_its_own_action(lab, method, url, action):
    """s3-gw allows GetObject, not GetObjectVersion: naming a version does not slip past it."""
    response = s3(lab.endpoint, method, url)
    assert response.status_code == 403 and not leaks(response) and HELLO not in response.data
    assert (lab.logged()[-1]["action"], lab.logged()[-1]["decision"]) == (action, "deny")
    assert stored_objects()["lab-bucket"] == {"hello.txt": HELLO}
    denied = s3(lab.internet, method, url.replace(LAB, VPCE_ONLY).replace("hello.txt", "secret.txt"))
    assert denied.status_code == 403 and SECRET not in denied.data


def test_two_subresources_are_one_operation_and_moto_sees_only_that_one(lab):
    tagging = b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"
    assert code(s3(lab.endpoint, "GET", f"https://{LAB}/hello.txt?acl&tagging")) == (403, "AccessDenied")
    both = s3(lab.internet, "PUT", f"https://{LAB}/hello.txt?tagging&acl", tagging)
    assert code(both) == (400, "AccessControlListNotSupported")  # PutObjectAcl, refused; never PutObjectTagging
    tags = s3(lab.internet, "GET", f"https://{LAB}/hello.txt?tagging")
    assert tags.status_code == 200 and b"<Tag>" not in tags.data
    policy_first = s3(lab.internet, "GET", f"https://{LAB}/?tagging&policy")
    assert code(policy_first) == (404, "NoSuchBucketPolicy") and lab.logged()[-1]["action"] == "s3:GetBucketPolicy"


@pytest.mark.parametrize(
    "method, url, expected",
    [
        ("GET", f"https://{OTHER}/report.txt?x-id=GetObject&foo", (403, "AccessDenied")),
        ("GET", f"https://{OTHER}/?website&list-type=2", (403, "AccessDenied")),
        ("DELETE", f"https://{LAB}/hello.txt?x-id=PutObject", (403, "AccessDenied")),
        ("DELETE", f"https://{LAB}/hello.txt?tagging", (403, "AccessDenied")),
        ("PUT", f"https://{LAB}/hello.txt?retention", (403, "AccessDenied")),
        ("GET", f"https://{LAB}/hello.txt?uploadId=1", (403, "AccessDenied")),  # ListParts
        ("POST", f"https://{LAB}/hello.txt?restore", (403, "AccessDenied")),
        ("GET", f"https://{LAB}/?session", (501, "NotImplemented")),  # CreateSession: directory buckets
        ("PUT", f"https://{LAB}/hello.txt?renameObject", (501, "NotImplemented")),
    ],
)
def test_subresource_markers_decide_the_action_and_unknown_ones_are_ignored(lab, method, url, expected):
    response = s3(lab.endpoint, method, url)
    assert code(response) == expected and not leaks(response)
    assert stored_objects()["lab-bucket"] == {"hello.txt": HELLO}


def test_an_unknown_marker_on_an_allowed_read_reads_just_the_object(lab):
    response = s3(lab.endpoint, "GET", f"https://{LAB}/hello.txt?website&delete&x-id=DeleteObject&bogus=1")
    assert (response.status_code, response.data) == (200, HELLO)
    assert stored_objects()["lab-bucket"] == {"hello.txt": HELLO}


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"x-amz-acl": "public-read"}, (400, "AccessControlListNotSupported")),
        ({"x-amz-acl": "authenticated-read"}, (400, "AccessControlListNotSupported")),
        ({"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'}, (400, "AccessControlListNotSupported")),
        ({"x-amz-acl": "bucket-owner-full-control"}, (200, None)),
        ({"x-amz-acl": "private"}, (200, None)),
    ],
)
def test_acls_are_disabled_as_on_every_new_bucket(lab, headers, expected):
    response = s3(lab.internet, "PUT", f"https://{LAB}/acl.txt", b"x", headers)
    assert code(response) == expected
    assert ("acl.txt" in stored_objects()["lab-bucket"]) == (expected[0] == 200)
    assert code(s3(lab.internet, "PUT", f"https://{LAB}/hello.txt?acl", b"<AccessControlPolicy/>")) == (
        400,
        "AccessControlListNotSupported",
    )


def public_lab(tmp_path, key: str, cidr: str):
    readable = policy(
        [
            {
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::public-bucket/*",
                "Condition": {"IpAddress": {key: cidr}},
            }
        ]
    )
    return s3_fronts(
        tmp_path,
        {**OBJECTS, "public-bucket": {"index.html": "<h1>public</h1>"}},
        bucket_policies={"public-bucket": readable},
        endpoint_policy=parse_policy(DEFAULT_ENDPOINT_POLICY, "default"),
    )


def test_an_anonymous_read_a_bucket_policy_allows_is_served(tmp_path):
    lab = public_lab(tmp_path, "aws:SourceIp", "203.0.113.0/24")
    url = "https://public-bucket.s3.ap-northeast-2.amazonaws.com/index.html"
    served = call(lab.internet, environ("GET", url, client=("203.0.113.9", 1)))
    assert (served.status_code, served.data) == (200, b"<h1>public</h1>")
    assert code(call(lab.internet, environ("GET", url, client=("198.51.100.7", 1)))) == (403, "AccessDenied")
    assert code(call(lab.endpoint, environ("GET", url, client=INSIDE))) == (403, "AccessDenied")  # no aws:SourceIp there
    for method, where in (("PUT", url), ("GET", url.replace("index.html", "")), ("DELETE", url)):
        refused = call(lab.internet, environ(method, where, b"x" * (method == "PUT"), client=("203.0.113.9", 1)))
        assert code(refused) == (403, "AccessDenied") and b"index.html" not in refused.data
    assert stored_objects()["public-bucket"] == {"index.html": b"<h1>public</h1>"}


def test_an_anonymous_read_through_the_endpoint_is_served_on_aws_vpc_source_ip(tmp_path):
    lab = public_lab(tmp_path, "aws:VpcSourceIp", "10.0.2.0/24")
    url = "https://public-bucket.s3.ap-northeast-2.amazonaws.com/index.html"
    assert call(lab.endpoint, environ("GET", url, client=INSIDE)).data == b"<h1>public</h1>"
    assert code(call(lab.internet, environ("GET", url, client=INSIDE))) == (403, "AccessDenied")


def test_a_parameter_given_twice_is_checked_as_moto_reads_it(tmp_path):
    """moto reads a parameter's first value; the policy check reads the same one, and moto gets no other."""
    private = policy(
        [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::lab-bucket",
                "Condition": {"StringLike": {"s3:prefix": "private/*"}},
            }
        ]
    )
    lab = s3_fronts(
        tmp_path, {"lab-bucket": {"private/a.txt": "p", "public/b.txt": "b"}}, bucket_policies={"lab-bucket": private}
    )
    first_private = s3(lab.internet, "GET", f"https://{LAB}/?list-type=2&prefix=private%2F&prefix=public%2F")
    assert code(first_private) == (403, "AccessDenied") and b"private/a.txt" not in first_private.data
    first_public = s3(lab.internet, "GET", f"https://{LAB}/?list-type=2&prefix=public%2F&prefix=private%2F")
    assert first_public.status_code == 200 and b"private/a.txt" not in first_public.data


def test_an_upload_id_given_twice_is_checked_as_moto_reads_it(tmp_path):
    lab = s3_fronts(
        tmp_path,
        endpoint_policy=policy(
            [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::lab-bucket/public/*"}]
        ),
    )
    theirs = start_upload(lab.internet, f"https://{LAB}/private.txt")
    mine = start_upload(lab.endpoint, f"https://{LAB}/public/x")
    part = s3(lab.endpoint, "PUT", f"https://{LAB}/public/x?partNumber=1&uploadId={theirs}&uploadId={mine}", b"hijacked")
    assert code(part) == (404, "NoSuchUpload")
    listed = s3(lab.internet, "GET", f"https://{LAB}/private.txt?uploadId={theirs}")
    assert b"<Part>" not in listed.data


def test_bypassing_governance_retention_needs_its_own_permission(lab):
    """x-amz-bypass-governance-retention needs s3:BypassGovernanceRetention (DeleteObject,
    DeleteObjects, PutObjectRetention), which s3-gw's policy does not grant."""
    lab = s3_fronts(
        lab.log.parent,
        endpoint_policy=policy(
            [{"Effect": "Allow", "Principal": "*", "Action": "s3:*Object", "Resource": "arn:aws:s3:::lab-bucket/*"}]
        ),
    )
    bypass = {"x-amz-bypass-governance-retention": "true"}
    assert code(s3(lab.endpoint, "DELETE", f"https://{LAB}/hello.txt", headers=bypass)) == (403, "AccessDenied")
    batch = s3(lab.endpoint, "POST", f"https://{LAB}/?delete", b"<Delete><Object><Key>hello.txt</Key></Object></Delete>", bypass)
    assert b"<Code>AccessDenied</Code>" in batch.data
    assert stored_objects()["lab-bucket"] == {"hello.txt": HELLO}
    assert s3(lab.endpoint, "DELETE", f"https://{LAB}/hello.txt").status_code == 204  # without it, allowed
