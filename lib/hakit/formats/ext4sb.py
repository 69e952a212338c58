"""The ext2/3/4 superblock and MMP block, decoded from raw bytes (pure; no I/O).

Layouts follow the kernel's ``struct ext4_super_block`` and ``struct mmp_struct``
(fs/ext4/ext4.h); the superblock is the 1024 bytes at byte offset 1024 of the device.
"""

from __future__ import annotations

import struct

from hakit.lean import frozen

TYPE_CHECKING = False  # typing's, without importing typing (start-up cost: BENCHMARKS.md)
if TYPE_CHECKING:
    from typing import Optional

SUPERBLOCK_OFFSET = 1024
SUPERBLOCK_SIZE = 1024
MAGIC = 0xEF53

STATE_VALID = 0x0001  # cleanly unmounted (EXT4_VALID_FS)
STATE_ERROR = 0x0002  # errors detected (EXT4_ERROR_FS)
STATE_ORPHAN = 0x0004  # orphans being recovered

COMPAT_HAS_JOURNAL = 0x0004
INCOMPAT_RECOVER = 0x0004  # the journal needs replaying
INCOMPAT_JOURNAL_DEV = 0x0008
INCOMPAT_EXTENTS = 0x0040
INCOMPAT_MMP = 0x0100
INCOMPAT_CSUM_SEED = 0x2000  # the checksum seed is stored, not derived from the UUID
RO_COMPAT_METADATA_CSUM = 0x0400

MMP_MAGIC = 0x004D4D50
MMP_SEQ_CLEAN = 0xFF4D4D50  # unmounted cleanly
MMP_SEQ_FSCK = 0xE24D4D50  # e2fsck is running
MMP_SEQ_MAX = 0xE24D4D4F  # a mounted node's sequence is at most this


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return tuple(table)


def crc32c_raw(data: bytes, crc: int = 0xFFFFFFFF) -> int:
    """CRC32C without the final inversion, as ext4's ``ext4_chksum`` computes it."""
    table = _crc32c_table()
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


