"""The process of one Network Load Balancer node: health checks, the rotation maps, and the PROXY
protocol v2 proxy (config: lab.services.nlb_config).

- Health checks (lab.services.health) run against every target of the node's groups in the
  enabled AZs, as each NLB node checks every target; a state change rewrites the group's nft map
  (lab.plan.load_balancer_nft.map_update), so the kernel's DNAT follows it for new connections
  while conntrack keeps established ones where they are. The states are written to a JSON file
  (describe-target-health's view) and every change to the connection log.
- A listener whose group has proxy_protocol_v2 on is redirected by the kernel to this process,
  one listening socket per way in: the node's own IP (clients in the VPC) and each interface
  endpoint's link (PrivateLink), so the endpoint id of every connection is known. The proxy picks
  a target by flow hash among those in rotation, connects from the node's IP, writes the v2
  header (lab.services.ppv2.build_header: the client as the node saw it, the address it
  connected to, AWS's TLV with the vpce id) and relays bytes both ways.

    python -m lab.services.nlb_proxy --config FILE.json
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
import socket
import struct
import sys
import time
import zlib
from pathlib import Path

from lab.plan.load_balancer_nft import map_update
from lab.services import health, ppv2, process
from lab.services.event_loop import start_in_thread

log = logging.getLogger(__name__)

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h: the destination before the redirect
CHUNK = 65536


class Group:
    """One target group as this node sees it: its targets' health and its rotation."""

    def __init__(self, config: dict):
        self.config = config
        self.targets = {t["id"]: t for t in config["targets"]}
        self.health = {
            t["id"]: health.TargetHealth(config["healthy_threshold"], config["unhealthy_threshold"])
            if t["enabled"]
            else health.unused()
            for t in config["targets"]
        }
        self.applying = asyncio.Lock()  # one map update at a time (binds to the loop on first use)

    def rotation(self) -> list[dict]:
        candidates = [i for i, t in self.targets.items() if t["candidate"]]
        chosen, _ = health.in_rotation(candidates, self.health)
        return [self.targets[i] for i in chosen]

    def failed_open(self) -> bool:
        return health.in_rotation([], self.health)[1]


