"""One install path (DESIGN section 6): scripts/provision.sh installs, scripts/test.sh runs the tests
after it, and the README, CI and the Vagrant VM all use exactly those, so what CI proves is what a
reader of the README gets. These tests read the files; they run nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEST_COMMAND = "bash scripts/test.sh"


def code_lines(path: Path) -> list[str]:
    """The file's lines without comments (shell and Ruby both use '#') or blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def provisioners() -> list[str]:
    return [line for line in code_lines(REPO / "Vagrantfile") if line.startswith("config.vm.provision")]


def test_vagrant_provisions_only_through_provision_sh():
    steps = provisioners()
    assert steps, "the Vagrantfile has no provisioning step"
    assert "scripts/provision.sh" in steps[0]
    for step in steps:
        assert 'type: "shell"' in step, step
        assert re.search(r"bash /vagrant/scripts/(provision|test)\.sh\b", step), step
    assert not [line for line in code_lines(REPO / "Vagrantfile") if re.search(r"\b(apt-get|apt|pip3?|dpkg)\b", line)]


def test_vagrant_runs_the_tests_as_its_last_provisioning_step():
    assert "bash /vagrant/scripts/test.sh" in provisioners()[-1]


def test_vagrant_box_is_pinned():
    lines = code_lines(REPO / "Vagrantfile")
    assert any(line.startswith("config.vm.box =") for line in lines)
    assert any(re.match(r'config\.vm\.box_version = "[0-9.]+"', line) for line in lines)


def test_test_sh_provisions_then_lints_then_runs_pytest():
    lines = code_lines(REPO / "scripts/test.sh")
    provision = next(i for i, line in enumerate(lines) if "scripts/provision.sh" in line)
    ruff = next(i for i, line in enumerate(lines) if 'bin/ruff" check' in line)
    mypy = next(i for i, line in enumerate(lines) if 'bin/mypy"' in line)
    pytest_run = next(i for i, line in enumerate(lines) if "-m pytest" in line)
    assert provision < ruff < pytest_run and provision < mypy < pytest_run


def test_ci_runs_the_test_script():
    assert [line for line in code_lines(REPO / ".ci/run") if "scripts/test.sh" in line] == ["exec bash scripts/test.sh"]


def test_readme_gives_the_test_command():
    readme = REPO / "README.md"
    if not readme.exists():
        pytest.fail(f"README.md is missing; it must give the test command '{TEST_COMMAND}'", pytrace=False)
    commands = [line.split("#", 1)[0].strip() for line in readme.read_text(encoding="utf-8").splitlines()]
    assert TEST_COMMAND in commands
