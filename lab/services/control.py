"""The one way a process inside the lab asks the lab's controller to change it: the EC2 front turns
`aws ec2 create-vpc-endpoint` into a request here, and the controller (the process holding the
running lab: the prompt, a scenario run) recompiles the plan and applies the difference.

The channel is a Unix socket in the lab's run directory (filesystem-scoped, so a process in any of
the lab's network namespaces reaches it, and nothing outside the lab's files does). One request per
connection, one JSON object each way, each ended by a newline:

    request:  {"action": "CreateVpcEndpoint", "params": {...botocore's input shape...},
               "region": "ap-northeast-2", "account": "111122223333",
               "source": {"ip": "10.0.1.10", "vpce": null}}
    answer:   {"result": {...botocore's output shape...}}
           or {"error": {"code": "InvalidRouteTableId.NotFound", "message": "...", "status": 400}}
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

SOCKET_NAME = "control.sock"
LIMIT = 1 << 20  # one request or answer; a policy document is at most 20,480 characters


class ControllerUnavailable(Exception):
    """Nobody holds the lab (the socket is gone or refuses): the EC2 front answers 503."""


class MessageTooLarge(ValueError):
    """A request over LIMIT, which the controller would drop unanswered: never sent, so the front
    says the request is too large instead of that no controller runs."""


def ask(path: Path, message: dict, timeout: float = 30.0) -> dict:
    """Send one request to the controller at `path` and return its answer."""
    data = json.dumps(message).encode() + b"\n"
    if len(data) > LIMIT:
        raise MessageTooLarge(f"a request of {len(data)} bytes; the lab's controller takes at most {LIMIT}")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(data)
            return json.loads(read_line(sock))
    except (OSError, ValueError) as exc:
        raise ControllerUnavailable(f"the lab's controller at {path} does not answer: {exc}") from exc


def read_line(sock: socket.socket) -> bytes:
    """Bytes up to the first newline, at most LIMIT of them."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > LIMIT:
            raise ValueError(f"a message longer than {LIMIT} bytes")
    return data
