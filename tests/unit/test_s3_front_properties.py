"""Property tests: for generated S3 requests (any method case, every Host form, paths of random
unicode, percent escapes, slashes and dots, random query parameters and subresource markers), what
the front decided and logged is what moto did.

- A PUT stores its (unique) body exactly at the bucket and key the front logged and authorized, or
  nowhere; moto's own backend is searched for the body, whatever the front answered.
- A GET or HEAD of an object answers that very object's data (or its length), never another's.
- A refused request carries no object's data.

The world is topologies/gateway-endpoint-policies.yaml's (tests/fronts.py); requests are signed by
botocore and come from the internet or through s3-gw.
"""

from __future__ import annotations

import itertools
import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fronts import OBJECTS, s3_fronts, stored_objects
from signing import call, signed_environ

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BUCKETS = ["lab-bucket", "other-bucket", "vpce-only-bucket", "no-such-bucket"]
HOST_FORMS = [
    "{b}.s3.ap-northeast-2.amazonaws.com",
    "{b}.s3.ap-northeast-2.amazonaws.com.",
    "{B}.S3.AP-NORTHEAST-2.AMAZONAWS.COM",
    "{b}.s3.dualstack.ap-northeast-2.amazonaws.com",
    "{b}.s3.amazonaws.com",
    "{b}.s3.ap-northeast-2.amazonaws.com:443",
    "www.{b}.s3.ap-northeast-2.amazonaws.com",
    "{b}.example.com",
    "{b}.s3-website.ap-northeast-2.amazonaws.com",
    "s3.ap-northeast-2.amazonaws.com/{b}",
    "s3.amazonaws.com./{b}",
    "52.219.60.10/{b}",
]
MARKERS = [
    "acl",
    "tagging",
    "versionId",
    "uploads",
    "uploadId",
    "partNumber",
    "delete",
    "list-type",
    "versions",
    "policy",
    "location",
    "restore",
    "select",
    "website",
    "x-id",
    "attributes",
    "retention",
    "torrent",
    "prefix",
    "response-content-type",
    "AWSAccessKeyId",
    "X-Amz-Date",
    "bogus",
]
SEEDED = {(bucket, key): text.encode() for bucket, keys in OBJECTS.items() for key, text in keys.items()}
counter = itertools.count()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return s3_fronts(tmp_path_factory.mktemp("s3-properties"))


def segment_chars():
    """One character of a key as a client may send it: itself, or percent-encoded, or a stray escape."""
    char = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
    literal = st.sampled_from(list("abcXYZ019-_.~!$&'()*+,;=:@%")) | st.just("/") | st.just("..")
    encoded = char.map(lambda c: quote(c, safe=""))
    stray = st.integers(0, 255).map(lambda b: f"%{b:02X}")
    special = st.sampled_from(["%2F", "%2e%2e", "//", "%25", "hello.txt", "secret.txt", "%C3%BC", "%E2%82%AC"])
    return st.one_of(literal, literal, literal, encoded, encoded, special, stray)  # invalid UTF-8 now and then


@st.composite
def requests(draw, methods: list[str]):
    """(method, URL, body): every part drawn; the body a unique token found again in moto."""
    bucket = draw(st.sampled_from(BUCKETS))
    host = draw(st.sampled_from(HOST_FORMS)).format(b=bucket, B=bucket.upper())
    path = "".join(draw(st.lists(segment_chars(), min_size=draw(st.sampled_from([0, 1, 1, 1])), max_size=12)))
    names = draw(st.lists(st.sampled_from(MARKERS) | st.text("abc-", min_size=1, max_size=4), max_size=3))  # repeats too
    query = "&".join(
        quote(n, safe="-_.~") + (f"={quote(v, safe='-_.~')}" if v else "")
        for n, v in ((n, draw(st.sampled_from(["", "1", "null", "a b"]))) for n in names)
    )
    url = f"https://{host}/{path}" + (f"?{query}" if query else "")
    return draw(st.sampled_from(methods)), url, f"property-body-{next(counter)}".encode()


