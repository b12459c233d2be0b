"""The HTML report (lab.report.html) without a lab: untrusted text stays text, Graphviz's SVG is
cut down to drawing, every traced step has its picture with both paths' numbered hop edges,
failed steps are marked; a kept run's steps get their packets as pcap slices (lab.report.pcap_slices,
from synthetic captures); the list of kept runs (lab.realize.runs) and the CLI's checks.
The page in a real browser: tests/integration/test_html_report_browser.py."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from markupsafe import escape
from scapy.layers.inet import IP, TCP
from synthetic_captures import SyntheticRun
from test_analysis_paths import APP1, APP1_PORT, NO_DROPS, S3, handshake, out_via_nat

from lab.analysis.paths import observed_path
from lab.analysis.pcapread import LINKTYPE_LINUX_SLL2, read_pcap
from lab.analysis.run import load_run
from lab.cli.lab_commands import farewell
from lab.cli.main import main
from lab.realize import runs
from lab.report.html import NOT_KEPT, html_page, run_report, safe_svg, trace_report
from lab.report.pcap_slices import SliceWriter
from lab.results import CommandResult, Hop, Outcome
from run_results import FAILURE, scenario_result

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"


class Page(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's parser would see them."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def named(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]


def hostile_result():
    """A scenario whose name, step name, failure, command output, client error and a hop's node
    all carry markup (a node name cannot, the loader refuses it: the report must not rely on that)."""
    result = scenario_result(failed_step=1)
    result.scenario = replace(result.scenario, name=HOSTILE)
    trace = result.steps[0].observed
    trace.probe["error"] = HOSTILE
    path = trace.observed.path
    trace.observed.path = path[:-1] + [Hop(HOSTILE, "service", HOSTILE)]
    result.steps[0] = replace(result.steps[0], step=replace(result.steps[0].step, name=HOSTILE), failures=(HOSTILE,))
    result.steps[3] = replace(result.steps[3], observed=CommandResult(Outcome.OK, 0, f"<html><body>{HOSTILE}</body></html>"))
    return result


def test_untrusted_text_renders_as_text_never_as_markup():
    page = html_page(run_report([hostile_result()]))
    parsed = Page(page)
    assert parsed.named("script") == [] and parsed.named("img") == []
    assert [a for _, attrs in parsed.tags for a in attrs if a.lower().startswith("on")] == []
    text = "".join(parsed.text)
    assert text.count(HOSTILE) >= 5  # scenario, step name, failure, client error, command output, hop
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_graphviz_svg_is_cut_down_to_drawing():
    svg = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" onload="alert(1)">
      <script>alert(2)</script><foreignObject><div>x</div></foreignObject>
      <g id="edge1" class="edge hop observed-hop" onclick="alert(3)"><title>a-&gt;b</title>
        <a xlink:href="javascript:alert(4)"><text>link</text></a>
        <path d="M0,0L9,9" style="x" stroke="red"/><text>1</text></g></svg>"""
    out = str(safe_svg(svg, "s1-2"))
    assert "script" not in out and "foreignObject" not in out and "javascript" not in out
    assert "onload" not in out and "onclick" not in out and "style=" not in out
    assert 'id="s1-2-edge1"' in out and 'class="edge hop observed-hop"' in out and "a-&gt;b" in out


def step_articles(page: str) -> list[dict]:
    """Each step's article: its attributes, and the classes of the groups inside it."""
    articles, current = [], None
    for tag, attrs in Page(page).tags:
        if tag == "article":
            current = dict(attrs, groups=[])
            articles.append(current)
        elif tag == "g" and current is not None:
            current["groups"].append(attrs.get("class") or "")
    return articles


