"""``hakit-snippet ... --apply`` against a running lab cluster: a checked push of only the
difference, a refusal that changes nothing, and a change made by someone else between the
read and the push detected.

The lab's nodes see hakit installed (the staged ``make install`` overlaid, as the demo's
nodes do), so pcs on a node validates the generated resources against the real agents.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator

import pytest
from lxml import etree

from hakit.deadline import Deadline
from lab import image, install, node
from lab.cluster import Lab, NoFencing
from lab.layout import LabNode
from lab.progress import Progress
from tests.lab.conftest import FORM_BOUND, need_root, new_layout

SNIPPET = ["/usr/bin/python3", "-m", "hakit.snippets"]
#: A stack for the lab's nodes; rbd-fuse, since a lab node has no rbd module.
STACK = ["stack", "--name", "web", "--image", "rbd/web", "--nodes", "n1,n2,n3",
         "--device-type", "fuse"]
PROMPT = b"Push these changes to the cluster? [y/N] "


class StagedHakit(NoFencing):
    """No fencing; every node gets hakit overlaid (``make install`` staged once)."""

    def __init__(self) -> None:
        self._staged = False

    def node_created(self, lab: Lab, n: LabNode) -> None:
        if self._staged:
            return
        state = lab.layout.state_dir
        install.stage(lab.runner, Deadline(120), image.stage_dir(state))
        image.make_dev_hakit(state)  # each node's private /dev/hakit mounts over it
        self._staged = True


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    need_root()
    the_lab = Lab(new_layout(tmp_path_factory.mktemp("lab")), Progress(sys.stdout),
                  fencing=StagedHakit())
    try:
        the_lab.up(form_timeout=FORM_BOUND)
        yield the_lab
    finally:
        the_lab.down()


def _cib(lab: Lab) -> etree._Element:
    return etree.fromstring(lab.run_on("n1", ["cibadmin", "--query"]).stdout.encode())


def _configuration(lab: Lab) -> bytes:
    """The configuration section, canonical (what an apply may change)."""
    config = _cib(lab).find("configuration")
    assert config is not None
    return etree.tostring(config, method="c14n")


def _primitives(lab: Lab) -> set[str]:
    return {p.get("id", "") for p in _cib(lab).iter("primitive")}


def _apply(lab: Lab, *args: str, answer: str = "") -> tuple[int, str, str]:
    res = lab.run_on("n1", [*SNIPPET, *STACK, "--apply", *args], check=False,
                     stdin=answer, timeout=120)
    return res.returncode, res.stdout, res.stderr


def test_dry_run_shows_and_changes_nothing(lab: Lab) -> None:
    before = _configuration(lab)
    code, out, err = _apply(lab, "--dry-run")
    assert code == 0, out + err
    assert "start web-rbd on " in out
    assert [line for line in out.splitlines()
            if line.startswith("+") and '<primitive id="web-rbd"' in line], out
    assert "--dry-run: nothing was pushed." in out
    assert _configuration(lab) == before


def test_refused_when_not_confirmed(lab: Lab) -> None:
    before = _configuration(lab)
    code, _, err = _apply(lab, answer="n\n")
    assert code == 1
    assert "not confirmed, nothing was pushed" in err
    assert _configuration(lab) == before


def test_refused_when_the_result_does_not_verify(lab: Lab) -> None:
    """With stonith enabled and no fence device, crm_verify rejects any configuration with
    resources: the apply quotes it and pushes nothing."""
    lab.run_on("n1", ["crm_attribute", "--type", "crm_config", "--name", "stonith-enabled",
                      "--update", "true"])
    try:
        before = _configuration(lab)
        code, out, err = _apply(lab, "--yes")
        assert code == 1, out + err
        assert "the result does not verify, nothing was pushed" in err
        assert "STONITH" in err  # crm_verify's own message
        assert "Pushed." not in out
        assert _configuration(lab) == before
    finally:
        lab.run_on("n1", ["crm_attribute", "--type", "crm_config", "--name",
                          "stonith-enabled", "--update", "false"])


def _read_until(stream: int, marker: bytes, seconds: float) -> bytes:
    """Bytes from ``stream`` until ``marker`` has been read (or the time is up)."""
    seen = b""
    deadline = Deadline(seconds)
    while marker not in seen and not deadline.expired():
        ready, _, _ = select.select([stream], [], [], deadline.remaining())
        if not ready:
            break
        chunk = os.read(stream, 4096)
        if not chunk:
            break
        seen += chunk
    return seen


def test_a_change_between_read_and_push_is_detected(lab: Lab) -> None:
    """Someone else changes the configuration while the admin reads the summary: the
    answer 'y' then pushes nothing, and the other change stays."""
    holder = node.holder_of(lab.layout.node("n1"))
    assert holder is not None
    with subprocess.Popen(node.exec_argv(holder, [*SNIPPET, *STACK, "--apply"]),
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env={"PATH": "/usr/sbin:/usr/bin"}
                          ) as proc:
        assert proc.stdin is not None and proc.stderr is not None
        try:
            asked = _read_until(proc.stderr.fileno(), PROMPT, 90)
            assert PROMPT in asked, asked
            lab.run_on("n2", ["crm_attribute", "--type", "crm_config", "--name",
                              "hakit-concurrent", "--update", "1"])
            proc.stdin.write(b"y\n")
            proc.stdin.flush()
            proc.stdin.close()
            out = proc.stdout.read().decode() if proc.stdout else ""
            err = asked.decode() + proc.stderr.read().decode()
            assert proc.wait(timeout=60) == 1, out + err
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "configuration changed while this ran" in err
    assert "web-rbd" not in _primitives(lab)
    found = lab.run_on("n1", ["crm_attribute", "--type", "crm_config", "--name",
                              "hakit-concurrent", "--query", "--quiet"])
    assert found.stdout.strip() == "1"


def test_apply_pushes_the_difference(lab: Lab) -> None:
    """A confirmed apply adds the stack and keeps what it did not generate (the property
    set by hand before), and the cluster acts on it."""
    lab.run_on("n1", ["crm_attribute", "--type", "crm_config", "--name", "hakit-keep",
                      "--update", "yes"])
    code, out, err = _apply(lab, answer="y\n")
    assert code == 0, out + err
    assert "Pushed." in out
    assert {"web-rbd", "web-fs", "web-lxc"} <= _primitives(lab)
    kept = lab.run_on("n1", ["crm_attribute", "--type", "crm_config", "--name", "hakit-keep",
                             "--query", "--quiet"])
    assert kept.stdout.strip() == "yes"
    # The cluster has taken it up: the resources appear in crm_mon (they fail to start
    # here, the lab has no Ceph, which is not what is tested).
    lab.wait_for(lambda state: "web-rbd" in {r.id for r in state.resources}, 30,
                 "waiting for crm_mon to list web-rbd")
    # Applying the same stack again is refused by pcs (the ids exist), nothing pushed.
    before = _configuration(lab)
    code, _, err = _apply(lab, "--yes")
    assert code == 1
    assert "already exists" in err
    assert _configuration(lab) == before


def test_yes_needs_apply() -> None:
    out = subprocess.run([sys.executable, "-m", "hakit.snippets", *STACK, "--yes"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "--yes: only with --apply" in out.stderr
