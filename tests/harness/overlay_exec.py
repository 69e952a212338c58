"""Run a command with directories overlaid, inside the caller's (private) mount namespace.

Usage: unshare --mount --propagation private -- /usr/bin/python3 overlay_exec.py
       TARGET=UPPER:WORK [...] -- COMMAND [ARGS...]

Only ever run under ``unshare --mount``: the overlays vanish with the namespace, so the
host's /usr/lib/ocf or /usr/sbin are never changed.
"""

from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    split = argv.index("--")
    for spec in argv[1:split]:
        target, dirs = spec.split("=", 1)
        upper, work = dirs.split(":", 1)
        subprocess.run(["/usr/bin/mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={target},upperdir={upper},workdir={work}", target],
                       check=True, timeout=30)
    command = argv[split + 1:]
    os.execv(command[0], command)  # noqa: S606 - exec, deliberately without a shell
    return 127  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv))
