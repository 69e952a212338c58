"""Run a command in a private mount namespace that sees only cgroup v1 or only cgroup v2.

Usage (as root, already inside ``unshare --mount --propagation private``):
``python3 cgroup_view.py v1|v2 ARGV...``.  The mounts change only in that namespace; the
host keeps its hybrid layout.  The agent itself never mounts anything: this is how the tests
show it working on hosts laid out differently from this one.
"""

from __future__ import annotations

import os
import subprocess
import sys

MOUNT = "/usr/bin/mount"
UMOUNT = "/usr/bin/umount"


def main(argv: list[str]) -> int:
    view, command = argv[1], argv[2:]
    if os.path.ismount("/sys/fs/cgroup/unified") or view == "v2":
        if view == "v2":
            subprocess.run([UMOUNT, "-R", "/sys/fs/cgroup"], check=True, timeout=30)
            subprocess.run([MOUNT, "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup"], check=True,
                           timeout=30)
        else:
            subprocess.run([UMOUNT, "/sys/fs/cgroup/unified"], check=True, timeout=30)
    return subprocess.run(command, check=False, timeout=120).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
