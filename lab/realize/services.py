"""The processes that make a lab an AWS: one service front per (service, region) the lab emulates, in its node, one
Route 53 Resolver per VPC in the VPC router's node, and what every node needs to use them (the
VPC's resolver in /etc/resolv.conf, the lab CA in the trust store, AWS client settings).

The services are forked by one launcher (`lab.services.launcher`), started first thing when a lab
starts: it imports moto while the network is built, so no service waits for an import.

Configs are written into the run directory (`services/`), logs next to them: the fronts' request
logs say, for every request, the source address and the ingress (internet or vpce id) it came by.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from lab.model import ids, regions
from lab.pipes import readable
from lab.plan.dns import certificate_names
from lab.plan.serialize import to_data
from lab.plan.types import Plan
from lab.realize import cgroup, mounts, processes, state
from lab.realize.capture import keylog_path
from lab.realize.errors import RealizeError
from lab.realize.guard import check_own_mount_namespace
from lab.services import control, process
from lab.services.ca import make_lab_ca
from lab.services.nlb_config import PROVIDER_APP, nlb_config, provider_app_configs

READY_TIMEOUT = 20.0
CREDENTIALS_FILE = "aws-credentials"  # in the services directory: every account's profile
LAUNCHER = ["-m", "lab.services.launcher"]  # run by this Python
# The lab account's credentials, which the service fronts verify signatures against.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": ids.ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": ids.SECRET_ACCESS_KEY,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_PAGER": "",
    # the host's ~/.aws settings (profiles, endpoints) must not leak into the lab
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


class Services:
    """The lab's service processes; a Lab makes one (its `services_class`), a test may give a subclass."""

    launcher_args = LAUNCHER  # the launcher's arguments to this Python

    def __init__(self, lab):
        self.lab, self.plan = lab, lab.plan
        self.dir = lab.run_dir / "services"
        self.launcher: subprocess.Popen | None = None
        self.requested: dict[str, str] = {}  # service name -> kind
        self.children: dict[int, str] = {}  # pid -> service name, as the launcher reports them
        self.ca = None
        self.lines = b""

    def launch(self) -> None:
        """Start the launcher: it imports the services' code while the lab's network is built."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "launcher.log", "w") as log_file:
            self.launcher = subprocess.Popen(
                cgroup.joining(self.lab.cgroup, [sys.executable, *self.launcher_args]),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env=dict(AWS_ENV),
                start_new_session=True,
            )  # Ctrl-C at the prompt is not for it
        self.lab.own(self.launcher.pid, "service launcher")

    def env(self) -> dict[str, str]:
        """The environment of every process in the lab: AWS clients find the lab CA and region."""
        bundle = str(self.ca.bundle_path)
        return {
            "PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin",
            "AWS_CA_BUNDLE": bundle,
            "SSL_CERT_FILE": bundle,
            "REQUESTS_CA_BUNDLE": bundle,
            "CURL_CA_BUNDLE": bundle,
            "AWS_DEFAULT_REGION": self.plan.region,
            "SSLKEYLOGFILE": str(keylog_path(self.lab.run_dir / "captures")),  # Wireshark decrypts the run's TLS
            **AWS_ENV,
            "AWS_SHARED_CREDENTIALS_FILE": str(self.dir / CREDENTIALS_FILE),
        }

    def start(self) -> None:
        """Ask for every service and prepare every node; `wait_ready` waits for the services."""
        self.ca = make_lab_ca(self.dir / "ca")
        (self.dir / CREDENTIALS_FILE).write_text(credentials_text(self.plan.accounts))
        requests = [self.request(front.node, "front", self.front_config(front)) for front in self.plan.services]
        for where, resolver in self.plan.every_resolver().items():
            requests.append(
                self.request(resolver.node, "resolver", self.resolver_config(where, resolver), name=f"{where}-resolver")
            )
        requests += self.load_balancer_requests()
        try:
            stdin = self.pipes()[0]
            stdin.write(b"".join(json.dumps(r).encode() + b"\n" for r in requests))
            stdin.flush()
        except OSError:  # it died: its log says why
            raise RealizeError("service launcher", self.launcher_said()) from None
        self.prepare(list(self.plan.nodes))

    def prepare(self, names: list[str]) -> None:
        """Each node's view of /etc (`binds`) and the lab's environment in its shell."""
        nodes = [self.lab.node(name) for name in names]
        mounts.bind_all({node.name: (node.pid, self.binds(node.name)) for node in nodes})
        exports = "export " + " ".join(f"{k}='{v}'" for k, v in self.env().items())
        for node in nodes:  # every node's shell at once, then each answer
            node.sendCmd(exports)
        for node in nodes:
            node.waitOutput()

    def wait_ready(self) -> None:
        """Until every service said READY; a service that exits first fails the start (its log says
        why). Each child is recorded as the lab's when its STARTED line is read; until then the
        launcher answers for it (it stops its children when the lab stops or vpclab dies)."""
        ready_pids: set[int] = set()  # a child's READY may overtake the launcher's STARTED for it
        deadline = time.monotonic() + READY_TIMEOUT
        while len(ready := {self.children[p] for p in ready_pids if p in self.children}) < len(self.requested):
            if time.monotonic() > deadline:
                waiting = sorted(set(self.requested) - ready)
                raise RealizeError(f"service {waiting[0]}", f"not ready after {READY_TIMEOUT:.0f} s")
            for words in self.events(deadline - time.monotonic()):
                if words[0] == "STARTED":
                    pid = int(words[2])
                    self.children[pid] = words[1]
                    self.lab.own(pid, f"{self.requested[words[1]]} {words[1]}")
                elif words[0] == "READY":
                    ready_pids.add(int(words[1]))
                elif words[0] == "EXITED" and int(words[2]) not in ready_pids:
                    raise RealizeError(f"service {words[1]}", self.log_tail(words[1]))

    def pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        """The launcher's stdin and stdout, the pipes `launch` made."""
        launcher = self.launcher
        if launcher is None or launcher.stdin is None or launcher.stdout is None:
            raise RealizeError("service launcher", "it was never started")
        return launcher.stdin, launcher.stdout

    def events(self, timeout: float) -> list[list[str]]:
        """The launcher's next complete lines, split in words; whatever arrives within `timeout`."""
        fd = self.pipes()[1].fileno()
        if not readable(fd, timeout):
            return []
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RealizeError("service launcher", self.launcher_said())
        self.lines += chunk
        *complete, self.lines = self.lines.split(b"\n")
        return [line.decode().split() for line in complete if line.strip()]

    def stopped(self) -> list[str]:
        """One line for the launcher and for each service that is no longer running, with the last
        line of its log: what the prompt and a scenario step say instead of a client's "Could not
        connect". A child counts as gone once it has exited, even before the launcher reaps it."""
        owned = {o.pid: o for o in self.lab.state.processes}
        lines = [
            f"{self.requested[name]} {name} is not running (its log's last line: {last_line(self.dir / f'{name}.log') or 'none'})"
            for pid, name in self.children.items()
            if pid in owned and not owned[pid].alive()
        ]
        if self.launcher is not None and self.launcher.poll() is not None:
            status = self.launcher.returncode
            ended = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
            lines.insert(
                0,
                f"the service launcher is not running ({ended}; its log's last line: "
                f"{last_line(self.dir / 'launcher.log') or 'none'})",
            )
        return lines

    def log_tail(self, name: str) -> str:
        return last_line(self.dir / f"{name}.log") or "exited before it was ready"

    def launcher_said(self) -> str:
        """Why the launcher is gone, as its log's last line says."""
        return last_line(self.dir / "launcher.log") or "exited"

    def front_config(self, front) -> dict:
        endpoint_names = certificate_names(self.plan.allocation, front.service, front.region, [i.label for i in front.ingresses])
        cert, key = self.ca.issue_for(regions.region(front.region).services[front.service], endpoint_names)
        return {**self.front_settings(front), "cert": str(cert), "key": str(key)}

    def front_settings(self, front) -> dict:
        """A front's config but its certificate: what a live change compares (the documents
        themselves, not only the names of policies) before reloading a front."""
        config = {
            "service": front.service,
            "region": front.region,
            "ingresses": [
                {"name": i.label, "http": i.http_port, "https": i.https_port, "vpc_id": i.vpc_id, "policy": document(i.policy)}
                for i in front.ingresses
            ],
            "request_log": str(self.dir / f"{front.node}-requests.jsonl"),
        }
        if front.service == "s3":
            config["buckets"] = [
                {"name": b.name, "region": b.region, "objects": b.objects, "policy": document(b.policy)} for b in front.buckets
            ]
            config["elsewhere"] = {
                b.name: b.region for f in self.plan.services if f.service == "s3" and f.region != front.region for b in f.buckets
            }
        elif front.service == "dynamodb":
            config["tables"] = [{"name": t.name, "region": t.region, "partition_key": t.partition_key} for t in front.tables]
        if front.service in regions.CONTROLLER_SERVICES or front.service == "s3":  # EC2's calls; S3's bucket policies
            config["control"] = str(self.lab.run_dir / control.SOCKET_NAME)
        return config

    def request(self, node: str, kind: str, config: dict, name: str | None = None) -> dict:
        """The launcher's request for service `kind` in node `node` (the child enters the namespaces
        of the node's shell); its config is written next to its log."""
        name = name or node
        path = self.dir / f"{name}.json"
        path.write_text(json.dumps(config, indent=1))
        self.requested[name] = kind
        return {
            "name": name,
            "kind": kind,
            "config": str(path),
            "log": str(self.dir / f"{name}.log"),
            "pid": self.lab.node(node).pid,
            "env": self.env(),
        }

    def load_balancer_requests(self) -> list[dict]:
        """One `nlb` process per NLB node (health checks, rotation, PPv2 proxy) and the provider
        application on the targets of groups that name it (lab.services.nlb_config)."""
        found = [self.request(n.node, "nlb", nlb_config(lb, n, self.dir)) for lb in self.plan.load_balancers for n in lb.nodes]
        apps = provider_app_configs(self.plan, self.dir)
        return found + [self.request(node, PROVIDER_APP, c, name=f"{node}-{PROVIDER_APP}") for node, c in apps.items()]

    def binds(self, name: str) -> list[mounts.Bind]:
        """What gives node `name` its own view of /etc (its VPC's resolver, a trust store with the
        lab CA) and vpclab's state directory read-only (a command at the prompt cannot erase what
        `vpclab clean` relies on): bind mounts in the node's private mount namespace, made by
        `mounts.bind_all`; the root's files are never touched."""
        check_own_mount_namespace(name, self.lab.node(name).pid)
        binds = [mounts.Bind(str(self.ca.bundle_path), "/etc/ssl/certs/ca-certificates.crt")]
        if (resolver := self.plan.resolver_of(name)) is not None:
            conf = self.dir / f"{resolver.vpc}-resolv.conf"
            conf.write_text(f"nameserver {resolver.addresses[0]}\noptions timeout:1 attempts:2\n")
            binds.append(mounts.Bind(str(conf), "/etc/resolv.conf"))
        return binds + [mounts.Bind(str(state.state_dir()), str(state.state_dir()), read_only=True)]

    # -- a live change (lab.realize.changes) ------------------------------------------------------
    def follow(self, plan: Plan, added: tuple[str, ...]) -> None:
        """Serve `plan`: new nodes are prepared; each front whose ingresses, policies or buckets
        changed, each resolver whose records changed and each NLB node whose target groups changed
        reload their config (SIGHUP), and the
        change is done when every one of them says it runs the new file."""
        old, self.plan = self.plan, plan
        self.prepare(list(added))
        serving = {f.node: self.front_settings(f) for f in old.services}
        waits = [
            self.reload(f.node, self.front_config(f)) for f in plan.services if serving.get(f.node) != self.front_settings(f)
        ]
        waits += [
            self.reload(f"{where}-resolver", self.resolver_config(where, r))
            for where, r in plan.every_resolver().items()
            if old.every_resolver().get(where) != r
        ]
        running = {n.node: nlb_config(lb, n, self.dir) for lb in old.load_balancers for n in lb.nodes}
        waits += [  # an NLB node whose targets changed (register-targets, deregister-targets)
            self.reload(n.node, config)
            for lb in plan.load_balancers
            for n in lb.nodes
            if n.node in running and (config := nlb_config(lb, n, self.dir)) != running[n.node]
        ]
        for name, marker, digest in waits:
            self.wait_loaded(name, marker, digest)

    def resolver_config(self, vpc: str, resolver) -> dict:
        return {**to_data(resolver), "query_log": str(self.dir / f"{vpc}-dns.jsonl")}

    def reload(self, name: str, config: dict) -> tuple[str, Path, str]:
        """Write service `name`'s new config and tell it (SIGHUP); (name, marker, digest) to wait for."""
        path = self.dir / f"{name}.json"
        data = json.dumps(config, indent=1).encode()
        path.write_bytes(data)
        pid = next((p for p, n in self.children.items() if n == name), None)
        if pid is None:
            raise RealizeError(f"service {name}", "is not running: it cannot take the change")
        os.kill(pid, signal.SIGHUP)
        return name, process.loaded_marker(path), process.config_digest(data)

    def wait_loaded(self, name: str, marker: Path, digest: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not (marker.exists() and marker.read_text() == digest):
            if time.monotonic() > deadline:
                raise RealizeError(f"service {name}", f"did not take the change: {self.log_tail(name)}")
            time.sleep(0.01)

    def stop(self) -> None:
        """End of input tells the launcher to stop its children (SIGTERM, then SIGKILL) and exit."""
        if self.launcher is None:
            return
        stdin, stdout = self.pipes()
        try:
            stdin.close()
        except OSError:
            pass  # it is gone already
        try:
            self.launcher.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.launcher.kill()
            self.launcher.wait()
        stdout.close()
        processes.stop([o for o in self.lab.state.processes if o.pid in self.children], timeout=1.0)
        self.launcher = None


def credentials_text(accounts: tuple[str, ...]) -> str:
    """The lab's AWS credentials file: the lab account as `default` (also in every node's
    environment), each other account of the topology as a profile named by its number, so a
    provider's call reads `aws --profile 444455556666 ec2 accept-vpc-endpoint-connections ...`."""
    sections = []
    for account in sorted(set(accounts) | {ids.ACCOUNT_ID}):
        key, secret = ids.credentials(account)
        name = "default" if account == ids.ACCOUNT_ID else account
        sections.append(f"[{name}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    return "\n".join(sections)


def document(policy) -> dict | None:
    """A policy's JSON for a service config; None where there is none (an endpoint's means AWS's default)."""
    return None if policy is None else policy.document


def last_line(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return lines[-1] if lines else ""
