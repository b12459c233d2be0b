"""One root for every error vpclab raises, so the CLI can turn any of them into one clear line.

    LabError                    anything vpclab reports to the user; never a traceback
     +-- TopologyError          a topology file is wrong: file:line, what, the value, the rule,
     |                          the AWS error code (also a ValueError)
     +-- PlanError              a valid model that cannot be laid out (e.g. no address left)
     +-- UnknownName            a name given on the command line is not part of the lab
     +-- CaptureError           a capture could not be started, read or followed

Later layers add RealizeError, ServiceError, CaptureError and ScenarioFailed here.
"""
from __future__ import annotations

from dataclasses import dataclass


class LabError(Exception):
    """Root of vpclab's errors; its str() is the one line the CLI prints."""


@dataclass(frozen=True)
class Problem:
    """One finding about an input file, located and coded the way AWS reports it."""

    file: str
    line: int
    message: str
    code: str
    severity: str = "error"  # or "warning": accepted by AWS but almost surely a mistake

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        where = f"{self.file}:{self.line}" if self.line else self.file  # line 0: the file as a whole
        return f"{where}: {prefix}{self.message} ({self.code})"


class TopologyError(LabError, ValueError):
    """A topology file that AWS (or vpclab) would reject; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line))
        super().__init__("\n".join(str(p) for p in self.problems))


class PlanError(LabError):
    """The model is valid but cannot be turned into a lab (a pool ran out, a limit was hit)."""


class UnknownName(LabError):
    """A node, address or host name given by the user is not part of the lab."""


class CaptureError(LabError):
    """A capture could not be started, or read, or a flow could not be found in it."""
