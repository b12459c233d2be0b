"""IAM wildcard matching without backtracking: the same answers as the regex it replaced, in linear time."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.model.policy import Request, Scope, decide, parse_policy
from lab.model.wildcard import Wildcard


def regex_glob(pattern: str, ignore_case: bool = False) -> re.Pattern:
    """The matcher vpclab used before (a backtracking regex): the oracle for the semantics."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


# Few distinct characters, so that generated patterns and texts overlap often.
PATTERNS = st.text(alphabet="ab/*?.\n", max_size=12)
TEXTS = st.text(alphabet="ab/.\n*?", max_size=24)


@settings(max_examples=3000, deadline=None)
@given(PATTERNS, TEXTS)
def test_matches_exactly_what_the_regex_matched(pattern, text):
    assert Wildcard(pattern).fullmatch(text) == bool(regex_glob(pattern).fullmatch(text))


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="aAbB:*?", max_size=10), st.text(alphabet="aAbB:", max_size=16))
def test_actions_ignore_case_as_the_regex_did(pattern, text):
    assert Wildcard(pattern, ignore_case=True).fullmatch(text) == bool(regex_glob(pattern, ignore_case=True).fullmatch(text))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=8), st.text(max_size=16))
def test_any_unicode_text(pattern, text):
    assert Wildcard(pattern).fullmatch(text) == bool(regex_glob(pattern).fullmatch(text))


@pytest.mark.parametrize(
    "pattern, text, expected",
    [
        ("arn:aws:s3:::lab-bucket/*", "arn:aws:s3:::lab-bucket/a/b", True),
        ("arn:aws:s3:::lab-bucket/*", "arn:aws:s3:::lab-bucket", False),
        ("s3:Get*", "s3:GetObject", True),
        ("s3:?etObject", "s3:PutObject", False),
        ("*", "", True),
        ("", "", True),
        ("a*a", "a", False),  # the two ends may not overlap
        ("*a*b*", "xxbxxa", False),
    ],
)
def test_documented_cases(pattern, text, expected):
    assert Wildcard(pattern).fullmatch(text) is expected


@pytest.mark.timeout(5)
def test_a_key_of_many_slashes_is_decided_at_once():
    """Issue 8: a Deny on lab-bucket/*/*/*/*.log and a key of `a` plus 800 slashes took 8.75 s with
    the regex; 10,000 slashes (plus a ? in the pattern) must take well under a second."""
    deny = parse_policy(
        {
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": ["arn:aws:s3:::lab-bucket/*/*/*/*.log", "arn:aws:s3:::lab-bucket/*/?/*/*/*.log"],
                },
            ]
        },
        "t",
    )
    request = Request(None, "s3:GetObject", "arn:aws:s3:::lab-bucket/a" + "/" * 10_000, {})
    started = time.perf_counter()
    verdict = decide(request, Scope("endpoint policy", deny), Scope("bucket policy", deny))
    assert verdict is None  # no .log at the end: not denied, and the Allow lets it through
    assert time.perf_counter() - started < 0.5
