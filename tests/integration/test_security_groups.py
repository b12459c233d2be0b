"""Security groups on real packets (topologies/security-groups.yaml): stateful allow-lists at each
ENI, enforced in the VPC router; each drop is read from the router's counters with the ENI and the
direction. AWS: https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html,
default-security-group.html, and security-group-connection-tracking.html (replies pass)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from security_lab import security_lab, send

from lab.plan import names
from lab.scenario.observe import added_since, drop_counters

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(120)]
SG = "ENI_SG_RULES_MISMATCH"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with security_lab(tmp_path_factory.mktemp("sg") / "run") as lab:
        yield lab


def test_a_port_the_group_does_not_allow_is_dropped_at_the_eni(lab):
    seen = send(lab, "internet-client", str(lab.plan.public_ip_of(lab.plan.eni_address("web1"), "shop").address), 22)
    assert seen.outcome == "timeout" and seen.reason.code == SG
    assert seen.reason.rule.startswith(f"{names.instance_eni_id('web1')} ingress {names.security_group_id('shop', 'web')}")
    allowed = send(lab, "internet-client", str(lab.plan.public_ip_of(lab.plan.eni_address("web1"), "shop").address), 443)
    assert allowed.outcome == "refused" and allowed.path[-1] == "web1"  # arrived; nothing listens


def test_a_source_outside_the_allowed_cidr_is_dropped(lab):
    # db allows 5432 from 10.0.2.0/24 only; web1 is in 10.0.1.0/24 (data-a's ACL also refuses it:
    # the ACL decides first, so the packet is counted there)
    seen = send(lab, "web1", "10.0.3.10", 5432)
    assert seen.outcome == "timeout" and seen.reason.code in (SG, "SUBNET_ACL_RESTRICTION")


def test_a_group_reference_admits_its_members_only(lab):
    assert send(lab, "web1", "10.0.2.10", 8080).outcome == "refused"  # web1 is in group web
    seen = send(lab, "ops1", "10.0.2.10", 8080)  # ops1 is not, though in app1's own subnet
    assert seen.outcome == "timeout" and seen.reason.code == SG and " ingress " in seen.reason.rule


def test_egress_rules_decide_what_may_leave(lab):
    seen = send(lab, "db1", "10.0.1.10", 443)  # db may send only to S3's prefix list
    assert seen.outcome == "timeout" and seen.reason.code == SG
    assert seen.reason.rule.startswith(f"{names.instance_eni_id('db1')} egress")


def test_the_default_group_lets_in_only_its_members(lab):
    seen = send(lab, "app1", "10.0.2.20", 22)  # ops1, default group; app1 is not a member
    assert seen.outcome == "timeout" and seen.reason.code == SG
    assert names.security_group_id("shop", "default") in seen.reason.rule


def test_groups_apply_within_a_subnet_too(lab):
    seen = send(lab, "web1", "10.0.1.20", 22)  # same subnet: no ACL, but web2's group
    assert seen.outcome == "timeout" and seen.reason.code == SG
    assert send(lab, "web1", "10.0.1.20", 443).outcome == "refused"


def test_replies_pass_whatever_the_rules_say(lab):
    """Stateful: web1's group admits nothing from app1's ports, yet app1's reset comes back to web1;
    and a connection web1 holds open keeps working (every segment after the SYN is established)."""
    server = lab.node("app1").popen([sys.executable, "-c", ECHO], stdout=subprocess.PIPE, text=True)
    lab.own(server.pid, "echo server in app1")
    try:
        server.stdout.readline()  # listening
        out = lab.node("web1").cmd(f"{sys.executable} -c '{CLIENT}'")
        assert out.strip().endswith("ping-ping-ping"), out
    finally:
        server.kill()
        server.wait()


ECHO = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("10.0.2.10", 8080)); s.listen()
print("up", flush=True)
c, _ = s.accept()
while data := c.recv(100):
    c.sendall(data)
"""
CLIENT = (
    'import socket,time; s=socket.create_connection(("10.0.2.10",8080),timeout=5); r=[]\n'
    'for i in range(3): s.sendall(b"ping"); r.append(s.recv(10).decode()); time.sleep(0.5)\n'
    'print("-".join(r))'
)


