"""The processes that make a lab an AWS: one service front per (service, region) in its node, one
Route 53 Resolver per VPC in the VPC router's node, and what every node needs to use them (the
VPC's resolver in /etc/resolv.conf, the lab CA in the trust store, AWS client settings).

Configs are written into the run directory (`services/`), logs next to them: the fronts' request
logs say, for every request, the source address and the ingress (internet or vpce id) it came by.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

from lab.model import regions
from lab.plan.serialize import to_data
from lab.realize.errors import RealizeError
from lab.realize.guard import check_own_mount_namespace
from lab.services.ca import make_lab_ca

READY_TIMEOUT = 20.0
# Dummy credentials: the lab's services accept any signature; AWS's documented example key pair.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
           "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "",
           # the host's ~/.aws settings (profiles, endpoints) must not leak into the lab
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


class Services:
    def __init__(self, lab):
        self.lab, self.plan = lab, lab.plan
        self.dir = lab.run_dir / "services"
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.ca = None

    def env(self) -> dict[str, str]:
        """The environment of every process in the lab: AWS clients find the lab CA and region."""
        bundle = str(self.ca.bundle_path)
        return {"PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin",
                "AWS_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle, "REQUESTS_CA_BUNDLE": bundle,
                "CURL_CA_BUNDLE": bundle, "AWS_DEFAULT_REGION": self.plan.region, **AWS_ENV}

    def start(self) -> None:
        """Spawn every service and prepare every node; `wait_ready` waits for the services."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca = make_lab_ca(self.dir / "ca")
        for front in self.plan.services:
            self.spawn(front.node, "front", self.front_config(front))
        for vpc, resolver in self.plan.resolvers.items():
            config = {**to_data(resolver), "query_log": str(self.dir / f"{vpc}-dns.jsonl")}
            self.spawn(resolver.node, "resolver", config, name=f"{vpc}-resolver")
        for name in self.plan.nodes:
            self.prepare_node(name)

    def wait_ready(self) -> None:
        for name, proc in self.procs:
            wait_ready(name, proc)

    def front_config(self, front) -> dict:
        cert, key = self.ca.issue_for(regions.region(front.region).services[front.service])
        config = {"service": front.service, "region": front.region,
                  "ingresses": [{"name": i.label, "http": i.http_port, "https": i.https_port, "vpc_id": i.vpc_id,
                                 "policy": document(i.policy)} for i in front.ingresses],
                  "cert": str(cert), "key": str(key),
                  "request_log": str(self.dir / f"{front.node}-requests.jsonl")}
        if front.service == "s3":
            config["buckets"] = [{"name": b.name, "region": b.region, "objects": b.objects,
                                  "policy": document(b.policy)} for b in front.buckets]
            config["elsewhere"] = {b.name: b.region for f in self.plan.services if f.service == "s3"
                                   and f.region != front.region for b in f.buckets}
        else:
            config["tables"] = [{"name": t.name, "region": t.region, "partition_key": t.partition_key}
                                for t in front.tables]
        return config

    def spawn(self, node: str, kind: str, config: dict, name: str | None = None) -> None:
        name = name or node
        path = self.dir / f"{name}.json"
        path.write_text(json.dumps(config, indent=1))
        with open(self.dir / f"{name}.log", "w") as log_file:  # the child keeps its own descriptor
            proc = self.lab.node(node).popen([sys.executable, "-m", f"lab.services.{kind}", "--config", str(path)],
                                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file,
                                             env=self.env())
        self.lab.own(proc.pid, f"{kind} {name}")
        self.procs.append((name, proc))

    def prepare_node(self, name: str) -> None:
        """The node's own view of /etc: its VPC's resolver and a trust store with the lab CA.
        Bind mounts in the node's private mount namespace; the root's files are never touched."""
        node = self.lab.node(name)
        check_own_mount_namespace(name, node.pid)
        mounts = [(self.ca.bundle_path, "/etc/ssl/certs/ca-certificates.crt")]
        vpc = self.plan.node(name).vpc
        if vpc in self.plan.resolvers:
            conf = self.dir / f"{vpc}-resolv.conf"
            conf.write_text(f"nameserver {self.plan.resolvers[vpc].addresses[0]}\n"
                            "options timeout:1 attempts:2\n")
            mounts.append((conf, "/etc/resolv.conf"))
        for source, target in mounts:
            out = node.cmd(f"mount --bind {source} {target}; echo rc=$?")
            if not out.strip().endswith("rc=0"):
                raise RealizeError(f"mounts of {name}", out.strip())
        exports = " ".join(f"{k}='{v}'" for k, v in self.env().items())
        node.cmd(f"export {exports}")

    def stop(self) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for _, proc in self.procs:
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []


def document(policy) -> dict | None:
    """A policy's JSON for a service config; None where there is none (an endpoint's means AWS's default)."""
    return None if policy is None else policy.document


def wait_ready(name: str, proc: subprocess.Popen) -> None:
    """A service prints READY once it listens; anything else is a failed start (its log says why)."""
    fd, seen = proc.stdout.fileno(), b""
    deadline = time.monotonic() + READY_TIMEOUT
    while b"READY" not in seen:
        if proc.poll() is not None or time.monotonic() > deadline:
            log = Path(proc.args[-1]).with_suffix(".log")
            tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
            raise RealizeError(f"service {name}", tail[0] if tail else "did not become ready")
        if select.select([fd], [], [], 0.1)[0]:
            chunk = os.read(fd, 4096)
            seen += chunk
            if not chunk:
                time.sleep(0.05)
