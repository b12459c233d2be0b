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
- Registration changes live (register-targets, deregister-targets at the prompt or in a scenario):
  on SIGHUP the new config's targets are compared with the running ones; a deregistered target
  leaves rotation at once and drains for its group's deregistration delay, then is gone, its
  connections closed if the group says connection_termination (AWS:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html#deregistration-delay).

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

from lab.plan.load_balancer_nft import deregistered_update, map_update
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
        # (group, target) -> its health check, its drain (the loop keeps weak references only)
        self.checks: dict[tuple[str, str], asyncio.Task] = {}
        self.drains: dict[tuple[str, str], asyncio.Task] = {}
        self.open: dict[tuple[str, str], set[asyncio.StreamWriter]] = {}  # the proxy's connections, both sides
        self.closed: set[tuple[str, str]] = set()  # drained targets in the kernel's `deregistered` set
        self.written: dict[str, dict] = {}  # group -> its states as of the last map update applied
        self.loop: asyncio.AbstractEventLoop | None = None

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
            await nft(update)
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
        self.loop = asyncio.get_running_loop()
        self.write_health()
        for group in self.groups.values():
            for target_id in (i for i, t in group.targets.items() if t["enabled"]):
                self.checks[(group.config["name"], target_id)] = asyncio.create_task(self.check_loop(group, target_id))
        await self.listen([(self.config["address"], None)] + [(i["address"], i["label"]) for i in self.config["ingresses"]])

    async def listen(self, ways: list[tuple[str, str | None]]) -> None:
        """The PPv2 listeners' servers on each way in: the node's own address (clients in its VPC,
        label None) and each endpoint ENI's link (label: its vpce id, for the AWS TLV)."""
        for listener in (li for li in self.config["listeners"] if li["proxy_port"] is not None):
            for address, label in ways:
                group = self.groups[listener["group"]]
                handler = functools.partial(self.proxy, group=group, label=label, idle=listener["idle_timeout"])
                await asyncio.start_server(handler, address, listener["proxy_port"], reuse_address=True)

    async def proxy(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, group: Group, label: str | None, idle: float
    ) -> None:
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
        key, both = (group.config["name"], target["id"]), {writer, up_writer}
        self.open.setdefault(key, set()).update(both)
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
        activity = [time.monotonic()]  # the last byte either way
        guard = asyncio.create_task(self.idle_guard(idle, activity, both, record))
        try:
            await asyncio.gather(relay(reader, up_writer, activity), relay(up_reader, writer, activity))
        finally:
            guard.cancel()
            self.open.get(key, set()).difference_update(both)

    async def idle_guard(self, idle: float, activity: list[float], both: set[asyncio.StreamWriter], record: dict) -> None:
        """The listener's idle timeout on a proxied connection (AWS: tcp.idle_timeout.seconds, 350 s
        by default, https://docs.aws.amazon.com/elasticloadbalancing/latest/network/update-idle-timeout.html):
        no byte either way for that long, and both sides are reset, as the kernel path resets what
        comes after its conntrack entry expired (NLB_IDLE_TIMEOUT)."""
        while (left := activity[0] + idle - time.monotonic()) > 0:
            await asyncio.sleep(left)
        self.log.write({**record, "time": time.time(), "event": "closed", "reason": "NLB_IDLE_TIMEOUT", "idle": idle})
        for writer in both:
            reset(writer)

    # -- registration, live (a changed config, lab.realize.services.follow) ------------------------
    async def update(self, config: dict) -> str:
        """Apply a new config's targets: a target gone from its group drains, one new (or back while
        draining) is registered; the rest go on as they are. An endpoint created live gets its way
        in (an ingress gone needs nothing: its link went with its ENI's node)."""
        fresh = [(i["address"], i["label"]) for i in config["ingresses"] if i not in self.config["ingresses"]]
        changed = [f"way in from {label}" for _, label in fresh]
        for new in config["groups"]:
            group, targets = self.groups[new["name"]], {t["id"]: t for t in new["targets"]}
            group.config = {**group.config, **{k: v for k, v in new.items() if k != "targets"}}
            for target_id in [i for i, h in group.health.items() if i not in targets and h.state != health.DRAINING]:
                await self.deregister(group, target_id)
                changed.append(f"{target_id} draining")
            for target_id, target in targets.items():
                if target_id not in group.targets or group.health[target_id].state == health.DRAINING:
                    await self.register(group, target)
                    changed.append(f"{target_id} registered")
        self.config = config
        await self.listen(fresh)
        return ", ".join(changed) or "no target changed"

    async def deregister(self, group: Group, target_id: str) -> None:
        """Out of rotation at once (new connections go to the others); its connections go on for
        the group's deregistration delay (the kernel's conntrack keeps them on it)."""
        key = (group.config["name"], target_id)
        if check := self.checks.pop(key, None):
            check.cancel()
        group.health[target_id] = health.draining()
        await self.apply(group)
        delay = group.config["deregistration_delay"]
        self.log.write({"time": time.time(), "event": "deregistered", "group": key[0], "target": target_id, "delay": delay})
        self.drains[key] = asyncio.create_task(self.drain(group, target_id, delay))

    async def drain(self, group: Group, target_id: str, delay: float) -> None:
        """The delay over: the target is gone; with connection_termination its connections close,
        the kernel's at their next packet (a reset, NLB_TARGET_DEREGISTERED), the proxy's now."""
        await asyncio.sleep(delay)
        key, target = (group.config["name"], target_id), group.targets.pop(target_id)
        group.health.pop(target_id)
        self.drains.pop(key, None)
        closing = group.config["connection_termination"]
        if closing:
            await nft(deregistered_update(target["address"], target["port"], self.listener_ports(group), True))
            self.closed.add(key)
            for writer in self.open.pop(key, set()):
                reset(writer)
        await self.apply(group)
        self.log.write({"time": time.time(), "event": "drained", "group": key[0], "target": target_id, "closed": closing})

    def listener_ports(self, group: Group) -> list[int]:
        return [li["port"] for li in self.config["listeners"] if li["group"] == group.config["name"]]

    async def register(self, group: Group, target: dict) -> None:
        """A new target (or one back while draining or drained) starts `initial` and is checked."""
        key = (group.config["name"], target["id"])
        if drain := self.drains.pop(key, None):
            drain.cancel()
        if key in self.closed:
            self.closed.discard(key)
            await nft(deregistered_update(target["address"], target["port"], self.listener_ports(group), False))
        group.targets[target["id"]] = target
        enabled = target["enabled"]
        group.health[target["id"]] = (
            health.TargetHealth(group.config["healthy_threshold"], group.config["unhealthy_threshold"])
            if enabled
            else health.unused()
        )
        await self.apply(group)
        if enabled:
            self.checks[key] = asyncio.create_task(self.check_loop(group, target["id"]))
        self.log.write({"time": time.time(), "event": "registered", "group": key[0], "target": target["id"]})


async def nft(text: str) -> None:
    process_ = await asyncio.create_subprocess_exec("nft", "-f", "-", stdin=asyncio.subprocess.PIPE)
    await process_.communicate(text.encode())
    if process_.returncode:
        log.error("nft refused: %s", text.strip())


def original_destination(sock: socket.socket) -> tuple[str, int]:
    """The address the client connected to, before the kernel's redirect to this proxy."""
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, packed = struct.unpack("!2xH4s8x", raw)
    return socket.inet_ntoa(packed), port


def flow_hash(client: tuple[str, int], dst: tuple[str, int]) -> int:
    return zlib.crc32(f"{client[0]}:{client[1]}>{dst[0]}:{dst[1]}".encode())


def reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection with a reset (SO_LINGER 0), not a FIN: the peer's next read or write fails."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, activity: list[float]) -> None:
    """Bytes from one side to the other until end of stream, then half-close; `activity[0]` is
    the time of the last byte relayed (either way: both relays share it)."""
    try:
        while chunk := await reader.read(CHUNK):
            activity[0] = time.monotonic()
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


def run(config_path: Path, ready) -> int:
    """Serve until SIGTERM; the event loop runs in a daemon thread (lab.services.process)."""

    nodes: list[Node] = []

    def begin() -> str:
        config = json.loads(config_path.read_text())
        nodes.append(Node(config))
        process.block_stop_signals()  # SIGHUP too: for `wait_for_stop`, not its default action (exit)
        start_in_thread(nodes[0].start)
        return f"NLB node {config['node']} ({config['load_balancer']}): {len(config['groups'])} target groups"

    def reload() -> str:
        """A live change (register-targets, deregister-targets): applied in the node's loop."""
        node, config = nodes[0], json.loads(config_path.read_text())
        assert node.loop is not None, "reloads come after the start"
        return asyncio.run_coroutine_threadsafe(node.update(config), node.loop).result(30)

    return process.serve(ready, begin, reload, config_path)


def main(argv: list[str] | None = None) -> int:
    return process.service_main(__spec__.name, __doc__.split("\n\n")[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
