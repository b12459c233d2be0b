"""S3's request documents are read strictly, so that moto cannot read one differently from the front:
a tag given twice, a Tag outside the TagSet, a Key given twice in one Object are refused as S3
refuses them, and a Deny on a request's tags holds however they are written."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fronts import s3_fronts, stored_objects
from lab.model.policy import parse_policy
from lab.model.s3_requests import S3Refusal
from lab.services.s3_delete import parse_delete
from lab.services.s3_xml import document_tags, header_tags
from signing import REGION, call, signed_environ

LAB = f"lab-bucket.s3.{REGION}.amazonaws.com"
TAGSET = "<Tagging><TagSet>{}</TagSet></Tagging>"


def tag(key: str, value: str) -> str:
    return f"<Tag><Key>{key}</Key><Value>{value}</Value></Tag>"


def refusal(parse, *args) -> tuple[int, str]:
    with pytest.raises(S3Refusal) as caught:
        parse(*args)
    return caught.value.status, caught.value.code


def test_tags_are_read_as_s3_reads_them():
    assert document_tags(TAGSET.format(tag("env", "prod") + tag("team", "")).encode()) == [("env", "prod"), ("team", "")]
    assert header_tags("env=prod&team=lab%26ops") == [("env", "prod"), ("team", "lab&ops")]


@pytest.mark.parametrize(
    "parse, value, answer",
    [
        (header_tags, "env=prod&env=dev", (400, "InvalidTag")),
        (header_tags, "&".join(f"k{i}=v" for i in range(11)), (400, "BadRequest")),
        (document_tags, TAGSET.format(tag("env", "prod") + tag("env", "dev")).encode(), (400, "InvalidTag")),
        (
            document_tags,
            (TAGSET.format(tag("env", "prod"))[:-10] + "<X>" + tag("env", "dev") + "</X></Tagging>").encode(),
            (400, "MalformedXML"),
        ),  # a decoy Tag outside the TagSet
        (document_tags, TAGSET.format("<Tag><Key>a</Key><Key>b</Key><Value>v</Value></Tag>").encode(), (400, "MalformedXML")),
        (document_tags, b"<Tagging><TagSet>", (400, "MalformedXML")),
    ],
)
def test_tags_s3_would_refuse_are_refused(parse, value, answer):
    assert refusal(parse, value) == answer


def test_a_delete_names_each_field_once():
    assert parse_delete(b"<Delete><Object><Key>a</Key></Object><Quiet>True</Quiet></Delete>") == ([("a", None)], True)
    for document in (
        b"<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
        b"<Delete><Object><VersionId>1</VersionId></Object></Delete>",
        b"<Delete><Object><Key>a</Key></Object><Other/></Delete>",
        b"<Delete><Quiet>true</Quiet><Quiet>false</Quiet><Object><Key>a</Key></Object></Delete>",
    ):
        assert refusal(parse_delete, document) == (400, "MalformedXML"), document


def test_a_deny_on_a_requests_tags_holds_however_they_are_written(tmp_path):
    no_prod = parse_policy(
        {
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::lab-bucket/*",
                    "Condition": {"StringEquals": {"s3:RequestObjectTag/env": "prod"}},
                }
            ]
        },
        "b",
    )
    fronts = s3_fronts(tmp_path, bucket_policies={"lab-bucket": no_prod})
    for tagging in ("env=prod", "env=prod&env=dev", "env=dev&env=prod"):
        response = call(fronts.internet, signed_environ("PUT", f"https://{LAB}/t.txt", b"x", {"x-amz-tagging": tagging}))
        assert response.status_code in (400, 403), (tagging, response.data)
        assert ET.fromstring(response.data).findtext("Code") in ("AccessDenied", "InvalidTag")
    assert "t.txt" not in stored_objects()["lab-bucket"]
