"""A request the kernel refuses is an environment failure naming its step (exit 3), whatever kind of
netlink request it was (links, addresses, rules, routes), never an exception the CLI takes for a bug.

The namespace is a `sleep` in a network namespace of its own (unshare), made and killed by this test
by its pid: nothing is configured in it, and nothing outside it is touched."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from lab.errors import EXIT_ENVIRONMENT
from lab.realize import kernel
from lab.realize.errors import RealizeError

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="enters network namespaces: run as root"), pytest.mark.timeout(30)]


@pytest.fixture
def namespace_pid():
    sleeper = subprocess.Popen(["unshare", "--net", "sleep", "30"])
    try:
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{sleeper.pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            assert time.monotonic() < deadline, "unshare did not make a namespace"
            time.sleep(0.01)
        yield sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize(
    "refused",
    [
        lambda ns: ns.link("set", index=4242, state="up"),
        lambda ns: ns.addr("add", index=4242, address="10.9.9.9", prefixlen=24),
        lambda ns: ns.rule("del", table=4242, priority=4242),  # no such rule
    ],
    ids=["link", "address", "rule"],
)
def test_a_refused_netlink_request_is_a_realize_error_naming_the_step(namespace_pid, refused):
    with pytest.raises(RealizeError) as caught:
        with kernel.netns(namespace_pid, "links of app1") as ns:
            refused(ns)
    assert caught.value.step == "links of app1" and caught.value.exit_code == EXIT_ENVIRONMENT
    assert str(caught.value).startswith(f"links of app1: netlink in process {namespace_pid}'s namespace: (")


def test_a_namespace_whose_process_is_gone_is_a_realize_error():
    gone = subprocess.Popen(["true"])
    gone.wait()
    with pytest.raises(RealizeError) as caught:
        with kernel.netns(gone.pid):
            pass
    assert str(caught.value) == (f"namespace: cannot enter process {gone.pid}'s network namespace: No such file or directory")
