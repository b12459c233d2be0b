"""Expectations against hand-made observations: each kind passes when the packets (or the command)
agree, and fails with one exact sentence when they do not. The sentences are what a learner reads
under a FAIL line, so they are the contract. Addresses are resolved on the real plan of
topologies/public-private.yaml. At the end, the two things a trace step computes before the checks
read it: the drop counters of its own probe, and a DNS answer only for a name that was looked up.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lab.analysis.explain import Explanation, explain
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.results import CommandResult, Hop, Outcome, ServiceSaw, StopReason
from lab.scenario.expect import Observed, as_observed, check, resolve_address, resolve_ingress
from lab.scenario.observe import Trace, added_since, compare

REPO = Path(__file__).resolve().parents[2]
WEB1_PUBLIC, NAT_EIP, APP1, NAT_ENI = "13.125.240.143", "13.124.153.222", "10.0.2.4", "10.0.1.254"
S3_VPCE = "vpce-0dd9b18a55d4579dd"  # s3-gw of topologies/gateway-endpoint.yaml


@pytest.fixture(scope="module")
def lab():
    topology = load_topology(REPO / "topologies" / "public-private.yaml")
    return topology, compile_plan(topology)


def hop(node: str, kind: str, aws_id: str | None = None) -> Hop:
    return Hop(node, kind, aws_id)


NAT_PATH = (
    hop("app1", "instance", "i-07e1c28e7264d88e0"),
    hop("app-router", "vpc-router", "vpc-079f0ea25d51bfe5b"),
    hop("app-nat-a", "nat-gateway", "nat-0cf5093f692d7bd5f"),
    hop("app-router", "vpc-router", "vpc-079f0ea25d51bfe5b"),
    hop("app-igw", "internet-gateway", "igw-0355c13dff56fa1a1"),
    hop("internet", "internet"),
    hop("s3-ap-northeast-2", "service", "com.amazonaws.ap-northeast-2.s3"),
)
NAT_SHOWN = (
    "app1 [instance] -> app-router [vpc-router] -> app-nat-a [nat-gateway] -> app-router [vpc-router] "
    "-> app-igw [internet-gateway] -> internet [internet] -> s3-ap-northeast-2 [service]"
)
# What a trace of app1 -> S3 through the NAT gateway observes, as the checks read it.
VIA_NAT = Observed(Outcome.OK, NAT_PATH, None, ServiceSaw(NAT_EIP, "internet", None, "s3-ap-northeast-2", 40000), http_status=200)
DROPPED = Observed(
    Outcome.TIMEOUT,
    NAT_PATH[:2],
    StopReason(
        "NO_ROUTE_TO_DESTINATION",
        "vpc-079f0ea25d51bfe5b",
        "app-router",
        "the packet entered app-router on br2p0 and never left it",
    ),
)
COMMAND = Observed(Outcome.OK, exit=0, output="hello from S3 in ap-northeast-2\n")
DIG = Observed(Outcome.OK, exit=0, output="52.219.60.10\n3.5.140.10\n", dns_answer=("52.219.60.10", "3.5.140.10"))


def failures(expect: dict, observed: Observed, lab) -> list[str]:
    _, plan = lab
    return check(expect, observed, plan)


# -- resolve_address and resolve_ingress on a real plan ----------------------------------------


@pytest.mark.parametrize(
    "spec, address",
    [
        ("public-ip:web1", WEB1_PUBLIC),  # an instance's auto-assigned public IP
        ("elastic-ip:nat-a", NAT_EIP),  # a NAT gateway's Elastic IP, by its name in the topology
        ("private-ip:app1", APP1),  # a node's first address
        ("private-ip:nat-a", NAT_ENI),  # the private IP behind a public one, by the owner's name
        ("private-ip:app-nat-a", NAT_ENI),  # ... or by node name
        ("private-ip:internet-client", "203.0.113.10"),
        ("198.51.100.7", "198.51.100.7"),  # anything else is taken as written
    ],
)
def test_resolve_address(spec, address, lab):
    assert resolve_address(spec, lab[1]) == address


@pytest.mark.parametrize(
    "spec, shown",
    [
        ("public-ip:app1", "<no public-ip of app1>"),  # app1 has no public IP
        ("elastic-ip:web1", "<no elastic-ip of web1>"),  # web1's is auto-assigned, not Elastic
        ("public-ip:nat-a", "<no public-ip of nat-a>"),  # a NAT gateway's is Elastic
        ("private-ip:nobody", "<no private ip of nobody>"),
    ],
)
def test_resolve_address_names_what_is_missing(spec, shown, lab):
    assert resolve_address(spec, lab[1]) == shown


def test_resolve_ingress():
    plan = compile_plan(load_topology(REPO / "topologies" / "gateway-endpoint.yaml"))
    assert resolve_ingress("s3-gw", plan) == S3_VPCE
    assert resolve_ingress("app/s3-gw", plan) == S3_VPCE
    assert resolve_ingress("other/s3-gw", plan) == "other/s3-gw"  # no such VPC: taken as written
    assert resolve_ingress(S3_VPCE, plan) == S3_VPCE
    assert resolve_ingress("internet", plan) == "internet"


# -- each kind of expectation: pass, then the exact failure ------------------------------------


def test_no_expectation_always_passes(lab):
    assert failures({}, VIA_NAT, lab) == []
    assert failures({}, Observed(), lab) == []


def test_outcome(lab):
    assert failures({"outcome": "ok"}, VIA_NAT, lab) == []
    assert failures({"outcome": "refused"}, VIA_NAT, lab) == ["expected outcome refused, observed ok"]


def test_outcome_failure_says_why_from_the_observed_explanation(lab):
    assert failures({"outcome": "ok"}, DROPPED, lab) == [
        "expected outcome ok, observed timeout (the packet entered app-router on br2p0 and never left it)"
    ]


@pytest.mark.parametrize(
    "path",
    [
        ["instance", "vpc-router", "nat-gateway", "vpc-router", "internet-gateway", "internet", "service"],
        ["app1", "app-router", "app-nat-a", "app-router", "app-igw", "internet", "s3-ap-northeast-2"],
        [
            "i-07e1c28e7264d88e0",
            "vpc-router",
            "nat-0cf5093f692d7bd5f",
            "vpc-router",
            "igw-0355c13dff56fa1a1",
            "internet",
            "com.amazonaws.ap-northeast-2.s3",
        ],
    ],
)
def test_path_matches_each_hop_by_kind_node_or_aws_id(path, lab):
    assert failures({"path": path}, VIA_NAT, lab) == []


def test_path_must_match_exactly(lab):
    short = ["instance", "vpc-router", "internet-gateway", "internet", "service"]
    assert failures({"path": short}, VIA_NAT, lab) == [
        f"expected the path instance -> vpc-router -> internet-gateway -> internet -> service; the packets went {NAT_SHOWN}"
    ]
    prefix = ["instance", "vpc-router"]  # a true prefix is still a different path
    assert failures({"path": prefix}, VIA_NAT, lab) == [f"expected the path instance -> vpc-router; the packets went {NAT_SHOWN}"]


def test_path_when_nothing_was_captured(lab):
    assert failures({"path": ["instance"]}, COMMAND, lab) == ["expected the path instance; the packets went no hop"]


def test_not_via(lab):
    assert failures({"not_via": ["gateway-endpoint", "app-s3-gw"]}, VIA_NAT, lab) == []
    assert failures({"not_via": ["nat-gateway", "app-igw"]}, VIA_NAT, lab) == [
        f"expected no hop nat-gateway; the packets went {NAT_SHOWN}",
        f"expected no hop app-igw; the packets went {NAT_SHOWN}",
    ]


def test_service_saw_source(lab):
    assert failures({"service_saw": {"source": "elastic-ip:nat-a"}}, VIA_NAT, lab) == []
    assert failures({"service_saw": {"source": NAT_EIP}}, VIA_NAT, lab) == []
    assert failures({"service_saw": {"source": "public-ip:web1"}}, VIA_NAT, lab) == [
        f"expected the service to see source public-ip:web1 ({WEB1_PUBLIC}); it saw {NAT_EIP}"
    ]


def test_service_saw_source_in(lab):
    assert failures({"service_saw": {"source_in": "13.124.0.0/16"}}, VIA_NAT, lab) == []
    assert failures({"service_saw": {"source_in": "10.0.0.0/16"}}, VIA_NAT, lab) == [
        f"expected a source in 10.0.0.0/16; the service saw {NAT_EIP}"
    ]


def test_service_saw_ingress(lab):
    topology = load_topology(REPO / "topologies" / "gateway-endpoint.yaml")
    plan = compile_plan(topology)
    via_endpoint = Observed(service_saw=ServiceSaw(APP1, S3_VPCE, S3_VPCE, "s3-ap-northeast-2", 40000))
    assert check({"service_saw": {"ingress": "s3-gw"}}, via_endpoint, plan) == []
    assert check({"service_saw": {"ingress": S3_VPCE}}, via_endpoint, plan) == []
    assert check({"service_saw": {"ingress": "internet"}}, VIA_NAT, plan) == []
    assert check({"service_saw": {"ingress": "s3-gw"}}, VIA_NAT, plan) == [
        f"expected the request to arrive via s3-gw ({S3_VPCE}); it came via internet"
    ]
    assert check({"service_saw": {"ingress": "internet"}}, via_endpoint, plan) == [
        f"expected the request to arrive via internet (internet); it came via {S3_VPCE}"
    ]


def test_service_saw_when_nothing_arrived(lab):
    assert failures({"service_saw": {"source": "private-ip:app1"}}, DROPPED, lab) == [
        "expected the service to see the request; it saw nothing"
    ]
    assert failures({"service_saw": {}}, VIA_NAT, lab) == []  # an empty mapping: only that it arrived


def test_service_saw_reports_every_mismatch(lab):
    want = {"source": "private-ip:app1", "source_in": "10.0.0.0/16", "ingress": "s3-gw"}
    assert len(failures({"service_saw": want}, VIA_NAT, lab)) == 3


def test_dropped_by(lab):
    assert failures({"dropped_by": "NO_ROUTE_TO_DESTINATION"}, DROPPED, lab) == []
    assert failures({"dropped_by": "NO_SUCH_ADDRESS"}, DROPPED, lab) == [
        "expected a drop by NO_SUCH_ADDRESS, observed NO_ROUTE_TO_DESTINATION"
    ]
    assert failures({"dropped_by": "NO_ROUTE_TO_DESTINATION"}, VIA_NAT, lab) == [
        "expected a drop by NO_ROUTE_TO_DESTINATION, observed no drop"
    ]


def test_dns_answer_is_compared_as_a_set_of_resolved_addresses(lab):
    assert failures({"dns_answer": ["3.5.140.10", "52.219.60.10"]}, DIG, lab) == []
    answered_web1 = replace(DIG, dns_answer=(WEB1_PUBLIC,))
    assert failures({"dns_answer": ["public-ip:web1"]}, answered_web1, lab) == []
    assert failures({"dns_answer": ["52.219.60.10"]}, DIG, lab) == [
        "expected the DNS answer ['52.219.60.10'], got ['52.219.60.10', '3.5.140.10']"
    ]
    assert failures({"dns_answer": ["52.219.60.10"]}, Observed(Outcome.DNS_FAILURE), lab) == [
        "expected the DNS answer ['52.219.60.10'], got []"
    ]


def test_status(lab):
    assert failures({"status": 200}, VIA_NAT, lab) == []
    assert failures({"status": 403}, VIA_NAT, lab) == ["expected HTTP status 403, got 200"]
    assert failures({"status": 200}, DROPPED, lab) == ["expected HTTP status 200, got None"]


def test_exit(lab):
    assert failures({"exit": 0}, COMMAND, lab) == []
    assert failures({"exit": 1}, COMMAND, lab) == ["expected exit status 1, got 0"]
    timed_out = Observed(Outcome.TIMEOUT)
    assert failures({"exit": 0}, timed_out, lab) == ["expected exit status 0, got None"]


def test_output_contains(lab):
    assert failures({"output_contains": "hello from S3"}, COMMAND, lab) == []
    assert failures({"output_contains": "goodbye"}, COMMAND, lab) == [
        "expected the output to contain 'goodbye'; it was 'hello from S3 in ap-northeast-2\\n'"
    ]


def test_output_is_shown_up_to_200_characters(lab):
    long = Observed(Outcome.ERROR, exit=1, output="x" * 500)
    assert failures({"output_contains": "y"}, long, lab) == [f"expected the output to contain 'y'; it was {'x' * 200!r}"]


def test_failures_come_in_a_fixed_order(lab):
    expect = {
        "output_contains": "nope",
        "exit": 3,
        "status": 500,
        "dropped_by": "NO_SUCH_ADDRESS",
        "service_saw": {"source": "public-ip:web1"},
        "not_via": ["nat-gateway"],
        "path": ["instance"],
        "outcome": "refused",
    }
    order = [
        "expected outcome",
        "expected the path",
        "expected no hop",
        "expected the service to see",
        "expected a drop",
        "expected HTTP status",
        "expected exit status",
        "expected the output",
    ]
    found = failures(expect, VIA_NAT, lab)
    assert [next(p for p in order if f.startswith(p)) for f in found] == order


# -- what a trace step hands to the checks (lab.scenario.observe, no lab needed) ----------------


def test_dropped_by_reads_only_what_the_counters_counted_during_the_probe():
    """Counters count the whole run: a drop an earlier step caused at the same router must not be
    taken as the reason for this one."""
    before = {
        "app-router": [
            {"comment": "NO_SUCH_ADDRESS", "packets": 3, "bytes": 180},
            {"comment": "NO_ROUTE_TO_DESTINATION", "packets": 0, "bytes": 0},
        ]
    }
    now = {
        "app-router": [
            {"comment": "NO_SUCH_ADDRESS", "packets": 3, "bytes": 180},
            {"comment": "NO_ROUTE_TO_DESTINATION", "packets": 3, "bytes": 180},
        ],
        "app-igw": [{"comment": "NO_PUBLIC_IP", "packets": 1, "bytes": 60}],
    }
    assert added_since(before, now) == {
        "app-router": [
            {"comment": "NO_SUCH_ADDRESS", "packets": 0, "bytes": 0},
            {"comment": "NO_ROUTE_TO_DESTINATION", "packets": 3, "bytes": 180},
        ],
        "app-igw": [{"comment": "NO_PUBLIC_IP", "packets": 1, "bytes": 60}],
    }  # not counted before: all of it


def test_a_reloaded_ruleset_counts_from_zero():
    before = {"app-router": [{"comment": "NO_ROUTE_TO_DESTINATION", "packets": 9, "bytes": 540}]}
    now = {"app-router": [{"comment": "NO_ROUTE_TO_DESTINATION", "packets": 2, "bytes": 120}]}
    assert added_since(before, now) == now


def probe_trace(target: str, probe: dict) -> dict:
    predicted = Explanation("app1", target, None, 443, True, Outcome.OK, [], None)
    return Trace("app1", target, 443, Outcome(probe.get("outcome", "ok")), probe, None, predicted).to_dict(None)


def test_a_trace_shows_a_dns_answer_only_for_a_name_the_probe_looked_up():
    by_name = probe_trace(
        "s3.ap-northeast-2.amazonaws.com",
        {"target": "s3.ap-northeast-2.amazonaws.com", "addresses": ["52.219.60.10", "3.5.140.10"]},
    )
    assert by_name["dns"] == {"answer": ["52.219.60.10", "3.5.140.10"]}
    # A node name is not in DNS: vpclab gives the probe the node's address.
    by_node = probe_trace("internet-client", {"target": "203.0.113.10", "addresses": ["203.0.113.10"]})
    assert by_node["dns"] is None
    failed = probe_trace("nowhere.example.com", {"target": "nowhere.example.com", "outcome": "dns-failure"})
    assert failed["dns"] is None and failed["path"] == [] and failed["outcome"] == "dns-failure"


def test_a_prediction_agrees_only_with_the_same_outcome_the_client_saw():
    """Predicted and observed speak one vocabulary: a route table without a route drops silently, so
    the prediction is a timeout, and an ICMP unreachable (no-route) would disagree with it. (The old
    prediction said no-route and agreed with an observed timeout.)"""
    topology = load_topology(str(REPO / "topologies/public-private.yaml"))
    predicted = explain(topology, compile_plan(topology), "db1", "lab-bucket.s3.ap-northeast-2.amazonaws.com")
    assert (predicted.outcome, predicted.reachable) == (Outcome.TIMEOUT, False)
    assert compare(predicted, None, Outcome.TIMEOUT) == []
    assert compare(predicted, None, Outcome.NO_ROUTE) == ["predicted outcome timeout, observed no-route"]


def test_a_trace_and_a_command_are_read_as_what_the_checks_see():
    """A trace whose name did not resolve has no path; a command's answer is its own."""
    trace = Trace(
        "app1",
        "nowhere.example.com",
        443,
        Outcome.DNS_FAILURE,
        {"outcome": "dns-failure"},
        None,
        Explanation("app1", "nowhere.example.com", None, 443, False, Outcome.DNS_FAILURE, [], None),
    )
    assert as_observed(trace) == Observed(Outcome.DNS_FAILURE)
    dig = CommandResult(Outcome.OK, 0, "52.219.60.10\n", ("52.219.60.10",))
    assert as_observed(dig) == Observed(Outcome.OK, exit=0, output="52.219.60.10\n", dns_answer=("52.219.60.10",))
