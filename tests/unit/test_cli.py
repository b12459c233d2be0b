"""The command line through `lab.cli.main.main(argv)`: exit codes, what goes to stdout and stderr, and
that a mistake is one line, never a traceback. What the commands compute is tested through the Python
API elsewhere; here only that the CLI passes it on faithfully.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import __version__
from lab.cli.main import main
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.plan.serialize import plan_to_dict

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(f"topologies/{p.name}" for p in (REPO / "topologies").glob("*.yaml"))
NAT_PATH = ["instance", "vpc-router", "nat-gateway", "vpc-router", "internet-gateway", "internet", "service"]


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    monkeypatch.chdir(REPO)


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"vpclab {__version__}\n"


@pytest.mark.parametrize("path", SHIPPED)
def test_validate_accepts_the_shipped_topologies(path, capsys):
    assert main(["validate", path]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{path}: valid (") and out.count("\n") == 1
    assert err == ""


def test_validate_rejects_a_corpus_file_with_one_exact_line(capsys):
    assert main(["validate", "tests/data/invalid/bad-cidr.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "tests/data/invalid/bad-cidr.yaml:7: subnet private-a: '10.0.1.0/33' is not a valid IPv4 "
        "CIDR block (InvalidParameterValue)\n"
    )


def test_validate_reports_every_file_and_fails_if_any_is_wrong(capsys):
    assert main(["validate", "topologies/public-private.yaml", "tests/data/invalid/bad-cidr.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out.startswith("topologies/public-private.yaml: valid")
    assert err.startswith("tests/data/invalid/bad-cidr.yaml:7: ") and err.count("\n") == 1


def test_validate_of_a_missing_file_is_one_line(capsys):
    assert main(["validate", "topologies/absent.yaml"]) == 2
    err = capsys.readouterr().err
    assert err == "topologies/absent.yaml: cannot read the file: No such file or directory (FileNotFound)\n"


def test_plan_json_is_the_whole_plan(capsys):
    assert main(["plan", "topologies/gateway-endpoint.yaml", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"app1", "batch1", "app-router", "app-nat-a", "app-igw", "app-s3-gw", "internet", "s3-ap-northeast-2"} <= set(
        data["nodes"]
    )
    assert data == plan_to_dict(compile_plan(load_topology("topologies/gateway-endpoint.yaml")))


def test_plan_text_names_every_node(capsys):
    assert main(["plan", "topologies/public-private.yaml"]) == 0
    out = capsys.readouterr().out
    plan = compile_plan(load_topology("topologies/public-private.yaml"))
    assert all(f"\n{name} [{node.kind}" in out for name, node in plan.nodes.items())


def test_the_acceptance_command(capsys):
    """The issue's acceptance command, word for word."""
    argv = "explain topologies/public-private.yaml --from app1 --to s3.ap-northeast-2.amazonaws.com --json"
    assert main(argv.split()) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert err == ""
    assert data["outcome"] == "ok"
    assert [hop["kind"] for hop in data["path"]] == NAT_PATH
    nat_eip = next(p for p in compile_plan(load_topology("topologies/public-private.yaml")).public_ips if p.owner == "nat-a")
    assert data["service_saw"]["source_ip"] == str(nat_eip.address)


def test_explain_text_ends_with_reachability_and_what_a_client_would_see(capsys):
    """A route table without a route drops silently: not reachable, and the client times out (the
    old wording, 'no-route', read like the ICMP unreachable a client sees as no-route)."""
    assert main(["explain", "topologies/public-private.yaml", "--from", "db1", "--to", "s3.ap-northeast-2.amazonaws.com"]) == 0
    out = capsys.readouterr().out
    assert "(NO_ROUTE_TO_DESTINATION)" in out
    assert out.endswith("predicted: not reachable; a client would see timeout\n")


def test_explain_with_an_unknown_source_is_one_line(capsys):
    assert main(["explain", "topologies/public-private.yaml", "--from", "nobody", "--to", "s3.ap-northeast-2.amazonaws.com"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "vpclab: source nobody: no such instance (instances: web1, app1, db1, or internet-client) (InvalidInstanceID.NotFound)\n"
    )
    assert "Traceback" not in err


def test_explain_of_an_invalid_topology_is_the_validation_error(capsys):
    assert main(["explain", "tests/data/invalid/bad-cidr.yaml", "--from", "app1", "--to", "internet-client"]) == 2
    assert capsys.readouterr().err.startswith("tests/data/invalid/bad-cidr.yaml:7: ")


def test_a_missing_verb_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    assert "usage: vpclab" in capsys.readouterr().err


def test_run_checks_every_scenario_file_before_building_any_lab(capsys, monkeypatch):
    """A bad file among several stops the run up front, with the problems of every bad file:
    no lab is built (the Lab class is never used), so none of the files' labs ran."""
    monkeypatch.setattr("lab.scenario.runner.Lab", None)  # building a lab would fail loudly
    bad = ["tests/data/invalid-scenarios/bad-port.yaml", "tests/data/invalid-scenarios/bad-s3-op.yaml"]
    assert main(["run", "scenarios/gateway-endpoint.yaml", *bad]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert [line.split(":")[0] for line in err.splitlines()] == bad


# -- exit codes, chosen by the error's class (lab.errors) -------------------------------------------------
def test_a_bad_argument_exits_2_in_one_line(capsys, tmp_path):
    assert main(["inspect", str(tmp_path), "--packet", "first"]) == 2
    assert capsys.readouterr().err == "vpclab: --packet first: FRAME is a frame number of captures/run.pcapng (1, 2, ...)\n"


def test_a_directory_that_is_not_a_run_exits_2(capsys, tmp_path):
    assert main(["inspect", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"vpclab: {tmp_path}: no plan.json, so this is not a vpclab run directory\n"


def test_not_root_is_an_environment_failure_exit_3(capsys, monkeypatch):
    """Not a mistake in the input: the same command works as root, so it is not exit 2."""
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(["clean"]) == 3
    assert capsys.readouterr().err == (
        "vpclab: start: building a lab needs root (namespaces, links, nftables); validate, plan and explain do not\n"
    )


def boom(file):
    raise KeyError("a bug in vpclab")


def test_an_unexpected_exception_is_a_bug_exit_70_without_a_traceback(capsys, monkeypatch):
    monkeypatch.setattr("lab.cli.commands.planned", boom)  # stands for any bug below the CLI
    assert main(["plan", "topologies/public-private.yaml"]) == 70
    err = capsys.readouterr().err
    assert err == (
        "vpclab: internal error: KeyError: 'a bug in vpclab' (run with --debug for the traceback, and please report it)\n"
    )


def test_debug_adds_the_traceback_and_keeps_the_exit_code(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr("lab.cli.commands.planned", boom)
    assert main(["--debug", "plan", "topologies/public-private.yaml"]) == 70
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and "in boom" in err
    assert err.endswith("and please report it)\n")
    assert main(["--debug", "inspect", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "lab.errors.UnreadableRun" in err
    assert err.endswith("so this is not a vpclab run directory\n")


def test_a_run_whose_plan_is_cut_short_exits_2(capsys, tmp_path):
    (tmp_path / "plan.json").write_text('{"nodes": {')
    assert main(["inspect", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"vpclab: {tmp_path / 'plan.json'}: not what vpclab writes (Expecting "
        "property name enclosed in double quotes: line 1 column 12 (char 11))\n"
    )
