"""`vpclab graph` (lab.report.graph): the topology boxed as AWS draws it, and a path drawn over it as
numbered edges with a mark where it stops. The DOT text is read back statement by statement (each
node and edge is one line of the graphviz package's output, inside its subgraph's braces); one test
runs the real `dot` and reads the SVG it draws."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from contextlib import nullcontext
from pathlib import Path

import pytest

from lab.analysis.explain import explain
from lab.cli.main import main
from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.compile import compile_plan
from lab.report.graph import PATH_STYLE, stop_id, topology_dot
from lab.report.render import render

REPO = Path(__file__).resolve().parents[2]
S3 = "lab-bucket.s3.ap-northeast-2.amazonaws.com"
STOP = stop_id("predicted")
NODE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[\w.]+) \[(.*)\]$')
EDGE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[\w.]+) -> ("(?:[^"\\]|\\.)*"|[\w.]+) \[(.*)\]$')
SUBGRAPH = re.compile(r'^\s*subgraph ("(?:[^"\\]|\\.)*"|\w+) \{$')


def unquote(name: str) -> str:
    return name[1:-1] if name.startswith('"') else name


def read_dot(dot: str) -> tuple[dict[str, list[str]], list[tuple[str, str, str]]]:
    """Each node's enclosing clusters (outermost first), and every edge as (from, to, attributes)."""
    nodes, edges, stack = {}, [], []
    for line in dot.splitlines():
        if m := SUBGRAPH.match(line):
            stack.append(unquote(m[1]))
        elif line.strip() == "}" and stack:
            stack.pop()
        elif m := EDGE.match(line):
            edges.append((unquote(m[1]), unquote(m[2]), m[3]))
        elif (m := NODE.match(line)) and unquote(m[1]) not in ("graph", "node", "edge"):
            nodes.setdefault(unquote(m[1]), list(stack))
    return nodes, edges


def drawn(topology_file: str, source: str | None = None, target: str | None = None, port: int = 443):
    topology = load_topology(REPO / topology_file)
    plan = compile_plan(topology)
    predicted = explain(topology, plan, source, target, port) if source and target else None
    return topology, plan, predicted, topology_dot(topology, plan, predicted)


def path_edges(edges, kind: str = "predicted") -> list[tuple[str, str, str]]:
    """The numbered edges of a path, in their numbers' order: (from, to, number)."""
    found = [
        (a, b, re.search(r"label=(\d+)", attrs)[1]) for a, b, attrs in edges if PATH_STYLE[kind] in attrs and "label=" in attrs
    ]
    return sorted(found, key=lambda e: int(e[2]))


def test_instances_sit_in_their_subnet_in_their_zone_in_their_vpc_in_the_region():
    topology, plan, _, dot = drawn("topologies/public-private.yaml")
    nodes, _ = read_dot(dot)
    vpc = f"cluster_vpc_{plan.vpc_id('app')}"
    for instance in topology.instances.values():
        subnet = topology.vpcs["app"].subnets[instance.subnet]
        assert nodes[instance.name] == [
            f"cluster_region_{plan.region}",
            vpc,
            f"cluster_az_{plan.vpc_id('app')}_{subnet.az}",
            f"cluster_subnet_{names.subnet_id('app', subnet.name)}",
        ]
    assert nodes[plan.nat_gateway("app", "nat-a").name][-1] == f"cluster_subnet_{names.subnet_id('app', 'public-a')}"
    assert nodes[plan.internet_gateway("app").name] == nodes[plan.router("app").name] == [f"cluster_region_{plan.region}", vpc]
    assert nodes["s3-ap-northeast-2"] == [f"cluster_region_{plan.region}"]  # a service: in its region, outside the VPCs
    assert nodes[names.INTERNET] == [] and nodes[names.INTERNET_CLIENT] == []
    assert set(nodes) >= set(plan.nodes)  # every node of the plan is drawn


@pytest.mark.parametrize("topology_file", sorted(str(p.relative_to(REPO)) for p in (REPO / "topologies").glob("*.yaml")))
def test_every_shipped_topology_draws_each_node_once_and_each_link(topology_file):
    _, plan, _, dot = drawn(topology_file)
    nodes, edges = read_dot(dot)
    statements = [unquote(m[1]) for line in dot.splitlines() if (m := NODE.match(line)) and not EDGE.match(line)]
    assert sorted(n for n in statements if n in plan.nodes) == sorted(plan.nodes)  # each once
    assert {frozenset((k.a[0], k.b[0])) for k in plan.links} <= {frozenset((a, b)) for a, b, _ in edges}


