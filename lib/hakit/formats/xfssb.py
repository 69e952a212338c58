"""The XFS superblock, decoded from raw bytes (pure; no I/O).

Layout of ``struct xfs_dsb`` (fs/xfs/libxfs/xfs_format.h): big-endian, at byte 0 of the
device; hakit needs only what identifies the filesystem (magic, UUID, label).  XFS has no
"cleanly unmounted" or "errors seen" flag like ext4's: it replays its log at mount, and an
error shuts the filesystem down (I/O then fails with EIO), so these are not read here.
"""

from __future__ import annotations

import struct

from hakit.formats.ext4sb import uuid_text
from hakit.lean import frozen

SUPERBLOCK_SIZE = 512
MAGIC = b"XFSB"


@frozen
class XfsSuperblock:
    """What hakit needs from an XFS superblock."""

    block_size: int  # sb_blocksize
    uuid: str  # sb_uuid, canonical lower-case form (blkid, /dev/disk/by-uuid)
    label: str  # sb_fname

    @property
    def fstype(self) -> str:
        return "xfs"


def parse(raw: bytes) -> XfsSuperblock:
    """Decode the first 512 bytes; ValueError when they are not an XFS superblock."""
    if len(raw) < SUPERBLOCK_SIZE:
        raise ValueError(f"superblock is {len(raw)} bytes, expected {SUPERBLOCK_SIZE}")
    if raw[:4] != MAGIC:
        raise ValueError(f"bad XFS magic {raw[:4]!r}")
    (block_size,) = struct.unpack_from(">I", raw, 4)
    if block_size < 512 or block_size > 65536 or block_size & (block_size - 1):
        raise ValueError(f"bad XFS block size {block_size}")
    return XfsSuperblock(block_size=block_size, uuid=uuid_text(raw[32:48]),
                         label=raw[108:120].split(b"\0", 1)[0].decode("utf-8", "replace"))
