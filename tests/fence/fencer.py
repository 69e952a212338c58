"""pacemaker-fenced in stand-alone mode, for fence agent tests.

The fencer and stonith_admin run inside a throwaway network namespace: the fencer's IPC
socket is an abstract one, private to that namespace, so a test cannot meet (or disturb)
any other fencer on this machine.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.harness.installed import StagedInstall
from tests.harness.netns import Netns

FENCED = "/usr/lib/pacemaker/pacemaker-fenced"
STONITH_ADMIN = "/usr/sbin/stonith_admin"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}


class Fencer:
    """pacemaker-fenced in stand-alone mode inside ``ns``, stopped by PID."""

    def __init__(self, ns: Netns, workdir: Path, installed: StagedInstall) -> None:
        """The fencer sees hakit's fence agents in /usr/sbin through ``installed``'s
        overlay (a private mount namespace), so the host's /usr/sbin is never changed."""
        self.ns = ns
        self.log = workdir / "fenced.log"
        self._proc = subprocess.Popen(
            installed.argv(ns.exec_argv([FENCED, "--stand-alone", "-l", str(self.log)])),
            env={**ENV, "PCMK_logfile": str(self.log)}, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        end = time.monotonic() + 15
        while self.admin("--list-registered", check=False).returncode != 0:
            if self._proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError("pacemaker-fenced did not start")
            time.sleep(0.1)

    def admin(self, *args: str, check: bool = True,
              timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.ns.exec_argv([STONITH_ADMIN, *args]), capture_output=True,
                              text=True, env=ENV, timeout=timeout, check=check)

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
