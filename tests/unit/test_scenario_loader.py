"""Scenario files -> Scenario, without a lab: every shipped scenario loads, and every mistake in
tests/data/invalid-scenarios/ is one TopologyError naming file:line, checked by its exact text.

The corpus uses the headers of tests/data/invalid (see test_invalid_corpus.py):
    # expect: LINE: MESSAGE (CODE)                 a problem in the scenario file itself
    # expect-file: REL/PATH:LINE: MESSAGE (CODE)   a problem in the topology file it names
Any other exception fails the test, because a traceback is a defect.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_invalid_corpus import rejected_as_announced

from lab.errors import BadInput, TopologyError
from lab.scenario.loader import ACTIONS, CHANGES, HttpUrl, Step, http_url, load_scenario

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "scenarios").glob("*.yaml"))
CORPUS = Path("tests/data/invalid-scenarios")
CASES = sorted(p.name for p in (REPO / CORPUS).glob("*.yaml"))
PUBLIC_PRIVATE = (REPO / "topologies" / "public-private.yaml").as_posix()


@pytest.fixture(autouse=True)
def at_repo_root(monkeypatch):
    """Messages name files as the user typed them, so load by a path relative to a fixed directory."""
    monkeypatch.chdir(REPO)


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def one_step(tmp_path: Path, step: str) -> dict:
    """The parsed first step of a scenario on public-private.yaml; `step` is its YAML, indented 4."""
    scenario = load_scenario(write(tmp_path, f"topology: {PUBLIC_PRIVATE}\nsteps:\n  - " + step.strip()))
    return scenario.steps[0]


# -- the shipped scenarios ---------------------------------------------------------------------


def test_there_are_shipped_scenarios():
    assert len(SHIPPED) >= 3


@pytest.mark.parametrize("path", SHIPPED)
def test_every_shipped_scenario_loads(path):
    scenario = load_scenario(path)
    assert scenario.file == path and scenario.name and scenario.steps
    for step in scenario.steps:
        assert step.action in ACTIONS and step.argument
        if step.action in CHANGES:
            assert step.source is None
        else:
            assert step.source in scenario.topology.instances or step.source == "internet-client"


def test_a_step_is_located_at_its_list_item():
    steps = load_scenario("scenarios/public-and-nat-paths.yaml").steps
    lines = Path("scenarios/public-and-nat-paths.yaml").read_text().splitlines()
    assert [lines[s.line - 1].lstrip().startswith(f"- name: {s.name}") for s in steps] == [True] * len(steps)


# -- the invalid corpus ------------------------------------------------------------------------


def test_corpus_is_large_enough():
    assert len(CASES) >= 11


@pytest.mark.parametrize("name", CASES)
def test_invalid_scenario_is_rejected_with_exact_problem(name):
    rejected_as_announced(load_scenario, CORPUS / name)


def test_missing_scenario_file_is_a_topology_error(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(TopologyError) as caught:
        load_scenario(path)
    assert str(caught.value) == f"{path}: cannot read the file: No such file or directory (FileNotFound)"


# -- what a valid file becomes -----------------------------------------------------------------


def test_topology_path_is_relative_to_the_scenario_file(tmp_path, monkeypatch):
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "t.yaml").write_text(Path(PUBLIC_PRIVATE).read_text())
    path = write(tmp_path / "labs", "topology: t.yaml\nsteps: [{from: web1, run: 'true'}]")
    monkeypatch.chdir("/")
    scenario = load_scenario(path)
    assert scenario.topology.file == str(tmp_path / "labs" / "t.yaml")
    assert sorted(scenario.topology.instances) == ["app1", "db1", "web1"]


def test_inline_topology_is_part_of_the_scenario_file(tmp_path):
    path = write(
        tmp_path,
        """
        topology:
          vpcs:
            app:
              cidr: 10.0.0.0/16
              subnets: {private-a: {cidr: 10.0.1.0/24, az: a}}
              instances: {app1: {subnet: private-a}, app2: {subnet: private-a}}
        steps:
          - {from: app1, trace: app2, port: 22}
        """,
    )
    scenario = load_scenario(path)
    assert scenario.topology.file == str(path)
    assert list(scenario.topology.instances) == ["app1", "app2"]


def test_name_defaults_to_the_file_stem_and_a_step_name_to_its_number(tmp_path):
    path = write(tmp_path, f"topology: {PUBLIC_PRIVATE}\nsteps:\n  - {{from: app1, run: 'true'}}\n", name="my-lab.yaml")
    scenario = load_scenario(path)
    assert scenario.name == "my-lab"
    assert (scenario.steps[0].name, scenario.steps[0].line) == ("step 1", 3)


def test_each_action_keeps_its_argument(tmp_path):
    cases = {
        "{from: app1, trace: internet-client, port: 80}": ("trace", "internet-client", 80),
        "{from: app1, trace: 13.125.240.143}": ("trace", "13.125.240.143", None),
        "{from: web1, http: 'https://lab-bucket.s3.ap-northeast-2.amazonaws.com/hello.txt'}": (
            "http",
            "https://lab-bucket.s3.ap-northeast-2.amazonaws.com/hello.txt",
            None,
        ),
        "{from: app1, s3: get lab-bucket/hello.txt}": ("s3", "get lab-bucket/hello.txt", None),
        "{from: app1, s3: ls lab-bucket}": ("s3", "ls lab-bucket", None),
        "{from: db1, dns: s3.ap-northeast-2.amazonaws.com}": ("dns", "s3.ap-northeast-2.amazonaws.com", None),
        "{from: internet-client, run: 'ip -4 addr'}": ("run", "ip -4 addr", None),
    }
    for yaml_step, (action, argument, port) in cases.items():
        step = one_step(tmp_path, yaml_step)
        assert (step.action, step.argument, step.port) == (action, argument, port), yaml_step


def test_a_change_step_names_an_endpoint_and_a_route_table_and_no_node(tmp_path):
    gateway = (REPO / "topologies" / "gateway-endpoint.yaml").as_posix()
    scenario = load_scenario(
        write(
            tmp_path,
            f"""
        topology: {gateway}
        steps:
          - {{name: without the endpoint, disassociate: s3-gw private}}
          - {{from: app1, trace: lab-bucket.s3.ap-northeast-2.amazonaws.com}}
          - {{associate: app/s3-gw private}}
        """,
        )
    )
    changes = [(s.action, s.argument, s.source, s.expect) for s in scenario.steps if s.source is None]
    assert changes == [("disassociate", "s3-gw private", None, {}), ("associate", "app/s3-gw private", None, {})]
    with pytest.raises(BadInput, match=r"^step 'without the endpoint': disassociate changes the lab and runs in no node$"):
        _ = scenario.steps[0].node


ACTS = [f"act{n}.yaml" for n in range(1, 10)]


@pytest.mark.parametrize("name", ACTS)
def test_the_demo_acts_ship_in_the_package_and_load_from_any_directory(name, tmp_path, monkeypatch):
    """`vpclab demo` runs them wherever it is started: their topologies are found next to them."""
    from lab.cli.demo import DEMO_ACTS

    monkeypatch.chdir(tmp_path)
    assert [p.name for p in DEMO_ACTS] == ACTS
    scenario = load_scenario(DEMO_ACTS[int(name[3]) - 1])
    assert scenario.name.startswith(f"Figure {name[3]}: ") and scenario.steps


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        (
            "https://lab-bucket.s3.ap-northeast-2.amazonaws.com/hello.txt?versionId=1",
            HttpUrl("lab-bucket.s3.ap-northeast-2.amazonaws.com", 443, "/hello.txt?versionId=1"),
        ),
        ("http://Web1:8080", HttpUrl("web1", 8080, "/")),
        ("http://web1", HttpUrl("web1", 80, "/")),
        ("ftp://web1/", None),
        ("https://:443/", None),
        ("https://web1:0/", None),
        ("https://web1:70000/", None),
        ("lab-bucket", None),
    ],
)
def test_an_http_step_goes_where_its_url_says(url, parts):
    """The loader checks an http step's URL and the runner sends it with the same reading of it."""
    assert http_url(url) == parts


