"""Endpoint services in the model: accounts, the service's name, who may see it, where its
endpoints may be, private DNS, connection states and the provider's decisions, each with AWS's
code (sources in lab/model/validate_endpoint_services.py and lab/model/endpoint_connections.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from lab.errors import TopologyError
from lab.model.accounts import allows, endpoint_service_name, root_arn
from lab.model.endpoint_connections import AVAILABLE, PENDING, REJECTED, IncorrectState, decide, endpoint_state
from lab.model.loader import load_topology
from lab.plan import names

SHIPPED = Path("topologies/endpoint-service.yaml")


def variant(change) -> str:
    """The shipped topology's text after `change(doc)`."""
    yaml = YAML()
    doc = yaml.load(SHIPPED.read_text())
    change(doc)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def problems(change) -> list[tuple[str, str]]:
    with pytest.raises(TopologyError) as info:
        load_topology("t.yaml", variant(change))
    return [(p.code, p.message) for p in info.value.problems]


def test_shipped_topology_loads_with_accounts_and_a_service_name():
    t = load_topology(SHIPPED)
    assert t.vpcs["provider"].account == "444455556666"
    assert t.vpcs["consumer"].account == "111122223333"  # the lab's account by default
    svc = t.vpcs["provider"].endpoint_services["web-svc"]
    assert svc.service_name.startswith("com.amazonaws.vpce.ap-northeast-2.vpce-svc-")
    assert len(svc.service_id) == len("vpce-svc-") + 17
    assert svc.service_id == names.endpoint_service_id("444455556666", "provider", "web-svc")
    assert load_topology(SHIPPED).endpoint_services()[0].service_name == svc.service_name  # deterministic
    assert svc.acceptance_required and svc.allowed_principals == ("arn:aws:iam::111122223333:root",)


def test_connection_states_follow_the_providers_decisions():
    t = load_topology(SHIPPED)
    assert endpoint_state(t, "consumer", t.vpcs["consumer"].endpoints["web"]) == AVAILABLE
    assert endpoint_state(t, "staging", t.vpcs["staging"].endpoints["web"]) == PENDING
    svc = t.endpoint_services()[0]
    accepted = decide(t, svc, "staging/web", "accept")
    assert endpoint_state(accepted, "staging", accepted.vpcs["staging"].endpoints["web"]) == AVAILABLE
    rejected = decide(accepted, accepted.endpoint_services()[0], "consumer/web", "reject")  # an available one too
    assert endpoint_state(rejected, "consumer", rejected.vpcs["consumer"].endpoints["web"]) == REJECTED


@pytest.mark.parametrize("ref, action, state", [("consumer/web", "accept", AVAILABLE), ("staging/web", "reject", None)])
def test_impossible_decisions_are_incorrect_state(ref, action, state):
    t = load_topology(SHIPPED)
    if state is None:  # reject twice
        t = decide(t, t.endpoint_services()[0], ref, "reject")
        state = REJECTED
    with pytest.raises(IncorrectState, match=f"is {state}"):
        decide(t, t.endpoint_services()[0], ref, action)


def test_no_acceptance_required_means_available_at_once():
    def change(doc):
        doc["vpcs"]["provider"]["endpoint_services"]["web-svc"]["acceptance_required"] = False

    t = load_topology("t.yaml", variant(change))
    assert endpoint_state(t, "staging", t.vpcs["staging"].endpoints["web"]) == AVAILABLE


def test_an_account_not_allowed_cannot_create_the_endpoint():
    def change(doc):
        doc["vpcs"]["partner"]["endpoints"] = {
            "web": {"service": {"endpoint_service": "provider/web-svc"}, "subnets": ["partner-a"]}
        }

    [(code, message)] = problems(change)
    assert code == "InvalidServiceName"
    assert "does not exist" in message and "777788889999" in message


def test_everyone_may_see_a_service_allowing_star():
    assert allows(("*",), "444455556666", "777788889999")
    assert allows((), "444455556666", "444455556666")  # the owner's own
    assert not allows((root_arn("111122223333"),), "444455556666", "777788889999")


def test_the_service_name_works_as_a_reference_and_other_regions_do_not_exist():
    t = load_topology(SHIPPED)
    name = t.endpoint_services()[0].service_name

    def by_name(doc):
        doc["vpcs"]["consumer"]["endpoints"]["web"]["service"] = name

    t2 = load_topology("t.yaml", variant(by_name))
    assert t2.endpoint_service_of(t2.vpcs["consumer"].endpoints["web"]) is not None

    def elsewhere(doc):
        doc["vpcs"]["consumer"]["endpoints"]["web"]["service"] = endpoint_service_name("us-east-1", name.rsplit(".", 1)[1])

    found = problems(elsewhere)  # and accepted: [consumer/web] now names no endpoint of the service
    assert [c for c, m in found if "us-east-1" in m] == ["InvalidServiceName"]


def test_a_subnet_in_an_az_the_service_lacks_is_invalid_parameter():
    def change(doc):
        doc["vpcs"]["consumer"]["subnets"]["app-b"] = {"cidr": "10.0.9.0/24", "az": "b"}
        doc["vpcs"]["consumer"]["endpoints"]["web"]["subnets"] = ["app-a", "app-b"]

    [(code, message)] = problems(change)
    assert code == "InvalidParameter"
    assert "does not support the availability zone of the subnet: app-b" in message


def test_private_dns_needs_a_verified_name_which_the_lab_cannot_give():
    def change(doc):
        doc["vpcs"]["provider"]["endpoint_services"]["web-svc"]["private_dns_name"] = "web.example.com"
        doc["vpcs"]["consumer"]["endpoints"]["web"]["private_dns"] = True

    [(code, message)] = problems(change)
    assert code == "InvalidParameter" and "pendingVerification" in message


@pytest.mark.parametrize(
    "where, key, value, code",
    [
        ("vpc", "account", "12345", "InvalidParameterValue"),
        ("svc", "allowed_principals", ["arn:aws:iam::111122223333:user/bob"], "InvalidPrincipal"),
        ("svc", "network_load_balancers", ["nope"], "InvalidParameter"),
        ("svc", "accepted", ["partner/web"], "InvalidVpcEndpointId.NotFound"),
        ("svc", "rejected", ["consumer/web"], "InvalidParameter"),  # both accepted and rejected
    ],
)
def test_bad_values_get_aws_codes(where, key, value, code):
    def change(doc):
        target = doc["vpcs"]["provider"] if where == "vpc" else doc["vpcs"]["provider"]["endpoint_services"]["web-svc"]
        target[key] = value

    with pytest.raises(TopologyError) as info:
        load_topology("t.yaml", variant(change))
    assert code in [p.code for p in info.value.problems]
