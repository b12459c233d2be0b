"""The running lab's one owner of its live model: every change, from the prompt, a scenario step or
an `aws ec2 ...` call made inside the lab, goes through here, one at a time.

    with Controller(lab, topology) as controller:     # serves the lab's control socket
        controller.change(lambda t: associate(t, "s3-gw", "private", True))
        controller.topology, controller.plan           # the live model and plan

The EC2 front, a process inside the lab, reaches it over the run directory's Unix socket
(lab.services.control); each request is answered by lab.plan.ec2_api against the live model, and
a changed model is applied to the kernel as a difference (lab.realize.changes) before the answer
goes back, so the caller's next packet already takes the new path, as after AWS's API returns.

Only the lab's own fronts may ask, each for its own service and region: a node shares the host's
files, so any process in the lab (`python3 -c ...` at the prompt) can reach the socket, and a
request it wrote itself would skip the front's SigV4 and the endpoint's policy (an instance whose
`ec2` endpoint allows only Describe calls could create routes). The controller reads the caller's
pid from the socket (SO_PEERCRED) and answers the services' launcher's children that run a front
(lab.realize.services), and its own process (the prompt, a test), no one else.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable

from lab.errors import LabError
from lab.model.api_errors import ApiCallError
from lab.model.ec2_errors import Ec2Error
from lab.model.topology import Topology
from lab.plan import bucket_policy_changes, ec2_api
from lab.plan.allocation import endpoint_ids
from lab.plan.compile import compile_plan
from lab.plan.kept import Kept
from lab.plan.types import Plan
from lab.services.control import SOCKET_NAME, read_line

log = logging.getLogger(__name__)
HANDLERS = {"ec2": ec2_api.handle, "s3": bucket_policy_changes.handle}  # a front's service -> its calls
ANSWER_GRACE = 0.5  # s: what a front needs to send its answer back over an endpoint about to go


def removes(changed: Topology, vpce: str | None) -> bool:
    """Whether `changed` no longer has the endpoint `vpce` (a call's own way in)."""
    return bool(vpce) and vpce not in endpoint_ids(changed).values()


class Controller:
    def __init__(self, lab, topology: Topology):
        self.lab, self.topology = lab, topology
        self.lock = threading.RLock()
        self.path = lab.run_dir / SOCKET_NAME
        self.server: socket.socket | None = None

    @property
    def plan(self) -> Plan:
        return self.lab.plan

    # -- changes ----------------------------------------------------------------------------------
    def change(self, how: Callable[[Topology], Topology]) -> tuple[Topology, Plan]:
        """Apply `how` to the live model and run the result: compiled keeping what exists, applied
        as a difference. A refused change (LabError) leaves the lab as it was."""
        with self.lock:
            changed = how(self.topology)
            self.lab.apply(compile_plan(changed, self.lab.plan.settings, Kept.of(self.lab.plan)))
            self.topology = changed
            return changed, self.lab.plan

    def answer(self, request: dict) -> dict:
        """One call of a service's API (lab.services.control's request: EC2's by default, S3's bucket
        policy calls) against the live lab."""
        try:
            action, params = str(request["action"]), dict(request.get("params") or {})
            region, account = str(request["region"]), str(request["account"])
            handle = HANDLERS[str(request.get("service", "ec2"))]
        except (KeyError, TypeError, ValueError):
            return Ec2Error("InvalidRequest", "the front's request to the controller is malformed").as_answer()
        with self.lock:
            try:
                changed, result = handle(self.topology, self.plan, action, params, region, account)
                if changed is not None and removes(changed, (request.get("source") or {}).get("vpce")):
                    threading.Thread(target=self.apply_after_answer, args=(changed,), name="controller-later").start()
                elif changed is not None:
                    self.change(lambda _: changed)
            except ApiCallError as exc:
                return exc.as_answer()
            except (LabError, ValueError) as exc:  # the lab could not apply it: the kernel refused, a service
                # did not reload, or (ValueError) the plans cannot be diffed, a vpclab bug found before any kernel step:
                # the caller gets EC2's InternalError, not a silence the front would call "no controller"
                log.exception("controller: %s failed", action)
                return Ec2Error("InternalError", f"vpclab could not apply {action}: {exc}", 500).as_answer()
        return {"result": result}

    def apply_after_answer(self, changed: Topology) -> None:
        """A call that deletes the very endpoint it came through (iso1 deleting its `ec2` endpoint):
        applied only once its answer is on its way back, which needs that endpoint's path, as AWS
        answers DeleteVpcEndpoints and then deletes (the endpoint is `deleting` meanwhile). The lock
        is taken as soon as the call that asked returns, and held through the wait, so no other
        change comes between."""
        with self.lock:
            time.sleep(ANSWER_GRACE)
            try:
                self.change(lambda _: changed)
            except LabError:
                log.exception("controller: a change applied after its answer failed; the lab runs as it was")

    # -- the control socket -------------------------------------------------------------------------
    def __enter__(self) -> Controller:
        self.path.unlink(missing_ok=True)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(self.path))
        self.path.chmod(0o600)
        server.listen(16)
        self.server = server
        threading.Thread(target=self.serve, name="controller", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        """No new call is taken; one being applied finishes before the lab may stop."""
        if self.server is not None:
            try:
                self.server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux)
            except OSError:
                pass
            self.server.close()
            self.server = None
        self.path.unlink(missing_ok=True)
        with self.lock:
            pass

    def serve(self) -> None:
        server = self.server
        while server is not None:
            try:
                conn, _ = server.accept()
            except OSError:  # closed: the lab is stopping
                return
            threading.Thread(target=self.reply, args=(conn,), name="controller-call", daemon=True).start()

    def reply(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(30)
                may_ask = self.caller(conn)
                request = json.loads(read_line(conn))
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object")
                answer = self.answer(request) if may_ask(request) else not_a_front(request)
                conn.sendall(json.dumps(answer).encode() + b"\n")
            except (OSError, ValueError) as exc:
                log.warning("controller: a call that could not be read or answered: %s", exc)

    def caller(self, conn: socket.socket) -> Callable[[dict], bool]:
        """Which requests the process at the other end may make: the controller's own process any;
        a front of the lab those of its own service and region; anyone else none."""
        pid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
        if pid == os.getpid():
            return lambda _: True
        services = getattr(self.lab, "services", None)
        name = services.children.get(pid) if services is not None else None
        # the very process the launcher started (pid and start time, as the lab recorded it), not one
        # that got its pid after it died
        started = any(o.pid == pid and o.alive() for o in self.lab.state.processes) if name is not None else False
        fronts = {(f.service, f.region) for f in self.plan.services if started and f.node == name}
        return lambda request: (str(request.get("service", "ec2")), str(request.get("region"))) in fronts


def not_a_front(request: dict) -> dict:
    return Ec2Error(
        "AuthFailure",
        f"vpclab's controller answers the lab's own service fronts only; send {request.get('action')} to "
        "the service's endpoint (ec2.<region>.amazonaws.com), signed, as AWS requires",
        403,
    ).as_answer()
