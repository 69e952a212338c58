"""Start markers: how the LXC agent tells "stopped by the cluster" from "died on its own".

liblxc reports STOPPED either way.  The agent writes a marker in a runtime directory before
it starts a container and removes it only after its own stop succeeded, so a STOPPED
container with a marker failed (OCF rc 1, Pacemaker recovers it) and one without a marker is
cleanly stopped (rc 7).  The directory is on /run, a tmpfs: a rebooted node has no markers,
matching Pacemaker's view that nothing runs there.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

#: Where markers live; /run is emptied at boot (FHS 3.0, 3.15).
RUNTIME_DIR = "/run/hakit/lxc"
#: The longest file name Linux filesystems take (limits.h).
NAME_MAX = 255


def marker_name(lxcpath: str, name: str) -> str:
    """One file name per container, from its lxcpath and name (two resources can only
    collide if they manage the same container, which ``unique-group`` forbids)."""
    path = f"{lxcpath.rstrip('/')}/{name}"
    readable = path.replace("%", "%25").replace("/", "%2F") + ".started"
    if len(readable.encode("utf-8", "surrogateescape")) <= NAME_MAX:
        return readable
    # Too long for one file name (a long lxcpath or container name): a digest of the
    # path, still one name per container, rather than a start that cannot leave a marker.
    import hashlib  # only for such long paths

    digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()
    return f"sha256-{digest}.started"


def parse_record(text: str) -> dict[str, int]:
    """``key=integer`` lines of a marker; anything else is skipped."""
    record: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and value.strip().isascii() and value.strip().isdigit():
            record[key.strip()] = int(value.strip())
    return record


class StartMarker:
    """The marker of one container."""

    def __init__(self, lxcpath: str, name: str, directory: str = RUNTIME_DIR) -> None:
        self.directory = directory
        self.path = os.path.join(directory, marker_name(lxcpath, name))

    def write(self, **values: Optional[int]) -> None:
        """Record that the cluster started (or is starting) the container; atomic.

        ``values`` are kept as ``key=integer`` lines (None values are left out): the
        container's init PID and starttime, which identify it even when LXC no longer
        knows about it, and the halt signal, for a stop that cannot read the config.
        """
        os.makedirs(self.directory, mode=0o755, exist_ok=True)
        lines = [f"since={int(time.time())}"]
        lines.extend(f"{key}={value}" for key, value in values.items() if value is not None)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(tmp, self.path)

    def update(self, **values: Optional[int]) -> bool:
        """Change some values of an existing marker, keeping the others (``since`` too);
        None removes a value.  False when there is no marker (nothing started)."""
        record = self.read()
        if record is None:
            return False
        record.update({k: v for k, v in values.items() if v is not None})
        for key in [k for k, v in values.items() if v is None]:
            record.pop(key, None)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("".join(f"{key}={value}\n" for key, value in record.items()))
        os.replace(tmp, self.path)
        return True

    def read(self) -> Optional[dict[str, int]]:
        """The record, or None when there is no marker (a damaged one still counts)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        return parse_record(text)

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass  # already gone: nothing to remove
