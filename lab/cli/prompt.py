"""The `vpclab up` prompt: Mininet's habit (`app1 curl ...` runs in node app1) plus the lab's own
commands: `path` (probe, then show the path from the captures) and `explain` (the prediction).

Commands run in the node's own shell, so its resolv.conf, trust store and AWS settings apply:
`app1 curl https://lab-bucket.s3.ap-northeast-2.amazonaws.com/hello.txt`, `app1 aws s3 ls`,
`app1 dig s3.ap-northeast-2.amazonaws.com`.
"""

from __future__ import annotations

import cmd
import shlex
from argparse import ArgumentTypeError

from lab.analysis.explain import explain
from lab.cli.output import port, target
from lab.cli.prompt_commands import MininetCommands
from lab.cli.prompt_nodes import node_addresses, strip_comment, substitute, suggest
from lab.cli.prompt_shell import run_at_prompt, save_env
from lab.errors import LabError
from lab.model.endpoint_connections import find_connection
from lab.plan.changes import TARGET_CHANGES, associate, change_targets, decide_connection
from lab.plan.security_changes import ACTIONS as SECURITY_CHANGES
from lab.plan.security_changes import change_permission
from lab.realize.controller import Controller
from lab.report.text import explanation_text, trace_text
from lab.scenario.observe import trace

INTRO = """vpclab: lab {tag} is up ({nodes} nodes); captures in {run_dir}/captures.
  NODE COMMAND        run a command in a node, e.g.  {example} aws s3 ls s3://{bucket}
  path SRC TARGET [PORT]     send real traffic, show its path from the captures
  explain SRC TARGET [PORT]  the path AWS's rules predict (no packets)
  associate | disassociate ENDPOINT ROUTE_TABLE   change the lab live, as in AWS
  authorize-ingress | revoke-ingress GROUP --protocol tcp --port 443 --cidr 10.0.0.0/16
                             (and -egress; or --source-group G): a security-group rule, live
  accept | reject VPC/ENDPOINT  the provider's decision on an endpoint connection, live
  register-targets | deregister-targets TARGET_GROUP TARGET   an NLB's target, live (it drains)
  nodes | net | links | dump | routes VPC [TABLE] | pingall   what is in the lab, live
  shell NODE                 an interactive shell in a node;  help  for every command
  Ctrl-C interrupts a command or clears the line;  exit (or Ctrl-D) tears it all down"""


