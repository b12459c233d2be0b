"""Drive real traffic in a running lab and say, from the captures, which way it went.

`probe` runs lab.services.probe inside the source node (the traffic is the node's own);
`observe` reads the captures written so far and follows that probe's connection; `compare` sets
the observed path beside the static prediction: a disagreement is a bug in vpclab, and is reported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field

from lab.analysis.explain import Explanation
from lab.analysis.paths import ObservedPath, observed_path
from lab.analysis.run import load_run
from lab.errors import EnvironmentFailure
from lab.results import RESULT_SCHEMA_VERSION, Outcome

PROBE_TIMEOUT = 3.0


class ProbeFailed(EnvironmentFailure):
    """The probe itself could not run (not: the network said no)."""


@dataclass
class Trace:
    source: str
    target: str
    port: int
    outcome: Outcome
    probe: dict
    observed: ObservedPath | None
    predicted: Explanation
    disagreements: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return not self.disagreements

    @property
    def dns_answer(self) -> list[str] | None:
        """Only a name the probe looked up has a DNS answer: a node name was given to it as an address."""
        asked = self.probe.get("target", self.target)
        return self.probe["addresses"] if self.probe.get("addresses", [asked]) != [asked] else None

    def to_dict(self, captures: str | None) -> dict:
        """The trace as docs/result.schema.json describes it (`vpclab trace --json`)."""
        observed = self.observed
        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "source": self.source,
            "target": self.target,
            "port": self.port,
            "outcome": self.outcome,
            "dns": {"answer": self.dns_answer} if self.dns_answer else None,
            "path": [asdict(h) for h in observed.path] if observed else [],
            "dropped_at": observed.dropped_at if observed else None,
            "explanation": asdict(observed.explanation) if observed and observed.explanation else None,
            "service_saw": asdict(observed.service_saw) if observed and observed.service_saw else None,
            "predicted": self.predicted.to_dict(),
            "agrees": self.agrees,
            "disagreements": self.disagreements,
            "http_status": self.probe.get("http_status"),
            "error": self.probe.get("error"),  # the client's own words: a TLS or socket error
            "captures": captures,
        }


def probe(lab, source: str, target: str, port: int, http_path: str | None, sign: bool = False) -> dict:
    args = (
        [sys.executable, "-m", "lab.services.probe", "--target", target, "--port", str(port), "--timeout", str(PROBE_TIMEOUT)]
        + (["--path", http_path] if http_path else [])
        + (["--sign"] if sign else [])
    )
    proc = lab.node(source).popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lab.node_env(source))
    lab.own(proc.pid, f"probe in {source}")
    out, err = proc.communicate(timeout=PROBE_TIMEOUT * 4)
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise ProbeFailed(f"the probe in {source} failed: {err.strip() or out.strip()}") from None


def drop_counters(lab) -> dict[str, list[dict]]:
    """Every node's nftables drop counters now (also written to drops.json)."""
    lab.save_drops()
    return json.loads((lab.run_dir / "drops.json").read_text())


def added_since(before: dict[str, list[dict]], now: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """What each counter counted since `before`: counters count the whole run, so without this an
    earlier step's drops at the same node would be taken as the reason this probe's packet died."""
    added = {}
    for node, counters in now.items():
        old = before.get(node, [])
        added[node] = [c | counted_since(c, old[i] if i < len(old) else None) for i, c in enumerate(counters)]
    return added


def counted_since(counter: dict, old: dict | None) -> dict:
    """A counter's packets and bytes since `old`, the same rule's counter earlier; all of them when the
    rule is new or its ruleset was reloaded since (a live change), which restarts its counters."""
    if old is None or old["comment"] != counter["comment"] or old["packets"] > counter["packets"]:
        return {}
    return {"packets": counter["packets"] - old["packets"], "bytes": counter["bytes"] - old["bytes"]}


def observe(lab, source: str, result: dict, before: dict[str, list[dict]] | None = None) -> ObservedPath | None:
    """Follow the probe's connection in the captures so far, with what the drop counters counted
    since `before` (all they counted, without it)."""
    if "addresses" not in result:
        return None
    now = drop_counters(lab)
    run = load_run(lab.run_dir)
    run.drops = added_since(before or {}, now)
    return observed_path(run, source, dst_ip=result["addresses"][0], dport=result["port"], sport=result["source"][1])


def compare(predicted: Explanation, observed: ObservedPath | None, outcome: Outcome) -> list[str]:
    """What differs between prediction and packets, in words; empty when they agree. Both state what
    the client sees, in one vocabulary, so the outcomes must be equal; except that a reachable
    destination where nothing listens refuses, which the model cannot know."""
    problems = []
    # Reachable, but nothing listens on the port: the destination itself said no.
    refused_by_destination = (
        outcome == Outcome.REFUSED
        and observed is not None
        and bool(predicted.path)
        and observed.delivered_to == predicted.path[-1].node
    )
    if outcome != predicted.outcome and not refused_by_destination:
        problems.append(f"predicted outcome {predicted.outcome}, observed {outcome}")
    if observed is None:
        return problems
    want = [(h.node, h.kind) for h in predicted.path]
    seen = [(h.node, h.kind) for h in observed.path]
    if want != seen:
        problems.append("predicted hops " + " -> ".join(n for n, _ in want) + "; observed " + " -> ".join(n for n, _ in seen))
    saw, expected = observed.service_saw, predicted.service_saw
    if expected and saw and saw.source_ip != expected.source_ip:
        problems.append(f"predicted the service sees {expected.source_ip}, it saw {saw.source_ip}")
    return problems


def trace(
    lab, predicted: Explanation, source: str, target: str, port: int, http_path: str | None = None, sign: bool = True
) -> Trace:
    """Probe from `source`, follow the packets, and compare with the prediction. To a service on
    80/443 the probe sends a real HTTP(S) GET (`http_path`, by default /), signed like an AWS SDK's
    unless `sign` is false (a curl-like request); the prediction must assume the same."""
    if http_path is None and port in (80, 443) and predicted.service_saw:
        http_path = "/"
    address = predicted.destination if target in lab.plan.nodes else target  # node names are not in DNS
    before = drop_counters(lab)
    result = probe(lab, source, address or target, port, http_path, sign and http_path is not None)
    observed = observe(lab, source, result, before)
    outcome = Outcome(result["outcome"])
    return Trace(source, target, port, outcome, result, observed, predicted, compare(predicted, observed, outcome))