def test_the_runner_refuses_an_http_step_without_a_url_as_the_loader_does():
    """A Step built in code skips load_scenario's checks; the runner still says what is wrong."""
    from lab.scenario.runner import do_trace  # it builds labs: imported by this test alone

    step = Step("bad", "app1", "http", "lab-bucket", None, {}, 1)
    with pytest.raises(BadInput, match=r"^step 'bad': http takes a URL such as https://HOST/PATH, not 'lab-bucket'$"):
        do_trace(None, None, None, step)


def test_expectations_become_plain_values(tmp_path):
    step = one_step(
        tmp_path,
        """
    from: app1
    trace: lab-bucket.s3.ap-northeast-2.amazonaws.com
    expect:
      outcome: ok
      path: [instance, app-router, nat-0cf5093f692d7bd5f, vpc-router, internet-gateway, internet, service]
      not_via: gateway-endpoint
      service_saw: {source: elastic-ip:nat-a, source_in: 13.124.153.7/16, ingress: internet}
    """,
    )
    assert step.expect == {
        "outcome": "ok",
        "path": ["instance", "app-router", "nat-0cf5093f692d7bd5f", "vpc-router", "internet-gateway", "internet", "service"],
        "not_via": ["gateway-endpoint"],  # a single name is a list of one, as in topologies
        "service_saw": {"source": "elastic-ip:nat-a", "source_in": "13.124.0.0/16", "ingress": "internet"},
    }
    assert type(step.expect["path"]) is list and type(step.expect["service_saw"]) is dict


def test_command_expectations(tmp_path):
    step = one_step(
        tmp_path,
        """
    from: db1
    dns: lab-bucket.s3.ap-northeast-2.amazonaws.com
    expect: {outcome: ok, dns_answer: [52.219.60.10, public-ip:web1], exit: 0, output_contains: '52.'}
    """,
    )
    assert step.expect == {"outcome": "ok", "dns_answer": ["52.219.60.10", "public-ip:web1"], "exit": 0, "output_contains": "52."}


# -- layering ----------------------------------------------------------------------------------


def test_loading_observing_and_checking_import_nothing_that_touches_the_kernel():
    """The runner builds labs; the loader, the checks and the reading of a trace do not."""
    code = "import sys, lab.scenario.loader, lab.scenario.expect, lab.scenario.observe; print(' '.join(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    loaded = run.stdout.split()
    assert "lab.scenario.loader" in loaded
    assert [m for m in loaded if m.startswith(("mininet", "pyroute2", "lab.realize", "lab.scenario.runner"))] == []
