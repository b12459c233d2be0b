"""Errors of the layer that touches the kernel."""
from __future__ import annotations

from lab.errors import LabError


class RealizeError(LabError):
    """Applying a plan failed; `step` says which step, so the message can be acted on."""

    def __init__(self, step: str, detail: str):
        self.step = step
        super().__init__(f"{step}: {detail}")

