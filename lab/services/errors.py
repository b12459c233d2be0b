"""Errors of the service processes."""

from __future__ import annotations

from lab.errors import EnvironmentFailure


class ServiceError(EnvironmentFailure):
    """A service process cannot start: a bad config file, a port or address it cannot listen on."""
