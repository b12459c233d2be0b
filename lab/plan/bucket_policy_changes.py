"""S3's PutBucketPolicy and DeleteBucketPolicy as changes of a running lab's model: the S3 front has
authorized the call (the endpoint policy, the bucket's own policy); here the policy is read and
checked as S3 checks it, and the bucket gets it, so the front, `explain` and every prediction after
it use the new policy. S3's answers: MalformedPolicy (400) for a document it would refuse,
NoSuchBucket (404) for a bucket the lab does not have
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). DeleteBucketPolicy of a bucket
with no policy succeeds (204), as S3 answers it."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from lab.model.api_errors import ApiCallError
from lab.model.bucket_policy import check_bucket_policy
from lab.model.policy import MalformedPolicy, parse_policy
from lab.model.topology import Policy, Topology
from lab.plan.types import Plan

ACTIONS = frozenset({"PutBucketPolicy", "DeleteBucketPolicy"})
LIMIT = 20 * 1024  # S3: a bucket policy is at most 20 KB


def handle(topology: Topology, plan: Plan, action: str, params: dict, region: str, account: str) -> tuple[Topology, dict]:
    """The controller's entry (as lab.plan.ec2_api.handle): the changed model, and no answer body
    (S3 answers 204 No Content)."""
    if action not in ACTIONS:
        raise ApiCallError("NotImplemented", f"the lab's controller changes bucket policies only, not {action}", 501)
    bucket = topology.buckets.get(str(params.get("Bucket", "")))
    if bucket is not None and bucket.region != region:  # the front redirects first; asked anyway, as S3 answers it
        raise ApiCallError(
            "PermanentRedirect", f"The bucket is in {bucket.region}: send the request to that region's endpoint", 301
        )
    return change(topology, action, params), {}


def change(topology: Topology, action: str, params: dict) -> Topology:
    bucket = str(params.get("Bucket", ""))
    if bucket not in topology.buckets:
        raise ApiCallError("NoSuchBucket", "The specified bucket does not exist", 404)
    policy = None if action == "DeleteBucketPolicy" else read_policy(str(params.get("Policy", "")), bucket)
    buckets = dict(topology.buckets) | {bucket: dataclasses.replace(topology.buckets[bucket], policy=policy)}
    return dataclasses.replace(topology, buckets=buckets)


def read_policy(text: str, bucket: str) -> Policy:
    """The document, checked as S3 checks one for `bucket`; its source names the call and the
    document's digest, so that two different policies are never taken for one another."""
    if len(text.encode()) > LIMIT:
        raise ApiCallError("PolicyTooLarge", f"Policy exceeds the maximum allowed document size of {LIMIT} bytes")
    try:
        document = json.loads(text)
        check_bucket_policy(parse_policy(document, "policy"), bucket)
    except ValueError as exc:  # json.JSONDecodeError and MalformedPolicy are both ValueErrors
        message = str(exc) if isinstance(exc, MalformedPolicy) else "Policies must be valid JSON and the first byte must be '{'"
        raise ApiCallError("MalformedPolicy", message) from None
    return Policy(f"PutBucketPolicy {hashlib.sha256(text.encode()).hexdigest()[:16]}", document)
