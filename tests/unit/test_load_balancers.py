"""Network Load Balancers in the model and the plan: AWS's defaults and error codes, one node per
enabled AZ with its own IP and ENI, the nft ruleset's flow-hash DNAT, the health-check state
machine and fail-open, and the configs of the node's processes."""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path

import pytest

from lab.errors import TopologyError
from lab.model.loader import load_topology
from lab.plan import names
from lab.plan.compile import compile_plan
from lab.plan.load_balancer_nft import map_update
from lab.services import health
from lab.services.nlb_config import nlb_config, provider_app_configs

BASE = """
vpcs:
  provider:
    cidr: 10.1.0.0/16
    subnets:
      app-a: {cidr: 10.1.1.0/24, az: a}
      app-c: {cidr: 10.1.2.0/24, az: c}
    instances:
      client: {subnet: app-a}
      web-a: {subnet: app-a, private_ip: 10.1.1.10}
      web-a2: {subnet: app-a}
      web-c: {subnet: app-c}
    load_balancers:
      shop:
        subnets: [app-a, app-c]
        listeners:
          - {port: 80, target_group: web}
          - {port: 81, target_group: web-pp}
    target_groups:
      web:
        port: 8080
        targets: [{instance: web-a}, {instance: web-a2}, {instance: web-c}]
        app: provider-app
      web-pp:
        port: 8081
        target_type: ip
        proxy_protocol_v2: true
        targets: [{ip: 10.1.1.10}, {ip: 10.1.2.9, port: 9000}]
        health_check: {interval: 5, healthy_threshold: 2}
"""


def load(tmp_path: Path, text: str = BASE):
    (tmp_path / "lab.yaml").write_text(textwrap.dedent(text))
    return load_topology(tmp_path / "lab.yaml")