class Node:
    def __init__(self, config: dict):
        self.config = config
        self.groups = {g["name"]: Group(g) for g in config["groups"]}
        self.log = process.JsonLines(Path(config["connection_log"]))
        self.tasks: list[asyncio.Task] = []  # the health checks (the loop keeps weak references only)
        self.written: dict[str, dict] = {}  # group -> its states as of the last map update applied

    async def check_loop(self, group: Group, target_id: str) -> None:
        target, cfg = group.targets[target_id], group.config
        while True:
            ok, why = await health.check_once(target["address"], target["health_port"], cfg["timeout"], cfg["proxy_protocol_v2"])
            if group.health[target_id].record(ok, why):
                await self.apply(group)
                self.log.write(
                    {
                        "time": time.time(),
                        "event": "health",
                        "group": cfg["name"],
                        "target": target_id,
                        "state": group.health[target_id].state,
                        "reason": group.health[target_id].reason,
                    }
                )
            await asyncio.sleep(cfg["interval"])

    async def apply(self, group: Group) -> None:
        """The group's map holds the targets in rotation; the health file says every target's state.
        One update at a time per group, the rotation read once the previous one is done: two checks
        changing state together must not leave the older rotation in the map."""
        async with group.applying:
            update = map_update(group.config["map"], [(t["address"], t["port"]) for t in group.rotation()])
            # the states the map was made from: a check that changes state meanwhile applies (and
            # writes) its own update next, so the file never claims a target the map lacks
            snapshot = self.states()
            nft = await asyncio.create_subprocess_exec("nft", "-f", "-", stdin=asyncio.subprocess.PIPE)
            await nft.communicate(update.encode())
            if nft.returncode:
                log.error("nft could not update map %s", group.config["map"])
            self.written = {**self.written, group.config["name"]: snapshot[group.config["name"]]}
            self.write_health()

    def states(self) -> dict:
        return {
            name: {
                "failed_open": g.failed_open(),
                "targets": [
                    {"id": i, "port": g.targets[i]["port"], "state": h.state, "reason": h.reason} for i, h in g.health.items()
                ],
            }
            for name, g in self.groups.items()
        }

    def write_health(self) -> None:
        """describe-target-health's view as of the maps applied: each group as its last update left it."""
        states = {**self.states(), **self.written}
        path = Path(self.config["health_file"])
        path.with_suffix(".tmp").write_text(json.dumps(states, indent=1))
        path.with_suffix(".tmp").replace(path)

    async def start(self) -> None:
        self.write_health()
        for group in self.groups.values():
            for target_id in (i for i, t in group.targets.items() if t["enabled"]):
                self.tasks.append(asyncio.create_task(self.check_loop(group, target_id)))
        ways = [(self.config["address"], None)] + [(i["address"], i["label"]) for i in self.config["ingresses"]]
        for listener in (li for li in self.config["listeners"] if li["proxy_port"] is not None):
            for address, label in ways:
                group = self.groups[listener["group"]]
                handler = functools.partial(self.proxy, group=group, label=label)
                await asyncio.start_server(handler, address, listener["proxy_port"], reuse_address=True)

    async def proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, group: Group, label: str | None) -> None:
        client, dst = writer.get_extra_info("peername"), original_destination(writer.get_extra_info("socket"))
        rotation = group.rotation()
        record = {
            "time": time.time(),
            "event": "connection",
            "group": group.config["name"],
            "client": f"{client[0]}:{client[1]}",
            "listener": f"{dst[0]}:{dst[1]}",
            "ingress": label,
        }
        if not rotation:
            self.log.write({**record, "drop": "NLB_NO_HEALTHY_TARGET"})
            writer.close()
            return
        target = rotation[flow_hash(client, dst) % len(rotation)]
        try:
            up_reader, up_writer = await asyncio.open_connection(
                target["address"], target["port"], local_addr=(self.config["address"], 0)
            )
        except OSError as e:
            self.log.write({**record, "target": target["id"], "drop": "NLB_TARGET_REFUSED", "error": str(e)})
            writer.close()
            return
        source = up_writer.get_extra_info("sockname")
        up_writer.write(
            ppv2.build_header((ipaddress.IPv4Address(client[0]), client[1]), (ipaddress.IPv4Address(dst[0]), dst[1]), label)
        )
        self.log.write(
            {
                **record,
                "target": target["id"],
                "target_address": f"{target['address']}:{target['port']}",
                "source": f"{source[0]}:{source[1]}",
                "proxy_protocol_v2": True,
            }
        )
        await asyncio.gather(relay(reader, up_writer), relay(up_reader, writer))


def original_destination(sock: socket.socket) -> tuple[str, int]:
    """The address the client connected to, before the kernel's redirect to this proxy."""
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, packed = struct.unpack("!2xH4s8x", raw)
    return socket.inet_ntoa(packed), port


def flow_hash(client: tuple[str, int], dst: tuple[str, int]) -> int:
    return zlib.crc32(f"{client[0]}:{client[1]}>{dst[0]}:{dst[1]}".encode())


async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes from one side to the other until end of stream, then half-close."""
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


def run(config_path: Path, ready) -> int:
    """Serve until SIGTERM; the event loop runs in a daemon thread (lab.services.process)."""

    def begin() -> str:
        config = json.loads(config_path.read_text())
        start_in_thread(Node(config).start)
        return f"NLB node {config['node']} ({config['load_balancer']}): {len(config['groups'])} target groups"

    return process.serve(ready, begin)


def main(argv: list[str] | None = None) -> int:
    return process.service_main(__spec__.name, __doc__.split("\n\n")[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
