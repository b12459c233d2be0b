"""One error class per meaning (lab.errors): every LabError vpclab defines picks bad input, a failed
expectation or an environment failure, and so an exit code; the planner's errors say where."""

from __future__ import annotations

import importlib
import ipaddress
import pkgutil

import pytest

import lab
from lab.errors import (
    EXIT_BAD_INPUT,
    EXIT_BUG,
    EXIT_ENVIRONMENT,
    EXIT_EXPECTATION_FAILED,
    BadInput,
    EnvironmentFailure,
    ExpectationFailed,
    LabError,
    PlanError,
)
from lab.plan.addressing import PublicIpPool

MEANINGS = {BadInput: EXIT_BAD_INPUT, ExpectationFailed: EXIT_EXPECTATION_FAILED, EnvironmentFailure: EXIT_ENVIRONMENT}


def every_lab_error() -> set[type]:
    for module in pkgutil.walk_packages(lab.__path__, "lab."):
        importlib.import_module(module.name)
    found, todo = set(), [LabError]
    while todo:
        found |= set(subclasses := todo.pop().__subclasses__())
        todo += subclasses
    return found


def test_every_error_class_has_exactly_one_meaning_and_its_exit_code():
    errors = every_lab_error()
    assert {
        "TopologyError",
        "RealizeError",
        "ServiceError",
        "CaptureError",
        "ProbeFailed",
        "UnknownName",
        "StateConflict",
        "MalformedPolicy",
    } <= {e.__name__ for e in errors}  # the walk found them
    for error in errors:
        meanings = [m for m in MEANINGS if issubclass(error, m)]
        assert len(meanings) == 1, f"{error.__module__}.{error.__name__} means {meanings or 'nothing'}"
        assert error.exit_code == MEANINGS[meanings[0]] != EXIT_BUG


def test_a_region_out_of_public_addresses_is_a_plan_error_naming_the_owner():
    """It used to be a TopologyError located at line 0 of no file."""
    pool = PublicIpPool((ipaddress.IPv4Network("198.51.100.0/31"),))
    pool.take("app", "web1")  # .1: .0 ends in 0, which the pool skips
    with pytest.raises(PlanError) as caught:
        pool.take("app", "nat-a")
    assert str(caught.value) == "app/nat-a: no public IPv4 address left in the region's EC2 ranges (AddressLimitExceeded)"
    assert caught.value.exit_code == EXIT_BAD_INPUT
