"""The parent of a lab's service processes: it imports moto, the fronts and the resolver once, while
the lab's network is still being built, then forks each service straight into its node's network
and mount namespaces. Each service used to be a Python process of its own that imported moto on
its own: ~0.3 s of CPU per front, most of a lab's start-up (docs/benchmarks.md).

    python -m lab.services.launcher

stdin, one JSON request per line:
    {"name": "s3-ap-northeast-2", "kind": "front", "config": PATH, "log": PATH, "pid": NODE_SHELL_PID, "env": {...}}
stdout, one line per event:
    STARTED <name> <pid>      forked; the child enters the namespaces of process NODE_SHELL_PID
    READY <pid>               written by the child itself once it listens
    EXITED <name> <pid> <status>
At end of input (the lab stops, or vpclab died) it stops every child (SIGTERM, then SIGKILL after
a grace period), reaps them and exits. The launcher itself opens no socket and sends no packet.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from moto.core.utils import get_service_model
from moto.server import create_backend_app

from lab.model import regions
from lab.namespaces import CLONE_NEWNET, CLONE_NEWNS, setns
from lab.pipes import readable
from lab.services import ec2_query, front, nlb_proxy, process, provider_app, resolver

SERVICES = {"front": front.run, "resolver": resolver.run, "nlb": nlb_proxy.run, "provider-app": provider_app.run}
NAMESPACES = {"mnt": CLONE_NEWNS, "net": CLONE_NEWNET}  # mount first: entering it needs the original view
GRACE = 3.0


def enter_node(pid: int) -> None:
    """Into the mount and network namespaces of process `pid` (a node's shell), refusing to run a
    service in the launcher's own namespaces: that would put lab addresses in the root namespace."""
    home = {kind: os.stat(f"/proc/self/ns/{kind}").st_ino for kind in NAMESPACES}
    for kind, flag in NAMESPACES.items():
        fd = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY)
        try:
            setns(fd, flag)
        finally:
            os.close(fd)
        if os.stat(f"/proc/self/ns/{kind}").st_ino == home[kind]:
            raise OSError(f"pid {pid} shares the launcher's {kind} namespace; refusing to start there")
    os.chdir("/")


def child(request: dict) -> int:
    """In the forked child: namespaces, descriptors, environment, then the service itself."""
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 2)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a client gone mid-answer is an exception, as in any Python
    os.environ.clear()
    os.environ.update(request["env"])
    try:
        enter_node(int(request["pid"]))
    except OSError as e:
        print(f"cannot enter node {request['name']}: {e}", file=sys.stderr)
        return 1
    return SERVICES[request["kind"]](Path(request["config"]), process.claim_stdout())


def spawn(request: dict) -> int:
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            status = child(request)
        except BaseException as e:  # noqa: BLE001 - a child must never return into the launcher's loop
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
        finally:
            sys.stderr.flush()
            os._exit(status)
    return pid


def say(line: str) -> None:
    try:
        os.write(1, (line + "\n").encode())
    except BrokenPipeError:
        pass  # vpclab stopped listening; its lab's stop or `vpclab clean` still ends the children


def reap(children: dict[int, str], block: bool = False) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        say(f"EXITED {children.pop(pid, '?')} {pid} {os.waitstatus_to_exitcode(status)}")


def stop_all(children: dict[int, str]) -> None:
    for pid in children:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    while children and time.monotonic() < deadline:
        reap(children)
        time.sleep(0.02)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    reap(children, block=True)


def warm() -> None:
    """What every child would otherwise do first: moto's service apps import their backends,
    and their first answers load botocore's service models (~40 ms each; EC2's, which the EC2
    fronts read every request with, ~0.4 s)."""
    for service in regions.moto_services():
        create_backend_app(service)  # type: ignore[arg-type]  # moto types it as a Literal of its services
        get_service_model(service)
    ec2_query.model()


def main() -> int:
    warm()
    print(f"launcher: imports and warm-up done, {time.process_time():.2f} s of CPU", file=sys.stderr, flush=True)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a session of its own already; Ctrl-C is the prompt's
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `vpclab clean`: stop the children too
    children: dict[int, str] = {}
    pending = b""
    try:
        while True:
            reap(children)
            if not readable(0, 0.1):
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                return 0
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                request = json.loads(line)
                pid = spawn(request)
                children[pid] = request["name"]
                say(f"STARTED {request['name']} {pid}")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the stopping short
        stop_all(children)


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    os._exit(status)  # no interpreter teardown of moto's thousands of objects: it took ~0.1 s
