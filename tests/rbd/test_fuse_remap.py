"""What ext4 wrote on the fuse path is on the image after rbd stop and a new start, even
when a copy of the mount outlives our umount.

The container tests' "Exec format error - Failed to exec /sbin/init" and missing container
configs at high load: the image was populated (mkfs, mount, lxc-create, umount), rbd
stopped, mapped again, and the files were not there.  A process that made a mount
namespace (``unshare --mount``, ``ip netns exec``: the soak's writers) while the ext4 was
mounted kept a private copy of the mount, so our umount left the filesystem alive, its
data still unwritten in the page cache; rbd stop's ``losetup --detach`` was deferred, the
rbd-fuse unmount was busy, and rbd-fuse was killed: the later writeback failed (ext4
``emergency_ro`` in the copy) and the data was lost.  Under the 70-container soak (load
60-120), 2 of 36 populate/stop/start cycles (4 images in parallel) lost every file; with
the fix 0 of 20 (6 copies gone within the wait; one stop refused, before the sync).
rbd stop now waits for the detach and, while a filesystem is still mounted on the loop
device, syncs it through ``/proc/PID/root`` before it stops rbd-fuse (or fails, rbd-fuse
left running, when it cannot).  Here the copy is made on purpose by a holder process
(``unshare --mount --propagation private``), so it happens every time: before the fix the
first stop returned 0 and all 22 files were gone.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
import uuid
from pathlib import Path

from tests.harness.ceph import CephEnv
from tests.harness.ocf import AGENTS, run_agent

AGENT = AGENTS / "rbd"


def _write_tree(root: Path, seed: bytes) -> dict[str, str]:
    """A container-like tree (a 2 MiB binary, small files, a config): path -> sha256."""
    sums = {}
    (root / "rootfs" / "bin").mkdir(parents=True)
    (root / "rootfs" / "etc").mkdir()
    files = {"rootfs/bin/busybox": hashlib.sha256(seed).digest() * (2 << 20 >> 5),
             "config": b"lxc.uts.name = " + seed + b"\n"}
    for i in range(20):
        files[f"rootfs/etc/f{i}"] = hashlib.sha256(seed + b"%d" % i).hexdigest().encode()
    for rel, data in files.items():
        (root / rel).write_bytes(data)
        sums[rel] = hashlib.sha256(data).hexdigest()
    return sums


def _lost(root: Path, sums: dict[str, str]) -> list[str]:
    bad = []
    for rel, digest in sums.items():
        try:
            if hashlib.sha256((root / rel).read_bytes()).hexdigest() != digest:
                bad.append(f"{rel}: content differs")
        except OSError as exc:
            bad.append(f"{rel}: {exc.strerror}")
    return bad


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, timeout=120, capture_output=True)


def _holder_has(holder: subprocess.Popen[bytes], mnt: Path) -> bool:
    try:
        text = Path(f"/proc/{holder.pid}/mountinfo").read_text()
    except OSError:
        return False
    return f" {mnt} " in text and "sleep" in Path(f"/proc/{holder.pid}/comm").read_text()


def test_a_mount_copied_into_another_namespace_loses_nothing(rbd_env: CephEnv,
                                                             tmp_path: Path) -> None:
    name = f"remap-{uuid.uuid4().hex[:8]}"
    rbd_env.cluster.create_image(f"{rbd_env.pool}/{name}")
    params = rbd_env.params(name)
    device = f"/dev/hakit/{rbd_env.pool}/{name}"
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    assert run_agent(AGENT, "start", params).rc == 0
    holder = None
    try:
        _sh("/usr/sbin/mkfs.ext4", "-q", "-F", device)
        _sh("mount", "-t", "ext4", device, str(mnt))
        try:
            sums = _write_tree(mnt, name.encode())
            holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private",
                                       "sleep", "120"])
            end = time.monotonic() + 30
            while not _holder_has(holder, mnt):
                assert time.monotonic() < end, "the holder never got its namespace"
                time.sleep(0.05)
        finally:
            _sh("umount", str(mnt))
        # The filesystem lives on in the holder's namespace, its data unwritten: stop
        # syncs it there before it stops rbd-fuse, and says so.
        stopped = run_agent(AGENT, "stop", params, timeout_ms=10000)
        assert stopped.rc == 0, stopped.stderr
        assert "synced it" in stopped.stderr and str(mnt) in stopped.stderr
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
    assert run_agent(AGENT, "start", params).rc == 0
    try:
        _sh("mount", "-t", "ext4", "-o", "ro", device, str(mnt))
        try:
            assert _lost(mnt, sums) == []
        finally:
            _sh("umount", str(mnt))
    finally:
        assert run_agent(AGENT, "stop", params).rc == 0