def uuid_text(raw: bytes) -> str:
    """The canonical 8-4-4-4-12 form (the uuid module is not imported: monitor cost)."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _cstring(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


@frozen
class Superblock:
    """What hakit needs from an ext2/3/4 superblock."""

    state: int  # s_state: STATE_* bits
    error_count: int  # s_error_count: errors recorded since the last e2fsck
    log_block_size: int
    feature_compat: int
    feature_incompat: int
    feature_ro_compat: int
    uuid: str  # canonical lower-case form, as blkid and /dev/disk/by-uuid show it
    label: str  # s_volume_name
    last_mounted: str  # s_last_mounted: the directory it was last mounted on
    mmp_interval: int  # s_mmp_update_interval, seconds
    mmp_block: int  # s_mmp_block: where the MMP block is (in blocks)
    checksum_ok: Optional[bool]  # None when the superblock carries no checksum
    checksum_seed: Optional[int]  # seed of metadata checksums (MMP block...); None without

    @property
    def block_size(self) -> int:
        return 1024 << self.log_block_size

    @property
    def clean(self) -> bool:
        """Cleanly unmounted (or mounted from clean) with no errors recorded."""
        return bool(self.state & STATE_VALID) and not self.state & STATE_ERROR

    @property
    def has_errors(self) -> bool:
        return bool(self.state & STATE_ERROR)

    @property
    def has_mmp(self) -> bool:
        return bool(self.feature_incompat & INCOMPAT_MMP)

    @property
    def needs_recovery(self) -> bool:
        return bool(self.feature_incompat & INCOMPAT_RECOVER)

    @property
    def fstype(self) -> str:
        """The type blkid would name: ext4 with extents, ext3 with a journal, else ext2."""
        if self.feature_incompat & (INCOMPAT_EXTENTS | 0x0080 | 0x0200) or \
                self.feature_ro_compat & (RO_COMPAT_METADATA_CSUM | 0x0008 | 0x0020):
            return "ext4"
        return "ext3" if self.feature_compat & COMPAT_HAS_JOURNAL else "ext2"


def parse_superblock(raw: bytes) -> Superblock:
    """Decode the 1024-byte superblock; ValueError when it is not an intact ext superblock."""
    if len(raw) < SUPERBLOCK_SIZE:
        raise ValueError(f"superblock is {len(raw)} bytes, expected {SUPERBLOCK_SIZE}")
    raw = raw[:SUPERBLOCK_SIZE]
    (magic,) = struct.unpack_from("<H", raw, 0x38)
    if magic != MAGIC:
        raise ValueError(f"bad superblock magic 0x{magic:04x} (ext2/3/4 has 0x{MAGIC:04x})")
    (log_block_size,) = struct.unpack_from("<I", raw, 0x18)
    if log_block_size > 6:  # blocks are 1 KiB to 64 KiB
        raise ValueError(f"bad superblock block size exponent {log_block_size}")
    (state, ) = struct.unpack_from("<H", raw, 0x3A)
    compat, incompat, ro_compat = struct.unpack_from("<III", raw, 0x5C)
    (mmp_interval,) = struct.unpack_from("<H", raw, 0x166)
    (mmp_block,) = struct.unpack_from("<Q", raw, 0x168)
    (error_count,) = struct.unpack_from("<I", raw, 0x194)
    checksum_ok: Optional[bool] = None
    seed: Optional[int] = None
    if ro_compat & RO_COMPAT_METADATA_CSUM:
        seed = (struct.unpack_from("<I", raw, 0x270)[0] if incompat & INCOMPAT_CSUM_SEED
                else crc32c_raw(raw[0x68:0x78]))
        (stored,) = struct.unpack_from("<I", raw, 0x3FC)
        checksum_ok = crc32c_raw(raw[:0x3FC]) == stored
        if not checksum_ok:
            raise ValueError("superblock checksum does not match (metadata_csum)")
    return Superblock(
        state=state,
        error_count=error_count,
        log_block_size=log_block_size,
        feature_compat=compat,
        feature_incompat=incompat,
        feature_ro_compat=ro_compat,
        uuid=uuid_text(raw[0x68:0x78]),
        label=_cstring(raw[0x78:0x88]),
        last_mounted=_cstring(raw[0x88:0xC8]),
        mmp_interval=mmp_interval,
        mmp_block=mmp_block,
        checksum_ok=checksum_ok,
        checksum_seed=seed,
    )


@frozen
class MmpBlock:
    """The multi-mount protection block a mounting node keeps updating."""

    seq: int
    time: int  # seconds since the epoch of the last update
    nodename: str  # uname -n of the node that wrote it
    bdevname: str  # the device name on that node
    check_interval: int  # seconds

    @property
    def clean(self) -> bool:
        return self.seq == MMP_SEQ_CLEAN

    @property
    def fsck_running(self) -> bool:
        return self.seq == MMP_SEQ_FSCK

    @property
    def in_use(self) -> bool:
        """A node has it mounted (or crashed with it mounted): a live sequence number."""
        return self.seq <= MMP_SEQ_MAX


def parse_mmp(raw: bytes, checksum_seed: Optional[int] = None) -> MmpBlock:
    """Decode an MMP block; ValueError when the magic (or, given the superblock's
    ``checksum_seed``, the checksum) is wrong."""
    if len(raw) < 1024:
        raise ValueError(f"MMP block is {len(raw)} bytes, too short")
    magic, seq, when = struct.unpack_from("<IIQ", raw, 0)
    if magic != MMP_MAGIC:
        raise ValueError(f"bad MMP magic 0x{magic:08x}")
    if checksum_seed is not None and \
            crc32c_raw(raw[:0x3FC], checksum_seed) != struct.unpack_from("<I", raw, 0x3FC)[0]:
        raise ValueError("MMP block checksum does not match (metadata_csum)")
    (interval,) = struct.unpack_from("<H", raw, 0x70)
    return MmpBlock(seq=seq, time=when, nodename=_cstring(raw[0x10:0x50]),
                    bdevname=_cstring(raw[0x50:0x70]), check_interval=interval)