def test_a_spoofed_source_does_not_get_another_enis_rules(lab):
    """ops1 (default group: no way into app1) claims web1's address, which group app admits: the
    router's source check drops it at ops1's port before any group sees it."""
    spoof = (
        "from scapy.all import IP, TCP, send; "
        'send(IP(src="10.0.1.10", dst="10.0.2.10")/TCP(dport=8080, flags="S"), count=3, verbose=0)'
    )
    lab.node("ops1").cmd(f"{sys.executable} -c '{spoof}'")
    counters = {c["comment"]: c["packets"] for c in drop_counters(lab)["shop-router"]}
    assert counters.get("ENI_SOURCE_DEST_CHECK source", 0) >= 3, counters


def test_icmp_rules_match_the_type_and_replies_pass(lab):
    """Group app admits echo requests (type 8) from the VPC; the echo reply needs no rule (stateful).
    Group web admits no ICMP at all."""
    assert " 0% packet loss" in lab.node("web1").cmd("ping -c 2 -W 1 10.0.2.10")
    assert "100% packet loss" in lab.node("ops1").cmd("ping -c 1 -W 1 10.0.1.10")
    counters = {c["comment"]: c["packets"] for c in drop_counters(lab)["shop-router"]}
    dropped = f"{SG} {names.instance_eni_id('web1')} ingress {names.security_group_id('shop', 'web')}"
    assert counters[dropped] >= 1, counters


def test_the_amazon_dns_server_is_not_filtered(lab):
    """db1 may send only HTTPS to S3, yet resolves names: AWS's groups do not filter traffic to the
    Amazon DNS server (security-group-connection-tracking.html, the note on VPC+2)."""
    out = lab.node("db1").cmd("dig +short +time=2 +tries=1 @10.0.0.2 s3.ap-northeast-2.amazonaws.com")
    assert out.strip() and "timed out" not in out, out


def test_a_spoofed_source_outside_every_group_cannot_dodge_egress_rules(lab):
    """db1's group sends only to S3. An address that is no ENI's has no group at all, so without the
    source check db1 could leave by it; the check drops it at db1's port."""
    before = drop_counters(lab)
    scapy(lab, "db1", 'send(IP(src="10.0.3.99", dst="10.0.1.10")/TCP(dport=443, flags="S"), count=3, verbose=0)')
    assert counted_since(lab, before)["ENI_SOURCE_DEST_CHECK source"] == 3


def test_an_arp_claim_for_another_enis_address_is_dropped(lab):
    """ops1 answers ARP for app1's address (to receive, and be judged as, app1): dropped at its port,
    and the router keeps app1's MAC for it."""
    before = drop_counters(lab)
    claim = 'sendp(Ether(dst="ff:ff:ff:ff:ff:ff")/ARP(op=2, psrc="10.0.2.10", pdst="10.0.2.1"), iface="eth0", count=2, verbose=0)'
    scapy(lab, "ops1", claim)
    assert counted_since(lab, before)["ENI_SOURCE_DEST_CHECK arp"] == 2
    lab.node("web1").cmd("ping -c 1 -W 1 10.0.2.10")  # the router resolves app1 now, if it had not
    neighbour = lab.node("shop-router").cmd("ip neigh show 10.0.2.10")
    assert lab.plan.node("ops1").interface("eth0").mac not in neighbour, neighbour


def scapy(lab, node: str, statement: str) -> None:
    lab.node(node).cmd(f"{sys.executable} -c 'from scapy.all import ARP, IP, TCP, Ether, send, sendp; {statement}'")


def counted_since(lab, before: dict[str, list[dict]]) -> dict[str, int]:
    """What the router's drop counters counted since `before`, by comment."""
    router = "shop-router"
    added = added_since({router: before[router]}, {router: drop_counters(lab)[router]})[router]
    return {c["comment"]: c["packets"] for c in added}


