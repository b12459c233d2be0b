"""The S3 and DynamoDB fronts of topologies/gateway-endpoint-policies.yaml, in process over moto's
real apps, for unit tests: no sockets, no namespaces, the same code the lab's front process runs.

Its world: lab-bucket, other-bucket and vpce-only-bucket (with policies/vpce-only-bucket.json), the
gateway endpoint s3-gw (policies/lab-bucket-only.json) and ddb-gw (policies/orders-read-only.json)
with their derived ids, table orders. Each front has the internet ingress and the endpoint's; every
request goes through `RequestLog`, as in the lab. moto keeps its state in process-wide backends:
`reset_moto` empties them before a lab is seeded, and `stored_objects`/`stored_items` read them
directly, so a test sees what moto really did, whatever the front answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from moto.dynamodb.models import dynamodb_backends
from moto.s3.models import s3_backends

from lab.model.ids import ACCOUNT_ID
from lab.model.policy import PolicyDocument, parse_policy
from lab.model.topology import Bucket, Table
from lab.plan.names import aws_id
from lab.services.access import RequestLog
from lab.services.config import Ingress
from lab.services.dynamodb_front import DynamoDbFront
from lab.services.front import service_app
from lab.services.process import JsonLines
from lab.services.s3front import S3Front
from lab.services.seed import seed
from signing import REGION

POLICIES = Path(__file__).resolve().parents[1] / "lab" / "data" / "policies"
VPC_ID = aws_id("vpc", "app")
S3_VPCE = aws_id("vpce", "app", "s3-gw")  # vpce-0dd9b18a55d4579dd
DDB_VPCE = aws_id("vpce", "app", "ddb-gw")
S3_HOST = f"s3.{REGION}.amazonaws.com"
DDB_HOST = f"dynamodb.{REGION}.amazonaws.com"
OBJECTS = {
    "lab-bucket": {"hello.txt": "hello from S3 in ap-northeast-2\n"},
    "other-bucket": {"report.txt": "anyone in the account may read this\n"},
    "vpce-only-bucket": {"secret.txt": "top secret: only through vpce-0dd9b18a55d4579dd\n"},
}


def policy(name: str) -> PolicyDocument:
    """One of the shipped policies (lab/data/policies/<name>.json), parsed."""
    return parse_policy(json.loads((POLICIES / f"{name}.json").read_text()), name)


def reset_moto(*services: str) -> None:
    """Empty moto's state of these services (default: S3 and DynamoDB); it is process-wide, shared
    by every test's fronts. (BackendDict.reset would empty every service's.)"""
    backends = {"s3": s3_backends, "dynamodb": dynamodb_backends}
    for service in services or tuple(backends):
        for account in backends[service].values():
            for backend in account.values():
                backend.reset()


def stored_objects() -> dict[str, dict[str, bytes]]:
    """Every bucket moto holds, with each key's current data."""
    return {
        name: {key: getattr(obj, "value", None) for key, obj in bucket.keys.items()}
        for backend in (b for account in s3_backends.values() for b in account.values())
        for name, bucket in backend.buckets.items()
    }


def stored_items(table: str, region: str = REGION) -> list[dict]:
    """A table's items in the lab's account, the one moto serves (lab.services.front.service_app)."""
    return [item.to_json()["Attributes"] for item in dynamodb_backends[ACCOUNT_ID][region].tables[table].all_items()]


@dataclass(frozen=True)
class Fronts:
    """One front's apps: `internet` and `endpoint` (the ingress of its gateway endpoint), both logged to `log`."""

    internet: RequestLog
    endpoint: RequestLog
    log: Path

    def logged(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


def s3_fronts(
    tmp_path: Path,
    objects: dict[str, dict[str, str]] = OBJECTS,
    bucket_policies: dict[str, PolicyDocument] | None = None,
    endpoint_policy: PolicyDocument | None = None,
    elsewhere: dict[str, str] | None = None,
    control: Path | None = None,
) -> Fronts:
    """S3 fronts over a freshly seeded moto; by default the topology's policies; `control`: the lab
    controller's socket, where bucket policies put and deleted go (none: they are NotImplemented)."""
    reset_moto("s3")
    app = service_app("s3")
    seed(app, "s3", REGION, tuple(Bucket(name, REGION, None, keys) for name, keys in objects.items()), ())
    policies = {"vpce-only-bucket": policy("vpce-only-bucket")} if bucket_policies is None else bucket_policies
    ingresses = (
        Ingress("internet", 10080, 10443),
        Ingress(S3_VPCE, 10081, 10444, VPC_ID, endpoint_policy or policy("lab-bucket-only")),
    )
    log = JsonLines(tmp_path / "s3-requests.jsonl")
    internet, endpoint = (
        RequestLog(S3Front(app, REGION, i, policies, elsewhere or {}, control), "s3", i, log) for i in ingresses
    )
    return Fronts(internet, endpoint, tmp_path / "s3-requests.jsonl")


def dynamodb_fronts(tmp_path: Path, endpoint_policy: PolicyDocument | None = None) -> Fronts:
    """DynamoDB fronts over a freshly seeded moto with table orders; ddb-gw read-only by default."""
    reset_moto("dynamodb")
    app = service_app("dynamodb")
    seed(app, "dynamodb", REGION, (), (Table("orders", REGION, "id"),))
    ingresses = (
        Ingress("internet", 10082, 10445),
        Ingress(DDB_VPCE, 10083, 10446, VPC_ID, endpoint_policy or policy("orders-read-only")),
    )
    log = JsonLines(tmp_path / "dynamodb-requests.jsonl")
    internet, endpoint = (RequestLog(DynamoDbFront(app, i, REGION), "dynamodb", i, log) for i in ingresses)
    return Fronts(internet, endpoint, tmp_path / "dynamodb-requests.jsonl")
