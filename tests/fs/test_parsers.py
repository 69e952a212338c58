"""Pure parsers behind ocf:hakit:fs, tested with hypothesis and with real kernel output."""

from __future__ import annotations

import os
import struct
import uuid as uuidlib

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hakit.formats import ext4sb
from hakit.os import blockdev, holders, mountinfo, mounting
from tests.fs.conftest import mkfs
from tests.harness.loopdev import LoopPool

# --- mountinfo ------------------------------------------------------------------------------

paths = st.lists(st.text(st.characters(blacklist_categories=("Cs",),
                                       blacklist_characters="\0/"), min_size=1, max_size=12),
                 min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts))
words = st.text("abcdefghijklmnopqrstuvwxyz0123456789=_.", min_size=1, max_size=10)


@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")))
def test_escape_round_trips(text: str) -> None:
    escaped = mountinfo.escape(text)
    assert " " not in escaped and "\n" not in escaped and "\t" not in escaped
    assert mountinfo.unescape(escaped) == text


@given(mount_id=st.integers(1, 10**6), parent=st.integers(0, 10**6),
       major=st.integers(0, 4095), minor=st.integers(0, 2**20 - 1), root=paths,
       point=paths, opts=st.lists(words, min_size=1, max_size=4),
       optional=st.lists(st.sampled_from(["shared:1", "master:7", "unbindable",
                                          "propagate_from:3"]), max_size=3),
       fstype=words, source=paths, super_opts=st.lists(words, min_size=1, max_size=4))
def test_mountinfo_line_round_trips(*, mount_id: int, parent: int, major: int, minor: int,
                                    root: str, point: str, opts: list[str],
                                    optional: list[str], fstype: str, source: str,
                                    super_opts: list[str]) -> None:
    line = " ".join([str(mount_id), str(parent), f"{major}:{minor}", mountinfo.escape(root),
                     mountinfo.escape(point), ",".join(opts), *optional, "-",
                     mountinfo.escape(fstype), mountinfo.escape(source), ",".join(super_opts)])
    entry = mountinfo.parse_line(line)
    assert (entry.mount_id, entry.parent_id, entry.dev) == (mount_id, parent, (major, minor))
    assert (entry.root, entry.mount_point, entry.source) == (root, point, source)
    assert entry.mount_options == tuple(opts) and entry.super_options == tuple(super_opts)
    assert entry.optional == tuple(optional) and entry.fstype == fstype


@given(st.text(max_size=80))
def test_mountinfo_garbage_is_a_value_error(text: str) -> None:
    try:
        mountinfo.parse_line(text)
    except ValueError:
        pass


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\n\r"), max_size=60),
                max_size=5))
def test_parse_known_keeps_the_good_lines_and_skips_the_rest(junk: list[str]) -> None:
    good = "36 35 98:0 / /mnt/a\\040b rw - ext4 /dev/loop0 rw"
    entries = mountinfo.parse_known("\n".join([*junk, good, *junk]))
    assert mountinfo.parse_line(good) in entries
    for entry in entries:
        assert isinstance(entry, mountinfo.MountEntry)


def test_mountinfo_octal_escapes_and_read_only() -> None:
    text = ("36 35 98:0 /mnt1 /mnt/my\\040disk rw,noatime master:1 - ext4 /dev/root "
            "ro,errors=continue\n"
            "37 36 0:40 / /mnt/my\\040disk/sub\\134x rw shared:5 - tmpfs tmpfs rw\n")
    first, second = mountinfo.parse(text)
    assert first.mount_point == "/mnt/my disk" and first.read_only
    assert second.mount_point == "/mnt/my disk/sub\\x" and not second.read_only
    assert mountinfo.descendants([first, second], 36) == [second]
    assert mountinfo.mounted_at([first, second], "/mnt/my disk") == [first]


def test_mountinfo_of_this_process_parses() -> None:
    entries = mountinfo.read()
    assert any(e.mount_point == "/" for e in entries)


@given(st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), max_size=40,
                unique_by=lambda pair: pair[0]))
def test_descendants_follow_the_parent_chain(pairs: list[tuple[int, int]]) -> None:
    entries = [mountinfo.MountEntry(m, p, 0, 0, "/", f"/m{m}", ("rw",), (), "x", "x", ())
               for m, p in pairs]
    for entry in mountinfo.descendants(entries, 1):
        chain, seen = entry, set()
        while chain.parent_id != 1:  # every descendant reaches mount 1 through parents
            assert chain.mount_id not in seen
            seen.add(chain.mount_id)
            chain = next(e for e in entries if e.mount_id == chain.parent_id)


