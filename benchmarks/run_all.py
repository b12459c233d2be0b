"""Run every benchmark, one after the other, each in its own process with a time limit.

    sudo /opt/vpclab/venv/bin/python benchmarks/run_all.py

Provisions nothing (scripts/provision.sh does that). A benchmark over its limit gets SIGTERM, which
it turns into its normal teardown, and SIGKILL only if it is still there 30 s later. Exit status:
non-zero if any benchmark failed, timed out or reported leftovers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [  # (script, needs root, time limit in s)
    ("bench_bringup.py", True, 300),
    ("bench_scale.py", True, 900),
    ("bench_throughput.py", True, 300),
    ("bench_interface_endpoint.py", True, 300),
    ("bench_security_groups.py", True, 600),
    ("bench_load_balancer.py", True, 300),
    ("bench_live_changes.py", True, 300),
    ("bench_analysis.py", False, 120),
]


def run(script: str, limit: float) -> int:
    proc = subprocess.Popen([sys.executable, str(HERE / script)], cwd=HERE.parent)
    try:
        return proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        print(f"{script}: over its {limit:.0f} s limit, stopping it (SIGTERM)", flush=True)
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 124
    except BaseException:
        proc.terminate()
        proc.wait(timeout=30)
        raise


def main() -> int:
    failed = []
    for script, needs_root, limit in BENCHMARKS:
        print(f"\n## {script}\n", flush=True)
        if needs_root and os.geteuid() != 0:
            print(f"{script}: skipped, it builds network namespaces and needs root")
            failed.append(script)
            continue
        started = time.monotonic()
        status = run(script, limit)
        print(f"\n{script}: exit status {status} after {time.monotonic() - started:.0f} s", flush=True)
        if status != 0:
            failed.append(script)
    print("\nall benchmarks done" + (f"; failed or skipped: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
