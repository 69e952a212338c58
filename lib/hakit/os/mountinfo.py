"""``/proc/PID/mountinfo``: a pure parser, and the one reader of the file.

Format (proc(5)): ``ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE
SUPEROPTS``.  The kernel escapes space, tab, newline and backslash in paths as ``\\040``,
``\\011``, ``\\012`` and ``\\134`` (``show_mountinfo``/``mangle``); every path field is
unescaped here, so callers compare real paths.
"""

from __future__ import annotations

import os

from hakit.lean import frozen

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from collections.abc import Iterable

#: What the kernel's ``mangle()`` escapes in mountinfo paths.
_ESCAPED = " \t\n\\"
_OCTAL_DIGITS = "01234567"


def unescape(field: str) -> str:
    """Undo the kernel's octal escapes (``\\040`` -> space).

    Every backslash followed by three octal digits is one character; written without re,
    whose import costs more than a monitor's work (start-up cost: see BENCHMARKS.md).
    """
    if "\\" not in field:
        return field
    parts = field.split("\\")
    out = [parts[0]]
    for part in parts[1:]:
        code = part[:3]
        if len(code) == 3 and all(ch in _OCTAL_DIGITS for ch in code):
            out.append(chr(int(code, 8)) + part[3:])
        else:
            out.append("\\" + part)
    return "".join(out)


def escape(text: str) -> str:
    """Escape a path the way the kernel writes it into mountinfo (for tests and messages)."""
    return "".join(f"\\{ord(ch):03o}" if ch in _ESCAPED else ch for ch in text)


@frozen
class MountEntry:
    """One line of mountinfo."""

    mount_id: int
    parent_id: int
    major: int  # st_dev of files on this mount (the block device for ext4)
    minor: int
    root: str  # the path inside the filesystem that is mounted here ("/" unless a bind)
    mount_point: str
    mount_options: tuple[str, ...]  # per-mount: rw/ro, nosuid, relatime...
    optional: tuple[str, ...]  # shared:N, master:N, propagate_from:N, unbindable
    fstype: str
    source: str
    super_options: tuple[str, ...]  # per-superblock: rw/ro (ro after errors=remount-ro)

    @property
    def dev(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def read_only(self) -> bool:
        """Read-only either per mount or because the filesystem went read-only."""
        return "ro" in self.mount_options or "ro" in self.super_options


def parse_line(line: str) -> MountEntry:
    """Parse one mountinfo line; ValueError when it is not one."""
    fields = line.rstrip("\n").split(" ")
    try:
        sep = fields.index("-", 6)
    except ValueError:
        raise ValueError(f"no '-' separator in mountinfo line {line!r}") from None
    if len(fields) < sep + 3 or sep < 6:
        raise ValueError(f"too few fields in mountinfo line {line!r}")
    major, _, minor = fields[2].partition(":")
    try:
        return MountEntry(
            mount_id=int(fields[0]),
            parent_id=int(fields[1]),
            major=int(major),
            minor=int(minor),
            root=unescape(fields[3]),
            mount_point=unescape(fields[4]),
            mount_options=tuple(fields[5].split(",")),
            optional=tuple(fields[6:sep]),
            fstype=unescape(fields[sep + 1]),
            source=unescape(fields[sep + 2]),
            super_options=tuple(" ".join(fields[sep + 3:]).split(",")) if len(fields) > sep + 3
            else (),
        )
    except ValueError:
        raise ValueError(f"bad number in mountinfo line {line!r}") from None


def parse(text: str) -> list[MountEntry]:
    """Every entry of a mountinfo text, in the kernel's order (parents before children)."""
    return [parse_line(line) for line in text.splitlines() if line.strip()]


def parse_known(text: str) -> list[MountEntry]:
    """The well-formed entries of a mountinfo text, skipping any line that is not one.

    For readers that must never fail on what they cannot read (a probe, a teardown); the
    fs agent, which must understand every line, uses ``parse``.
    """
    entries = []
    for line in text.splitlines():
        try:
            entries.append(parse_line(line))
        except ValueError:
            continue
    return entries


def mounted_at(entries: Iterable[MountEntry], directory: str) -> list[MountEntry]:
    """The entries mounted on exactly ``directory``, bottom first (the last one is visible)."""
    return [e for e in entries if e.mount_point == directory]


def descendants(entries: list[MountEntry], mount_id: int) -> list[MountEntry]:
    """Mounts below ``mount_id`` by the parent chain (not by path), deepest last."""
    children: dict[int, list[MountEntry]] = {}
    for entry in entries:
        if entry.mount_id != entry.parent_id:
            children.setdefault(entry.parent_id, []).append(entry)
    found: list[MountEntry] = []
    todo = [mount_id]
    seen = {mount_id}
    while todo:
        for child in children.get(todo.pop(0), []):
            if child.mount_id not in seen:
                seen.add(child.mount_id)
                found.append(child)
                todo.append(child.mount_id)
    return found


def read(path: str = "/proc/self/mountinfo") -> list[MountEntry]:
    """The mount table of this process's mount namespace."""
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return parse(handle.read())


def mounts_in_any_namespace(dev: tuple[int, int],
                            proc: str = "/proc") -> list[tuple[int, str, str]]:
    """Where a filesystem on ``dev`` (major, minor) is mounted, in every mount namespace:
    (a PID in that namespace, its command name, the mount point there), one per namespace.

    A mount namespace made while the filesystem was mounted (``unshare --mount``, ``ip
    netns exec``, a daemon's private namespace) keeps its own copy of the mount, and a
    private copy is not unmounted by an umount here: the filesystem, with its unwritten
    data, lives on.  ``/proc/PID/root`` + the mount point reaches it from here.
    """
    found: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            namespace = os.readlink(f"{proc}/{pid}/ns/mnt")
            if namespace in seen:
                continue
            with open(f"{proc}/{pid}/mountinfo", encoding="utf-8",
                      errors="surrogateescape") as handle:
                entries = parse_known(handle.read())
            with open(f"{proc}/{pid}/comm", encoding="utf-8", errors="replace") as handle:
                comm = handle.read().strip()
        except OSError:
            continue
        seen.add(namespace)
        found += [(int(pid), comm, e.mount_point) for e in entries if e.dev == dev][:1]
    return found