def test_every_traced_step_has_its_picture_with_both_paths_and_failures_are_marked():
    result = scenario_result(failed_step=2)
    page = html_page(run_report([result]))
    articles = step_articles(page)
    assert len(articles) == len(result.steps)
    for article, step in zip(articles, result.steps):
        assert ("failed" in article["class"].split()) == (not step.passed)
        if isinstance(step.observed, CommandResult):
            assert "command" in article["class"].split() and not article["groups"]
            continue
        hops = len(step.observed.observed.path)
        assert article["data-observed-hops"] == str(hops)
        assert article["groups"].count("edge hop observed-hop") == hops - 1 > 0
        assert article["groups"].count("edge hop predicted-hop") == len(step.observed.predicted.path) - 1
    assert FAILURE in page and str(escape(NOT_KEPT)) in page
    ids = [attrs["id"] for _, attrs in Page(page).tags if "id" in attrs]
    assert len(ids) == len(set(ids))  # the pictures' ids are prefixed per step


def test_a_hop_graphviz_cannot_draw_costs_the_picture_not_the_page():
    """A node id like <...> is a Graphviz HTML string, which `dot` refuses: the step says so, and
    still shows its hops."""
    page = html_page(run_report([hostile_result()]))
    first = step_articles(page)[0]
    assert first["groups"] == [] and "the picture could not be drawn: dot failed" in page
    assert page.count('<table class="hops observed">') == len(step_articles(page)) - 3  # every traced step's hops


# -- pcap slices ---------------------------------------------------------------------------------


def other_connection(lab: SyntheticRun) -> None:
    """Another connection of app1 through the same nodes, as an earlier step would leave it."""
    syn = IP(src=APP1, dst=S3, id=300, ttl=64) / TCP(sport=50000, dport=443, flags="S", seq=7)
    lab.travel(syn, out_via_nat())


def test_a_kept_steps_slices_hold_its_connection_at_each_node_and_nothing_else(tmp_path):
    lab = SyntheticRun(tmp_path / "run")
    other_connection(lab)
    handshake(lab)
    run_dir = lab.write(NO_DROPS)
    path = observed_path(load_run(run_dir), "app1", S3, 443, sport=APP1_PORT)
    writer = SliceWriter(tmp_path / "out" / "r.html", {1: str(run_dir)}, {1: "my scenario"})
    slices, note = writer(1, 4, SimpleNamespace(observed=path))
    assert note == ""
    nodes = list(dict.fromkeys(h.node for h in path.path + path.reply_path))
    assert [s.node for s in slices] == nodes
    assert slices[0].href == "r-pcap/01-my_scenario/step-04-app1.pcap"
    for s in slices:
        file = tmp_path / "out" / s.href
        sightings = list(read_pcap(file, s.node))
        assert len(sightings) == s.packets > 0
        assert {x.sport for x in sightings if x.src == APP1} <= {APP1_PORT}  # not the other connection's 50000
        assert file.read_bytes()[20:24] == LINKTYPE_LINUX_SLL2.to_bytes(4, "little")
    app1 = [x for x in read_pcap(tmp_path / "out" / slices[0].href, "app1")]
    assert [(x.direction, x.tcp_flags & 0x12) for x in app1] == [("out", 0x02), ("in", 0x12), ("out", 0x10)]


def test_a_run_not_kept_has_no_slices_and_says_why(tmp_path):
    writer = SliceWriter(tmp_path / "r.html", {1: None}, {1: "x"})
    slices, note = writer(1, 1, SimpleNamespace(observed=None))
    assert slices == [] and "--keep DIR" in note
    assert not (tmp_path / "r-pcap").exists()


# -- kept runs and the CLI -----------------------------------------------------------------------


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("VPCLAB_RUNS_DIR", str(tmp_path / "index"))
    return tmp_path / "index"


