"""The Mininet-habit commands of the `vpclab>` prompt (net, links, dump, pingall, sh, shell,
xterm), `routes` in AWS's terms, `help` and Tab completion: a mixin of LabPrompt (which holds
`topology`, `plan` and `lab`), kept apart so that the prompt's own module stays small."""

from __future__ import annotations

import subprocess
from typing import Any

from lab.cli.prompt_nodes import complete, node_addresses, suggest, vocabulary
from lab.cli.prompt_shell import open_shell, open_xterm
from lab.cli.prompt_views import dump_view, links_view, net_view, nodes_view, routes_view

HIDDEN = {"EOF", "quit"}  # cmd.Cmd's way of reading Ctrl-D, and exit's twin
NODE_HELP = "NODE COMMAND        run COMMAND in NODE's shell; node names in it become their private IPs (app1 ping -c1 batch1)"


class MininetCommands:
    topology: Any
    plan: Any
    lab: Any

    # -- tables -------------------------------------------------------------------------------------
    def do_nodes(self, arg: str) -> bool:
        """nodes: every node with its kind, AWS id and addresses."""
        print(nodes_view(self.plan))
        return False

    def do_net(self, arg: str) -> bool:
        """net: each node's interfaces and the node at the other end (Mininet's net)."""
        print(net_view(self.plan))
        return False

    def do_links(self, arg: str) -> bool:
        """links: every link (a veth pair) and the AWS thing it stands for."""
        print(links_view(self.plan))
        return False

    def do_dump(self, arg: str) -> bool:
        """dump: one line per node: kind, interfaces with addresses, shell pid, AWS id."""
        print(dump_view(self.plan, {name: node.pid for name, node in self.lab.nodes.items()}))
        return False

    def do_routes(self, arg: str) -> bool:
        """routes VPC [TABLE]: the VPC's route tables as describe-route-tables shows them (live)."""
        words = arg.split()
        if not 1 <= len(words) <= 2:
            print(f"usage: routes VPC [TABLE]   (VPCs: {', '.join(self.topology.vpcs)})")
            return False
        try:
            print(routes_view(self.topology, self.plan, words[0], words[1] if len(words) == 2 else None))
        except KeyError as exc:
            print(f"vpclab: {exc.args[0]}")
        return False

    # -- running things -------------------------------------------------------------------------
    def do_pingall(self, arg: str) -> bool:
        """pingall: one ping between every pair of instances, in the lab (Mininet's pingall)."""
        addresses = node_addresses(self.plan)
        instances = [n for n, node in self.plan.nodes.items() if node.kind == "instance"]
        print("*** Ping: testing ping reachability")
        sent = received = 0
        for source in instances:
            answered = []
            for target in instances:
                if target == source:
                    continue
                out = self.lab.node(source).cmd(f"ping -c1 -W1 {addresses[target]} >/dev/null 2>&1; echo rc=$?")
                sent += 1
                ok = out.strip().endswith("rc=0")
                received += ok
                answered.append(target if ok else "X")
            print(f"{source} -> {' '.join(answered)}")
        dropped = 100 * (sent - received) // sent if sent else 0
        print(f"*** Results: {dropped}% dropped ({received}/{sent} received)")
        if received < sent:
            print("    (security groups and network ACLs decide ICMP as in AWS; `explain SRC TARGET PORT` shows a TCP path)")
        return False

    def do_sh(self, arg: str) -> bool:
        """sh COMMAND: run COMMAND on the host, outside the lab (the host has no lab address or route)."""
        if not arg.strip():
            print("usage: sh COMMAND   (on the host, outside the lab; to run in a node: NODE COMMAND)")
            return False
        subprocess.call(arg, shell=True)  # as Mininet's sh: no node names substituted, never a lab address
        return False

    def do_shell(self, arg: str) -> bool:
        """shell NODE: an interactive shell inside NODE, with its environment; exit to come back."""
        if (name := self.node_named(arg)) is not None:
            open_shell(self.lab, name)
        return False

    def do_xterm(self, arg: str) -> bool:
        """xterm NODE: NODE's shell in an xterm (needs a DISPLAY; otherwise use shell NODE)."""
        if (name := self.node_named(arg)) is not None:
            print(open_xterm(self.lab, name))
        return False

    def node_named(self, arg: str) -> str | None:
        words = arg.split()
        if len(words) != 1 or words[0] not in self.lab.nodes:
            hint = suggest(words[0], list(self.lab.nodes)) if len(words) == 1 else ""
            print(f"usage: NODE must be one of the lab's nodes{hint} (nodes lists them)")
            return None
        return words[0]

    # -- help and completion ----------------------------------------------------------------------
    def commands(self) -> list[str]:
        verbs = [n[3:] for n in self.get_names() if n.startswith("do_") and n[3:] not in HIDDEN]  # type: ignore[attr-defined]
        return sorted(set(verbs) | set(self.extra_commands()))

    def extra_commands(self) -> list[str]:
        """Commands dispatched by `default` (names with a hyphen): LabPrompt says which."""
        return []

    def do_help(self, arg: str) -> bool:
        """help [COMMAND]: what each command does."""
        if arg:
            method = getattr(self, f"do_{arg}", None)
            print(method.__doc__ if method and method.__doc__ else f"no command '{arg}'{suggest(arg, self.commands())}")
            return False
        print(NODE_HELP)
        for name in self.commands():
            method = getattr(self, f"do_{name}", None)
            doc = (method.__doc__ or "").strip().splitlines()[0] if method else f"{name} ... (see the greeting)"
            print(f"  {doc}")
        print("Ctrl-C interrupts a command or clears the line; exit or Ctrl-D tears the lab down.")
        return False

    def completenames(self, text: str, *ignored) -> list[str]:
        return complete("", text, self.commands(), vocabulary(self.topology, self.plan))

    def completedefault(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return complete(line[:endidx], text, self.commands(), vocabulary(self.topology, self.plan))

    def complete_help(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return self.completedefault(text, line, begidx, endidx)

    def preloop(self) -> None:
        """Readline splits words at spaces only: node and table names hold '-' (app-router)."""
        try:
            import readline

            readline.set_completer_delims(" \t\n")
        except ImportError:  # no readline (not a terminal build): no completion, the rest works
            pass
