"""ocf:hakit:fs behaviour on real ext4 loop devices: depths, busy unmount, fsck, MMP, data."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from hakit.formats import ext4sb
from hakit.os import blockdev, holders, mountinfo
from tests.fs.conftest import FS_AGENT, Ext4
from tests.harness.ocf import Result, agent_env, run_agent

PY = "/usr/bin/python3"


def agent(action: str, params: dict[str, str], level: int = 0, interval_ms: int = 20000,
          timeout_ms: int = 20000) -> Result:
    return run_agent(FS_AGENT, action, params, interval_ms=interval_ms, timeout_ms=timeout_ms,
                     extra_env={"OCF_CHECK_LEVEL": str(level)})


def mounted(directory: str) -> list[mountinfo.MountEntry]:
    return mountinfo.mounted_at(mountinfo.read(), directory)


def started(ext4: Ext4, **extra: str) -> dict[str, str]:
    params = {"device": ext4.device(), "directory": ext4.directory(), **extra}
    result = agent("start", params)
    assert result.rc == 0, result.stderr
    return params


def debugfs(device: str, request: str) -> None:
    subprocess.run(["/usr/sbin/debugfs", "-w", "-R", request, device], check=True,
                   capture_output=True, timeout=30)


def test_monitor_depths(ext4: Ext4) -> None:
    params = started(ext4)
    status = Path(params["directory"]) / ".hakit-fs-status"
    for level in (0, 10, 20):
        result = agent("monitor", params, level)
        assert result.rc == 0, (level, result.stderr)
    assert status.read_text().startswith("test ")
    assert agent("stop", params).rc == 0
    for level in (0, 10, 20):
        assert agent("monitor", params, level).rc == 7


def test_metadata_advertises_depths() -> None:
    text = run_agent(FS_AGENT, "meta-data", {}).stdout
    for depth in ("0", "10", "20"):
        assert f'depth="{depth}"' in text or depth == "0"
    assert 'depth="10"' in text and 'depth="20"' in text


def test_read_only_mount(ext4: Ext4) -> None:
    params = started(ext4, options="ro,noatime")
    assert mounted(params["directory"])[-1].read_only
    assert agent("monitor", params, 20).rc == 0  # no write on a read-only mount
    assert not (Path(params["directory"]) / ".hakit-fs-status").exists()


def test_monitor_fails_when_remounted_read_only(ext4: Ext4) -> None:
    params = started(ext4)
    subprocess.run(["/usr/bin/mount", "-o", "remount,ro", params["directory"]], check=True,
                   timeout=30)
    result = agent("monitor", params)
    assert result.rc == 1
    assert "read-only" in result.reason


def test_monitor_fails_when_another_device_is_mounted(ext4: Ext4) -> None:
    params = {"device": ext4.device(), "directory": ext4.directory()}
    other = ext4.device()
    subprocess.run(["/usr/bin/mount", other, params["directory"]], check=True, timeout=30)
    result = agent("monitor", params)
    assert result.rc == 1 and other in result.reason
    start = agent("start", params)
    assert start.rc == 1 and "already has" in start.reason
    assert agent("stop", params).rc == 0  # not ours: left alone
    assert mounted(params["directory"])


def test_symlinked_device_and_uuid(ext4: Ext4, tmp_path: Path) -> None:
    device = ext4.device("-L", "hakit-data")
    link = tmp_path / "dev" / "hakit" / "pool" / "image"
    link.parent.mkdir(parents=True)
    link.symlink_to(device)
    uuid = blockdev.read_superblock(device).uuid
    directory = ext4.directory()
    for spec in (str(link), f"UUID={uuid}", "LABEL=hakit-data"):
        params = {"device": spec, "directory": directory}
        # Without udev's /dev/disk/by-uuid the agent asks blkid, which probes every block
        # device of the host: with other runs' loop devices on a busy machine that took
        # more than the 7.9 s a 20 s start leaves it; give it Filesystem's 60 s.
        assert agent("start", params, timeout_ms=60000).rc == 0, spec
        assert agent("start", params, timeout_ms=60000).rc == 0, spec
        assert agent("monitor", params, 10).rc == 0, spec
        assert mounted(directory)[-1].dev == (os.major(os.stat(device).st_rdev),
                                             os.minor(os.stat(device).st_rdev))
        assert agent("stop", params).rc == 0, spec
        assert not mounted(directory)


def test_missing_device_waits_then_fails(ext4: Ext4, tmp_path: Path) -> None:
    params = {"device": str(tmp_path / "no-such-device"), "directory": ext4.directory(),
              "device_wait": "1s"}
    result = agent("start", params)
    assert result.rc == 2 and "did not appear" in result.reason


def test_create_directory(ext4: Ext4, tmp_path: Path) -> None:
    params = {"device": ext4.device(), "directory": str(tmp_path / "new" / "mnt")}
    assert agent("start", params).rc == 2
    params["create_directory"] = "true"
    assert agent("start", params).rc == 0
    assert agent("stop", params).rc == 0


def test_stop_unmounts_submounts_first(ext4: Ext4) -> None:
    params = started(ext4)
    sub = Path(params["directory"]) / "sub"
    sub.mkdir()
    subprocess.run(["/usr/bin/mount", "-t", "tmpfs", "tmpfs", str(sub)], check=True,
                   timeout=30)
    (sub / "deeper").mkdir()
    subprocess.run(["/usr/bin/mount", "-t", "tmpfs", "tmpfs", str(sub / "deeper")],
                   check=True, timeout=30)
    result = agent("stop", params)
    assert result.rc == 0, result.stderr
    assert not [e for e in mountinfo.read() if e.mount_point.startswith(params["directory"])]


HOLD_CWD = "import time; print('ready', flush=True); time.sleep(600)"
HOLD_OPEN = textwrap.dedent("""
    import sys, time
    handle = open(sys.argv[1], 'a')
    print('ready', flush=True)
    time.sleep(600)
