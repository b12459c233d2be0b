"""The one canonical request the S3 front hands moto: path style on the front's regional endpoint,
only the operation's own query parameters, and a key moto reads back exactly, whatever characters
it holds (S3 allows any UTF-8 in a key, line breaks included)."""

from __future__ import annotations

import pytest

from fronts import s3_fronts, stored_objects
from lab.model.s3_operations import identify
from lab.services.s3_backend import backend_query, routing_path
from signing import REGION, call, key_path, signed_environ

LAB = f"lab-bucket.s3.{REGION}.amazonaws.com"


def test_only_the_operations_parameters_reach_moto():
    get = identify("GET", "object", ("versionId", "uploadId", "acl"), ())
    assert get.name == "GetObjectAcl"
    assert backend_query(get, [("versionId", "3"), ("uploadId", "9"), ("acl", ""), ("X-Amz-Signature", "x")]) == "acl&versionId=3"
    select = identify("POST", "object", ("select", "select-type"), ())
    assert backend_query(select, [("select", ""), ("select-type", "1")]) == "select&select-type=2"


def test_routing_path_stands_in_for_line_breaks_only():
    assert routing_path("/b/a\nb\rc") == "/b/a_b_c"
    assert routing_path("/b/ü") == "/b/ü".encode().decode("latin-1")


@pytest.mark.parametrize(
    "key", ["line\nbreak.txt", "carriage\rreturn", "ü/../x", "a//b", "q?x=1#frag", "100%.txt", "semi;colon", " leading space"]
)
def test_a_key_of_any_characters_is_stored_and_read_back_as_itself(tmp_path, key):
    fronts = s3_fronts(tmp_path)
    put = call(fronts.internet, signed_environ("PUT", f"https://{LAB}/{key_path(key)}", b"data"))
    assert put.status_code == 200, put.data
    assert stored_objects()["lab-bucket"][key] == b"data"
    got = call(fronts.internet, signed_environ("GET", f"https://{LAB}/{key_path(key)}"))
    assert (got.status_code, got.data) == (200, b"data")
    assert [r["key"] for r in fronts.logged()] == [key, key]