def problems(tmp_path: Path, text: str) -> str:
    with pytest.raises(TopologyError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def test_defaults_are_aws_s(tmp_path):
    vpc = load(tmp_path).vpcs["provider"]
    web, pp = vpc.target_groups["web"], vpc.target_groups["web-pp"]
    hc = web.health_check
    assert (hc.interval, hc.timeout, hc.healthy_threshold, hc.unhealthy_threshold, hc.port) == (30, 10, 5, 2, None)
    assert (pp.health_check.interval, pp.health_check.healthy_threshold, pp.health_check.unhealthy_threshold) == (5, 2, 2)
    assert vpc.load_balancers["shop"].cross_zone is False and vpc.load_balancers["shop"].security_groups == ()
    assert web.client_ip_preserved and not web.proxy_protocol_v2
    assert pp.target_type == "ip" and not pp.client_ip_preserved


def test_one_node_per_az_with_its_own_ip_and_eni(tmp_path):
    plan = compile_plan(load(tmp_path))
    lb = plan.load_balancer("provider", "shop")
    assert [(n.node, n.az, n.subnet) for n in lb.nodes] == [
        ("provider-shop-a", "ap-northeast-2a", "app-a"),
        ("provider-shop-c", "ap-northeast-2c", "app-c"),
    ]
    node = plan.node("provider-shop-a")
    assert node.kind == "load-balancer" and node.aws_id == names.load_balancer_eni_id("provider", "shop", "ap-northeast-2a")
    assert plan.eni_address("provider-shop-a") == lb.nodes[0].address
    assert lb.nodes[0].address in ipaddress.IPv4Network("10.1.1.0/24")
    assert plan.load_balancer_node("provider", "shop", "ap-northeast-2c") == lb.nodes[1]
    assert plan.load_balancer_node("provider", "shop", "ap-northeast-2b") is None
    assert lb.arn.startswith("arn:aws:elasticloadbalancing:ap-northeast-2:") and ":loadbalancer/net/shop/" in lb.arn
    assert lb.dns_name.startswith("internal-shop-") and lb.dns_name.endswith(".elb.ap-northeast-2.amazonaws.com")


def test_without_cross_zone_a_node_sends_to_its_own_az_only(tmp_path):
    plan = compile_plan(load(tmp_path))
    lb = plan.load_balancer("provider", "shop")
    web = lb.target_group("web")
    assert [t.node for t in lb.candidates(lb.nodes[0], web)] == ["web-a", "web-a2"]
    assert [t.node for t in lb.candidates(lb.nodes[1], web)] == ["web-c"]
    crossed = compile_plan(
        load(tmp_path, BASE.replace("subnets: [app-a, app-c]", "subnets: [app-a, app-c]\n        cross_zone: true"))
    )
    clb = crossed.load_balancer("provider", "shop")
    assert len(clb.candidates(clb.nodes[1], clb.target_group("web"))) == 3


def test_the_ruleset_dnats_by_flow_hash_and_redirects_ppv2(tmp_path):
    plan = compile_plan(load(tmp_path))
    lb, ruleset = plan.load_balancer("provider", "shop"), plan.node("provider-shop-a").nftables
    ip = lb.nodes[0].address
    assert f"ip daddr {{ {ip} }} tcp dport 80 dnat ip to jhash ip saddr . tcp sport . ip daddr . tcp dport mod 64" in ruleset
    assert f"ip daddr {{ {ip} }} tcp dport 81 redirect to :{lb.listeners[1].proxy_port}" in ruleset
    assert 'counter drop comment "NLB_NO_HEALTHY_TARGET"' in ruleset
    web_a, web_a2 = plan.eni_address("web-a"), plan.eni_address("web-a2")
    assert f"0 : {web_a} . 8080, 1 : {web_a2} . 8080" in ruleset
    assert str(plan.eni_address("web-c")) not in ruleset.split("map tg_web_pp")[0]  # web-c is in the other AZ
    # instance targets keep the client's IP by default: no SNAT for in-VPC clients
    assert "ct status dnat" not in ruleset.split("chain postrouting")[1].split("}")[0]


def test_in_vpc_clients_are_snated_without_client_ip_preservation(tmp_path):
    text = BASE.replace("        app: provider-app\n", "        app: provider-app\n        preserve_client_ip: false\n", 1)
    ruleset = compile_plan(load(tmp_path, text)).node("provider-shop-a").nftables
    assert "ct status dnat ct original protocol tcp ct original proto-dst 80 snat ip to" in ruleset


def test_idle_timeout_is_the_listeners_and_kernel_path_only(tmp_path):
    text = BASE.replace("{port: 80, target_group: web}", "{port: 80, target_group: web, idle_timeout: 60}")
    plan = compile_plan(load(tmp_path, text))
    assert [li.idle_timeout for li in plan.load_balancer("provider", "shop").listeners] == [60, 350]
    ruleset = plan.node("provider-shop-a").nftables
    assert "ct timeout idle_60 { protocol tcp; l3proto ip; policy = { established: 60 }; }" in ruleset
    assert 'tcp dport 80 ct state new ct timeout set "idle_60"' in ruleset and "idle_350" not in ruleset  # 81 is PPv2
    assert 'reject with tcp reset comment "NLB_IDLE_TIMEOUT"' in ruleset


def test_map_update_is_one_transaction():
    assert map_update("tg_web", []) == "flush map ip nlb tg_web\n"
    update = map_update("tg_web", [("10.1.1.5", 8080)])
    assert update.startswith("flush map ip nlb tg_web\nadd element ip nlb tg_web { 0 : 10.1.1.5 . 8080, ")
    assert update.count("10.1.1.5 . 8080") == 64


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("subnets: [app-a, app-c]", "subnets: [app-a, nowhere]"), "subnet 'nowhere' does not exist in vpc provider"),
        (("subnets: [app-a, app-c]", "subnets: []"), "(InvalidConfigurationRequest)"),
        (("{port: 81, target_group: web-pp}", "{port: 80, target_group: web-pp}"), "(DuplicateListener)"),
        (("{port: 81, target_group: web-pp}", "{port: 81, target_group: gone}"), "target group 'gone' does not exist"),
        (("{instance: web-c}", "{instance: ghost}"), "(InvalidTarget)"),
        (("{ip: 10.1.2.9, port: 9000}", "{ip: 10.9.2.9}"), "is not inside vpc provider 10.1.0.0/16 (InvalidTarget)"),
        (("health_check: {interval: 5", "health_check: {interval: 1"), "interval must be a whole number from 5 to 300"),
        (("{port: 80, target_group: web}", "{port: 80, target_group: web, idle_timeout: 30}"), "from 60 to 6000"),
        (("    load_balancers:\n      shop:", "    load_balancers:\n      shop-:"), "(ValidationError)"),
        (("[{ip: 10.1.1.10}, ", "[{instance: web-a}, "), "registered by ip (target_type ip), not by instance (ValidationError)"),
    ],
)
def test_bad_input_is_refused_with_elbs_codes(tmp_path, change, expected):
    assert expected in problems(tmp_path, BASE.replace(*change))


