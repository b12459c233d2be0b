"""Errors of the service processes."""
from __future__ import annotations

from lab.errors import LabError


class ServiceError(LabError):
    """A service process cannot start: a bad config file, a port or address it cannot listen on."""
