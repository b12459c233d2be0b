"""PutBucketPolicy and DeleteBucketPolicy as changes of the live model (lab.plan.bucket_policy_changes):
the bucket gets the policy S3 would accept, refusals are S3's codes, and explain follows the change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.analysis.explain import explain
from lab.model.api_errors import ApiCallError
from lab.model.loader import load_topology
from lab.plan.bucket_policy_changes import change, handle
from lab.plan.compile import compile_plan

REPO = Path(__file__).resolve().parents[2]
DENY_ALL_BUT_VPCE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::lab-bucket/*",
            "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}},
        }
    ],
}


@pytest.fixture
def topology(monkeypatch):
    monkeypatch.chdir(REPO)
    return load_topology("topologies/public-private.yaml")


def test_a_policy_put_is_the_buckets_and_explain_follows_it(topology):
    url = "lab-bucket.s3.ap-northeast-2.amazonaws.com"
    assert explain(topology, compile_plan(topology), "app1", url, 443).outcome.value == "ok"
    changed = change(topology, "PutBucketPolicy", {"Bucket": "lab-bucket", "Policy": json.dumps(DENY_ALL_BUT_VPCE)})
    assert changed.buckets["lab-bucket"].policy.document == DENY_ALL_BUT_VPCE
    assert explain(changed, compile_plan(changed), "app1", url, 443, "/hello.txt").outcome.value == "denied"
    deleted = change(changed, "DeleteBucketPolicy", {"Bucket": "lab-bucket"})
    assert deleted.buckets["lab-bucket"].policy is None
    assert change(deleted, "DeleteBucketPolicy", {"Bucket": "lab-bucket"}) == deleted  # S3: 204 even with none


def test_two_different_policies_are_never_taken_for_one_another(topology):
    one = change(topology, "PutBucketPolicy", {"Bucket": "lab-bucket", "Policy": json.dumps(DENY_ALL_BUT_VPCE)})
    other = dict(DENY_ALL_BUT_VPCE, Id="another")
    two = change(one, "PutBucketPolicy", {"Bucket": "lab-bucket", "Policy": json.dumps(other)})
    assert one.buckets["lab-bucket"] != two.buckets["lab-bucket"]


@pytest.mark.parametrize(
    "params, code, status",
    [
        ({"Bucket": "nope", "Policy": "{}"}, "NoSuchBucket", 404),
        ({"Bucket": "lab-bucket", "Policy": "not json"}, "MalformedPolicy", 400),
        ({"Bucket": "lab-bucket", "Policy": "{}"}, "MalformedPolicy", 400),
        (
            {
                "Bucket": "lab-bucket",
                "Policy": json.dumps(
                    dict(DENY_ALL_BUT_VPCE, Statement=[dict(DENY_ALL_BUT_VPCE["Statement"][0], Resource="arn:aws:s3:::other/*")])
                ),
            },
            "MalformedPolicy",
            400,
        ),
        ({"Bucket": "lab-bucket", "Policy": " " * 20481}, "PolicyTooLarge", 400),
    ],
)
def test_what_s3_refuses_is_refused_with_its_code(topology, params, code, status):
    with pytest.raises(ApiCallError) as refused:
        change(topology, "PutBucketPolicy", params)
    assert (refused.value.code, refused.value.status) == (code, status)


def test_the_controller_entry_takes_only_bucket_policy_calls(topology):
    with pytest.raises(ApiCallError, match="NotImplemented"):
        handle(topology, compile_plan(topology), "PutBucketAcl", {"Bucket": "lab-bucket"}, "ap-northeast-2", "111122223333")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["Bucket", "Policy", "Other"]), st.one_of(st.text(), st.integers(), st.none())))
def test_any_parameters_give_a_change_or_an_s3_refusal(params):
    topology = load_topology(str(REPO / "topologies/public-private.yaml"))
    for action in ("PutBucketPolicy", "DeleteBucketPolicy"):
        try:
            change(topology, action, params)
        except ApiCallError:
            pass
