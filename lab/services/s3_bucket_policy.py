"""S3's bucket policy calls, answered by the front itself: moto never holds a policy (it would
enforce it with every condition taken as matched). GetBucketPolicy returns the bucket's document,
or S3's NoSuchBucketPolicy. PutBucketPolicy and DeleteBucketPolicy, once the front has authorized
them, go to the lab's controller (lab.services.control): the running lab's model changes, so the
fronts (reloaded), `explain` and every prediction use the new policy, never a policy changed behind
their back. S3 answers both with 204 No Content
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from lab.model.ids import ACCOUNT_ID
from lab.model.policy import PolicyDocument
from lab.services.authorize import answer
from lab.services.body import buffered_body
from lab.services.control import ControllerUnavailable, MessageTooLarge, ask
from lab.services.s3errors import error_xml

STATUS = {200: "200 OK", 204: "204 No Content", 400: "400 Bad Request", 404: "404 Not Found", 501: "501 Not Implemented"}


def bucket_policy_answer(
    environ: dict,
    start_response: Callable,
    action: str,
    bucket: str,
    policy: PolicyDocument | None,
    control: Path | None,
    region: str,
) -> Iterable[bytes]:
    if action == "s3:GetBucketPolicy" and policy is not None:
        return answer(start_response, "200 OK", "application/json", json.dumps(policy.document).encode())
    if action == "s3:GetBucketPolicy":
        body = error_xml("NoSuchBucketPolicy", "The bucket policy does not exist", BucketName=bucket)
        return answer(start_response, "404 Not Found", "application/xml", body)
    if control is None:
        body = error_xml("NotImplemented", "this front has no controller to take a bucket policy (a front run on its own)")
        return answer(start_response, "501 Not Implemented", "application/xml", body)
    call = "PutBucketPolicy" if action == "s3:PutBucketPolicy" else "DeleteBucketPolicy"
    params = {"Bucket": bucket}
    if call == "PutBucketPolicy":
        params["Policy"] = buffered_body(environ).decode("utf-8", "replace")
    try:
        said = ask(control, {"service": "s3", "action": call, "params": params, "region": region, "account": ACCOUNT_ID})
    except MessageTooLarge:  # far over S3's 20 KB for a bucket policy (lab.plan.bucket_policy_changes)
        body = error_xml("PolicyTooLarge", "Policy exceeds the maximum allowed document size", BucketName=bucket)
        return answer(start_response, "400 Bad Request", "application/xml", body)
    except ControllerUnavailable as exc:
        return answer(start_response, "503 Service Unavailable", "application/xml", error_xml("ServiceUnavailable", str(exc)))
    if "error" in said:
        error = said["error"]
        status = STATUS.get(error.get("status"), f"{error.get('status', 500)} Error")
        return answer(start_response, status, "application/xml", error_xml(error["code"], error["message"], BucketName=bucket))
    start_response("204 No Content", [("Content-Length", "0")])
    return [b""]