def test_subnets_are_public_or_private_by_their_route_to_the_internet_gateway():
    _, plan, _, dot = drawn("topologies/public-private.yaml")
    assert f'label="Public subnet public-a  {names.subnet_id("app", "public-a")}' in dot
    assert f'label="Private subnet private-a  {names.subnet_id("app", "private-a")}' in dot
    assert f'label="Private subnet isolated-a  {names.subnet_id("app", "isolated-a")}' in dot
    assert f"{plan.node('app1').aws_id}\\n{plan.eni_address('app1')}" in dot  # the instance's id and address, from the plan


def test_an_interface_endpoint_has_an_eni_in_each_of_its_subnets(tmp_path):
    """One ENI node per subnet the endpoint lists (docs/topology-format.md, endpoints), each in its subnet's box."""
    topology_file = tmp_path / "interface.yaml"
    topology_file.write_text(
        "vpcs:\n  app:\n    cidr: 10.0.0.0/16\n    subnets:\n"
        "      private-a: {cidr: 10.0.2.0/24, az: a}\n      private-c: {cidr: 10.0.4.0/24, az: c}\n"
        "    instances:\n      app1: {subnet: private-a}\n"
        "    endpoints:\n      ddb-if: {type: interface, service: dynamodb, subnets: [private-a, private-c]}\n"
    )
    topology, plan, _, dot = drawn(str(topology_file))
    nodes, _ = read_dot(dot)
    for subnet in ("private-a", "private-c"):
        eni = names.endpoint_eni_node("app", "ddb-if", topology.vpcs["app"].subnets[subnet].az)
        assert plan.node(eni).kind == "interface-endpoint"
        assert nodes[eni][-1] == f"cluster_subnet_{names.subnet_id('app', subnet)}"
        assert plan.eni_id(eni) in dot


def test_every_link_of_the_plan_is_an_edge_and_a_peering_carries_its_pcx_id():
    topology, plan, _, dot = drawn("topologies/peering.yaml")
    _, edges = read_dot(dot)
    plain = {frozenset((a, b)) for a, b, attrs in edges if "dir=none" in attrs}
    assert {frozenset((k.a[0], k.b[0])) for k in plan.links} == plain
    (peering,) = topology.peerings()
    pcx = [attrs for a, b, attrs in edges if {a, b} == {plan.router("hub").name, plan.router("spoke").name}]
    assert len(pcx) == 1 and f"label={plan.peering_id(peering.name)}" in pcx[0].replace('"', "")


def test_a_path_is_numbered_hop_by_hop_along_the_prediction():
    _, plan, predicted, dot = drawn("topologies/public-private.yaml", "app1", S3)
    _, edges = read_dot(dot)
    hops = [h.node for h in predicted.path]
    assert hops[:3] == ["app1", plan.router("app").name, plan.nat_gateway("app", "nat-a").name]
    assert path_edges(edges) == [(a, b, str(i)) for i, (a, b) in enumerate(zip(hops, hops[1:]), start=1)]
    assert STOP not in dot  # it arrived


def test_where_a_path_stops_is_marked_with_its_reason():
    _, plan, predicted, dot = drawn("topologies/public-private.yaml", "db1", S3)
    nodes, edges = read_dot(dot)
    assert path_edges(edges) == [("db1", plan.router("app").name, "1")]
    assert STOP in nodes and "NO_ROUTE_TO_DESTINATION" in dot
    assert [(a, b) for a, b, _ in edges if b == STOP] == [(predicted.explanation.node, STOP)]


def test_a_node_named_like_the_drawings_own_marks_stays_itself(tmp_path):
    """Instance names are letters, digits, - and _: the stop mark and an empty subnet's filler have a
    space in their ids, so an instance called `predicted_stop` or `empty` is neither."""
    topology_file = tmp_path / "names.yaml"
    topology_file.write_text(
        "vpcs:\n  app:\n    cidr: 10.0.0.0/16\n    subnets:\n"
        "      private-a: {cidr: 10.0.2.0/24, az: a}\n      spare: {cidr: 10.0.9.0/24, az: a}\n"
        "    instances:\n      predicted_stop: {subnet: private-a}\n      empty: {subnet: private-a}\n"
    )
    _, plan, _, dot = drawn(str(topology_file), "predicted_stop", "10.0.77.7")
    nodes, edges = read_dot(dot)
    assert nodes["predicted_stop"][-1] == nodes["empty"][-1] == f"cluster_subnet_{names.subnet_id('app', 'private-a')}"
    assert STOP in nodes and nodes[STOP] == [] and [a for a, b, _ in edges if b == STOP] == [plan.router("app").name]


