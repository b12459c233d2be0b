"""Input that must get one clear line, never a hang, a traceback or all the memory (issue 8, item 7)."""
from __future__ import annotations

import os

import pytest

from lab.errors import TopologyError
from lab.model.loader import load_topology
from lab.model.policy_text import PolicyTextError, read_policy

TOPOLOGY = """vpcs:
  app:
    cidr: 10.0.0.0/16
    endpoints:
      s3-gw: {type: gateway, service: s3, policy: policy.json}
"""


@pytest.mark.timeout(10)
def test_a_policy_path_that_is_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "policy.json")
    (tmp_path / "lab.yaml").write_text(TOPOLOGY)
    with pytest.raises(TopologyError) as caught:
        load_topology(tmp_path / "lab.yaml")
    assert str(caught.value) == (f"{tmp_path}/lab.yaml:5: policy file 'policy.json' cannot be read (looked for "
                                 f"{tmp_path}/policy.json): it is a FIFO, not a regular file (MalformedPolicyDocument)")


@pytest.mark.timeout(10)
def test_a_topology_that_is_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "lab.yaml")
    with pytest.raises(TopologyError) as caught:
        load_topology(tmp_path / "lab.yaml")
    assert str(caught.value) == f"{tmp_path}/lab.yaml: cannot read the file: it is a FIFO, not a regular file (MalformedFile)"


def test_a_huge_topology_is_refused_before_it_is_read_whole(tmp_path):
    (tmp_path / "lab.yaml").write_text("# " + "x" * (4 * 1024 * 1024))
    with pytest.raises(TopologyError, match="larger than 4,096 KiB"):
        load_topology(tmp_path / "lab.yaml")


@pytest.mark.parametrize("text, line, message", [
    ('{"Statement": [],\n "Statement": []}', 2, 'policy has the key "Statement" twice in one object'),
    ('{"Effect": 1, "E\\u0066fect": 2}', 1, 'policy has the key "Effect" twice in one object'),
    ('{"a": -Infinity}', 1, "policy is not valid JSON: Infinity is not a JSON value"),
    ('{"a": 1e5, "b": [true, false, null]}', None, None),
    ('{"a": "NaN [[[[ \\" {"}', None, None),  # words and brackets in strings are text
])
def test_policy_text_that_json_loads_would_read_its_own_way(text, line, message):
    if message is None:
        read_policy(text, "endpoint")
        return
    with pytest.raises(PolicyTextError) as caught:
        read_policy(text, "endpoint")
    assert (caught.value.line, str(caught.value)[:len(message)]) == (line, message)


def test_policy_limits_are_exactly_awss():
    padding = '{"Statement": [], "Id": "%s"}'
    at_limit = padding % ("x" * (20_480 - len(padding % "")))
    read_policy(at_limit, "endpoint")
    with pytest.raises(PolicyTextError, match="20,481 characters"):
        read_policy(at_limit[:-1] + ' }', "endpoint")
    indented = '{\n' + ' ' * 30_000 + '"Statement": [], "Id": "x"}'
    read_policy(indented, "bucket")  # white space does not count for S3
