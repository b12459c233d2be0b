"""The JSON the realizer starts each service with: what parses, and what each mistake says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.model.loader import load_topology
from lab.model.policy import DEFAULT_ENDPOINT_POLICY, parse_policy
from lab.model.topology import Bucket, Table
from lab.plan.compile import compile_plan
from lab.plan.serialize import to_data
from lab.services.config import Ingress, load_front_config, load_resolver_config
from lab.services.errors import ServiceError

REPO = Path(__file__).resolve().parents[2]

FRONT = {
    "service": "s3",
    "region": "ap-northeast-2",
    "ingresses": [
        {"name": "internet", "http": 10080, "https": 10443},
        {"name": "vpce-0a1b2c3d4e5f60718", "http": 10081, "https": 10444, "vpc_id": "vpc-0a1b2c3d4e5f60718", "policy": None},
    ],
    "cert": "/run/ca/s3-cert.pem",
    "key": "/run/ca/s3-key.pem",
    "request_log": "/run/s3/requests.jsonl",
    "buckets": [{"name": "lab-bucket", "region": "ap-northeast-2", "objects": {"hello.txt": "hello\n"}}],
}


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return path


def front_error(tmp_path: Path, **changes) -> str:
    with pytest.raises(ServiceError) as e:
        load_front_config(write(tmp_path, {**FRONT, **changes}))
    return str(e.value).removeprefix(f"{tmp_path / 'config.json'}: ")


def test_front_config_parses_into_model_values(tmp_path):
    config = load_front_config(write(tmp_path, FRONT))
    default = parse_policy(DEFAULT_ENDPOINT_POLICY, "default")  # null: AWS's default endpoint policy
    assert config.ingresses == (
        Ingress("internet", 10080, 10443),
        Ingress("vpce-0a1b2c3d4e5f60718", 10081, 10444, "vpc-0a1b2c3d4e5f60718", default),
    )
    assert [i.vpce_id for i in config.ingresses] == [None, "vpce-0a1b2c3d4e5f60718"]
    assert config.buckets == (Bucket("lab-bucket", "ap-northeast-2", None, {}),)
    assert config.buckets[0].objects == {"hello.txt": "hello\n"}
    assert config.tables == () and str(config.request_log) == "/run/s3/requests.jsonl"
    assert config.bucket_policies == {}


def test_endpoint_and_bucket_policies_are_parsed_once_at_start(tmp_path):
    deny = {"Statement": {"Sid": "NoDeletes", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "*"}}
    ingresses = [FRONT["ingresses"][0], {**FRONT["ingresses"][1], "policy": deny}]
    buckets = [{**FRONT["buckets"][0], "policy": deny}, {"name": "open", "region": "ap-northeast-2", "policy": None}]
    config = load_front_config(write(tmp_path, {**FRONT, "ingresses": ingresses, "buckets": buckets}))
    assert config.ingresses[1].policy == parse_policy(deny, "") == config.bucket_policies["lab-bucket"]
    assert list(config.bucket_policies) == ["lab-bucket"]


def test_the_ec2_and_s3_fronts_hold_the_controllers_socket_and_only_they_do(tmp_path):
    data = {k: v for k, v in FRONT.items() if k != "buckets"}
    config = load_front_config(write(tmp_path, {**data, "service": "ec2", "control": "/run/lab/control.sock"}))
    assert config.control == Path("/run/lab/control.sock")
    with pytest.raises(ServiceError, match="control: the ec2 front needs the lab controller's socket"):
        load_front_config(write(tmp_path, {**data, "service": "ec2"}))
    assert load_front_config(write(tmp_path, {**FRONT, "control": "/run/lab/control.sock"})).control == Path(
        "/run/lab/control.sock"
    )
    assert load_front_config(write(tmp_path, FRONT)).control is None  # S3 on its own: bucket policies NotImplemented
    with pytest.raises(ServiceError, match="control: a dynamodb front holds tables, not control"):
        load_front_config(write(tmp_path, {**data, "service": "dynamodb", "control": "/run/lab/control.sock"}))


def test_dynamodb_front_holds_tables(tmp_path):
    data = {k: v for k, v in FRONT.items() if k != "buckets"}
    config = load_front_config(
        write(
            tmp_path,
            {**data, "service": "dynamodb", "tables": [{"name": "orders", "region": "us-east-1", "partition_key": "id"}]},
        )
    )
    assert config.tables == (Table("orders", "us-east-1", "id"),)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"service": "sns"}, "service: 'sns' is not one of s3, dynamodb, sqs, sts, secretsmanager, kms, ec2"),
        ({"service": "dynamodb"}, "buckets: a dynamodb front holds tables, not buckets"),
        ({"region": "mars-1"}, "region: unknown region 'mars-1' (known: ap-northeast-2, us-east-1)"),
        ({"ingresses": []}, "ingresses: at least one ingress is needed"),
        (
            {"ingresses": [{"name": "vpc-1", "http": 1, "https": 2}]},
            "ingresses[0].name: 'vpc-1' is neither 'internet' nor a vpce id (vpce-0123abcd...)",
        ),
        ({"ingresses": [{"name": "internet", "http": 80, "https": 70000}]}, "ingresses[0].https: port 70000 is not in 1-65535"),
        ({"ingresses": [{"name": "internet", "http": "80", "https": 443}]}, 'ingresses[0].http: expected int, got "80"'),
        (
            {"ingresses": [{"name": "internet", "http": 80, "https": 443, "iface": "inet"}]},
            "ingresses[0]: unknown field iface (expected name, http, https, vpc_id, policy)",
        ),
        (
            {"ingresses": [{"name": "internet", "http": 80, "https": 443, "vpc_id": "vpc-0a1b2c3d"}]},
            "ingresses[0]: the internet ingress has no vpc_id and no policy (endpoints have)",
        ),
        (
            {"ingresses": [{"name": "vpce-0a1b2c3d", "http": 80, "https": 443}]},
            "ingresses[0].vpc_id: endpoint vpce-0a1b2c3d needs its VPC's id (vpc-0123abcd...), got null",
        ),
        (
            {
                "ingresses": [
                    {
                        "name": "vpce-0a1b2c3d",
                        "http": 80,
                        "https": 443,
                        "vpc_id": "vpc-0a1b2c3d",
                        "policy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*"}]},
                    }
                ]
            },
            "ingresses[0].policy.Statement[0]: a statement needs exactly one of Resource and NotResource "
            "(MalformedPolicyDocument)",
        ),
        (
            {"buckets": [{"name": "b", "region": "ap-northeast-2", "policy": {"Statement": []}}]},
            "buckets[0].policy.Statement: a policy needs at least one statement (MalformedPolicyDocument)",
        ),
        (
            {"ingresses": [{"name": "internet", "http": 80, "https": 443}, {"name": "internet", "http": 81, "https": 444}]},
            "ingresses: ingress names repeat: internet, internet",
        ),
        (
            {
                "ingresses": [
                    {"name": "internet", "http": 80, "https": 443},
                    {"name": "vpce-0a1b2c3d4e5f60718", "http": 80, "https": 444, "vpc_id": "vpc-0a1b2c3d"},
                ]
            },
            "ingresses: local ports repeat: 80, 443, 80, 444 (each ingress needs ports of its own to be told apart)",
        ),
        (
            {"buckets": [{"name": "b", "region": "ap-northeast-2", "objects": {"k": 1}}]},
            "buckets[0].objects['k']: expected str, got 1",
        ),
        (
            {"bucket": []},
            "unknown field bucket (expected service, region, ingresses, cert, key, request_log, buckets, tables, "
            "elsewhere, control)",
        ),
    ],
)
def test_front_config_mistakes_name_the_field(tmp_path, changes, message):
    assert front_error(tmp_path, **changes) == message


def test_missing_fields_and_bad_json_are_reported(tmp_path):
    with pytest.raises(ServiceError, match=r"config.json: missing cert, key$"):
        load_front_config(write(tmp_path, {k: v for k, v in FRONT.items() if k not in ("cert", "key")}))
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(ServiceError, match="config.json: cannot read config: Expecting property name"):
        load_front_config(tmp_path / "config.json")


def test_resolver_config_is_the_plans_resolver_as_serialized(tmp_path, monkeypatch):
    """The realizer writes `to_data(plan.resolvers[vpc])` plus a log path; it must come back unchanged."""
    monkeypatch.chdir(REPO)
    resolver = compile_plan(load_topology("topologies/public-private.yaml")).resolvers["app"]
    config = load_resolver_config(write(tmp_path, {**to_data(resolver), "query_log": "/run/dns.jsonl"}))
    assert config.resolver == resolver
    assert str(config.query_log) == "/run/dns.jsonl"


def test_resolver_config_mistakes(tmp_path):
    base = {"vpc": "app", "addresses": ["10.0.0.2"], "records": [], "query_log": "/run/dns.jsonl"}
    with pytest.raises(ServiceError, match=r"addresses\[0\]: Octet 300 \(> 255\) not permitted in '10.0.0.300'"):
        load_resolver_config(write(tmp_path, {**base, "addresses": ["10.0.0.300"]}))
    with pytest.raises(ServiceError, match=r"records\[0\]: missing addresses"):
        load_resolver_config(write(tmp_path, {**base, "records": [{"name": "x"}]}))
    with pytest.raises(ServiceError, match="addresses: at least one address is needed"):
        load_resolver_config(write(tmp_path, {**base, "addresses": []}))
