"""The JSON the realizer starts each service with: what parses, and what each mistake says."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.model.topology import Bucket, Table
from lab.plan.compile import compile_plan
from lab.plan.serialize import to_data
from lab.model.loader import load_topology
from lab.services.config import Ingress, load_front_config, load_resolver_config
from lab.services.errors import ServiceError

REPO = Path(__file__).resolve().parents[2]

FRONT = {"service": "s3", "region": "ap-northeast-2",
         "ingresses": [{"name": "internet", "http": 10080, "https": 10443},
                       {"name": "vpce-0a1b2c3d4e5f60718", "http": 10081, "https": 10444}],
         "cert": "/run/ca/s3-cert.pem", "key": "/run/ca/s3-key.pem", "request_log": "/run/s3/requests.jsonl",
         "buckets": [{"name": "lab-bucket", "region": "ap-northeast-2", "objects": {"hello.txt": "hello\n"}}]}


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
    assert config.ingresses == (Ingress("internet", 10080, 10443), Ingress("vpce-0a1b2c3d4e5f60718", 10081, 10444))
    assert [i.vpce_id for i in config.ingresses] == [None, "vpce-0a1b2c3d4e5f60718"]
    assert config.buckets == (Bucket("lab-bucket", "ap-northeast-2", None, {}),)
    assert config.buckets[0].objects == {"hello.txt": "hello\n"}
    assert config.tables == () and str(config.request_log) == "/run/s3/requests.jsonl"


def test_dynamodb_front_holds_tables(tmp_path):
    data = {k: v for k, v in FRONT.items() if k != "buckets"}
    config = load_front_config(write(tmp_path, {**data, "service": "dynamodb",
                                                "tables": [{"name": "orders", "region": "us-east-1",
                                                            "partition_key": "id"}]}))
    assert config.tables == (Table("orders", "us-east-1", "id"),)


@pytest.mark.parametrize("changes, message", [
    ({"service": "sqs"}, "service: 'sqs' is not one of s3, dynamodb"),
    ({"service": "dynamodb"}, "buckets: a dynamodb front holds tables, not buckets"),
    ({"region": "mars-1"}, "region: unknown region 'mars-1' (known: ap-northeast-2, us-east-1)"),
    ({"ingresses": []}, "ingresses: at least one ingress is needed"),
    ({"ingresses": [{"name": "vpc-1", "http": 1, "https": 2}]},
     "ingresses[0].name: 'vpc-1' is neither 'internet' nor a vpce id (vpce-0123abcd...)"),
    ({"ingresses": [{"name": "internet", "http": 80, "https": 70000}]},
     "ingresses[0].https: port 70000 is not in 1-65535"),
    ({"ingresses": [{"name": "internet", "http": "80", "https": 443}]}, 'ingresses[0].http: expected int, got "80"'),
    ({"ingresses": [{"name": "internet", "http": 80, "https": 443, "iface": "inet"}]},
     "ingresses[0]: unknown field iface (expected name, http, https)"),
    ({"ingresses": [{"name": "internet", "http": 80, "https": 443}, {"name": "internet", "http": 81, "https": 444}]},
     "ingresses: ingress names repeat: internet, internet"),
    ({"ingresses": [{"name": "internet", "http": 80, "https": 443},
                    {"name": "vpce-0a1b2c3d4e5f60718", "http": 80, "https": 444}]},
     "ingresses: local ports repeat: 80, 443, 80, 444 (each ingress needs ports of its own to be told apart)"),
    ({"buckets": [{"name": "b", "region": "ap-northeast-2", "objects": {"k": 1}}]},
     "buckets[0].objects['k']: expected str, got 1"),
    ({"bucket": []}, "unknown field bucket (expected service, region, ingresses, cert, key, request_log, "
                     "buckets, tables)"),
])
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
