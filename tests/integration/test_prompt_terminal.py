"""The `vpclab>` prompt driven as a learner drives it: through a pseudo-terminal (pexpect), one
real lab (topologies/gateway-endpoint.yaml) for the whole module. Ctrl-C never ends the lab, node
names become addresses, Tab completes, `shell NODE` is interactive, `routes` follows `associate`,
and `vpclab ls` / `vpclab exec` reach the lab from another terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="builds a real lab: run as root"), pytest.mark.timeout(300)]
PROMPT = "vpclab> "
VPCLAB = str(Path(sys.executable).parent / "vpclab")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    return {**os.environ, "VPCLAB_STATE_DIR": str(state), "TERM": "dumb", "COLUMNS": "200"}


@pytest.fixture(scope="module")
def term(sandbox):
    """`vpclab up` on a pseudo-terminal, at its first prompt; at the end `exit` and its teardown,
    or, if the test broke it, `vpclab clean --all` for the labs of this module's state directory."""
    child = pexpect.spawn(VPCLAB, ["up", "topologies/gateway-endpoint.yaml"], cwd=REPO, env=sandbox, encoding="utf-8", timeout=90)
    child.setwinsize(50, 200)
    try:
        child.expect("is up")
        child.expect_exact(PROMPT)
        yield child
        child.sendline("exit")
        child.expect("tearing down lab")
        child.expect(pexpect.EOF, timeout=60)
        child.close()
        assert child.exitstatus == 0
    finally:
        if child.isalive():
            child.terminate(force=True)
        subprocess.run([VPCLAB, "clean", "--all"], env=sandbox, check=False, capture_output=True)


def run(term, line: str, timeout: float = 30) -> str:
    """Type a line, return what it printed up to the next prompt."""
    term.sendline(line)
    term.expect_exact(PROMPT, timeout=timeout)
    return term.before


def test_ctrl_c_at_an_empty_prompt_leaves_the_lab_up(term):
    term.sendintr()
    term.expect("Interrupt")
    term.expect_exact(PROMPT)
    assert "1 received" in run(term, "app1 ping -c1 -W2 10.0.3.4")


def test_ctrl_c_clears_a_half_typed_line(term):
    term.send("explain app1 s3")
    term.expect_exact("explain app1 s3")  # echoed: readline has it (a learner is never faster)
    term.sendintr()
    term.expect_exact(PROMPT)
    out = run(term, "nodes")
    assert "NODE" in out and "app1" in out and "explain" not in out


def test_ctrl_c_interrupts_a_node_command_not_the_lab(term):
    term.sendline("app1 sleep 30; echo not-interrupted")
    term.expect_exact("app1 sleep 30; echo not-interrupted")  # the whole line echoed
    term.sendintr()
    term.expect_exact(PROMPT, timeout=10)
    assert "not-interrupted" not in term.before
    term.sendline("app1 echo after-$((6*7))")
    term.expect_exact("after-42")
    term.expect_exact(PROMPT)


def test_ctrl_c_during_path_stops_waiting_and_the_lab_stays(term):
    term.sendline("path app1 lab-bucket.s3.ap-northeast-2.amazonaws.com")
    term.expect_exact("path app1")
    term.sendintr()
    term.expect("Interrupt", timeout=30)
    term.expect_exact(PROMPT)
    assert "hello from S3" in run(term, "app1 aws s3 cp s3://lab-bucket/hello.txt -", timeout=60)


def test_node_names_become_private_ips(term):
    out = run(term, "app1 ping -c1 -W2 batch1")
    assert "PING 10.0.3.4" in out and "1 received" in out
    # only whole words that are node names: an AWS name, name:port, a quoted name stay as typed
    out = run(term, "app1 echo s3.ap-northeast-2.amazonaws.com batch1:80 'batch1' batch1")
    assert "s3.ap-northeast-2.amazonaws.com batch1:80 batch1 10.0.3.4" in out


def test_tab_completes_a_node(term):
    term.send("app1 ping -c1 -W2 bat\t")
    term.expect_exact("batch1")
    term.sendline("")
    term.expect_exact(PROMPT)
    assert "1 received" in term.before


def test_tab_completes_a_command_and_a_route_table(term):
    term.send("disas\t")
    term.expect_exact("disassociate")
    term.send("s3-g\t")
    term.expect_exact("s3-gw")
    term.send("priv\t")
    term.expect_exact("private")
    term.sendline("")
    term.expect_exact("disassociated: route table private")
    term.expect_exact(PROMPT)
    assert "associated: route table private" in run(term, "associate s3-gw private")


def test_did_you_mean(term):
    assert "did you mean: app1" in run(term, "ap1 ls")
    assert "did you mean: path" in run(term, "pth app1 s3.ap-northeast-2.amazonaws.com")


