"""A copy-on-write copy of this machine's root filesystem to install packages into.

``ThrowawayRoot`` starts a holder process in a private mount namespace that mounts a tmpfs,
lays an overlay over ``/`` (the host's root as the read-only lower layer, the tmpfs as the
upper one), gives it /proc, /dev, /sys and fresh /run and /tmp, and waits.  ``run`` executes a
command chrooted into that overlay, so ``apt-get install ./hakit.deb`` there runs the real
dpkg against a copy of the host's package database, with the host's Debian packages as the
dependencies: the host's files and database are never written.  ``upper`` reads what the
root now differs in (what an install added, what a removal left), through
/proc/HOLDER/root.  Closing the holder's stdin ends it, and with it every mount.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

#: The holder: mounts everything, says "ready", then waits for its stdin to close.
_HOLDER = r"""
import subprocess, sys
base = sys.argv[1]
def sh(*argv):
    subprocess.run(argv, check=True, timeout=30)
sh("mount", "-t", "tmpfs", "-o", "mode=0755", "throwaway-root", base)
for d in ("upper", "work", "merged"):
    sh("mkdir", f"{base}/{d}")
root = f"{base}/merged"
sh("mount", "-t", "overlay", "overlay", "-o",
   f"lowerdir=/,upperdir={base}/upper,workdir={base}/work", root)
sh("mount", "-t", "proc", "proc", f"{root}/proc")
sh("mount", "--rbind", "/dev", f"{root}/dev")
sh("mount", "--rbind", "/sys", f"{root}/sys")
sh("mount", "-t", "tmpfs", "-o", "mode=0755", "run", f"{root}/run")
sh("mount", "-t", "tmpfs", "-o", "mode=1777", "tmp", f"{root}/tmp")
sh("mkdir", "-p", f"{root}/run/lock")
print("ready", flush=True)
sys.stdin.read()
"""

#: What package management itself writes while installing and removing (its database,
#: caches, logs); anything else left in the upper layer after a removal is a leftover.
BOOKKEEPING = ("var/lib/dpkg/", "var/lib/apt/", "var/cache/", "var/log/", "var/lib/ucf/",
               "tmp/", "run/", "root/", "etc/ld.so.cache")


class ThrowawayRoot:
    """The overlay root; use as a context manager (the holder ends on exit)."""

    def __init__(self, base: Path) -> None:
        """``base``: an empty directory on the host, the holder's mount point."""
        base.mkdir(parents=True, exist_ok=True)
        self._base = base
        self._holder: Optional[subprocess.Popen[str]] = None

    def __enter__(self) -> ThrowawayRoot:
        self._holder = subprocess.Popen(
            ["/usr/bin/unshare", "--mount", "--propagation", "private", "--",
             "/usr/bin/python3", "-c", _HOLDER, str(self._base)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._holder.stdout is not None
        line = self._holder.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"throwaway root did not come up (holder said {line!r})")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the holder (its mounts vanish with its namespace)."""
        holder, self._holder = self._holder, None
        if holder is None:
            return
        assert holder.stdin is not None
        holder.stdin.close()
        try:
            holder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait(timeout=10)

    @property
    def pid(self) -> int:
        assert self._holder is not None, "not entered"
        return self._holder.pid

    def _inside(self, relative: str) -> Path:
        """A path of the holder's namespace, seen from the host."""
        return Path(f"/proc/{self.pid}/root") / str(self._base).lstrip("/") / relative

    @property
    def merged(self) -> Path:
        """The root as commands see it (readable and writable from the host)."""
        return self._inside("merged")

    @property
    def upper(self) -> Path:
        """The overlay's upper layer: everything that differs from the host's root."""
        return self._inside("upper")

    def argv(self, command: Sequence[str], env: Optional[Mapping[str, str]] = None
             ) -> list[str]:
        """``command`` run chrooted into the root, with a clean environment."""
        environ = {"PATH": SYSTEM_PATH, "LC_ALL": "C", "HOME": "/root",
                   "DEBIAN_FRONTEND": "noninteractive", **(env or {})}
        return ["/usr/bin/nsenter", "-t", str(self.pid), "-m", "--",
                "/usr/sbin/chroot", str(self._base / "merged"),
                "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in environ.items()), *command]

    def run(self, command: Sequence[str], *, env: Optional[Mapping[str, str]] = None,
            timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(self.argv(command, env), capture_output=True, text=True,
                             timeout=timeout, check=False)
        if check and out.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {out.returncode}:\n"
                                 f"{out.stdout}\n{out.stderr}")
        return out

    def leftovers(self) -> list[str]:
        """What the root gained or lost compared with the host, bookkeeping aside: files,
        links, whiteouts (deleted host files) and directories the host does not have."""
        found = []
        for dirpath, dirnames, filenames in os.walk(self.upper):
            rel_dir = os.path.relpath(dirpath, self.upper)
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            for name in dirnames + filenames:
                rel = rel_dir + name
                if rel.startswith(BOOKKEEPING) or rel + "/" in BOOKKEEPING:
                    continue
                path = Path(dirpath) / name
                if path.is_dir() and not path.is_symlink():
                    if not os.path.isdir("/" + rel):
                        found.append(f"new directory /{rel}")
                else:
                    found.append(f"/{rel}")
        return sorted(found)