""")
HOLD_MMAP_IGNORING_TERM = textwrap.dedent("""
    import mmap, os, signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    fd = os.open(sys.argv[1], os.O_RDWR)
    area = mmap.mmap(fd, 4096)
    os.close(fd)  # only the mapping holds the file now
    print('ready', flush=True)
    time.sleep(600)
""")


def test_busy_stop_kills_only_real_holders(ext4: Ext4, tmp_path: Path) -> None:
    params = started(ext4, signal_delay="0.5s")
    directory = Path(params["directory"])
    (directory / "work").mkdir()
    (directory / "open.txt").write_text("x")
    (directory / "mapped.bin").write_bytes(b"\0" * 4096)
    # A decoy on ANOTHER ext4 mount whose path starts with ours: a path-prefix match
    # would catch it.
    decoy_dir = ext4.directory(directory.name + "-decoy")
    subprocess.run(["/usr/bin/mount", ext4.device(), decoy_dir], check=True, timeout=30)
    Path(decoy_dir, "held.txt").write_text("y")

    cwd_holder = ext4.spawn([PY, "-c", HOLD_CWD], cwd=str(directory / "work"))
    open_holder = ext4.spawn([PY, "-c", HOLD_OPEN, str(directory / "open.txt")])
    mmap_holder = ext4.spawn([PY, "-c", HOLD_MMAP_IGNORING_TERM,
                              str(directory / "mapped.bin")])
    decoy = ext4.spawn([PY, "-c", HOLD_OPEN, str(Path(decoy_dir, "held.txt"))],
                       cwd=decoy_dir)
    busy = subprocess.run(["/usr/bin/umount", str(directory)], capture_output=True,
                          timeout=30, check=False)
    assert busy.returncode != 0  # it really is busy

    result = agent("stop", params)
    assert result.rc == 0, result.stderr
    assert not mounted(str(directory))
    for holder in (cwd_holder, open_holder, mmap_holder):
        assert holder.wait(timeout=10) in (-15, -9)
    assert mmap_holder.returncode == -9  # it ignored TERM, so KILL followed
    assert decoy.poll() is None  # untouched
    assert str(decoy.pid) not in result.stderr
    assert mounted(decoy_dir)


def test_busy_stop_without_force_fails_and_signals_nobody(ext4: Ext4) -> None:
    params = started(ext4, force_unmount="false")
    holder = ext4.spawn([PY, "-c", HOLD_CWD], cwd=params["directory"])
    result = agent("stop", params, timeout_ms=3000)
    assert result.rc == 1 and "busy" in result.reason
    assert holder.poll() is None
    assert mounted(params["directory"])


def test_dirty_filesystem_is_checked_on_start(ext4: Ext4) -> None:
    device = ext4.device()
    debugfs(device, "ssv state 0")  # as after an unclean unmount
    assert not blockdev.read_superblock(device).clean
    params = {"device": device, "directory": ext4.directory()}
    result = agent("start", params)
    assert result.rc == 0, result.stderr
    assert "e2fsck -p" in result.stderr
    assert agent("stop", params).rc == 0
    assert blockdev.read_superblock(device).clean


def test_filesystem_with_errors_is_checked_on_start(ext4: Ext4) -> None:
    device = ext4.device()
    debugfs(device, "ssv state 3")  # valid, but errors recorded
    params = {"device": device, "directory": ext4.directory()}
    result = agent("start", params)
    assert result.rc == 0, result.stderr
    assert "e2fsck" in result.stderr


def test_clean_filesystem_is_not_checked_unless_forced(ext4: Ext4) -> None:
    params = {"device": ext4.device(), "directory": ext4.directory()}
    result = agent("start", params)
    assert result.rc == 0 and "e2fsck" not in result.stderr, result.stderr
    stop = agent("stop", params)
    assert stop.rc == 0, stop.stderr
    forced = agent("start", {**params, "fsck": "force"})
    assert forced.rc == 0 and "e2fsck -p -f" in forced.stderr, forced.stderr


def test_unfixable_filesystem_is_not_mounted(ext4: Ext4) -> None:
    device = ext4.device()
    debugfs(device, "clri <2>")  # no root directory: e2fsck -p gives up
    debugfs(device, "ssv state 0")
    params = {"device": device, "directory": ext4.directory()}
    result = agent("start", params)
    assert result.rc == 1
    assert "e2fsck" in result.reason and "not mounting" in result.reason
    assert not mounted(params["directory"])


@pytest.mark.parametrize("offset, expect", [(0x38, "bad superblock magic"),
                                            (0x78, "checksum does not match")])
def test_corrupted_superblock_fails_start(ext4: Ext4, offset: int, expect: str) -> None:
    device = ext4.device()
    with open(device, "r+b") as handle:
        handle.seek(1024 + offset)
        handle.write(b"\xde\xad")
        handle.flush()
        os.fsync(handle.fileno())
    params = {"device": device, "directory": ext4.directory()}
    result = agent("start", params)
    assert result.rc == 1
    assert "no intact ext2/3/4 superblock" in result.reason and expect in result.reason
    assert not mounted(params["directory"])


def test_fsynced_writes_survive_stop_and_start(ext4: Ext4) -> None:
    params = started(ext4)
    data = os.urandom(1 << 20)
    path = Path(params["directory"]) / "data.bin"
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    assert agent("stop", params).rc == 0
    assert not path.exists()
    assert agent("start", params).rc == 0
    assert path.read_bytes() == data


def test_mmp_required(ext4: Ext4) -> None:
    params = {"device": ext4.device(), "directory": ext4.directory(), "mmp": "true"}
    result = agent("start", params)
    assert result.rc == 6 and "mmp" in result.reason


def _kernel_releases(device: str) -> bool:
    name = os.path.basename(os.path.realpath(device))
    return not os.path.isdir(f"/sys/fs/ext4/{name}")


def test_mmp_refuses_mount_held_by_another_namespace(ext4: Ext4) -> None:
    device = ext4.device("-O", "mmp", "-E", "mmp_update_interval=1")
    directory = ext4.directory()
    other = ext4.directory("other-ns")
    # "Another node": a private mount namespace that mounts the device and stays alive.
    holder = ext4.spawn([
        "/usr/bin/unshare", "-m", "--propagation", "private", PY, "-c",
        "import subprocess, sys, time; "
        f"subprocess.run(['/usr/bin/mount', '{device}', '{other}'], check=True); "
        "print('ready', flush=True); time.sleep(600)"])
    params = {"device": device, "directory": directory, "mmp": "true"}
    assert not mounted(other)  # invisible from here
    result = agent("start", params)
    assert result.rc == 1, result.stderr
    assert "refusing a second mount" in result.reason
    assert not mounted(directory)
    holder.kill()
    holder.wait(timeout=10)
    for _ in range(200):  # the namespace's mounts go away shortly after its last process
        if _kernel_releases(device):
            break
        time.sleep(0.05)
    result = agent("start", params)
    assert result.rc == 0, result.stderr
    assert agent("monitor", params, 20).rc == 0
    assert agent("stop", params).rc == 0


def test_mmp_refuses_filesystem_being_updated_by_another_node(ext4: Ext4) -> None:
    device = ext4.device("-O", "mmp", "-E", "mmp_update_interval=1")
    sb = blockdev.read_superblock(device)
    # Another node's kmmpd: rewrite the MMP sequence while the agent watches it.
    writer = ext4.spawn([PY, "-c", textwrap.dedent(f"""
        import os, struct, time
        from hakit.formats.ext4sb import crc32c_raw
        fd = os.open({device!r}, os.O_RDWR)
        offset = {sb.mmp_block * sb.block_size}
        block = bytearray(os.pread(fd, 1024, offset))
        block[0x10:0x50] = b'node-b'.ljust(64, b'\\0')
        struct.pack_into('<H', block, 0x70, 1)  # check interval 1 s keeps the test short
        seq = 1
        print('ready', flush=True)
        while True:
            struct.pack_into('<I', block, 4, seq)
            csum = crc32c_raw(bytes(block[:0x3FC]), {sb.checksum_seed})
            struct.pack_into('<I', block, 0x3FC, csum)
            os.pwrite(fd, bytes(block), offset)
            os.fsync(fd)
            seq += 1
            time.sleep(0.3)
    """)])
    params = {"device": device, "directory": ext4.directory(), "mmp": "true"}
    result = agent("start", params, timeout_ms=60000)  # ext4 watches the sequence 11 s
    assert result.rc == 1, result.stderr
    assert "node-b" in result.reason and "refusing" in result.reason
    assert not mounted(params["directory"])
    writer.kill()


def test_stop_is_quiet_when_device_is_gone_but_leaves_nothing_mounted(ext4: Ext4,
                                                                       tmp_path: Path) -> None:
    device = ext4.device()
    link = tmp_path / "by-name"
    link.symlink_to(device)
    params = {"device": str(link), "directory": ext4.directory()}
    assert agent("start", params).rc == 0
    link.unlink()  # the stable name vanished (e.g. udev removed it) while mounted
    assert agent("monitor", params).rc == 1
    assert agent("stop", params).rc == 0
    assert not mounted(params["directory"])



def test_holders_are_matched_by_mount_not_by_device(ext4: Ext4, tmp_path: Path) -> None:
    params = started(ext4, signal_delay="0.3s")
    directory = Path(params["directory"])
    (directory / "shared").mkdir()
    bind = ext4.directory("bind")
    subprocess.run(["/usr/bin/mount", "--bind", str(directory / "shared"), bind], check=True,
                   timeout=30)
    via_bind = ext4.spawn([PY, "-c", HOLD_CWD], cwd=bind)  # same filesystem, other mount
    via_ours = ext4.spawn([PY, "-c", HOLD_CWD], cwd=str(directory / "shared"))
    ours, other = mounted(str(directory))[-1], mounted(bind)[-1]
    dev = os.makedev(ours.major, ours.minor)
    exact = {h.pid for h in holders.find_holders([(dev, ours.mount_id)])}
    assert via_ours.pid in exact and via_bind.pid not in exact
    assert via_bind.pid in {h.pid for h in holders.find_holders([(dev, other.mount_id)])}
    wide = {h.pid for h in holders.find_holders([(dev, ours.mount_id)], [dev])}
    assert {via_ours.pid, via_bind.pid} <= wide

    result = agent("stop", params)  # force_unmount=safe
    assert result.rc == 0, result.stderr
    assert via_ours.wait(timeout=10) == -15
    assert via_bind.poll() is None
    assert "still mounted elsewhere" in result.stderr


def test_force_unmount_true_also_signals_other_mounts_of_the_filesystem(
        ext4: Ext4) -> None:
    params = started(ext4, signal_delay="0.3s", force_unmount="true")
    directory = Path(params["directory"])
    (directory / "shared").mkdir()
    bind = ext4.directory("bind")
    subprocess.run(["/usr/bin/mount", "--bind", str(directory / "shared"), bind], check=True,
                   timeout=30)
    via_bind = ext4.spawn([PY, "-c", HOLD_CWD], cwd=bind)
    via_ours = ext4.spawn([PY, "-c", HOLD_CWD], cwd=str(directory))
    result = agent("stop", params)
    assert result.rc == 0, result.stderr
    assert via_ours.wait(timeout=10) == -15
    assert via_bind.wait(timeout=10) == -15


def test_mmp_stale_block_of_a_crashed_node_is_taken_over(ext4: Ext4) -> None:
    device = ext4.device("-O", "mmp", "-E", "mmp_update_interval=1")
    sb = blockdev.read_superblock(device)
    offset = sb.mmp_block * sb.block_size
    with open(device, "r+b") as handle:  # node-c crashed while it had the filesystem mounted
        handle.seek(offset)
        block = bytearray(handle.read(1024))
        block[4:8] = (42).to_bytes(4, "little")
        block[0x10:0x50] = b"node-c".ljust(64, b"\0")
        block[0x70:0x72] = (1).to_bytes(2, "little")
        assert sb.checksum_seed is not None  # mkfs.ext4 enables metadata_csum
        block[0x3FC:] = ext4sb.crc32c_raw(bytes(block[:0x3FC]),
                                          sb.checksum_seed).to_bytes(4, "little")
        handle.seek(offset)
        handle.write(bytes(block))
        handle.flush()
        os.fsync(handle.fileno())
    params = {"device": device, "directory": ext4.directory(), "mmp": "true"}
    result = agent("start", params, timeout_ms=60000)  # ext4 waits 2 x 11 s
    assert result.rc == 0, result.stderr
    assert "node-c" in result.stderr
    assert agent("stop", params).rc == 0


def test_directory_with_space_and_symlink(ext4: Ext4, tmp_path: Path) -> None:
    real = ext4.directory("my disk\tx")  # mountinfo shows it as my\040disk\011x
    link = tmp_path / "via-link"
    link.symlink_to(real)
    for directory in (real, str(link)):
        params = {"device": ext4.device(), "directory": directory}
        assert agent("start", params).rc == 0, directory
        assert mounted(real), directory
        for level in (0, 10, 20):
            assert agent("monitor", params, level).rc == 0, (directory, level)
        holder = ext4.spawn([PY, "-c", HOLD_CWD], cwd=real)
        assert agent("stop", params).rc == 0, directory
        assert holder.wait(timeout=10) == -15
        assert not mounted(real)
        assert agent("monitor", params).rc == 7


def test_mmp_second_start_from_another_namespace_is_refused(ext4: Ext4) -> None:
    device = ext4.device("-O", "mmp", "-E", "mmp_update_interval=1")
    first = {"device": device, "directory": ext4.directory(), "mmp": "true"}
    assert agent("start", first).rc == 0
    second = {"device": device, "directory": ext4.directory("second"), "mmp": "true"}
    # A new mount namespace with its copy of our mount removed: there the device looks
    # unmounted, as on another node, but the kernel still has it mounted.
    script = textwrap.dedent(f"""
        import subprocess, sys
        subprocess.run(['/usr/bin/umount', {first['directory']!r}], check=True)
        sys.exit(subprocess.run([{str(FS_AGENT)!r}, 'start']).returncode)
    """)
    env = agent_env(second)
    proc = subprocess.run(["/usr/bin/unshare", "-m", "--propagation", "private", PY, "-c",
                           script], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 1, proc.stderr
    assert "refusing a second mount" in proc.stderr
    assert mounted(first["directory"])  # ours, untouched
    assert agent("monitor", first, 20).rc == 0


def test_busy_without_any_process_holder_fails_with_reason(ext4: Ext4) -> None:
    params = started(ext4)
    image = Path(params["directory"]) / "inner.img"
    with open(image, "wb") as handle:
        handle.truncate(1 << 20)
    inner = subprocess.run(["/usr/sbin/losetup", "--find", "--show", str(image)],
                           capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    try:
        result = agent("stop", params, timeout_ms=8000)
        assert result.rc == 1
        assert "no process to signal" in result.reason
        assert mounted(params["directory"])
    finally:
        subprocess.run(["/usr/sbin/losetup", "-d", inner], check=False, timeout=30)
    for _ in range(100):  # loop detach is asynchronous
        if agent("stop", params).rc == 0:
            break
        time.sleep(0.1)
    assert not mounted(params["directory"])


def test_ext3(ext4: Ext4) -> None:
    device = ext4.device("-t", "ext3")
    assert blockdev.read_superblock(device).fstype == "ext3"
    params = {"device": device, "directory": ext4.directory(), "fstype": "ext3"}
    assert agent("start", params).rc == 0
    assert mounted(params["directory"])[-1].fstype == "ext3"
    assert agent("monitor", params, 20).rc == 0
    assert agent("stop", params).rc == 0
    wrong = agent("start", {**params, "device": ext4.device(), "fstype": "ext3"})
    assert wrong.rc == 6 and "fstype" in wrong.reason


def test_reload_agent_applies_new_unmount_policy_without_a_remount(ext4: Ext4) -> None:
    """force_unmount, signals and delay are reloadable: the mount stays (same mount id),
    and the next stop uses the new values."""
    params = started(ext4, force_unmount="false")
    before = mounted(params["directory"])[-1].mount_id
    holder = ext4.spawn([PY, "-c", HOLD_CWD], cwd=params["directory"])
    bad = agent("reload-agent", {**params, "signal_delay": "soon"})
    assert bad.rc == 6 and "signal_delay" in bad.reason
    new = {**params, "force_unmount": "safe", "term_signals": "TERM", "signal_delay": "0.2s"}
    reloaded = agent("reload-agent", new)
    assert reloaded.rc == 0, reloaded.stderr
    assert mounted(params["directory"])[-1].mount_id == before
    assert agent("monitor", new, 10).rc == 0
    stopped = agent("stop", new)
    assert stopped.rc == 0, stopped.stderr
    assert holder.wait(timeout=10) == -15
