"""What S3 checks when a policy is attached to one bucket (PutBucketPolicy), beyond the grammar every
resource policy shares (lab.model.policy): each resource must name that bucket or objects in it, and
each action must apply to a resource of its statement. S3 refuses otherwise with HTTP 400,
MalformedPolicy, "Policy has invalid resource" or "Action does not apply to any resource(s) in
statement" (S3's error codes: https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html;
the messages as S3 words them in PutBucketPolicy's answer). Which level an action acts on (the
service, a bucket, an object) is S3's own table (lab.model.s3_operations): an action the lab does not
know, or one written with wildcards, is left alone, as a wildcard may match actions of any level.
"""

from __future__ import annotations

from lab.model.policy import MalformedPolicy, PolicyDocument, Statement
from lab.model.s3_operations import OPERATIONS
from lab.model.wildcard import Wildcard

S3_ARN = "arn:aws:s3:::"
CODE = "MalformedPolicy"
LEVELS: dict[str, set[str]] = {}
for _op in OPERATIONS:
    for _action in (_op.action, _op.version_action):
        if _action:
            LEVELS.setdefault(_action.lower(), set()).add(_op.level)


def check_bucket_policy(policy: PolicyDocument, bucket: str) -> None:
    """Raise MalformedPolicy (S3's code, the field's path for the line) if S3 would refuse `policy` on `bucket`."""
    raw = policy.document.get("Statement")
    for index, statement in enumerate(policy.statements):
        path: tuple[str | int, ...] = ("Statement", index) if isinstance(raw, list) else ("Statement",)
        where = "policy.Statement" + (f"[{index}]" if isinstance(raw, list) else "")
        if statement.resources.negated:
            continue
        resources = [w.pattern for w in statement.resources.values]
        for resource in resources:
            if not names_bucket(resource, bucket):
                raise MalformedPolicy(
                    f"{where}.Resource: Policy has invalid resource: {resource!r} is not bucket {bucket} "
                    f"nor its objects (write {S3_ARN}{bucket} or {S3_ARN}{bucket}/*)",
                    (*path, "Resource"),
                    CODE,
                )
        check_actions(statement, resources, bucket, where, path)


def names_bucket(resource: str, bucket: str) -> bool:
    """`*`, or an S3 ARN whose bucket part (before the first '/') matches `bucket`."""
    if resource == "*":
        return True
    if not resource.startswith(S3_ARN):
        return False
    return Wildcard(resource[len(S3_ARN) :].split("/", 1)[0]).fullmatch(bucket)


def check_actions(statement: Statement, resources: list[str], bucket: str, where: str, path: tuple[str | int, ...]) -> None:
    if statement.actions.negated:
        return
    for action in (w.pattern for w in statement.actions.values):
        levels = LEVELS.get(action.lower())
        if levels is None or any(reaches(r, level, bucket) for r in resources for level in levels):
            continue
        raise MalformedPolicy(
            f"{where}.Action: Action does not apply to any resource(s) in statement: {action} acts on "
            f"{' or '.join(sorted(levels))} resources ({example(levels, bucket)}), and the statement names "
            f"{', '.join(resources)}",
            (*path, "Action"),
            CODE,
        )


def reaches(resource: str, level: str, bucket: str) -> bool:
    """Whether `resource` can name a resource of `level`: the bucket's ARN, or an object's."""
    if resource == "*":
        return True
    if level == "bucket":
        return Wildcard(resource).fullmatch(f"{S3_ARN}{bucket}")
    if level == "object":
        return "/" in resource or resource.endswith("*")
    return False  # the service level (ListAllMyBuckets) has no resource but "*"


def example(levels: set[str], bucket: str) -> str:
    shapes = {"bucket": f"{S3_ARN}{bucket}", "object": f"{S3_ARN}{bucket}/*", "service": '"*"'}
    return ", ".join(shapes[level] for level in sorted(levels))