def test_a_tracked_connection_survives_removing_the_rule_that_admitted_it(lab, tmp_path):
    """AWS: changing a rule does not interrupt the tracked connections it admitted; new ones are
    judged by the rules now (security-group-connection-tracking.html). The router's rule tables are
    replaced in one nft transaction, its conntrack table is not."""
    server = lab.node("app1").popen([sys.executable, "-c", ECHO], stdout=subprocess.PIPE, text=True)
    lab.own(server.pid, "echo server in app1")
    client = lab.node("web1").popen(
        [sys.executable, "-u", "-c", HELD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lab.own(client.pid, "held client in web1")
    try:
        server.stdout.readline()
        assert ask(client) == "ping"
        replace_filters(lab, without_rule(lab, "app", 0), tmp_path)  # group app no longer admits 8080
        try:
            assert ask(client) == "ping"  # the held connection still carries data both ways
            seen = send(lab, "web1", "10.0.2.10", 8080)  # a new one is judged by the rules now
            assert seen.outcome == "timeout" and seen.reason.code == SG
        finally:
            replace_filters(lab, lab.plan, tmp_path)
    finally:
        for proc in (client, server):
            proc.kill()
            proc.wait()


HELD = """
import socket, sys
s = socket.create_connection(("10.0.2.10", 8080), timeout=5)
for line in sys.stdin:
    s.sendall(b"ping")
    print(s.recv(10).decode(), flush=True)
"""


def ask(client) -> str:
    client.stdin.write("go\n")
    client.stdin.flush()
    return client.stdout.readline().strip()


def without_rule(lab, group: str, index: int):
    """The running plan, but for group `group` of VPC shop without its `index`th ingress rule."""
    from dataclasses import replace

    from lab.model.loader import load_topology
    from lab.plan.compile import compile_plan

    topology = load_topology(lab.plan.source)
    vpc = topology.vpcs["shop"]
    sg = vpc.security_groups[group]
    groups = dict(vpc.security_groups) | {group: replace(sg, ingress=sg.ingress[:index] + sg.ingress[index + 1 :])}
    return compile_plan(replace(topology, vpcs=dict(topology.vpcs) | {"shop": replace(vpc, security_groups=groups)}))


def replace_filters(lab, plan, tmp_path) -> None:
    """The router's security tables from `plan`, swapped for the running ones in one transaction."""
    ruleset = plan.router("shop").nftables
    filters = ruleset[ruleset.index("table ip vpc_filters") :]
    path = tmp_path / "filters.nft"
    path.write_text("delete table ip vpc_filters\ndelete table bridge eni_check\n" + filters)
    out = lab.node("shop-router").cmd(f"nft -f {path} && echo LOADED")
    assert "LOADED" in out, out


def test_the_prompt_authorizes_and_revokes_a_rule_live(lab, capsys):
    """At the lab's prompt, as with the AWS CLI: web1 -> app1:443 is dropped, then arrives once the
    rule is authorized, then is dropped again once it is revoked."""
    from lab.cli.prompt import LabPrompt
    from lab.model.loader import load_topology

    prompt = LabPrompt(load_topology(lab.plan.source), lab.plan, lab)
    rule = "app --protocol tcp --port 443 --cidr 10.0.1.0/24"
    try:
        prompt.onecmd(f"authorize-ingress {rule}")
        assert "authorize-ingress: done" in capsys.readouterr().out
        assert send(lab, "web1", "10.0.2.10", 443).outcome == "refused"
        prompt.onecmd(f"authorize-ingress {rule}")  # twice: AWS's error, the lab unchanged
        assert "already has this ingress rule (InvalidPermission.Duplicate)" in capsys.readouterr().out
    finally:
        prompt.onecmd(f"revoke-ingress {rule}")
    assert "revoke-ingress: done" in capsys.readouterr().out
    seen = send(lab, "web1", "10.0.2.10", 443)
    assert seen.outcome == "timeout" and seen.reason.code == SG
