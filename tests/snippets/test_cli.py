"""hakit-snippet's command line: output for good input, exit 2 and one clear error for bad."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from hakit.snippets.cli import run
from tests.harness.ocf import LIB
from tests.snippets.conftest import generate

STACK = ["stack", "--name", "web", "--image", "rbd/web", "--ip", "198.18.0.10/24",
         "--nodes", "n1,n2,n3"]


def _fail(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert run(argv, out, err) == 2
    assert out.getvalue() == ""
    assert "Traceback" not in err.getvalue()
    return err.getvalue()


@pytest.mark.parametrize(("argv", "message"), [
    ([], "required: COMMAND"),
    (["nonsense"], "invalid choice"),
    (["stack"], "required: --name, --image, --nodes"),
    ([*STACK[:2], "9web", *STACK[3:]], "argument --name: '9web' is not a valid name"),
    ([*STACK[:4], "web", *STACK[5:]], "argument --image: 'web' is not an RBD image"),
    ([*STACK[:6], "198.18.0.10", *STACK[7:]], "argument --ip: '198.18.0.10' has no prefix"),
    ([*STACK[:6], "198.18.0.256/24", *STACK[7:]], "is not an IPv4 or IPv6 address"),
    ([*STACK[:8], "n1,n1"], "argument --nodes: node 'n1' is listed twice"),
    ([*STACK[:8], "n1,n 2"], "'n 2' is not a valid node name"),
    ([*STACK, "--prefer", "n4"], "argument --prefer: 'n4' is not one of --nodes"),
    ([*STACK, "--format", "xml"], "argument --format: invalid choice"),
    ([*STACK, "--health", 'echo "hi"'], "argument --health"),
    (["fencing", "--bmc", "n1=198.18.1.1"], "at least two"),
    (["fencing", "--bmc", "n1=198.18.1.1", "--bmc", "n1=198.18.1.2"], "given twice"),
    (["fencing", "--bmc", "n1=bmc-n1"], "'bmc-n1' (for node 'n1') is not an IP address"),
    (["fencing", "--bmc", "n1=198.18.1.1", "--bmc", "n2=198.18.1.2",
      "--redfish", "n3=198.18.2.3"], "'n3' has no --bmc"),
    (["fencing", "--bmc", "n1=198.18.1.1", "--bmc", "n2=198.18.1.2",
      "--password-script", "bmc-pw"], "is not an absolute path"),
    (["placement", "--nodes", "n1,n2"], "at least one of"),
    (["placement", "--nodes", "n1,n2", "--apart", "web"], "exactly two names"),
    (["placement", "--nodes", "n1,n2", "--prefer", "web=n9"], "'n9' (for web)"),
    (["lb", "--name", "lb", "--ip", "198.18.0.20/24", "--nodes", "n1,n2",
      "--backend", "lb1=rbd/lb1"], "exactly two"),
    (["lb", "--name", "lb", "--ip", "198.18.0.20/24", "--nodes", "n1",
      "--backend", "lb1=rbd/lb1", "--backend", "lb2=rbd/lb2"], "at least two nodes"),
])
def test_bad_input_exits_2_with_a_clear_error(argv: list[str], message: str) -> None:
    err = _fail(*argv)
    assert "usage: hakit-snippet" in err
    assert message in err


def test_help_exits_0() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["--help"], out, err) == 0
    assert "stack" in out.getvalue() and "fencing" in out.getvalue()
    assert err.getvalue() == ""


def test_module_entry_point_as_a_program() -> None:
    """python3 -m hakit.snippets: output on stdout, rc 0; bad input: stderr, rc 2."""
    env = {"PYTHONPATH": str(LIB), "PATH": "/usr/bin:/bin"}
    good = subprocess.run([sys.executable, "-m", "hakit.snippets", *STACK, "--format", "pcs"],
                          capture_output=True, text=True, env=env, timeout=30, check=False)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("#!/bin/sh\n")
    bad = subprocess.run([sys.executable, "-m", "hakit.snippets", "stack", "--name", "x y"],
                         capture_output=True, text=True, env=env, timeout=30, check=False)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "'x y' is not a valid name" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_stack_output_names_every_member_in_order() -> None:
    text = generate(*STACK)
    assert "group web-stack web-rbd web-fs web-lxc web-vip" in text
    assert "device=/dev/hakit/rbd/web directory=/var/lib/lxc/web" in text
    assert "location web-preferred-node web-stack 100: n1" in text
    no_vip = generate(*STACK[:5], *STACK[7:])
    assert "group web-stack web-rbd web-fs web-lxc \\" in no_vip
    assert "ocf:hakit:vip" not in no_vip


def test_pcs_output_is_a_script_that_quotes_values() -> None:
    text = generate(*STACK, "--health", "/usr/bin/curl -fsS http://127.0.0.1/", "--format",
                    "pcs")
    assert text.startswith("#!/bin/sh\n")
    assert "'health_command=/usr/bin/curl -fsS http://127.0.0.1/'" in text
    assert 'pcs cluster cib-push "$cib" --config' in text


def test_crm_comments_hold_no_double_dash() -> None:
    """crmsh stores comments as XML comments, where '--' is not allowed."""
    text = generate(*STACK, "--nic", "eth0")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert comments
    assert all("--" not in line and not line.endswith("-") for line in comments)


def test_closed_pipe_is_not_a_traceback() -> None:
    """`hakit-snippet ... | head -0`: the reader is gone before anything is written."""
    env = {"PYTHONPATH": str(LIB), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-m", "hakit.snippets", *STACK],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=30) == 1
    assert err == ""
