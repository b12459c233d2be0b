"""A real `vpclab run --html` opened in a real headless browser (Debian's chromium, driven by
Playwright with the system browser: never `playwright install`): every traced step's picture has
the numbered hop edges of the path the packets took (as `--json` reports it) and of the
prediction, each drawn with a non-zero box; failed steps are marked; a command's output that is
HTML with a script stays text in the page and never runs; no console error; nothing fetched but
the file. One lab: scenarios/no-inbound.yaml's steps, a step whose expectation is wrong and one
that prints markup. The run is kept, so the report links every traced step's packets: each link
opens a pcap of that step's connection.

Playwright launches Chromium with --no-sandbox by default (its chromiumSandbox option is off);
the tests run as root, where Chromium refuses its own sandbox anyway, and the page is our file.

`vpclab up` (with a prompt that exits at once) says at its end what became of the run directory
its greeting showed; kept, the directory is listed by `vpclab runs`."""

from __future__ import annotations

import io
import json
import os
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from conftest import LabSandbox

from lab.analysis.pcapread import read_pcap
from lab.cli.main import main
from lab.scenario.loader import load_scenario

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium")
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(180)]
SHIPPED = REPO / "scenarios/no-inbound.yaml"  # three traced steps from the internet
MARKUP = '<script>document.title="pwned"</script><img src=x onerror="document.title=`pwned`">'  # no ' (the shell's)
EXTRA_STEPS = f"""
  - name: S3 through the NAT gateway is denied (it is not)
    from: app1
    trace: lab-bucket.s3.ap-northeast-2.amazonaws.com
    expect: {{outcome: denied}}
  - name: a command that prints markup
    from: app1
    run: printf '%s' '{MARKUP}'
    expect: {{exit: 0}}
"""

# Run in the page: per step article, its classes, the hop counts it claims, and for each kind of
# hop edge the boxes of its elements and whether they are displayed.
READ_STEPS = """() => [...document.querySelectorAll('article.step')].map(a => {
  const edges = kind => [...a.querySelectorAll(`svg g.${kind}-hop`)].map(g => {
    const r = g.getBoundingClientRect(), s = getComputedStyle(g);
    return {w: r.width, h: r.height, shown: s.display !== 'none' && s.visibility !== 'hidden' && s.opacity !== '0',
            label: g.querySelector('text') && g.querySelector('text').textContent};
  });
  return {classes: [...a.classList], observed: edges('observed'), predicted: edges('predicted'),
          mark: a.querySelector('h3 .mark').textContent, border: getComputedStyle(a).borderLeftColor,
          output: a.querySelector('pre.output') && a.querySelector('pre.output').textContent,
          packets: [...a.querySelectorAll('p.packets a')].map(x => x.getAttribute('href'))};
})"""


