"""`vpclab demo`: the chapter's figures, each a lab built and driven with real traffic.

Act 1 is the chapter's first figure (public, private and isolated subnets reaching S3); act 2 its
central one: the same instance, the same request, without and then with a gateway endpoint, and
what S3 saw each time; act 3 an endpoint policy that lets one bucket through and denies another. The
topologies ship inside the package (lab/data), so the demo runs from any directory; topologies/
links to them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lab.analysis.explain import explain
from lab.model.loader import load_topology
from lab.plan.compile import compile_plan
from lab.realize.lab import Lab
from lab.scenario.observe import Trace, change_lab, trace

DATA = Path(__file__).resolve().parents[1] / "data"
TARGET = "lab-bucket.s3.ap-northeast-2.amazonaws.com"


@dataclass(frozen=True)
class Act:
    title: str
    topology: str  # file name in lab/data
    # ("trace", source, story[, bucket]) or ("associate"|"disassociate", endpoint, table, story)
    steps: tuple[tuple[str, ...], ...]


@dataclass
class ActResult:
    act: Act
    owners: dict[str, str]  # public IP -> "web1's public IP"
    results: list[tuple[str, Trace | None]] = field(default_factory=list)  # (story, trace) or (story, None)


ACTS = (
    Act("Figure 1: public, private and isolated subnets (topologies/public-private.yaml)", "public-private.yaml", (
        ("trace", "web1", "web1 - public subnet, has a public IP: out through the internet gateway"),
        ("trace", "app1", "app1 - private subnet: out through the NAT gateway, then the internet gateway"),
        ("trace", "db1", "db1 - isolated subnet: its route table has no route out"),
    )),
    Act("Figure 2: the same request without, then with, a gateway endpoint (topologies/gateway-endpoint.yaml)",
        "gateway-endpoint.yaml", (
            ("disassociate", "s3-gw", "private", "without the endpoint: route table private has only 0.0.0.0/0 -> nat-a"),
            ("trace", "app1", "app1 - S3 over the public path: NAT gateway and internet gateway"),
            ("associate", "s3-gw", "private", "with the endpoint: route table private gains pl-78a54011 -> vpce"),
            ("trace", "app1", "app1 - the same request, now private: the endpoint, and S3 sees the private IP"),
        )),
    Act("Figure 3: endpoint policies control what the endpoint may be used for "
        "(topologies/gateway-endpoint-policies.yaml)", "gateway-endpoint-policies.yaml", (
            ("trace", "app1", "app1 - lab-bucket, which the endpoint policy allows", "lab-bucket"),
            ("trace", "app1", "app1 - other-bucket: the same path, but the endpoint policy does not allow it",
             "other-bucket"),
        )),
)


def run_act(act: Act, run_dir: Path) -> ActResult:
    topology = load_topology(DATA / act.topology)
    plan = compile_plan(topology)
    out = ActResult(act, {str(p.address): f"{p.owner}'s {'Elastic IP' if p.elastic else 'public IP'}"
                          for p in plan.public_ips})
    with Lab(plan, run_dir) as lab:
        for kind, *args in act.steps:
            if kind == "trace":
                source, story, *bucket = args
                target = f"{bucket[0]}.s3.ap-northeast-2.amazonaws.com" if bucket else TARGET
                predicted = explain(topology, plan, source, target)
                out.results.append((story, trace(lab, predicted, source, target, 443)))
            else:
                endpoint, table, story = args
                topology, plan = change_lab(lab, topology, endpoint, table, on=kind == "associate")
                out.results.append((story, None))
    return out
