"""Run a command with a staged hakit install overlaid, inside a private mount namespace.

Usage: unshare --mount --propagation private -- /usr/bin/python3 overlay_exec.py
       STAGE -- COMMAND [ARGS...]

The overlays are ``lab.install``'s (read-only, the staged files over the host's), the
same the lab's nodes get. Only ever run under ``unshare --mount``: they vanish with the
namespace, so the host's /usr/lib/ocf or /usr/sbin are never changed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# The checkout's library and its lab package (which is never installed).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))

from hakit.os.runner import SYSTEM_PATH
from lab.install import overlay_mounts


def main(argv: list[str]) -> int:
    split = argv.index("--")
    for mount in overlay_mounts(Path(argv[1])):
        program = shutil.which(mount[0], path=SYSTEM_PATH) or mount[0]
        subprocess.run([program, *mount[1:]], check=True, timeout=30)
    command = argv[split + 1:]
    os.execv(command[0], command)  # noqa: S606 - exec, deliberately without a shell
    return 127  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv))
