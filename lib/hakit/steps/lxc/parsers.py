"""Pure helpers of the lxc steps: rootfs paths, LXC log excerpts, /proc starttimes.

Nothing here touches the system; the steps and their tests feed these text.
"""

from __future__ import annotations

from hakit.formats import procstat

# re is imported only where a failed start's log is read (start-up cost: see
# docs/developing.md).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

#: Storage backends whose ``lxc.rootfs.path`` names a directory after ``type:``
#: (lxc.container.conf(5), "ROOT FILE SYSTEM").
_DIRECTORY_BACKENDS = ("dir", "btrfs", "zfs")
#: Backends whose source is a block device or image file after ``type:``.
_DEVICE_BACKENDS = ("lvm", "loop", "nbd", "rbd")
#: Backends whose source cannot be checked by looking at one path.
_LAYERED_BACKENDS = ("overlay", "overlayfs", "aufs")

#: One line of LXC's log:
#: "lxc-start NAME 20261123195432.837 ERROR    conf - ../src/lxc/conf.c:func:123 - text".
_LOG_LINE = (
    r"^\S+ \S+ [0-9.]+ (?P<level>[A-Z]+)\s+(?P<module>\S+) - "
    r"(?:(?P<source>\S+:\S+:[0-9]+) - )?(?P<text>.*)$")
_ERROR_LEVELS = frozenset({"ERROR", "CRIT", "ALERT", "FATAL"})
#: The lxc-start tool's own closing lines ("The container failed to start", "run in
#: foreground mode"...) say nothing about the cause.
_BOILERPLATE_MODULES = frozenset({"lxc_start"})


def rootfs_source(value: str) -> Optional[str]:
    """The path that must exist for ``lxc.rootfs.path = value``, or None if it cannot be told.

    ``dir:/x``, ``btrfs:/x`` and a bare ``/x`` name a directory; ``lvm:/dev/...``,
    ``loop:/file`` and a bare block device path name a device or image; layered backends
    (overlay) and relative or empty values are not checked here.
    """
    text = value.strip()
    if not text:
        return None
    if text.startswith("/"):
        return text
    kind, sep, rest = text.partition(":")
    if not sep:
        return None
    if kind in _DIRECTORY_BACKENDS or kind in _DEVICE_BACKENDS:
        return rest if rest.startswith("/") else None
    return None


def is_layered(value: str) -> bool:
    """Whether ``lxc.rootfs.path`` uses a backend this agent does not check (overlay...)."""
    return value.strip().partition(":")[0] in _LAYERED_BACKENDS


def log_errors(text: str) -> list[str]:
    """The first and the last error message in LXC log ``text`` (the cause and the outcome),
    without timestamps or source locations.

    Used to explain a failed start: ``lxc-start -d`` only says "failed to start" on stderr,
    the cause is in its log file.
    """
    import re

    pattern = re.compile(_LOG_LINE)
    found: list[str] = []
    for line in text.splitlines():
        match = pattern.match(line)
        if (match and match.group("level") in _ERROR_LEVELS
                and match.group("module") not in _BOILERPLATE_MODULES):
            message = match.group("text").strip()
            if message:
                found.append(message)
    if len(found) <= 1 or found[0] == found[-1]:
        return found[:1]
    return [found[0], found[-1]]


def excerpt(text: str, limit: int = 300) -> str:
    """``text`` on one line, whitespace squeezed, cut to ``limit`` characters from the end.

    The end of a failing command's output usually says why it failed.
    """
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return "..." + flat[-(limit - 3):]


def stat_starttime(stat: str) -> Optional[int]:
    """The start time from ``/proc/PID/stat`` text (``hakit.formats.procstat``), None when
    malformed."""
    try:
        return procstat.parse(stat)[1]
    except ValueError:
        return None