def test_two_subnets_in_one_az(tmp_path):
    text = BASE.replace("app-c: {cidr: 10.1.2.0/24, az: c}", "app-c: {cidr: 10.1.2.0/24, az: a}")
    assert (
        "are both in ap-northeast-2a; a load balancer takes one subnet per Availability Zone (InvalidConfigurationRequest)"
        in (problems(tmp_path, text))
    )


def test_an_unknown_key_names_the_nearest():
    with pytest.raises(TopologyError, match="did you mean 'cross_zone'"):
        load_topology(
            "lab.yaml",
            textwrap.dedent(BASE.replace("subnets: [app-a, app-c]", "subnets: [app-a, app-c]\n        crosszone: true")),
        )


def test_health_states_follow_the_thresholds():
    h = health.TargetHealth(healthy_threshold=3, unhealthy_threshold=2)
    assert h.state == "initial"
    assert [h.record(True) for _ in range(3)] == [False, False, True] and h.state == "healthy"
    assert h.record(False) is False and h.state == "healthy"
    assert h.record(False, "Target.Timeout") is True and (h.state, h.reason) == ("unhealthy", "Target.Timeout")
    assert [h.record(True) for _ in range(3)][-1] is True and h.state == "healthy"


def test_rotation_and_fail_open():
    hs = {n: health.TargetHealth(2, 2) for n in ("a", "b", "c")}
    assert health.in_rotation(["a", "b"], hs) == (["a", "b"], True)  # all initial: none healthy
    for _ in range(2):
        hs["a"].record(True)
        hs["c"].record(True)
    assert health.in_rotation(["a", "b"], hs) == (["a"], False)
    for _ in range(2):
        hs["a"].record(False)
    assert health.in_rotation(["a", "b"], hs) == ([], False)  # healthy targets elsewhere only
    for _ in range(2):
        hs["c"].record(False)
    assert health.in_rotation(["a", "b"], hs) == (["a", "b"], True)  # all unhealthy: fail open


def test_the_node_and_app_configs(tmp_path):
    plan = compile_plan(load(tmp_path))
    lb = plan.load_balancer("provider", "shop")
    config = nlb_config(lb, lb.nodes[0], tmp_path)
    pp = next(g for g in config["groups"] if g["name"] == "web-pp")
    assert pp["proxy_protocol_v2"] and [(t["id"], t["candidate"]) for t in pp["targets"]] == [
        ("10.1.1.10", True),
        ("10.1.2.9", False),
    ]
    assert config["listeners"][1] == {
        "port": 81,
        "group": "web-pp",
        "proxy_port": lb.listeners[1].proxy_port,
        "idle_timeout": 350,
    }
    apps = provider_app_configs(plan, tmp_path)
    assert sorted(apps) == ["web-a", "web-a2", "web-c"] and apps["web-a"]["ports"] == [8080]


def test_a_target_in_a_zone_the_nlb_does_not_enable_is_unused(tmp_path):
    plan = compile_plan(load(tmp_path, BASE.replace("subnets: [app-a, app-c]", "subnets: [app-a]")))
    lb = plan.load_balancer("provider", "shop")
    web = next(g for g in nlb_config(lb, lb.nodes[0], tmp_path)["groups"] if g["name"] == "web")
    assert [(t["enabled"], t["candidate"]) for t in web["targets"]] == [(True, True), (True, True), (False, False)]
    h = health.unused()
    assert (h.state, h.reason) == ("unused", "Target.NotInUse") and h.record(True) is False
