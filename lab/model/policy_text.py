"""A policy document's text, checked before Python's json reads it, and its size as AWS limits it.

`json.loads` reads `{"Effect": "Deny", "Effect": "Allow"}` as Allow (the last key wins), takes
`NaN` and `Infinity` although JSON has no such numbers, and recurses once per nesting level. So one
linear pass over the tokens first refuses a key given twice in one object, any bare word but
true/false/null, and nesting deeper than any policy needs, each at its line: a policy whose meaning
depends on the parser is MalformedPolicyDocument, never a guess.

Size limits, as AWS documents them:
- endpoint policy: "The size of an endpoint policy cannot exceed 20,480 characters, including white
  space" (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html; quota
  L-3248932A, not adjustable). EC2 names no error code of its own for it: vpclab reports it as
  MalformedPolicyDocument, its code for every endpoint policy it refuses.
- bucket policy: "Bucket policies are limited to 20 KB in size"
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-iam-policies.html). S3 stores the
  document normalized, so white space is not counted here; the error is PolicyTooLarge ("Policy
  exceeds the maximum allowed document size"), as S3-compatible servers reproduce S3's PutBucketPolicy.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lab.errors import BadInput

MAX_DEPTH = 16  # a policy needs 6: policy, Statement list, statement, Condition, operator, values
ENDPOINT_POLICY_CHARACTERS = 20_480
BUCKET_POLICY_BYTES = 20 * 1024
MALFORMED = "MalformedPolicyDocument"
# Strings (an unterminated one runs to the end, so no alternative ever backtracks), numbers,
# brackets, colons and bare words: all a linear pass needs to see.
TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|-?\d[\d.eE+-]*|[][{}:]|[A-Za-z_]\w*')


class PolicyTextError(BadInput):
    """A policy's text AWS would refuse; `line` 0 means the document as a whole."""

    def __init__(self, line: int, message: str, code: str = MALFORMED):
        super().__init__(message)
        self.line, self.code = line, code


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _key(token: str) -> str | None:
    """A string token's value (escapes decoded, so "E\\u0066fect" is Effect), None if unterminated."""
    try:
        return json.loads(token)
    except ValueError:
        return None


def check_tokens(text: str) -> None:
    """Refuse duplicate keys, bare words that are not JSON and deep nesting, before json.loads."""
    open_objects: list[set | None] = []  # the keys seen in each open object; None for an array
    previous = None
    for token in TOKEN.finditer(text):
        value = token.group()
        if value in ("{", "["):
            open_objects.append(set() if value == "{" else None)
            if len(open_objects) > MAX_DEPTH:
                raise PolicyTextError(
                    _line(text, token.start()),
                    f"policy nests deeper than {MAX_DEPTH} "
                    "levels; a policy needs 6 (policy, Statement, statement, Condition, "
                    "operator, values)",
                )
        elif value in ("}", "]") and open_objects:
            open_objects.pop()
        elif value == ":" and previous and previous.group()[0] == '"' and open_objects and open_objects[-1] is not None:
            _check_key(text, previous, open_objects[-1])
        elif value[0].isalpha() and value not in ("true", "false", "null"):
            raise PolicyTextError(
                _line(text, token.start()),
                f"policy is not valid JSON: {value} is not a JSON value (JSON has no NaN or Infinity; quote strings)",
            )
        previous = token


def _check_key(text: str, token: re.Match, seen: set) -> None:
    key = _key(token.group())
    if key in seen:
        raise PolicyTextError(
            _line(text, token.start()),
            f'policy has the key "{key}" twice in one object; JSON does not say which one counts, so give it once',
        )
    seen.add(key)


def read_policy(text: str, kind: str) -> Any:
    """The document in `text`, for an 'endpoint' or a 'bucket' policy, within AWS's size limit."""
    check_tokens(text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyTextError(exc.lineno, f"policy is not valid JSON: {exc.msg}") from None
    check_size(text, document, kind)
    return document


def check_size(text: str, document: Any, kind: str) -> None:
    if kind == "endpoint" and len(text) > ENDPOINT_POLICY_CHARACTERS:
        raise PolicyTextError(
            0,
            f"the endpoint policy has {len(text):,} characters; an endpoint policy "
            f"may have at most {ENDPOINT_POLICY_CHARACTERS:,}, white space included",
        )
    if kind == "bucket":
        size = len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if size > BUCKET_POLICY_BYTES:
            raise PolicyTextError(
                0,
                f"the bucket policy is {size:,} bytes without white space; S3 limits "
                f"a bucket policy to 20 KB ({BUCKET_POLICY_BYTES:,} bytes)",
                "PolicyTooLarge",
            )
