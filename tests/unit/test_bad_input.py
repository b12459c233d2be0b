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
    assert str(caught.value) == (
        f"{tmp_path}/lab.yaml:5: policy file 'policy.json' cannot be read (looked for "
        f"{tmp_path}/policy.json): it is a FIFO, not a regular file (MalformedPolicyDocument)"
    )


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


@pytest.mark.parametrize(
    "text, line, message",
    [
        ('{"Statement": [],\n "Statement": []}', 2, 'policy has the key "Statement" twice in one object'),
        ('{"Effect": 1, "E\\u0066fect": 2}', 1, 'policy has the key "Effect" twice in one object'),
        ('{"a": -Infinity}', 1, "policy is not valid JSON: Infinity is not a JSON value"),
        ('{"a": 1e5, "b": [true, false, null]}', None, None),
        ('{"a": "NaN [[[[ \\" {"}', None, None),  # words and brackets in strings are text
    ],
)
def test_policy_text_that_json_loads_would_read_its_own_way(text, line, message):
    if message is None:
        read_policy(text, "endpoint")
        return
    with pytest.raises(PolicyTextError) as caught:
        read_policy(text, "endpoint")
    assert (caught.value.line, str(caught.value)[: len(message)]) == (line, message)


def test_policy_limits_are_exactly_awss():
    padding = '{"Statement": [], "Id": "%s"}'
    at_limit = padding % ("x" * (20_480 - len(padding % "")))
    read_policy(at_limit, "endpoint")
    with pytest.raises(PolicyTextError, match="20,481 characters"):
        read_policy(at_limit[:-1] + " }", "endpoint")
    indented = "{\n" + " " * 30_000 + '"Statement": [], "Id": "x"}'
    read_policy(indented, "bucket")  # white space does not count for S3


LONG_LABEL = "a" * 64 + ".s3.ap-northeast-2.amazonaws.com"


@pytest.mark.parametrize("verb", ["trace", "explain"])
def test_trace_refuses_a_host_name_dns_cannot_carry_before_building_anything(verb, capsys):
    """Argument checking happens at parse time, without root and before any lab or probe."""
    from lab.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main([verb, "topologies/public-private.yaml", "--from", "app1", "--to", LONG_LABEL])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"vpclab {verb}: error: argument --to: '{'a' * 57}...' is "
        "not a node, an IPv4 address or a host name: a DNS label is at most 63 characters "
        "('aaaaaaaaaaaa...' has 64)"
    )


def test_the_prompts_path_command_checks_its_target_too(capsys):
    from lab.cli.prompt import LabPrompt

    assert LabPrompt.parse(None, f"app1 {LONG_LABEL}") is None
    assert "a DNS label is at most 63 characters" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name, problem",
    [
        ("lab-bucket.s3.ap-northeast-2.amazonaws.com.", None),
        ("app1", None),
        ("10.0.1.5", None),
        ("my_node", None),
        ("a..b", "empty label (two dots in a row)"),
        ("-a.b", "label '-a' is not a host name label"),
        ("a b.c", "label 'a b' is not a host name label"),
        (".".join(["a" * 63] * 4), "a DNS name is at most 253 characters (this one has 255)"),
    ],
)
def test_dns_names(name, problem):
    from lab.model.dns_names import target_problem

    found = target_problem(name)
    assert (found is None) if problem is None else (problem in found)


def test_a_duplicate_key_with_a_large_value_is_still_one_short_line(tmp_path):
    """ruamel quotes both values of a duplicate key; a whole VPC twice would make a line of kilobytes."""
    vpc = "  app:\n    cidr: 10.0.0.0/16\n    subnets:\n" + "".join(
        f"      s{i}: {{cidr: 10.0.{i}.0/24, az: a}}\n" for i in range(50)
    )
    (tmp_path / "lab.yaml").write_text("vpcs:\n" + vpc + vpc)
    with pytest.raises(TopologyError) as caught:
        load_topology(tmp_path / "lab.yaml")
    assert "found duplicate key" in str(caught.value) and len(str(caught.value)) - len(str(tmp_path)) < 400
