"""What lets a lab grow to hundreds of VPCs without a cost or a limit that grows with it (issue 8:
the 100-VPC topology, 703 namespaces): the plan gives every ingress of a front ports of its own,
and waiting on a pipe works whatever its descriptor number. The lab itself is brought up, traced
and torn down in tests/integration/test_hundred_vpcs.py; its figures are in docs/benchmarks.md."""

from __future__ import annotations

import os
import resource

import pytest

from lab.errors import PlanError
from lab.model import regions
from lab.model.loader import load_topology
from lab.pipes import readable
from lab.plan.compile import compile_plan
from lab.plan.settings import Settings
from topologies import many_vpcs, public_vpc, vpcs


def test_the_generated_topology_is_the_issues():
    """Seven namespaces per VPC (three instances, router, internet gateway, NAT gateway, endpoint)
    plus the internet router, its client and a front for every service in every region."""
    plan = compile_plan(load_topology("inline.yaml", many_vpcs(10)))
    fronts = len(regions.emulated_services()) * len(regions.REGIONS)
    assert len(plan.nodes) == 7 * 10 + 2 + fronts
    assert {plan.node(n).kind for n in ("web10", "app10", "db10")} == {"instance"}
    assert len(plan.services) == fronts and plan.services[0].node == "s3-ap-northeast-2"
    assert len(plan.services[0].ingresses) == 1 + 10  # the internet and one per endpoint


def endpoints(count: int) -> str:
    """One VPC with `count` S3 gateway endpoints, each on a route table of its own."""
    tables = "".join(f"rt{k}: []\n" for k in range(count))
    eps = "".join(f"  s3-gw{k}: {{type: gateway, service: s3, route_tables: [rt{k}]}}\n" for k in range(count))
    return vpcs(public_vpc(route_tables=tables, more="endpoints:\n" + eps))


def test_every_ingress_of_a_front_has_ports_of_its_own():
    """8000+k and 8400+k gave the 401st ingress the HTTP port of the first one's HTTPS."""
    front = compile_plan(load_topology("inline.yaml", endpoints(401))).services[0]
    ports = [p for i in front.ingresses for p in (i.http_port, i.https_port)]
    assert len(front.ingresses) == 402 and len(set(ports)) == len(ports)
    assert min(ports) >= 1024 and max(ports) < 32768  # privileged below, the kernel's ephemeral above


def test_a_front_with_more_ingresses_than_ports_is_a_plan_error():
    with pytest.raises(PlanError, match=r"s3 ap-northeast-2: 4 ways in .* room for 3"):
        compile_plan(load_topology("inline.yaml", endpoints(3)), Settings(front_ports=range(8000, 8006)))


@pytest.fixture
def high_pipe():
    """A pipe whose read end is descriptor 1500, above select()'s FD_SETSIZE of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1500:
        pytest.skip(f"the hard limit on open files ({hard}) leaves no descriptor 1500")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    r, w = os.pipe()
    os.dup2(r, 1500)
    os.close(r)
    try:
        yield 1500, w
    finally:
        os.close(1500)
        os.close(w)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_readable_waits_on_descriptors_select_cannot_watch(high_pipe):
    fd, w = high_pipe
    assert not readable(fd, 0.0)
    os.write(w, b"READY 1\n")
    assert readable(fd, 1.0)
    assert os.read(fd, 100) == b"READY 1\n"