def test_the_report_draws_the_prediction_and_what_the_packets_did_side_by_side():
    """The HTML report's use: topology_dot with an observed path too (here, one that went another way)."""
    from lab.analysis.paths import ObservedPath

    topology = load_topology(REPO / "topologies/public-private.yaml")
    plan = compile_plan(topology)
    predicted = explain(topology, plan, "app1", S3)
    other = explain(topology, plan, "web1", S3)  # as if the packets had left by web1's path
    observed = ObservedPath("web1", {}, other.outcome, other.path, None, None, (), True, [], None)
    _, edges = read_dot(topology_dot(topology, plan, predicted, observed))
    assert [e[:2] for e in path_edges(edges, "observed")] == [(a.node, b.node) for a, b in zip(other.path, other.path[1:])]
    assert len(path_edges(edges, "predicted")) == len(predicted.path) - 1


def test_dot_draws_the_path_in_svg():
    """The real `dot` (Debian's graphviz, installed by scripts/provision.sh): an SVG that parses, with
    every cluster, and every edge of the path (SVG titles edges `a->b`), classed as a predicted hop."""
    _, plan, predicted, dot = drawn("topologies/public-private.yaml", "app1", S3)
    svg = ET.fromstring(render(dot, "svg"))
    ns = {"svg": "http://www.w3.org/2000/svg"}
    groups = {g.get("class"): [] for g in svg.iter(f"{{{ns['svg']}}}g")}
    for g in svg.iter(f"{{{ns['svg']}}}g"):
        groups[g.get("class")].append(g.findtext("svg:title", namespaces=ns))
    assert f"cluster_subnet_{names.subnet_id('app', 'private-a')}" in groups["cluster"]
    hops = [h.node for h in predicted.path]
    for a, b in zip(hops, hops[1:]):
        assert f"{a}->{b}" in groups["edge hop predicted-hop"], (a, b)  # the class the HTML report's test finds
    texts = {t.text for t in svg.iter(f"{{{ns['svg']}}}text")}
    assert {"1", str(len(hops) - 1)} <= texts and "app1" in texts


def test_the_graph_verb_writes_each_format(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["graph", "topologies/public-private.yaml", "--path", "db1", S3, "--format", "dot"]) == 0
    assert STOP in capsys.readouterr().out
    assert main(["graph", "topologies/public-private.yaml", "-o", str(tmp_path / "t.svg")]) == 0
    assert ET.parse(tmp_path / "t.svg").getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert main(["graph", "topologies/public-private.yaml", "-o", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "argv, error",
    [
        (["--path", "app9", S3], "vpclab: source app9: no such instance"),
        (["--path", "app1", "bad name!"], "vpclab: --path app1 bad name!: 'bad name!' is not a node"),
        (["--format", "gif"], "argument --format: invalid choice: 'gif'"),
    ],
)
def test_bad_graph_arguments_are_one_clear_line(capsys, monkeypatch, argv, error):
    monkeypatch.chdir(REPO)
    with pytest.raises(SystemExit) if "--format" in argv else nullcontext():
        code = main(["graph", "topologies/public-private.yaml"] + argv)
        assert code == 2
    err = capsys.readouterr().err
    assert error in err and "Traceback" not in err


def test_an_nlbs_nodes_sit_in_their_subnets_in_the_providers_vpc():
    """Each node of an NLB is an ENI of its subnet: drawn in that subnet's box, in its zone, in the
    provider's VPC, not loose in the region; the SVG keeps it inside the VPC's cluster too."""
    _, plan, _, dot = drawn("topologies/endpoint-service.yaml")
    nodes, _ = read_dot(dot)
    vpc = plan.vpc_id("provider")
    for node in plan.load_balancer("provider", "web-nlb").nodes:
        assert nodes[node.node] == [
            f"cluster_region_{plan.region}",
            f"cluster_vpc_{vpc}",
            f"cluster_az_{vpc}_{node.az}",
            f"cluster_subnet_{names.subnet_id('provider', node.subnet)}",
        ]
    svg = ET.fromstring(render(dot, "svg"))
    ns = {"svg": "http://www.w3.org/2000/svg"}
    boxes = {g.findtext("svg:title", namespaces=ns): g for g in svg.iter(f"{{{ns['svg']}}}g") if g.get("class") == "cluster"}
    nlb = next(g for g in svg.iter(f"{{{ns['svg']}}}g") if g.findtext("svg:title", namespaces=ns) == "provider-web-nlb-a")

    def extent(group) -> tuple[float, float, float, float]:
        shape = group.find("svg:polygon", ns) if group.find("svg:polygon", ns) is not None else group.find("svg:path", ns)
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", shape.get("points") or shape.get("d"))]
        xs, ys = numbers[0::2], numbers[1::2]
        return min(xs), min(ys), max(xs), max(ys)

    x0, y0, x1, y1 = extent(boxes[f"cluster_subnet_{names.subnet_id('provider', 'web-a')}"])
    nx0, ny0, nx1, ny1 = extent(nlb)
    assert x0 <= nx0 and nx1 <= x1 and y0 <= ny0 and ny1 <= y1  # drawn inside its subnet's box
