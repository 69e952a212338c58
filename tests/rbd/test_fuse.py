"""The fuse path end to end: rbd-fuse + loop device on the real cluster."""

from __future__ import annotations

import os
from pathlib import Path

from tests.harness.ceph import CephEnv
from tests.harness.ocf import AGENTS, run_agent

AGENT = AGENTS / "rbd"


def _link(env: CephEnv, image: str) -> Path:
    return Path("/dev/hakit") / env.pool / image


def _rbd_fuse_pid(image: str, pool: str) -> int:
    return int(Path(f"/run/hakit/rbd/{pool}@@{image}/rbd-fuse.pid").read_text())


def test_data_survives_stop_and_start(rbd_env: CephEnv, image: str, tmp_path: Path) -> None:
    params = rbd_env.params(image)
    payload = os.urandom(4096)
    assert run_agent(AGENT, "start", params).rc == 0
    link = _link(rbd_env, image)
    assert link.is_symlink() and os.readlink(link).startswith("/dev/loop")
    # The loop device is recorded, so the agent never has to ask loop devices of other
    # namespaces for their backing file (that ioctl blocks on a frozen rbd-fuse).
    record = Path(f"/run/hakit/rbd/{rbd_env.pool}@@{image}/loop")
    assert record.read_text().strip() == os.readlink(link)
    fd = os.open(link, os.O_WRONLY)
    try:
        os.pwrite(fd, payload, 1 << 20)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert run_agent(AGENT, "stop", params).rc == 0
    assert not link.exists()
    assert not record.exists()
    assert run_agent(AGENT, "start", params).rc == 0
    fd = os.open(link, os.O_RDONLY)
    try:
        assert os.pread(fd, 4096, 1 << 20) == payload
    finally:
        os.close(fd)
    # Ceph itself has the data, not only a cache on this node.
    assert run_agent(AGENT, "stop", params).rc == 0
    exported = tmp_path / "export"
    rbd_env.cluster.run(["rbd", "export", "--no-progress", f"{rbd_env.pool}/{image}",
                         str(exported)], timeout=30)
    with exported.open("rb") as dump:
        dump.seek(1 << 20)
        assert dump.read(4096) == payload


def test_monitor_depths_and_lock_owner(rbd_env: CephEnv, image: str) -> None:
    params = rbd_env.params(image)
    assert run_agent(AGENT, "start", params).rc == 0
    shallow = run_agent(AGENT, "monitor", params, interval_ms=10000)
    deep = run_agent(AGENT, "monitor", params, interval_ms=60000,
                     extra_env={"OCF_CHECK_LEVEL": "10"})
    assert (shallow.rc, deep.rc) == (0, 0), deep.stderr
    status = rbd_env.cluster.run(["rbd", "lock", "ls", "--format", "json",
                                  f"{rbd_env.pool}/{image}"]).stdout
    assert "auto" in status  # rbd-fuse's client holds the exclusive lock
    assert run_agent(AGENT, "stop", params).rc == 0


def test_monitor_notices_dead_rbd_fuse(rbd_env: CephEnv, image: str) -> None:
    params = rbd_env.params(image)
    assert run_agent(AGENT, "start", params).rc == 0
    pid = _rbd_fuse_pid(image, rbd_env.pool)
    os.kill(pid, 9)
    result = run_agent(AGENT, "monitor", params, interval_ms=10000)
    assert result.rc == 1
    assert "rbd-fuse" in result.reason
    assert run_agent(AGENT, "stop", params).rc == 0
    assert run_agent(AGENT, "monitor", params, interval_ms=10000).rc == 7


def test_stop_while_device_is_open(rbd_env: CephEnv, image: str) -> None:
    params = rbd_env.params(image)
    assert run_agent(AGENT, "start", params).rc == 0
    pid = _rbd_fuse_pid(image, rbd_env.pool)
    fd = os.open(_link(rbd_env, image), os.O_RDONLY)
    try:
        result = run_agent(AGENT, "stop", params)
        assert result.rc == 0, result.stderr
        assert not Path(f"/proc/{pid}").exists() or "Z" in \
            Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    finally:
        os.close(fd)
    assert run_agent(AGENT, "monitor", params, interval_ms=10000).rc == 7


def test_read_only_mapping(rbd_env: CephEnv, image: str) -> None:
    params = rbd_env.params(image, read_only="true")
    assert run_agent(AGENT, "start", params).rc == 0
    link = _link(rbd_env, image)
    device = os.readlink(link)
    assert Path(f"/sys/block/{Path(device).name}/ro").read_text().strip() == "1"
    deep = run_agent(AGENT, "monitor", params, interval_ms=60000,
                     extra_env={"OCF_CHECK_LEVEL": "10"})
    assert deep.rc == 0
    assert run_agent(AGENT, "stop", params).rc == 0
