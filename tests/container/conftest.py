"""Fixtures for ocf:hakit:container: a pool on the session's real Ceph cluster, and per test
an RBD image holding an ext4 filesystem with a busybox container on it (``lxc-create -t busybox``).

Everything is real: rbd-fuse + loop for the mapping, mount(2), liblxc, and the VIP inside a
throwaway network namespace (198.18.0.0/15, no route out).  Teardown stops the resource with
the agent, then removes whatever is still left by hand (container, mount, mapping).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from hakit.steps.lxc.marker import StartMarker
from tests.harness.ceph import CephCluster, CephEnv
from tests.harness.netns import Netns, NetnsPool
from tests.harness.ocf import AGENTS, Result, run_agent

AGENT = AGENTS / "container"
RBD_AGENT = AGENTS / "rbd"
POOL = f"hakit-ct-{os.getpid()}"  # unique per session: /dev/hakit/POOL never collides
VIP4 = "198.18.7.10"

BASE_CONFIG = """\
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
"""


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=60)


def _need_lxc() -> None:
    if not Path("/usr/bin/lxc-create").exists():
        pytest.skip("/usr/bin/lxc-create is not installed")


def _kill_leftover_fuse(pool: str) -> None:
    """SIGKILL the rbd-fuse daemons the tests started for ``pool`` that are still there, by
    the PID in their pidfile: once the cluster is gone, their I/O would hang forever and
    leave whatever sits on the loop device in uninterruptible sleep."""
    for pidfile in Path("/run/hakit/rbd").glob(f"{pool}@*/rbd-fuse.pid"):
        with contextlib.suppress(ValueError, OSError):
            pid = int(pidfile.read_text().split()[0])
            if Path(f"/proc/{pid}/comm").read_text().strip() == "rbd-fuse":
                os.kill(pid, signal.SIGKILL)
        mnt = pidfile.parent / "mnt"
        if os.path.ismount(mnt):
            _run("/usr/bin/umount", "-l", str(mnt), check=False)


@pytest.fixture(scope="session")
def ceph_env(ceph_cluster: CephCluster) -> Iterator[CephEnv]:
    """This session's pool for the container tests and the cephx user client.hakit-ct."""
    _need_lxc()
    try:
        yield CephEnv.create(ceph_cluster, POOL, "hakit-ct")
    finally:
        _kill_leftover_fuse(POOL)  # before the cluster stops


@dataclass
class Stack:
    """One container on its own image, and the composite's parameters for it."""

    env: CephEnv
    name: str
    lxcpath: Path
    log: Path
    netns: Optional[Netns] = None
    peer: Optional[Netns] = None  # the other end of the VIP's link

    @property
    def directory(self) -> Path:
        return self.lxcpath / self.name

    @property
    def device(self) -> Path:
        return Path("/dev/hakit") / self.env.pool / self.name

    def params(self, **extra: str) -> dict[str, str]:
        values = {"name": self.name, "pool": self.env.pool,
                  "cephconf": str(self.env.cluster.conf), "user": self.env.user,
                  "keyring": str(self.env.keyring), "device_type": "fuse",
                  "lxcpath": str(self.lxcpath), "log_file": str(self.log),
                  # Kill at once: busybox init's clean shutdown calls sync(2), which waits
                  # for every filesystem on the host, including other tests' stuck ones.
                  "stop_timeout": "0"}
        if self.netns is not None:
            values.update(ip=VIP4, cidr_netmask="24", nic="eth0",
                          network_namespace=self.netns.name)
        values.update(extra)
        return values

    def rbd_params(self) -> dict[str, str]:
        return self.env.params(self.name)

    def agent(self, action: str, params: Optional[Mapping[str, str]] = None,
              **kwargs: object) -> Result:
        return run_agent(AGENT, action, params if params is not None else self.params(),
                         **kwargs)  # type: ignore[arg-type]

    # What is up, seen from outside the agent.
    def mapped(self) -> bool:
        return os.path.lexists(self.device) or bool(
            list(Path("/run/hakit/rbd").glob(f"{self.env.pool}@*@{self.name}/rbd-fuse.pid")))

    def mounted(self) -> bool:
        return os.path.ismount(self.directory)

    def state(self) -> str:
        out = _run("/usr/bin/lxc-info", "-P", str(self.lxcpath), "-n", self.name, "-sH",
                   check=False).stdout
        return out.strip() or "STOPPED"

    def has_vip(self) -> bool:
        if self.netns is None:
            return False
        return VIP4 in self.netns.ip("-4", "addr", "show", check=False).stdout

    def anything_up(self) -> list[str]:
        found = []
        if self.mapped():
            found.append("map")
        if self.mounted():
            found.append("mount")
        if self.state() != "STOPPED":
            found.append("container")
        if self.has_vip():
            found.append("vip")
        return found


