"""The XML request documents the S3 front reads before it decides (a Delete's keys, a Tagging's
tags), read strictly: exactly S3's schema, each element once, so that nothing the front did not
read (a second Key, a Tag outside the TagSet) can be read differently by moto afterwards. Anything
else is S3's MalformedXML; tags also follow S3's rules (InvalidTag for a key given twice, at most 10
per object: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from urllib.parse import parse_qsl

from lab.model.s3_requests import S3Refusal

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
MALFORMED = S3Refusal(
    400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"
)
MAX_OBJECT_TAGS = 10


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rpartition("}")[2]


def parsed(document: bytes, root_name: str) -> ET.Element:
    try:
        root = ET.fromstring(document)
    except ET.ParseError:
        raise MALFORMED from None
    if local(root.tag) != root_name:
        raise MALFORMED
    return root


def fields(element: ET.Element, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, str]:
    """The text of each child of `element`: each one of `allowed`, none twice, all of `required` there."""
    names = Counter(local(child.tag) for child in element)
    if any(n > 1 for n in names.values()) or not set(names) <= set(allowed) or not set(required) <= set(names):
        raise MALFORMED
    return {local(child.tag): child.text or "" for child in element}


def checked_tags(tags: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if len({k for k, _ in tags}) != len(tags):
        raise S3Refusal(400, "InvalidTag", "Cannot provide multiple Tags with the same key")
    if len(tags) > MAX_OBJECT_TAGS:
        raise S3Refusal(400, "BadRequest", "Object tags cannot be greater than 10")
    return tags


def document_tags(document: bytes) -> list[tuple[str, str]]:
    """The tags of a Tagging document: <Tagging><TagSet><Tag><Key/><Value/></Tag>...</TagSet></Tagging>."""
    root = parsed(document, "Tagging")
    if [local(child.tag) for child in root] != ["TagSet"] or any(local(t.tag) != "Tag" for t in root[0]):
        raise MALFORMED
    return checked_tags([(f["Key"], f["Value"]) for f in (fields(t, ("Key", "Value"), ("Key", "Value")) for t in root[0])])


def header_tags(value: str) -> list[tuple[str, str]]:
    """The tags of an x-amz-tagging header, URL-query encoded (`env=prod&team=lab`)."""
    return checked_tags(parse_qsl(value, keep_blank_values=True))
