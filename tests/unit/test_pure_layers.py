"""tests/unit must run without root, so the layers it tests must not reach the kernel even by import.

DESIGN.md section 3 makes model/, plan/ and analysis/ pure; importing every module of them in a fresh
interpreter (so nothing the test runner loaded counts) and finding no kernel-facing module proves it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMPORT_ALL = """
import importlib, pkgutil, sys
import lab.model, lab.plan, lab.analysis
for package in (lab.model, lab.plan, lab.analysis):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
print(" ".join(sorted(sys.modules)))
"""
KERNEL_FACING = ("mininet", "pyroute2", "lab.realize")


def test_pure_layers_import_nothing_that_touches_the_kernel():
    run = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    loaded = run.stdout.split()
    assert "lab.model.validate" in loaded  # the walk did import the layers
    assert [m for m in loaded if m.split(".")[0] in KERNEL_FACING or m.startswith(KERNEL_FACING)] == []
