"""The service's RBD image checked from outside: ``e2fsck -n`` and the records it holds.

While the service runs, a snapshot is the crash-consistent state a power loss would leave
right now: it is exported to a file, its journal is replayed as a mount would (``e2fsck -p
-E journal_only``: the journal, then the orphan list), and ``e2fsck -fn`` must then find
nothing wrong.  After a clean stop the image itself is exported and must need no replay at
all.  The writer's records are read from the copy with ``debugfs`` (no mount needed).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from hakit.deadline import Deadline
from hakit.formats import ext4sb
from hakit.os.runner import Runner
from lab.ceph import CephCluster
from lab.writer import parse_numbers

EXPORT_TIMEOUT = 120.0
FSCK_TIMEOUT = 120.0

#: e2fsck's exit status (e2fsck(8)): 0 no errors, 1 errors corrected, 4 errors left.
FSCK_CLEAN = 0


@dataclass(frozen=True)
class ImageReport:
    """What a check of one copy of the image found."""

    needed_recovery: bool  # the journal had to be replayed (an unclean copy)
    replay_status: int  # e2fsck -p -E journal_only's exit status (-1: not run)
    status: int  # e2fsck -fn's exit status
    output: str  # e2fsck -fn's output
    records: tuple[int, ...]  # the writer's records in the copy, in file order

    @property
    def clean(self) -> bool:
        return self.status == FSCK_CLEAN


def needs_recovery(copy: Path) -> bool:
    """Whether the ext4 in ``copy`` has a journal to replay (its superblock says so)."""
    with open(copy, "rb") as f:
        f.seek(ext4sb.SUPERBLOCK_OFFSET)
        return ext4sb.parse_superblock(f.read(ext4sb.SUPERBLOCK_SIZE)).needs_recovery


def export_snapshot(ceph: CephCluster, spec: str, dest: Path) -> None:
    """Snapshot the live image, export the snapshot to ``dest``, remove the snapshot."""
    snap = f"{spec}@check-{secrets.token_hex(3)}"
    # --skip-quiesce: nothing in the lab registers quiesce hooks (rbd-nbd would); the
    # snapshot is then exactly what a power loss at this instant leaves.
    ceph.run(["rbd", "snap", "create", "--skip-quiesce", snap], timeout=EXPORT_TIMEOUT)
    try:
        ceph.run(["rbd", "export", "--no-progress", snap, str(dest)], timeout=EXPORT_TIMEOUT)
    finally:
        ceph.run(["rbd", "snap", "rm", "--no-progress", snap], timeout=EXPORT_TIMEOUT,
                 check=False)


def export_image(ceph: CephCluster, spec: str, dest: Path) -> None:
    """Export the image itself (for a stopped service)."""
    ceph.run(["rbd", "export", "--no-progress", spec, str(dest)], timeout=EXPORT_TIMEOUT)


def check_copy(runner: Runner, copy: Path, records_path: str, *,
               replay: bool) -> ImageReport:
    """Replay the journal (when ``replay``), then ``e2fsck -fn`` and read the records."""
    dl = Deadline(FSCK_TIMEOUT)
    needed = needs_recovery(copy)
    replayed = -1
    if replay:
        replayed = runner.run([runner.require("e2fsck"), "-p", "-E", "journal_only",
                               str(copy)], dl, check=False).returncode
    fsck = runner.run([runner.require("e2fsck"), "-f", "-n", str(copy)], dl, check=False)
    cat = runner.run([runner.require("debugfs"), "-R", f"cat {records_path}", str(copy)], dl,
                     check=False)
    return ImageReport(needed_recovery=needed, replay_status=replayed,
                       status=fsck.returncode, output=(fsck.stdout + fsck.stderr).strip(),
                       records=tuple(parse_numbers(cat.stdout)))