def test_kept_runs_are_listed_newest_first_and_gone_ones_forgotten(tmp_path, runs_dir, capsys):
    old, new, gone = (tmp_path / n for n in ("old", "new", "gone"))
    for d in (old, new, gone):
        d.mkdir()
    runs.remember(replace(runs.kept(old, "topologies/peering.yaml", "trace", "app1 -> s3"), started=1.0))
    runs.remember(runs.kept(new, "topologies/gateway-endpoint.yaml", "run", "S3 through a gateway endpoint"))
    runs.remember(runs.kept(gone, "topologies/peering.yaml", "up", "the vpclab prompt"))
    runs.remember(runs.kept(new, "topologies/gateway-endpoint.yaml", "run", "again"))  # same directory: replaced
    gone.rmdir()
    (runs_dir / "junk.json").write_text("{not json")
    listed, dropped = runs.kept_runs()
    assert [(r.run_dir, r.what) for r in listed] == [(str(new), "again"), (str(old), "app1 -> s3")]
    assert sorted(dropped) == sorted(
        [f"{gone}: gone; forgotten", f"{runs_dir / 'junk.json'}: not a kept run's entry; left alone"]
    )
    assert len(list(runs_dir.glob("*.json"))) == 3  # the gone one's entry removed, the junk left alone
    assert main(["runs"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"{new}  topologies/gateway-endpoint\.yaml  \d s ago  vpclab run: again", out[0])  # a slow machine: 1 s
    assert out[1].startswith(f"{old}  topologies/peering.yaml  ") and " days ago  vpclab trace: app1 -> s3" in out[1]
    assert main(["runs", "--json"]) == 0
    assert [r["run_dir"] for r in json.loads(capsys.readouterr().out)] == [str(new), str(old)]


def test_no_kept_run_says_how_to_keep_one(runs_dir, capsys):
    assert main(["runs"]) == 0
    assert capsys.readouterr().out == "no kept run (vpclab run, trace and up keep one with --keep DIR)\n"


def test_an_index_that_cannot_be_written_is_no_failure(tmp_path, monkeypatch, caplog):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("VPCLAB_RUNS_DIR", str(tmp_path / "file" / "runs"))
    runs.remember(runs.kept(tmp_path, "t.yaml", "run", "x"))
    assert "could not add" in caplog.text


@pytest.mark.parametrize(
    ("seconds", "said"), [(5, "5 s"), (59, "59 s"), (60, "1 min"), (7200, "2 h"), (86400, "1 day"), (3 * 86400, "3 days")]
)
def test_age(seconds, said):
    assert runs.age(1000.0, 1000.0 + seconds) == said


def test_html_to_a_path_that_cannot_be_written_is_refused_before_any_lab(tmp_path, capsys):
    code = main(["run", "--html", str(tmp_path / "no" / "r.html"), "scenarios/gateway-endpoint.yaml"])
    assert code == 2
    assert capsys.readouterr().err.startswith(f"vpclab: --html {tmp_path / 'no' / 'r.html'}: cannot write there")


def test_up_says_where_the_run_directory_it_showed_went(tmp_path):
    kept, gone, left = tmp_path / "kept", tmp_path / "gone", tmp_path / "left"
    left.mkdir()
    assert farewell(str(kept), str(kept)).endswith(f"kept in {kept} (vpclab inspect {kept})")
    assert farewell(str(gone), None).startswith(f"vpclab: the lab is removed, and its run directory {gone} (captures, logs)")
    assert "still there although it was not to be kept" in farewell(str(left), None)


def test_a_trace_report_is_one_step_failed_when_the_packets_disagree():
    result = scenario_result()
    trace = result.steps[1].observed
    trace.disagreements = ["predicted hops a -> b; observed a -> c"]
    report = trace_report(result.scenario.topology, result.plan, trace, None, None)
    (step,) = report.steps
    assert not report.passed and step.failures == (
        "the observed path disagrees with the prediction: predicted hops a -> b; observed a -> c",
    )
    page = html_page(report)
    (article,) = step_articles(page)
    assert "failed" in article["class"] and article["groups"].count("edge hop observed-hop") == len(trace.observed.path) - 1
    assert f"vpclab trace --from {trace.source} --to {trace.target} --port {trace.port}" in page and "--keep DIR" in page