class LabPrompt(MininetCommands, cmd.Cmd):
    prompt = "vpclab> "

    def __init__(self, topology, plan, lab):
        super().__init__()
        self.lab = lab
        self.controller = Controller(lab, topology)  # the live model; its socket is served while the prompt runs
        self.reported: set[str] = set()  # services already reported dead
        bucket = next(iter(topology.buckets), "lab-bucket")
        self.intro = INTRO.format(
            tag=lab.tag, nodes=len(plan.nodes), run_dir=lab.run_dir, example=next(iter(topology.instances)), bucket=bucket
        )
        save_env(lab, next(iter(plan.nodes)))  # for `vpclab exec`

    @property
    def topology(self):
        """The live model: what the prompt's changes and `aws ec2 ...` calls in the lab made of it."""
        return self.controller.topology

    @property
    def plan(self):
        return self.lab.plan

    def cmdloop(self, intro=None) -> None:
        """Mininet's habit: Ctrl-C at the prompt or in a command says "Interrupt" and the prompt
        goes on; only exit or Ctrl-D end the lab. Meanwhile the lab's controller answers the EC2
        calls made inside the lab (lab.realize.controller)."""
        with self.controller:
            self.loop(intro)

    def loop(self, intro) -> None:
        while True:
            try:
                super().cmdloop(intro)
                return
            except KeyboardInterrupt:
                print("\nInterrupt (exit or Ctrl-D tears the lab down)")
                intro = self.intro = ""
                for node in self.lab.nodes.values():  # a command caught before it was followed
                    while node.waiting:
                        node.sendInt()
                        node.waitOutput()

    def extra_commands(self) -> list[str]:
        return list(SECURITY_CHANGES) + list(TARGET_CHANGES)

    def emptyline(self) -> bool:
        return False

    def precmd(self, line: str) -> str:
        self.report_stopped()  # a service that died while the prompt waited: before the command's output
        return strip_comment(line)  # `path app1 s3... # comment`, pasted from the README

    def postcmd(self, stop: bool, line: str) -> bool:
        if not stop:
            self.report_stopped()  # one that died during the command: before the next prompt
        return stop

    def report_stopped(self) -> None:
        """Once per dead service (front, resolver, their launcher), its name and its log's last
        line: otherwise the learner sees only a client's "Could not connect" and blames the network."""
        for line in self.lab.stopped_services():
            if line not in self.reported:
                self.reported.add(line)
                print(f"vpclab: {line}; the lab is broken: exit and start it again")

    def default(self, line: str) -> bool:  # type: ignore[override]  # cmd.Cmd passes it on as onecmd's stop flag
        name, _, command = line.partition(" ")
        if name in SECURITY_CHANGES:  # cmd.Cmd cannot dispatch a name with a hyphen to a do_ method
            return self.change_security(name, command)
        if name in TARGET_CHANGES:
            return self.change_targets(name, command)
        if name not in self.lab.nodes:
            hint = suggest(name, self.commands() + list(self.lab.nodes))
            print(f"no node or command '{name}'{hint} (nodes lists the nodes; help the commands)")
            return False
        if not command.strip():
            print(f"usage: {name} COMMAND")
            return False
        run_at_prompt(self.lab.node(name), substitute(command, node_addresses(self.plan)))
        return False

    def parse(self, arg: str) -> tuple[str, str, int] | None:
        try:
            words = shlex.split(arg)
            if len(words) not in (2, 3):
                raise ValueError("two or three words")
            return words[0], target(words[1]), port(words[2]) if len(words) == 3 else 443
        except (ValueError, ArgumentTypeError) as exc:
            print(f"usage: SRC TARGET [PORT] ({exc})")
            return None

    def do_explain(self, arg: str) -> bool:
        """explain SRC TARGET [PORT]: the path AWS's rules predict, hop by hop."""
        if parsed := self.parse(arg):
            try:
                print(explanation_text(explain(self.topology, self.plan, *parsed)))
            except LabError as exc:
                print(refusal(exc))
        return False

    def do_path(self, arg: str) -> bool:
        """path SRC TARGET [PORT]: send real traffic from SRC and show the hops the captures saw."""
        if parsed := self.parse(arg):
            try:
                predicted = explain(self.topology, self.plan, *parsed)
                print(trace_text(trace(self.lab, predicted, *parsed), str(self.lab.run_dir)))
            except LabError as exc:
                print(refusal(exc))
        return False

    def do_associate(self, arg: str) -> bool:
        """associate ENDPOINT ROUTE_TABLE: the gateway endpoint's prefix-list route joins the table."""
        return self.change(arg, on=True)

    def do_disassociate(self, arg: str) -> bool:
        """disassociate ENDPOINT ROUTE_TABLE: the table loses the endpoint's prefix-list route."""
        return self.change(arg, on=False)

    def change(self, arg: str, on: bool) -> bool:
        words = arg.split()
        if len(words) != 2:
            print(f"usage: {'associate' if on else 'disassociate'} ENDPOINT ROUTE_TABLE")
            return False
        try:
            self.controller.change(lambda t: associate(t, words[0], words[1], on))
        except LabError as exc:
            print(refusal(exc))
            return False
        print(
            f"{'associated' if on else 'disassociated'}: route table {words[1]} "
            f"{'now sends' if on else 'no longer sends'} the prefix list of {words[0]} to the endpoint. "
            "Connections already open to those addresses break: their next packets take the new "
            "route, where S3 does not know them"
        )
        return False

    def change_security(self, action: str, arg: str) -> bool:
        """authorize-ingress GROUP --protocol P [--port N] (--cidr C | --source-group G), and the
        other three (lab.plan.security_changes): the router's security tables are swapped live."""
        try:
            self.controller.change(lambda t: change_permission(t, action, arg))
        except LabError as exc:
            print(refusal(exc))
            return False
        print(f"{action}: done. Connections already open stay open (security groups track them); new ones meet the changed rules")
        return False

    def change_targets(self, action: str, arg: str) -> bool:
        """register-targets | deregister-targets TARGET_GROUP TARGET (lab.plan.changes): the NLB
        nodes take the target in (checked first) or drain it for the group's deregistration delay."""
        try:
            self.controller.change(lambda t: change_targets(t, action, arg))
        except LabError as exc:
            print(refusal(exc))
            return False
        group, target = arg.split()
        if action == "register-targets":
            print(f"registered: {target} in {group} is initial; in rotation once its health checks pass")
            return False
        tg = next(v.target_groups[group] for v in self.topology.vpcs.values() if group in v.target_groups)
        closes = "then closed" if tg.connection_termination else "then left open (connection_termination is off)"
        print(
            f"deregistered: {target} in {group} is draining: new connections go to the other targets at once; "
            f"its open connections go on for the deregistration delay ({tg.deregistration_delay} s), {closes}"
        )
        return False

    def do_accept(self, arg: str) -> bool:
        """accept VPC/ENDPOINT: the provider accepts a pending endpoint connection; its ENIs forward to the NLB."""
        return self.decide(arg, "accept")

    def do_reject(self, arg: str) -> bool:
        """reject VPC/ENDPOINT: the provider rejects a pending or available endpoint connection; its ENIs carry nothing."""
        return self.decide(arg, "reject")

    def decide(self, arg: str, action: str) -> bool:
        if len(arg.split()) != 1:
            print(f"usage: {action} VPC/ENDPOINT   (an endpoint to an endpoint service)")
            return False
        try:
            self.controller.change(lambda t: decide_connection(t, action, arg.strip()))
        except LabError as exc:
            print(refusal(exc))
            return False
        vpc, name = find_connection(self.topology, arg.strip())[1].split("/")
        vpce = self.plan.vpce_id(vpc, name)
        state = next(c.state for s in self.plan.endpoint_services for c in s.connections if c.vpce == vpce)
        print(f"{action}ed: endpoint {vpc}/{name} ({vpce}) is now {state}")
        return False

    def do_exit(self, arg: str) -> bool:
        """exit: tear the lab down (also Ctrl-D)."""
        print(
            f"tearing down lab {self.lab.tag}: its {len(self.plan.nodes)} nodes, their namespaces, "
            f"services and captures; the captures are in {self.lab.run_dir}/captures until then"
        )
        return True

    def do_EOF(self, arg: str) -> bool:
        print()
        return self.do_exit(arg)

    do_quit = do_exit


def refusal(exc: LabError) -> str:
    """One line for a refused command, with AWS's code where the error has one
    (InvalidPermission.Duplicate, IncorrectState, ...) and its message does not say it already."""
    text, code = str(exc), getattr(exc, "code", None)
    return f"vpclab: {text}" + (f" ({code})" if code and f"({code})" not in text else "")
