"""Run a program with extra agents visible, for pcs and crmsh, without installing them.

Pacemaker 2.1 looks for OCF agents only in /usr/lib/ocf/resource.d and for fence agents only
in /usr/sbin (compiled in; no OCF_RA_PATH), and pcs and crmsh ask it for metadata. So this
helper, run under ``unshare --mount --propagation private``, lays a read-only overlay with
the agents over those two directories in its own mount namespace and execs the program.
The host's directories are never changed; the overlays vanish with the namespace.

usage: unshare --mount --propagation private -- python3 overlay.py OCF_LAYER SBIN_LAYER -- ARGV...
"""

from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    ocf_layer, sbin_layer, dashes, *command = argv
    if dashes != "--" or not command:
        sys.stderr.write(__doc__ or "")
        return 2
    for layer, target in ((ocf_layer, "/usr/lib/ocf/resource.d"), (sbin_layer, "/usr/sbin")):
        subprocess.run(["/usr/bin/mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={layer}:{target}", target], check=True, timeout=30)
    os.execv(command[0], command)  # noqa: S606 - argv list, no shell
    return 127  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