def send(lab, ingress: str, method: str, url: str, body: bytes):
    response = call(
        getattr(lab, ingress),
        signed_environ(method, url, body if method.upper() in ("PUT", "POST") else b"", client=("10.0.2.4", 40000)),
    )
    line = json.loads(lab.log.read_text().splitlines()[-1])
    return response, line


def holders(body: bytes) -> list[tuple[str, str]]:
    return [(b, k) for b, keys in stored_objects().items() for k, data in keys.items() if data == body]


@SETTINGS
@given(request=requests(["PUT"] * 6 + ["put", "Put"]), ingress=st.sampled_from(["internet", "endpoint"]))
@example(request=("PUT", "https://lab-bucket.s3.ap-northeast-2.amazonaws.com./pwned.txt", b"issue-8-a"), ingress="endpoint")
@example(request=("PUT", "https://www.lab-bucket.s3.ap-northeast-2.amazonaws.com/pwned.txt", b"issue-8-b"), ingress="endpoint")
@example(request=("PUT", "https://s3.ap-northeast-2.amazonaws.com//other-bucket/pwned.txt", b"issue-8-c"), ingress="endpoint")
def test_a_put_is_stored_exactly_where_it_was_authorized_or_nowhere(lab, request, ingress):
    method, url, body = request
    response, line = send(lab, ingress, method, url, body)
    stored = holders(body)
    if response.status_code == 200 and line["action"] == "s3:PutObject":
        assert line["decision"] == "allow"
        assert stored == [(line["bucket"], line["key"])], (url, line)
    else:
        assert stored == [], (url, response.status_code, line)


@SETTINGS
@given(request=requests(["PUT"]), reader=requests(["GET", "HEAD", "get"]), ingress=st.sampled_from(["internet", "endpoint"]))
def test_a_read_answers_the_logged_objects_data_and_nothing_else(lab, request, reader, ingress):
    method, url, body = request
    send(lab, "internet", method, url, body)  # most of these store an object the read may find
    for read_url in (url, reader[1]):
        response, line = send(lab, ingress, reader[0], read_url, b"")
        objects = stored_objects()
        if response.status_code in (200, 206) and line["action"] == "s3:GetObject":  # 206: a partNumber's part
            data = objects[line["bucket"]][line["key"]]
            assert (response.data if reader[0] == "GET" else response.headers["Content-Length"]) == (
                data if reader[0] == "GET" else str(len(data))
            ), (read_url, line)
        elif response.status_code not in (200, 206):
            assert not any(d and d in response.data for keys in objects.values() for d in keys.values())


def xml_text(text: str) -> str:
    """`text` as XML character data that any parser reads back as itself (CR and LF as references)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;").replace("\n", "&#10;")


KEY_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\r\n\t &<>/ "), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.lists(KEY_TEXT, min_size=1, max_size=5, unique=True), named=st.data())
def test_delete_objects_removes_exactly_the_keys_it_names(lab, keys, named):
    """Keys of any characters XML can carry: moto deletes the ones named and no other."""
    prefix = f"del-{next(counter)}/"
    for key in keys:
        assert (
            send(
                lab,
                "internet",
                "PUT",
                f"https://s3.ap-northeast-2.amazonaws.com/lab-bucket/{quote(prefix + key, safe='/')}",
                b"x",
            )[0].status_code
            == 200
        )
    chosen = named.draw(st.lists(st.sampled_from(keys), unique=True))
    document = "<Delete>" + "".join(f"<Object><Key>{xml_text(prefix + k)}</Key></Object>" for k in chosen) + "</Delete>"
    response, _ = send(lab, "internet", "POST", "https://lab-bucket.s3.ap-northeast-2.amazonaws.com/?delete", document.encode())
    assert response.status_code == (200 if chosen else 400)
    left = {k[len(prefix) :] for k in stored_objects()["lab-bucket"] if k.startswith(prefix)}
    assert left == set(keys) - set(chosen)