@pytest.fixture(autouse=True)
def at_repo(monkeypatch):
    monkeypatch.chdir(REPO)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The run's report, its JSON results and the report's path: one lab for the module's tests,
    in a sandbox of its own (conftest's LabSandbox, as lab_sandbox gives a single test)."""
    tmp = tmp_path_factory.mktemp("report")
    sandbox = LabSandbox(tmp)
    text = SHIPPED.read_text().replace("../topologies/", f"{REPO}/topologies/") + EXTRA_STEPS
    scenario = tmp / "report-check.yaml"
    scenario.write_text(text)
    page = tmp / "out" / "report.html"
    page.parent.mkdir()
    argv = ["run", "--json", "--keep", str(tmp / "kept"), "--html", str(page), str(scenario)]
    with pytest.MonkeyPatch.context() as env, redirect_stdout(io.StringIO()) as out:
        env.chdir(REPO)
        env.setenv("VPCLAB_STATE_DIR", str(sandbox.state_dir))
        env.setenv("VPCLAB_RUNS_DIR", str(tmp / "runs"))
        try:
            code = main(argv)
        finally:
            sandbox.sweep()
    assert code == 1  # the wrong expectation
    return page, json.loads(out.getvalue())[0]


@pytest.fixture
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH: scripts/provision.sh installs it on Debian (Ubuntu ships only a snap)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


def test_the_report_draws_every_traced_steps_path_in_a_real_browser(report, browser):
    page_path, result = report
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors, fetched = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    steps = page.evaluate(READ_STEPS)
    assert len(steps) == len(result["steps"]) == len(load_scenario(SHIPPED).steps) + 2
    for shown, step in zip(steps, result["steps"]):
        assert ("failed" in shown["classes"]) == (not step["passed"]), step["name"]
        assert shown["mark"] == ("PASS" if step["passed"] else "FAIL")
        if "trace" not in step:
            assert shown["observed"] == shown["predicted"] == []
            continue
        hops, predicted = step["observed"]["path"], step["observed"]["predicted"]["path"]
        assert len(shown["observed"]) == len(hops) - 1 > 0, step["name"]
        assert len(shown["predicted"]) == len(predicted) - 1, step["name"]
        for edge in shown["observed"] + shown["predicted"]:
            assert edge["w"] > 0 and edge["h"] > 0 and edge["shown"], (step["name"], edge)
        assert sorted(int(e["label"]) for e in shown["observed"]) == list(range(1, len(hops)))
        assert len(shown["packets"]) == len({h["node"] for h in hops}) >= len(hops) // 2, step["name"]
    wrong = steps[-2]
    assert "failed" in wrong["classes"] and wrong["border"] == "rgb(209, 50, 18)"  # the failed step's red edge
    assert steps[-1]["output"] == MARKUP  # shown as text ...
    assert page.title() != "pwned" and page.evaluate("document.querySelectorAll('script, img').length") == 0  # ... never run
    assert page.get_by_text("expected outcome denied, observed ok").is_visible()
    assert errors == []
    assert fetched == [page_path.as_uri()]


def test_each_traced_steps_packets_link_to_a_pcap_of_its_connection(report):
    page_path, result = report
    traced = [s for s in result["steps"] if "trace" in s]
    for number, step in enumerate(result["steps"], start=1):
        if "trace" not in step:
            continue
        hops = step["observed"]["path"]
        for node in {h["node"] for h in hops}:
            slice_file = page_path.parent / "report-pcap" / "01-report-check" / f"step-{number:02d}-{node}.pcap"
            frames = {f for h in hops if h["node"] == node for f in h["frames"]}
            sightings = list(read_pcap(slice_file, node))
            assert len(sightings) >= len(frames) > 0, (step["name"], node)
    assert traced


class ExitAtOnce:
    """The prompt a user who types `exit` first would have: it only shows where the run directory is."""

    def __init__(self, topology, plan, lab):
        self.lab = lab

    def cmdloop(self):
        print(f"captures in {self.lab.run_dir}/captures")


def test_up_says_what_became_of_the_run_directory_it_showed(tmp_path, capsys, lab_sandbox, monkeypatch):
    monkeypatch.setenv("VPCLAB_RUNS_DIR", str(tmp_path / "runs"))
    topology = "topologies/peering.yaml"
    assert main(["up", topology], prompt=ExitAtOnce) == 0
    shown, farewell = capsys.readouterr().out.splitlines()
    run_dir = shown.removeprefix("captures in ").removesuffix("/captures")
    assert farewell == (
        f"vpclab: the lab is removed, and its run directory {run_dir} (captures, logs) with it; "
        "to keep them, start it with --keep DIR"
    )
    assert not Path(run_dir).exists()
    kept = tmp_path / "kept"
    assert main(["up", "--keep", str(kept), topology], prompt=ExitAtOnce) == 0
    farewell = capsys.readouterr().out.splitlines()[-1]
    assert farewell == f"vpclab: the lab is removed; its captures, logs and plan are kept in {kept} (vpclab inspect {kept})"
    assert (kept / "captures").is_dir()
    assert main(["runs"]) == 0
    assert capsys.readouterr().out.startswith(f"{kept}  {topology}  ")