# --- ext4 superblock ------------------------------------------------------------------------

def make_superblock(*, state: int = 1, incompat: int = 0x2C2, ro_compat: int = 0x46B,
                    uuid: bytes = b"\x11" * 16, label: bytes = b"data", mmp_block: int = 0,
                    errors: int = 0, csum: bool = True) -> bytes:
    raw = bytearray(1024)
    struct.pack_into("<I", raw, 0x18, 2)  # 4 KiB blocks
    struct.pack_into("<HH", raw, 0x38, ext4sb.MAGIC, state)
    struct.pack_into("<III", raw, 0x5C, 0x3C, incompat,
                     ro_compat | (ext4sb.RO_COMPAT_METADATA_CSUM if csum else 0))
    raw[0x68:0x78] = uuid
    raw[0x78:0x88] = label.ljust(16, b"\0")[:16]
    struct.pack_into("<HQ", raw, 0x166, 5, mmp_block)
    struct.pack_into("<I", raw, 0x194, errors)
    if csum:
        struct.pack_into("<I", raw, 0x3FC, ext4sb.crc32c_raw(bytes(raw[:0x3FC])))
    return bytes(raw)


@given(state=st.integers(0, 0xFFFF), incompat=st.integers(0, 2**32 - 1),
       uuid=st.binary(min_size=16, max_size=16),
       label=st.text("abcxyz-_0123456789", max_size=16).map(str.encode),
       mmp_block=st.integers(0, 2**64 - 1), errors=st.integers(0, 2**32 - 1),
       csum=st.booleans())
def test_superblock_fields(*, state: int, incompat: int, uuid: bytes, label: bytes,
                           mmp_block: int, errors: int, csum: bool) -> None:
    sb = ext4sb.parse_superblock(make_superblock(
        state=state, incompat=incompat, ro_compat=0, uuid=uuid, label=label,
        mmp_block=mmp_block, errors=errors, csum=csum))
    assert sb.state == state and sb.feature_incompat == incompat
    assert sb.clean == (bool(state & 1) and not state & 2)
    assert sb.has_errors == bool(state & 2)
    assert sb.has_mmp == bool(incompat & 0x100)
    assert sb.uuid == str(uuidlib.UUID(bytes=uuid)) and sb.label == label.decode()
    assert sb.mmp_block == mmp_block and sb.error_count == errors
    assert sb.block_size == 4096 and sb.checksum_ok == (True if csum else None)


@given(st.integers(0, 1023), st.integers(1, 255))
def test_any_flipped_byte_is_detected_with_metadata_csum(offset: int, flip: int) -> None:
    raw = bytearray(make_superblock())
    raw[offset] ^= flip
    # Clearing the metadata_csum flag itself leaves nothing to verify against.
    assume(struct.unpack_from("<I", raw, 0x64)[0] & ext4sb.RO_COMPAT_METADATA_CSUM)
    with pytest.raises(ValueError):
        ext4sb.parse_superblock(bytes(raw))


@given(st.binary(max_size=1100))
def test_superblock_garbage_is_a_value_error(raw: bytes) -> None:
    try:
        ext4sb.parse_superblock(raw)
    except ValueError:
        pass


@given(seq=st.integers(0, 2**32 - 1), when=st.integers(0, 2**64 - 1),
       node=st.text("abc-1.", max_size=63), interval=st.integers(0, 65535))
def test_mmp_block(seq: int, when: int, node: str, interval: int) -> None:
    raw = bytearray(1024)
    struct.pack_into("<IIQ", raw, 0, ext4sb.MMP_MAGIC, seq, when)
    raw[0x10:0x10 + len(node)] = node.encode()
    raw[0x50:0x55] = b"rbd0\0"
    struct.pack_into("<H", raw, 0x70, interval)
    mmp = ext4sb.parse_mmp(bytes(raw))
    assert (mmp.seq, mmp.time, mmp.nodename, mmp.bdevname, mmp.check_interval) == \
        (seq, when, node, "rbd0", interval)
    assert mmp.clean == (seq == ext4sb.MMP_SEQ_CLEAN)
    assert mmp.in_use == (seq <= ext4sb.MMP_SEQ_MAX)
    with pytest.raises(ValueError):
        ext4sb.parse_mmp(b"\0" * 1024)
    seed = ext4sb.crc32c_raw(b"u" * 16)
    struct.pack_into("<I", raw, 0x3FC, ext4sb.crc32c_raw(bytes(raw[:0x3FC]), seed))
    assert ext4sb.parse_mmp(bytes(raw), seed) == mmp
    raw[0x20] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        ext4sb.parse_mmp(bytes(raw), seed)


