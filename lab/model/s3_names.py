"""S3's rules for bucket names and object keys, as S3 documents them, each a pure check.

Bucket names, general purpose buckets
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): 3-63 characters;
lowercase letters, numbers, periods and hyphens; begin and end with a letter or number; no two
adjacent periods; not formatted as an IP address; not prefixed xn--, sthree- or amzn-s3-demo-; not
suffixed -s3alias (access point aliases), --ol-s3 (Object Lambda), .mrap (Multi-Region Access
Points), --x-s3 (directory buckets), --table-s3 (table buckets), and -an only "when you create a
bucket in your account regional namespace", which vpclab's buckets are not (they are global).
S3 answers InvalidBucketName.

Object keys (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html): "a sequence
of Unicode characters encoded in UTF-8, with a maximum length of 1,024 bytes"; longer is S3's
KeyTooLongError ("Your key is too long"). A key has at least one character (PutObject's Key:
"Minimum length of 1"); S3 has no request that could name an empty key, so vpclab reports it as
S3's InvalidArgument. Any other character is allowed, a newline included.
"""

from __future__ import annotations

import re

BUCKET_NAME_CODE = "InvalidBucketName"
PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3", "-an")
IP_FORM = re.compile(r"\d+\.\d+\.\d+\.\d+")
MAX_KEY_BYTES = 1024


def bucket_name_problem(name: str) -> str | None:
    """Which of S3's rules `name` breaks, in S3's words, or None."""
    if not 3 <= len(name) <= 63:
        return f"bucket names must be between 3 and 63 characters long (this one has {len(name)})"
    if not re.fullmatch(r"[a-z0-9.-]+", name):
        return "bucket names can consist only of lowercase letters, numbers, periods (.) and hyphens (-)"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "bucket names must begin and end with a letter or number"
    if ".." in name:
        return "bucket names must not contain two adjacent periods"
    if IP_FORM.fullmatch(name):
        return "bucket names must not be formatted as an IP address"
    reserved = next((p for p in PREFIXES if name.startswith(p)), None)
    if reserved:
        return f"bucket names must not start with the reserved prefix {reserved}"
    reserved = next((s for s in SUFFIXES if name.endswith(s)), None)
    if reserved:
        return f"bucket names must not end with the reserved suffix {reserved}"
    return None


def object_key_problem(key: str) -> tuple[str, str] | None:
    """(message, S3's code) when S3 cannot store an object under `key`, else None."""
    if not key:
        return "an object key needs at least one character", "InvalidArgument"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "the key is not valid Unicode (it holds a lone surrogate, which UTF-8 cannot encode)", "InvalidArgument"
    if size > MAX_KEY_BYTES:
        return f"the key is {size:,} bytes in UTF-8; S3 keys are at most {MAX_KEY_BYTES:,}", "KeyTooLongError"
    return None