#: mount, lxc-create, umount: run in a private mount namespace of its own (see _populate).
_POPULATE = ('mount -t ext4 "$1" "$2"\n'
             'trap \'umount "$2"\' EXIT\n'
             '/usr/bin/lxc-create -t busybox -P "$3" -n "$4" -f "$5"\n')


def _populate(env: CephEnv, name: str, lxcpath: Path, config: str) -> None:
    """mkfs.ext4 on the freshly mapped image and a busybox container inside it.

    The mount lives in a private mount namespace, unmounted there before it exits: a mount
    namespace another process makes while the filesystem is mounted in ours (this host's
    soak starts some every second) keeps a copy that our umount does not remove, with the
    data still unwritten; rbd stop then has to sync it there (tests/rbd/test_fuse_remap.py).
    """
    rbd = env.params(name)
    mapped = run_agent(RBD_AGENT, "start", rbd)
    assert mapped.rc == 0, mapped.stderr
    directory = lxcpath / name
    try:
        device = f"/dev/hakit/{env.pool}/{name}"
        _run("/usr/sbin/mkfs.ext4", "-q", "-F", device)
        directory.mkdir(parents=True, exist_ok=True)
        base = lxcpath / f".{name}.conf"
        base.write_text(config)
        _run("/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-euc",
             _POPULATE, "populate", device, str(directory), str(lxcpath), name, str(base))
    finally:
        stopped = run_agent(RBD_AGENT, "stop", rbd)
        assert stopped.rc == 0, stopped.stderr


def _tear_down(stack: Stack) -> None:
    """Stop with the agent; then remove by hand whatever it left (the test fails anyway)."""
    stack.agent("stop", timeout_ms=120000)
    path, name = str(stack.lxcpath), stack.name
    if stack.state() != "STOPPED":
        _run("/usr/bin/lxc-stop", "-k", "-P", path, "-n", name, check=False)
    StartMarker(path, name).remove()
    for pattern in (f"*/lxc.*.{name}", f"lxc.*.{name}"):
        for directory in sorted(Path("/sys/fs/cgroup").glob(pattern), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()
    while stack.mounted():
        if _run("/usr/bin/umount", str(stack.directory), check=False).returncode != 0:
            _run("/usr/bin/umount", "-l", str(stack.directory), check=False)
    run_agent(RBD_AGENT, "stop", stack.rbd_params())
    if stack.directory.exists() and not stack.mounted():
        shutil.rmtree(stack.directory, ignore_errors=True)


class StackFactory:
    """Makes stacks for one test and tears every one of them down."""

    def __init__(self, env: CephEnv, lxcpath: Path, netns_pool: NetnsPool) -> None:
        self.env = env
        self.lxcpath = lxcpath
        self.netns_pool = netns_pool
        self._made: list[Stack] = []

    def create(self, *, vip: bool = False, config: str = BASE_CONFIG,
               populate: bool = True, filesystem: bool = True) -> Stack:
        name = f"ct-{secrets.token_hex(4)}"
        netns = peer = None
        if vip:
            netns = self.netns_pool.create()
            peer = self.netns_pool.create()
            self.netns_pool.veth(netns, "eth0", peer, "eth0")
            netns.ip("addr", "add", "198.18.7.1/24", "dev", "eth0")
        stack = Stack(self.env, name, self.lxcpath, self.lxcpath / f"{name}.log", netns, peer)
        self._made.append(stack)
        self.env.cluster.create_image(f"{self.env.pool}/{name}")
        if populate and filesystem:
            _populate(self.env, name, self.lxcpath, config)
        elif filesystem:
            rbd = stack.rbd_params()
            assert run_agent(RBD_AGENT, "start", rbd).rc == 0
            try:
                _run("/usr/sbin/mkfs.ext4", "-q", "-F", str(stack.device))
            finally:
                assert run_agent(RBD_AGENT, "stop", rbd).rc == 0
        return stack

    def cleanup(self) -> None:
        for stack in reversed(self._made):
            _tear_down(stack)
        self._made.clear()


@pytest.fixture
def stacks(ceph_env: CephEnv, tmp_path: Path) -> Iterator[StackFactory]:
    pool = NetnsPool()
    factory = StackFactory(ceph_env, tmp_path / "lxc", pool)
    factory.lxcpath.mkdir()
    try:
        yield factory
    finally:
        try:
            factory.cleanup()
        finally:
            pool.cleanup()


@pytest.fixture
def stack(stacks: StackFactory) -> Stack:
    """A container on its own image, with a VIP in a test namespace."""
    return stacks.create(vip=True)
