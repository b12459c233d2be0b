"""`vpclab demo --step` driven as a teacher drives it, through a pseudo-terminal (pexpect), in the
language the locale chooses (C.UTF-8: Korean, the book's): each figure waits, its lab still up, for
Enter (the next figure) or q (stop), and q leaves nothing behind but the run directory it names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from labsafety import LabRecord, residue

pexpect = pytest.importorskip("pexpect")

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds real labs: run as root"), pytest.mark.timeout(300)]
VPCLAB = ["-c", "import sys; sys.argv[0] = 'vpclab'; from lab.cli.main import entry_point; entry_point()"]
PAUSE = "Enter: 다음 그림, q: 중지"


def lab_up(state: Path) -> LabRecord:
    """The one lab of the sandbox's state directory, taken while it runs."""
    files = sorted(state.glob("*.json"))
    assert len(files) == 1, f"labs up during the pause: {files}"
    return LabRecord.read(files[0])


def test_step_waits_for_enter_and_q_stops_cleanly(tmp_path):
    state, keep = tmp_path / "state", tmp_path / "demo"
    env = {**os.environ, "VPCLAB_STATE_DIR": str(state), "LANG": "C.UTF-8", "LC_ALL": "", "TERM": "dumb", "NO_COLOR": "1"}
    env.pop("LC_MESSAGES", None)
    child = pexpect.spawn(sys.executable, [*VPCLAB, "demo", "--step", "--keep", str(keep)], cwd=REPO, env=env, encoding="utf-8")
    child.setwinsize(50, 250)
    try:
        child.expect_exact("vpclab 데모: ", timeout=30)
        child.expect_exact("== 그림 1: 퍼블릭, 프라이빗, 격리된 프라이빗 서브넷", timeout=120)
        child.expect_exact(PAUSE, timeout=120)
        first = lab_up(state)  # waiting, with the figure's lab up
        assert child.before.count("AWS 규칙에 따른 예측(vpclab explain): 일치합니다") == 3
        child.sendline("")  # Enter: the next figure
        child.expect_exact("== 그림 2: 게이트웨이 엔드포인트가 없을 때와 있을 때의 통신 흐름", timeout=120)
        assert residue(first) == []  # figure 1's lab went before figure 2's was built
        child.expect_exact(PAUSE, timeout=120)
        second = lab_up(state)
        assert "S3에서 본 출발지는 10.0.2.4, 들어온 곳은 vpce-" in child.before
        # as the pause says: meanwhile the lab is up, and another terminal reaches its nodes
        argv = [sys.executable, *VPCLAB, "exec", second.tag, "app1", "ip", "-4", "-o", "addr", "show", "eth0"]
        done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "10.0.2.4/24" in done.stdout, done.stderr
        child.sendline("q")
        child.expect_exact(
            "그림 2/9에서 중지했습니다. 이 그림의 랩을 정리했으며 실행 중인 랩은 없습니다. "
            f"실행 디렉터리는 남겨 두었습니다: {keep}"
        )
        child.expect(pexpect.EOF, timeout=60)
        child.close()
        assert child.exitstatus == 0
    finally:
        if child.isalive():
            child.terminate(force=True)
    assert residue(second) == [] and not list(state.glob("*.json"))
    assert second.tag not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert (keep / "act2" / "captures" / "app-s3-gw.pcap").exists() and not (keep / "act3").exists()
