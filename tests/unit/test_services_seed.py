"""Objects the topology declares are created at lab start under exactly their keys, whatever
characters S3 allows in them (issue 8: a key with a newline failed the start)."""

from __future__ import annotations

import re
from urllib.parse import unquote

from werkzeug.test import Client

from lab.model.topology import Bucket
from lab.services.front import service_app
from lab.services.seed import _scope, seed

SEOUL = "ap-northeast-2"
KEYS = {
    "line\nbreak.txt": "one",
    "crlf\r\n": "two",
    "nul\x00.txt": "three",
    "${filename}\nx": "four",
    "dir/ü 한.txt": "five",
    "?#%+&=.txt": "six",
    "k" * 1024: "seven",
}


def test_every_key_s3_allows_is_created_as_written():
    app = service_app("s3")  # the app the S3 front serves
    seed(app, "s3", SEOUL, (Bucket("seed-keys-bucket", SEOUL, None, KEYS),), ())
    headers = {"Host": f"s3.{SEOUL}.amazonaws.com", **_scope(SEOUL, "s3")}
    listing = Client(app).get("/seed-keys-bucket?list-type=2&encoding-type=url", headers=headers)
    found = re.findall(
        r"<Key>(.*?)</Key><LastModified>.*?</LastModified><ETag>.*?</ETag><Size>(\d+)</Size>", listing.get_data(as_text=True)
    )
    assert {unquote(key): int(size) for key, size in found} == {k: len(v) for k, v in KEYS.items()}
