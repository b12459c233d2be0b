"""What `vpclab demo` prints, in Korean (the book's language) or English: the framing, each act's
title and each step's caption (written in the act files, lab/data/demo), and each traced step's
path, answer, reason and verdict. Korean follows the book and AWS's Korean console (합니다체;
라우팅 테이블, 보안 그룹, 네트워크 ACL, 엔드포인트 정책, ...: docs/demo.md); what a machine made
(node names, addresses, AWS ids, drop codes) is shown as it is, in both languages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lab.plan.types import Plan
from lab.report.style import PLAIN, Palette
from lab.report.text import hop_line, run_summary
from lab.results import CommandResult, Outcome, StopReason

if TYPE_CHECKING:  # named only: importing the scenario runner would load the realizer
    from lab.scenario.loader import Scenario
    from lab.scenario.observe import Trace
    from lab.scenario.runner import ScenarioResult, StepResult

SERVICE_NAMES = {"s3": "S3", "dynamodb": "DynamoDB", "sqs": "SQS", "sts": "STS", "kms": "KMS", "ec2": "EC2"}
OUTCOMES_KO = {
    Outcome.OK: "성공",
    Outcome.DENIED: "접근 거부",
    Outcome.REFUSED: "연결 거부",
    Outcome.TIMEOUT: "시간 초과",
    Outcome.NO_ROUTE: "도달 불가",
    Outcome.DNS_FAILURE: "DNS 조회 실패",
    Outcome.ERROR: "오류",
}
DIRECTIONS_KO = {"ingress": "인바운드", "egress": "아웃바운드"}

WORDS = {
    "en": {
        "intro": "vpclab demo: the chapter's figures, built from Linux namespaces. Every request is real traffic to S3,\n"
        "DynamoDB or an application; every path shown is the one the captured packets took, next to what AWS's rules predict.\n",
        "path": "path:   ",
        "result": "result: ",
        "why": "why:    ",
        "predicted": "predicted by AWS's rules (vpclab explain): ",
        "agrees": "agrees",
        "disagrees": "DISAGREES (a vpclab bug): ",
        "failed": "FAILED:",
        "answered": "HTTP {status} from {service}, which saw the request come from {source}{owner} via {via}",
        "connected": "connected to {service}, which saw the connection come from {source}{owner} via {via}",
        "internet": "the internet",
        "public-ip": "{owner}'s public IP",
        "elastic-ip": "{owner}'s Elastic IP",
        "building": "building the lab of {name}",
        "removing": "removing the lab",
        "pause": "   -- Enter: next figure, q: stop (this figure's lab is removed, the captures stay in {keep}). "
        "Meanwhile the lab is up: vpclab ls, vpclab exec LAB NODE CMD in another terminal. ",
        "stopped": "stopped after figure {number} of {total}: its lab is removed, nothing else is up; "
        "the run directory is kept: {keep} (act1 .. act{number})",
        "captures": "captures: {keep}/act*/captures (one pcap per node, Wireshark reads them); "
        "every flow: vpclab inspect {keep}/act1",
    },
    "ko": {
        "intro": "vpclab 데모: 교재의 그림을 리눅스 네임스페이스로 재현합니다. 모든 요청은 S3, DynamoDB 또는\n"
        "애플리케이션으로 가는 실제 트래픽입니다. 표시되는 경로는 캡처한 패킷이 실제로 지나간 경로이며,\n"
        "AWS 규칙에 따른 예측과 함께 보여 줍니다.\n",
        "path": "경로:",
        "result": "결과:",
        "why": "원인:",
        "predicted": "AWS 규칙에 따른 예측(vpclab explain): ",
        "agrees": "일치합니다",
        "disagrees": "일치하지 않습니다(vpclab 버그): ",
        "failed": "실패:",
        "answered": "HTTP {status}, {service}의 응답입니다. {service}에서 본 출발지는 {source}{owner}, 들어온 곳은 {via}입니다",
        "connected": "{service}에 연결했습니다. {service}에서 본 출발지는 {source}{owner}, 들어온 곳은 {via}입니다",
        "internet": "인터넷",
        "public-ip": "{owner}의 퍼블릭 IP",
        "elastic-ip": "{owner}의 탄력적 IP",
        "building": "랩을 만드는 중: {name}",
        "removing": "랩을 정리하는 중",
        "pause": "   -- Enter: 다음 그림, q: 중지(이 그림의 랩을 정리하며, 캡처는 {keep}에 남습니다). "
        "기다리는 동안에도 랩은 실행 중이므로 다른 터미널에서 vpclab ls, vpclab exec LAB NODE CMD 명령을 쓸 수 있습니다. ",
        "stopped": "그림 {number}/{total}에서 중지했습니다. 이 그림의 랩을 정리했으며 실행 중인 랩은 없습니다. "
        "실행 디렉터리는 남겨 두었습니다: {keep} (act1 .. act{number})",
        "captures": "캡처: {keep}/act*/captures (노드마다 pcap 파일 하나, Wireshark로 열 수 있습니다). "
        "모든 흐름 보기: vpclab inspect {keep}/act1",
        "summary": "그림 {acts}개: 통과 {passed}, 실패 {failed} / "
        "단계 {steps}개: 통과 {steps_passed}, 실패 {steps_failed} / {seconds:.1f}초",
    },
}


def because_ko(x: StopReason) -> str | None:
    """Why AWS's rules stop the traffic, in Korean, for the codes the demo's figures show (the
    English message otherwise); None when there is no Korean sentence for the code."""
    direction = DIRECTIONS_KO.get(x.direction or "", "")
    direction += " " if direction else ""  # "인바운드 규칙", or just "규칙" when the direction is unknown
    policy = x.component.removeprefix("endpoint policy of ")
    sentences = {
        "NO_ROUTE_TO_DESTINATION": f"라우팅 테이블 {x.component}에 이 목적지로 가는 경로가 없습니다",
        "PEERING_NOT_TRANSITIVE": f"피어링 연결({x.component})로 들어온 트래픽은 상대 VPC의 게이트웨이 엔드포인트, "
        "NAT 게이트웨이, 인터넷 게이트웨이를 쓸 수 없습니다(전이적 피어링은 지원되지 않습니다)",
        "ENI_SG_RULES_MISMATCH": f"보안 그룹 {x.component}에 이 트래픽을 허용하는 {direction}규칙이 없습니다. "
        "보안 그룹에는 허용 규칙만 있으므로, 어떤 규칙도 허용하지 않은 트래픽은 버려집니다",
        "SUBNET_ACL_RESTRICTION": f"네트워크 ACL {x.component}의 {direction}규칙이 이 패킷을 거부합니다. 네트워크 ACL은 "
        "상태 비저장(stateless)이므로 응답 패킷에도 클라이언트의 임시 포트를 허용하는 규칙이 있어야 합니다",
        "ENDPOINT_CONNECTION_PENDING_ACCEPTANCE": f"엔드포인트 {x.component}의 연결이 아직 수락 대기(pendingAcceptance) "
        "상태입니다. 서비스 공급자가 수락하기 전에는 ENI가 아무것도 전달하지 않습니다",
        "ACCESS_DENIED": f"{policy}의 엔드포인트 정책에 이 요청을 허용하는 정책 문(Statement)이 없습니다(AccessDenied)"
        if policy != x.component
        else None,
    }
    return sentences.get(x.code)


@dataclass
class DemoText:
    """The demo's words in `language` ('ko' or 'en'). `learn(plan)` before an act's steps: its
    plan names where a service saw a request from ("nat-a's Elastic IP") and which service answered."""

    language: str
    paint: Palette = PLAIN
    owners: dict[str, str] = field(default_factory=dict)  # public IP -> "web1's public IP"
    services: dict[str, str] = field(default_factory=dict)  # service node -> "S3", "S3 (us-east-1)"

    def word(self, key: str, **values: object) -> str:
        return WORDS[self.language][key].format(**values)

    def learn(self, plan: Plan) -> None:
        for p in plan.public_ips:
            self.owners[str(p.address)] = self.word("elastic-ip" if p.elastic else "public-ip", owner=p.owner)
        for front in plan.services:
            name = SERVICE_NAMES.get(front.service, front.service)
            self.services[front.node] = name if front.region == plan.region else f"{name} ({front.region})"

    def heading(self, scenario: Scenario) -> str:
        """An act (a scenario) is titled by its name in the language."""
        return self.paint.title(f"== {scenario.caption(self.language)}") + "\n"

    def step(self, step: StepResult) -> str:
        """A step of an act: its caption, the path, what the service answered, and the verdict."""
        failed = [f"     {self.paint.bad(self.word('failed'))}  {f}" for f in step.failures if not f.startswith("vpclab bug")]
        t = step.observed
        if isinstance(t, CommandResult):  # a change of the lab, or a command: its caption
            return "\n".join([f"   >> {step.step.caption(self.language)}", *failed]) + "\n"
        lines = [
            f"   {self.paint.title(step.step.caption(self.language))}",
            f"     {self.word('path')} {hop_line(t.observed.path if t.observed else [])}",
            f"     {self.word('result')} {self.result(t)}",
        ]
        x = t.predicted.explanation
        if x and t.outcome not in (Outcome.OK, Outcome.DENIED):
            lines.append(f"     {self.word('why')} {self.reason(x)}")
        verdict = (
            self.paint.good(self.word("agrees"))
            if t.agrees
            else self.paint.bad(self.word("disagrees") + "; ".join(t.disagreements))
        )
        return "\n".join([*lines, f"     {self.word('predicted')}{verdict}", *failed]) + "\n"

    def reason(self, x: StopReason) -> str:
        return (because_ko(x) or x.message) if self.language == "ko" else x.message

    def result(self, t: Trace) -> str:
        """What the service answered and where it saw the request from; or why nothing answered."""
        saw = t.observed.service_saw if t.observed else None
        if t.outcome == Outcome.OK and saw:
            status = t.probe.get("http_status")
            return self.word(
                "answered" if status else "connected",
                status=status,
                service=self.service(saw.node or (t.observed.path[-1].node if t.observed and t.observed.path else "")),
                source=saw.source_ip,
                owner=f" ({self.owners[saw.source_ip]})" if saw.source_ip in self.owners else "",
                via=saw.vpce_id or self.word("internet"),
            )
        if t.outcome == Outcome.DENIED and t.predicted.explanation:
            x = t.predicted.explanation
            return f"HTTP {t.probe.get('http_status')}: " + (
                self.reason(x) if self.language == "ko" else x.message.removeprefix("S3 answers ")
            )
        stop = t.observed.explanation if t.observed else None
        if self.language == "en":
            return f"{t.outcome}: {stop.because() if stop else ''}"
        return f"{OUTCOMES_KO[t.outcome]}({t.outcome}): {stopped_ko(t.outcome, stop)}"

    def service(self, node: str) -> str:
        """An AWS service by its name ("S3", "DynamoDB (us-east-1)"), any other destination by its node."""
        return self.services.get(node, node)

    def summary(self, results: list[ScenarioResult]) -> str:
        """Acts and steps passed and failed, and the time they took (`vpclab run`'s words in English)."""
        if self.language == "en":
            return run_summary(results, self.paint)
        steps = [s for r in results for s in r.steps]
        line = self.word(
            "summary",
            acts=len(results),
            passed=sum(r.passed for r in results),
            failed=sum(not r.passed for r in results),
            steps=len(steps),
            steps_passed=sum(s.passed for s in steps),
            steps_failed=sum(not s.passed for s in steps),
            seconds=sum(r.seconds for r in results),
        )
        return self.paint.good(line) if all(r.passed for r in results) else self.paint.bad(line)


def stopped_ko(outcome: Outcome, x: StopReason | None) -> str:
    """Where the packets stopped and the drop counters that counted them, in Korean."""
    if x is None:
        return ""
    if outcome == Outcome.REFUSED:
        return f"{x.node}에서 TCP 리셋이 돌아왔습니다({x.code})"
    counted = ", ".join(f"{e['comment']} 패킷 {e['packets']}개" for e in x.evidence)
    return f"패킷이 {x.node}에서 더 나아가지 못했습니다" + (f". 그곳의 드롭 카운터: {counted}" if counted else f"({x.code})")
