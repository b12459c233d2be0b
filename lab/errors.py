"""One root for every error vpclab raises, one class per meaning, so the CLI can turn any of them
into one clear line and an exit code chosen by the class (`exit_code`), never by the message.

    LabError                    anything vpclab reports to the user; never a traceback
     +-- BadInput               exit 2: the user's input is wrong; the message says how to fix it
     |    +-- TopologyError     a topology or scenario file is wrong: file:line, what, the value,
     |    |                     the rule, the AWS error code (also a ValueError)
     |    +-- PlanError         a valid model that cannot be laid out (a pool ran out, a limit was hit)
     |    +-- UnknownName       a node, endpoint, route table or capture the lab does not have
     |    +-- BadArgument       a command-line or prompt value out of range (an index, a protocol)
     |    +-- StateConflict     a change to a running lab that it is already in (associate twice)
     |    +-- UnreadableRun     a run directory or capture that is not what vpclab writes
     |    +-- PolicyTextError, MalformedPolicy (lab.model): a policy AWS would refuse
     +-- ExpectationFailed      exit 1: it all ran, and what was expected did not happen
     +-- EnvironmentFailure     exit 3: this machine would not do it (not root, a kernel or tool
          |                     failure); says which step failed
          +-- RealizeError      (lab.realize.errors) a step of building or running a lab: `step`
          +-- CaptureError      tcpdump did not start, or the captures missed what was sent
          +-- ServiceError      (lab.services.errors) a service process cannot start
          +-- ProbeFailed       (lab.scenario.observe) the probe itself could not run

Anything else that escapes is a bug in vpclab: exit 70 (EX_SOFTWARE), the traceback with --debug.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

EXIT_EXPECTATION_FAILED, EXIT_BAD_INPUT, EXIT_ENVIRONMENT, EXIT_BUG = 1, 2, 3, 70


class LabError(Exception):
    """Root of vpclab's errors; its str() is the one line the CLI prints. A class that picks no
    meaning below exits as a bug would: every raised error must say what kind of failure it is."""

    exit_code: ClassVar[int] = EXIT_BUG


class BadInput(LabError):
    """What the user gave (a file, an argument, a name, a request to change the lab) is wrong."""

    exit_code = EXIT_BAD_INPUT


class ExpectationFailed(LabError):
    """Everything ran, but the packets did not do what was expected (a scenario step, a prediction)."""

    exit_code = EXIT_EXPECTATION_FAILED


class EnvironmentFailure(LabError):
    """This machine refused a step that was right to ask for: not root, a kernel or tool failure."""

    exit_code = EXIT_ENVIRONMENT


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


class TopologyError(BadInput, ValueError):
    """A topology file that AWS (or vpclab) would reject; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line))
        super().__init__("\n".join(str(p) for p in self.problems))


class PlanError(BadInput):
    """The model is valid but cannot be turned into a lab (a pool ran out, a limit was hit)."""


class UnknownName(BadInput):
    """A node, endpoint, route table or capture named by the user is not part of the lab."""


class BadArgument(BadInput):
    """A value given on the command line or at the prompt is out of its range."""


class StateConflict(BadInput):
    """A change asked of a running lab that it is already in (or that its current state forbids)."""


class UnreadableRun(BadInput):
    """A run directory, or a capture in one, that is not what vpclab writes."""


class CaptureError(EnvironmentFailure):
    """A capture could not be started, or did not record the connection that was sent."""