def test_real_superblock_from_mkfs(loop_pool: LoopPool) -> None:
    device = loop_pool.create(size_mb=16)
    mkfs(device, "-L", "real-label", "-U", "01234567-89ab-cdef-0123-456789abcdef")
    sb = blockdev.read_superblock(device)
    assert (sb.label, sb.uuid, sb.fstype) == ("real-label", "01234567-89ab-cdef-0123-456789abcdef",
                                              "ext4")
    assert sb.clean and not sb.has_mmp and sb.checksum_ok


# --- mount options, device specs, maps, blkid -------------------------------------------------

@given(st.lists(st.sampled_from(sorted(mounting.FLAG_OPTIONS)), max_size=8),
       st.lists(st.sampled_from(["errors=remount-ro", "data=ordered", "commit=5",
                                 "barrier", "discard", "x-systemd.foo", "defaults",
                                 "_netdev"]), max_size=5))
def test_options_split_into_flags_and_data(flags: list[str], data: list[str]) -> None:
    parsed = mounting.parse_options(",".join(flags + data))
    expect = 0
    for name in flags:
        bit, on = mounting.FLAG_OPTIONS[name]
        expect = expect | bit if on else expect & ~bit
    assert parsed.flags == expect
    kept = [d for d in data if d not in mounting.USERSPACE_OPTIONS and not d.startswith("x-")]
    assert parsed.data == ",".join(kept)


@given(st.text(max_size=40))
def test_options_never_crash(text: str) -> None:
    try:
        parsed = mounting.parse_options(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert "," not in parsed.data or all(parsed.data.split(","))


def test_refused_options() -> None:
    for text in ("remount", "bind", "rw,move", "loop=/dev/loop0"):
        with pytest.raises(ValueError):
            mounting.parse_options(text)


@given(st.sampled_from(["UUID", "LABEL"]),
       st.text(st.characters(blacklist_characters="/\0\n", blacklist_categories=("Cs",)),
               min_size=1, max_size=20))
def test_device_spec(kind: str, value: str) -> None:
    spec = blockdev.parse_spec(f"{kind}={value}")
    assert spec.kind == kind
    assert spec.value == (value.lower() if kind == "UUID" else value)


def test_device_spec_rejects() -> None:
    for text in ("", "sda", "UUID=", "LABEL=a/b", "dev/sda"):
        with pytest.raises(ValueError):
            blockdev.parse_spec(text)
    assert blockdev.parse_spec("/dev/hakit/pool/img") == blockdev.DeviceSpec(
        "path", "/dev/hakit/pool/img")


@given(st.lists(st.tuples(st.integers(0, 2**47), st.integers(1, 2**20), st.integers(0, 255),
                          st.integers(0, 255), st.integers(0, 2**40)), max_size=10))
def test_maps(rows: list[tuple[int, int, int, int, int]]) -> None:
    text = "".join(f"{s:012x}-{s + n:012x} r-xp 00000000 {ma:02x}:{mi:02x} {ino}    /x y\n"
                   for s, n, ma, mi, ino in rows)
    got = holders.parse_maps(text + "7ffd0000-7ffd1000 rw-p 00000000 00:00 0  [stack]\n")
    want = [(s, s + n, os.makedev(ma, mi), ino) for s, n, ma, mi, ino in rows if ino]
    assert [(m.start, m.end, m.dev, m.inode) for m in got] == want


def test_maps_of_this_process() -> None:
    with open("/proc/self/maps", encoding="ascii") as handle:
        assert holders.parse_maps(handle.read())


@given(st.lists(st.dictionaries(st.sampled_from(["DEVNAME", "UUID", "TYPE", "LABEL"]),
                                st.text("abc0123-/", min_size=1, max_size=10), min_size=1),
                max_size=4))
def test_blkid_export(blocks: list[dict[str, str]]) -> None:
    text = "\n".join("".join(f"{k}={v}\n" for k, v in b.items()) for b in blocks)
    assert blockdev.parse_blkid_export(text) == blocks
