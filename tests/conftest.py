"""Fixtures shared by every test: namespaces, loop devices, OCF environments."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import skipguard
from tests.harness.ceph import CephCluster
from tests.harness.installed import StagedInstall
from tests.harness.loopdev import LoopPool
from tests.harness.netns import NetnsPool
from tests.harness.vm import GuestKernel, VmError, prepare


def pytest_configure(config: pytest.Config) -> None:
    # A run that skips a suite for a missing prerequisite fails (tests/accepted_skips.py).
    skipguard.pytest_configure(config)


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces, loop devices, mounts)")


@pytest.fixture
def netns_pool() -> Iterator[NetnsPool]:
    """Network namespaces (and veth/bridges between them), all removed afterwards."""
    _need_root()
    pool = NetnsPool()
    try:
        yield pool
    finally:
        pool.cleanup()


@pytest.fixture
def loop_pool(tmp_path: Path) -> Iterator[LoopPool]:
    """Loop devices over sparse files in the test's temporary directory, detached afterwards."""
    _need_root()
    pool = LoopPool(tmp_path)
    try:
        yield pool
    finally:
        pool.cleanup()


@pytest.fixture(scope="session")
def ceph_cluster() -> Iterator[CephCluster]:
    """One real one-node Ceph cluster for the whole session (the rbd and container tests each
    make their own pool on it), stopped by PID at the end."""
    _need_root()
    for program in ("/usr/bin/ceph-mon", "/usr/bin/rbd-fuse"):
        if not Path(program).exists():
            pytest.skip(f"{program} is not installed")
    cluster = CephCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def guest_kernel() -> GuestKernel:
    """Debian's kernel (rbd, nbd, ip_vs) and its initramfs, prepared once (``make test`` does
    it first) for tests.harness.vm.Guest.  Missing QEMU or kernel fails the test: no skip."""
    _need_root()
    try:
        return prepare()
    except (VmError, OSError) as exc:
        pytest.fail(f"the guest kernel cannot be prepared: {exc}")


@pytest.fixture(scope="session")
def staged_install(tmp_path_factory: pytest.TempPathFactory) -> StagedInstall:
    """`make install` into a staging directory, overlaid on the system paths only for the
    commands run through it (a private mount namespace)."""
    _need_root()
    sample = Path(__file__).parent / "sample"
    return StagedInstall(tmp_path_factory.mktemp("install"),
                         extra_ocf=(sample / "dummy", sample / "dummy_agent.py"))


#: Runtime directories the agents make on first use (ocf:hakit:rbd's /run/hakit/rbd and
#: /dev/hakit, ocf:hakit:lxc's start markers).
AGENT_RUNTIME_DIRS = (Path("/run/hakit"), Path("/dev/hakit"))


def _empty_dirs_bottom_up(root: Path) -> list[Path]:
    found = [Path(d) for d, _, _ in os.walk(root, topdown=False)]
    return [d for d in found if d.is_dir() and not d.is_symlink()]


@pytest.fixture(scope="session", autouse=True)
def agent_runtime_dirs() -> Iterator[None]:
    """Remove the agents' runtime directories this session made, once they are empty.

    Only directories absent before the session are touched, and only with rmdir: anything
    still holding a file (a mapping or marker another run left) stays.
    """
    absent = [d for d in AGENT_RUNTIME_DIRS if not d.exists()]
    yield
    for root in absent:
        if root.is_dir():
            for d in _empty_dirs_bottom_up(root):
                try:
                    d.rmdir()
                except OSError:
                    pass  # not empty: keep it
