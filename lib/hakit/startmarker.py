"""Start markers: how the LXC agent tells "stopped by the cluster" from "died on its own".

liblxc reports STOPPED either way.  The agent writes a marker in a runtime directory before
it starts a container and removes it only after its own stop succeeded, so a STOPPED
container with a marker failed (OCF rc 1, Pacemaker recovers it) and one without a marker is
cleanly stopped (rc 7).  The directory is on /run, a tmpfs: a rebooted node has no markers,
matching Pacemaker's view that nothing runs there.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Optional
from urllib.parse import quote

#: Where markers live; /run is emptied at boot (FHS 3.0, 3.15).
RUNTIME_DIR = "/run/hakit/lxc"


def marker_name(lxcpath: str, name: str) -> str:
    """One file name per container, from its lxcpath and name (two resources can only
    collide if they manage the same container, which ``unique-group`` forbids)."""
    return quote(f"{lxcpath.rstrip('/')}/{name}", safe="") + ".started"


class StartMarker:
    """The marker of one container."""

    def __init__(self, lxcpath: str, name: str, directory: str = RUNTIME_DIR) -> None:
        self.directory = directory
        self.path = os.path.join(directory, marker_name(lxcpath, name))

    def write(self, init_pid: Optional[int] = None) -> None:
        """Record that the cluster started (or is starting) the container; atomic."""
        os.makedirs(self.directory, mode=0o755, exist_ok=True)
        record = {"since": int(time.time()), "init_pid": init_pid}
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(tmp, self.path)

    def read(self) -> Optional[dict[str, object]]:
        """The record, or None when there is no marker (an unreadable one still counts)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        try:
            record = json.loads(text)
        except ValueError:
            return {}
        return record if isinstance(record, dict) else {}

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
