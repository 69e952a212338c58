"""hakit as `make install` lays it out, visible only to commands the tests choose.

``StagedInstall`` runs ``make install DESTDIR=<stage>`` and builds argv that run a command in
a private mount namespace where the staged files are overlaid on /usr/lib/ocf/resource.d,
/usr/sbin and /usr/lib/python3/dist-packages: pcs, crm_resource and pacemaker-fenced then find
the agents where an admin's install puts them, and the host is never changed.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from hakit.deadline import Deadline
from hakit.os.runner import Runner
from lab.install import TARGETS, stage

__all__ = ["TARGETS", "StagedInstall"]

OVERLAY_EXEC = Path(__file__).with_name("overlay_exec.py")


class StagedInstall:
    def __init__(self, workdir: Path, extra_ocf: Sequence[Path] = ()) -> None:
        """``extra_ocf``: further files to place beside the agents in resource.d/hakit."""
        self.stage = workdir / "stage"
        stage(Runner(logging.getLogger("tests.installed")), Deadline(120), self.stage)
        hakit_dir = self.stage / "usr/lib/ocf/resource.d/hakit"
        hakit_dir.mkdir(parents=True, exist_ok=True)
        for extra in extra_ocf:
            shutil.copy2(extra, hakit_dir / extra.name)

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` wrapped to run with the staged install overlaid."""
        return ["/usr/bin/unshare", "--mount", "--propagation", "private", "--",
                "/usr/bin/python3", str(OVERLAY_EXEC), str(self.stage), "--", *command]

    def run(self, command: Sequence[str], timeout: float = 120.0
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(command), capture_output=True, text=True,
                              timeout=timeout, check=False)
