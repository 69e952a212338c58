"""A test run cannot go quietly hollow: a skip for a missing prerequisite fails it.

Each case runs a small pytest session in a subprocess with the guard
(tests/harness/skipguard.py) as ``make test`` has it, and checks its exit status and what it
says is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.accepted_skips import ACCEPTED, AcceptedSkip, accepted
from tests.harness.ocf import ROOT


def _session(tmp_path: Path, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(body)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'lib'}"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
         "tests.harness.skipguard", "--rootdir", str(tmp_path), *args, str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)


PASSING = "def test_ok():\n    assert True\n"


def test_a_run_without_skips_passes(tmp_path: Path) -> None:
    run = _session(tmp_path, PASSING)
    assert run.returncode == 0, run.stdout
    assert "missing prerequisite" not in run.stdout


@pytest.mark.parametrize("body", [
    # in the test, as the fixtures of this suite do
    PASSING + "import pytest\ndef test_ceph():\n"
              "    pytest.skip('/usr/bin/ceph-mon is not installed')\n",
    # in a fixture's setup
    PASSING + "import pytest\n@pytest.fixture\ndef root():\n"
              "    pytest.skip('needs root (namespaces)')\n"
              "def test_root(root):\n    pass\n",
    # a skipif mark
    PASSING + "import pytest\n@pytest.mark.skipif(True, reason='qemu is not installed')\n"
              "def test_vm():\n    pass\n",
    # a whole module, at collection
    "import pytest\npytest.skip('needs root (LXC containers)', allow_module_level=True)\n"
    + PASSING,
    # an expected failure hides a test just as well
    PASSING + "import pytest\n@pytest.mark.xfail(reason='flaky on CI')\n"
              "def test_flaky():\n    assert False\n",
])
def test_a_skip_for_a_missing_prerequisite_fails_the_run_and_names_it(
        tmp_path: Path, body: str) -> None:
    run = _session(tmp_path, body)
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout
    assert "skipped for a missing prerequisite" in run.stdout
    reason = next(word for word in ("ceph-mon", "needs root", "qemu", "flaky")
                  if word in body)
    assert reason in run.stdout.split("skipped for a missing prerequisite", 1)[1]


def test_a_failing_run_keeps_its_own_status(tmp_path: Path) -> None:
    body = ("import pytest\ndef test_bad():\n    assert False\n"
            "def test_skip():\n    pytest.skip('needs root')\n")
    run = _session(tmp_path, body)
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout
    assert "needs root" in run.stdout


def test_an_accepted_host_property_may_skip(tmp_path: Path) -> None:
    """With a list holding one entry (set by the inner session's conftest), a skip for it
    passes the run and one for anything else still fails it."""
    (tmp_path / "conftest.py").write_text(
        "import tests.accepted_skips as listed\n"
        "listed.ACCEPTED = (listed.AcceptedSkip('host without X', 'X is optional'),)\n")
    skip = "import pytest\ndef test_x():\n    pytest.skip('host without X: nothing to test')\n"
    run = _session(tmp_path, PASSING + skip)
    assert run.returncode == 0, run.stdout
    assert "missing prerequisite" not in run.stdout
    run = _session(tmp_path, PASSING + skip + "def test_y():\n    pytest.skip('needs root')\n")
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout
    entry = AcceptedSkip("host without X", "X is optional")
    assert accepted("host without X: skipped", (entry,))
    assert not accepted("needs root", (entry,))
    # and the project's own list accepts none of the prerequisites make deps provides
    for message in ("needs root (namespaces, loop devices, mounts)",
                    "/usr/bin/ceph-mon is not installed", "pcs is not installed"):
        assert not accepted(message, ACCEPTED)