def test_a_pasted_comment_is_ignored(term):
    out = run(term, "explain app1 lab-bucket.s3.ap-northeast-2.amazonaws.com      # the prediction")
    assert "vpce-" in out and "usage" not in out


def test_help_lists_node_command_not_eof(term):
    out = run(term, "help")
    assert "NODE COMMAND" in out and "EOF" not in out and "routes VPC" in out


def test_typed_input_reaches_a_node_command(term):
    term.sendline("app1 read -r answer; echo got:$answer")
    term.expect_exact("echo got:")
    term.sendline("forty-two")
    term.expect_exact("got:forty-two")
    term.expect_exact(PROMPT)


def test_a_line_typed_to_a_command_that_does_not_read_it_does_not_shift_later_output(term):
    term.sendline("app1 sleep 2")
    term.expect_exact("app1 sleep 2")
    # read by the node's shell after sleep, as in Mininet; its output and prompt marker come later
    term.sendline("sleep 1; echo typed-$((1+1))")
    term.expect_exact(PROMPT, timeout=10)
    time.sleep(2)
    term.sendline("app1 echo next-$((2+2))")
    term.expect_exact("next-4")
    term.expect_exact(PROMPT)
    term.sendline("app1 echo then-$((3+3))")
    term.expect_exact("then-6")
    term.expect_exact(PROMPT)
    assert "next-4" not in term.before  # each command's own output, not its predecessor's


def test_ctrl_d_during_a_node_command_does_not_end_the_node(term):
    term.sendline("app1 sleep 1")
    term.expect_exact("app1 sleep 1")
    term.sendeof()
    term.expect_exact(PROMPT, timeout=10)
    assert "alive" in run(term, "app1 echo alive")


def test_shell_in_a_node_runs_read_interactively(term):
    term.sendline("shell app1")
    term.expect_exact("app1$ ")
    term.sendline("read -r -p 'name? ' x; echo hello-$x; ip -4 -o addr show eth0; echo region=$AWS_DEFAULT_REGION")
    term.expect_exact("name? ")
    term.sendline("learner")
    term.expect_exact("hello-learner")
    term.expect_exact("10.0.2.4")
    term.expect_exact("region=ap-northeast-2")
    term.expect_exact("app1$ ")
    term.sendintr()  # Ctrl-C in the shell goes to the shell, not to vpclab
    term.expect_exact("app1$ ")
    term.sendline("exit")
    term.expect_exact(PROMPT)
    assert "1 received" in run(term, "app1 ping -c1 -W2 batch1")


def test_routes_follow_associate(term):
    out = run(term, "routes app private")
    assert "pl-78a54011" in out and "vpce-" in out and "nat-" in out
    assert "disassociated" in run(term, "disassociate s3-gw private")
    assert "pl-78a54011" not in run(term, "routes app private")
    assert "associated" in run(term, "associate s3-gw private")
    after = run(term, "routes app private")
    assert "pl-78a54011" in after and "10.0.0.0/16" in after and "local" in after


def test_net_links_dump_pingall(term):
    assert "CONNECTED TO" in run(term, "net") and "app-router:" in run(term, "links")
    assert "pid=" in run(term, "dump")
    out = run(term, "pingall", timeout=60)
    assert "*** Results:" in out and "app1 ->" in out


def test_sh_runs_on_the_host_without_lab_addresses(term):
    out = run(term, "sh ip -4 -o addr show | grep -c ' 10\\.0\\.' || true")
    assert out.strip().splitlines()[-1].strip() == "0"


def vpclab(sandbox, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([VPCLAB, *argv], env=sandbox, capture_output=True, text=True, timeout=60)


def test_ls_and_exec_from_another_terminal(term, sandbox):
    listed = vpclab(sandbox, "ls").stdout
    assert "gateway-endpoint.yaml" in listed and " up " in listed
    tag = listed.splitlines()[1].split()[0]
    done = vpclab(sandbox, "exec", tag, "batch1", "ip", "-4", "-o", "addr", "show", "eth0")
    assert done.returncode == 0 and "10.0.3.4" in done.stdout
    assert "ap-northeast-2" in vpclab(sandbox, "exec", tag, "app1", "sh", "-c", "echo $AWS_DEFAULT_REGION").stdout
    assert vpclab(sandbox, "exec", tag, "app1", "sh", "-c", "exit 7").returncode == 7
    refused = vpclab(sandbox, "exec", tag, "ap1", "true")
    assert refused.returncode == 2 and "did you mean: app1" in refused.stderr
    assert vpclab(sandbox, "exec", "vl000000", "app1", "true").returncode == 2
