"""Errors of the layer that touches the kernel."""

from __future__ import annotations

from lab.errors import EnvironmentFailure


class RealizeError(EnvironmentFailure):
    """Building or running a lab failed on this machine (not root, `ip` or `nft` refused a line,
    netlink refused a request, a service did not start); `step` says which step, so the message can
    be acted on."""

    def __init__(self, step: str, detail: str):
        self.step = step
        super().__init__(f"{step}: {detail}")
