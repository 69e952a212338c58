"""Fixtures for fence agent tests: a real BMC (ipmi_sim) and agents run as the fencer does."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from tests.harness.bmc import IPMI_SIM, IpmiSim
from tests.harness.ocf import AGENTS, LIB

FENCE_HAKIT = AGENTS / "fence_hakit"
FENCE_IPMILAN = Path("/usr/sbin/fence_ipmilan")
WRONG_PASSWORD = "wrong-pw"  # noqa: S105 - a deliberately wrong test credential


@dataclass(frozen=True)
class FenceResult:
    rc: int
    stdout: str
    stderr: str
    seconds: float
    leaked: tuple[str, ...] = field(default=())  # command lines that showed the password

    @property
    def out(self) -> str:
        return self.stdout + self.stderr


def fence_env(extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(LIB), "LC_ALL": "C.UTF-8",
           "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    env.update(extra or {})
    return env


class CmdlineWatcher:
    """Scans every process's /proc/PID/cmdline for a secret while a command runs."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._stop = threading.Event()
        self.leaks: set[str] = set()
        self._thread = threading.Thread(target=self._scan, daemon=True)

    def _scan(self) -> None:
        me = str(os.getpid())
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or pid == me:
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmdline = f.read()
                except OSError:
                    continue
                if self._secret in cmdline:
                    self.leaks.add(cmdline.replace(b"\0", b" ").decode(errors="replace"))
            time.sleep(0.002)

    def __enter__(self) -> CmdlineWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_fence(agent: Path, params: Mapping[str, str], *, argv: Sequence[str] = (),
              stdin: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
              watch: str = "", limit: float = 120.0) -> FenceResult:
    """Run ``agent`` as pacemaker-fenced does: ``params`` as name=value lines on stdin."""
    text = stdin if stdin is not None else "".join(f"{k}={v}\n" for k, v in params.items())
    started = time.monotonic()
    watcher = CmdlineWatcher(watch) if watch else None
    if watcher:
        watcher.__enter__()
    try:
        proc = subprocess.run([str(agent), *argv], input=text, capture_output=True, text=True,
                              env=fence_env(env), timeout=limit, check=False)
    finally:
        if watcher:
            watcher.__exit__()
    return FenceResult(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started,
                       tuple(sorted(watcher.leaks)) if watcher else ())


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[IpmiSim]:
    """A running ipmi_sim BMC whose machine is powered on; stopped afterwards."""
    if not os.access(IPMI_SIM, os.X_OK):
        pytest.skip("ipmi_sim (Debian package openipmi) is not installed")
    bmc = IpmiSim(tmp_path / "bmc")
    bmc.start()
    try:
        yield bmc
    finally:
        bmc.stop()


@pytest.fixture
def fence_ipmilan() -> Path:
    if not FENCE_IPMILAN.exists() or shutil.which("ipmitool") is None:
        pytest.skip("fence_ipmilan or ipmitool (fence-agents, ipmitool) not installed")
    return FENCE_IPMILAN


SBIN_AGENT = Path("/usr/sbin/fence_hakit")


@pytest.fixture(scope="module")
def installed_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """/usr/sbin/fence_hakit, where pacemaker-fenced and pcs look for fence agents.

    When absent, a symlink to a launcher of this tree's agent is made for the test and
    always removed afterwards; the launcher puts this tree's lib/ on sys.path because pcs
    runs agents with a clean environment.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to place /usr/sbin/fence_hakit")
    if SBIN_AGENT.exists() or SBIN_AGENT.is_symlink():
        yield SBIN_AGENT  # installed by make install: used as it is, left alone
        return
    launcher = tmp_path_factory.mktemp("sbin") / "fence_hakit"
    launcher.write_text(
        "#!/usr/bin/python3\n"
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(LIB)!r})\n"
        f"runpy.run_path({str(FENCE_HAKIT)!r}, run_name='__main__')\n")
    launcher.chmod(0o755)
    SBIN_AGENT.symlink_to(launcher)
    try:
        yield SBIN_AGENT
    finally:
        if SBIN_AGENT.is_symlink() and os.readlink(SBIN_AGENT) == str(launcher):
            SBIN_AGENT.unlink()
