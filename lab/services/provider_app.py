"""The provider's application: a small HTTP service a target runs behind a Network Load Balancer,
answering every request with what it saw of the connection, as JSON:

    {"node": "web-a", "peer": "10.1.1.254:40112", "local": "10.1.1.5:8080",
     "proxy_protocol": {"command": "PROXY", "source": "10.9.0.7:51000",
                        "destination": "10.1.1.254:80", "vpce_id": "vpce-0..."}}

`peer` is the TCP peer (the NLB node's IP behind PrivateLink); `proxy_protocol` is present when the
connection began with a PROXY protocol v2 header (lab.services.ppv2), which the NLB sends when the
target group has proxy_protocol_v2 on: its source is the client as the NLB saw it. A connection
that starts with a header is read through it; one with a LOCAL header and nothing else (the NLB's
health check) is logged and closed. Every connection is logged as one JSON line.

In a lab it runs on the targets of groups with `app: provider-app`; at a node's prompt, run by hand:

    python -m lab.services.provider_app --port 8080
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path

from lab.services import ppv2, process
from lab.services.event_loop import start_in_thread

log = logging.getLogger(__name__)

MAX_HEAD = 16 + 65535 + 8192  # the longest v2 header, then the request's head
READ_TIMEOUT = 10.0
IDLE_TIMEOUT = 600.0  # a kept-alive connection idle this long is closed: after an NLB's 350 s


def saw(peer: tuple, local: tuple, header: ppv2.Header | None, node: str) -> dict:
    """The answer: what this side of the connection saw."""
    found: dict = {"node": node, "peer": f"{peer[0]}:{peer[1]}", "local": f"{local[0]}:{local[1]}"}
    if header is not None:
        found["proxy_protocol"] = {
            "command": "PROXY" if header.command == ppv2.PROXY else "LOCAL",
            "source": f"{header.source[0]}:{header.source[1]}" if header.source else None,
            "destination": f"{header.destination[0]}:{header.destination[1]}" if header.destination else None,
            "vpce_id": header.vpce_id,
        }
    return found


async def read_header(reader: asyncio.StreamReader) -> tuple[ppv2.Header | None, bytes]:
    """A PPv2 header if the stream starts with one, and the bytes read after it."""
    data = b""
    while True:
        if data and not ppv2.SIGNATURE.startswith(data[:12]):
            return None, data
        header = ppv2.parse_header(data) if data else None
        if header is not None:
            return header, data[header.length :]
        chunk = await reader.read(4096)
        if not chunk:
            return None, data
        data += chunk


async def read_head(reader: asyncio.StreamReader, data: bytes) -> bytes:
    """An HTTP request's head (up to the blank line)."""
    while b"\r\n\r\n" not in data and len(data) < MAX_HEAD:
        chunk = await reader.read(4096)
        if not chunk:
            break
        data += chunk
    return data


class App:
    def __init__(self, node: str, request_log: Path | None):
        self.node = node
        self.log = process.JsonLines(request_log) if request_log else None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read a PPv2 header if one comes, then answer each request of the connection (keep-alive:
        a client can show that one connection stays on one target)."""
        peer, local = writer.get_extra_info("peername"), writer.get_extra_info("sockname")
        try:
            header, rest = await asyncio.wait_for(read_header(reader), READ_TIMEOUT)
            seen = saw(peer, local, header, self.node)
            count = 0
            while (data := await asyncio.wait_for(read_head(reader, rest), IDLE_TIMEOUT)).strip():
                head, _, rest = data.partition(b"\r\n\r\n")
                count += 1
                body = json.dumps({**seen, "request_on_connection": count}, indent=1).encode() + b"\n"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                writer.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
                self.record({**seen, "request": head.split(b"\r\n", 1)[0].decode(errors="replace")})
                if b"\r\nconnection: close" in head.lower():  # HTTP/1.1: the client asked to end here
                    break
            if count == 0:
                self.record({**seen, "request": None})  # a health check, or a client that sent nothing
        except ppv2.ProxyProtocolError as e:
            self.record({"node": self.node, "peer": f"{peer[0]}:{peer[1]}", "error": f"PROXY protocol: {e}"})
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()

    def record(self, entry: dict) -> None:
        if self.log is not None:
            self.log.write({"time": time.time(), **entry})


async def listen(app: App, ports: list[int]) -> None:
    for port in ports:
        await asyncio.start_server(app.handle, "0.0.0.0", port, reuse_address=True)


def run(config_path: Path, ready) -> int:
    def begin() -> str:
        config = json.loads(config_path.read_text())
        app = App(config["node"], Path(config["request_log"]))
        start_in_thread(lambda: listen(app, config["ports"]))
        return f"provider-app on {config['node']}: ports {', '.join(map(str, config['ports']))}"

    return process.serve(ready, begin)


def main(argv: list[str] | None = None) -> int:
    """`--config FILE` as the lab starts it, or `--port N` (repeatable) by hand at a prompt."""
    parser = argparse.ArgumentParser(prog="python -m lab.services.provider_app", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path)
    parser.add_argument("--port", type=int, action="append")
    parser.add_argument("--log", type=Path)
    parser.add_argument("--name", default="", help="the node's name, in every answer")
    args = parser.parse_args(argv)
    if args.config:
        return run(args.config, process.claim_stdout())
    process.configure_logging()
    app = App(args.name, args.log)

    async def forever() -> None:
        await listen(app, args.port or [8080])
        await asyncio.Event().wait()

    try:
        asyncio.run(forever())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
