"""Fixtures shared by every test: namespaces, loop devices, OCF environments."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.loopdev import LoopPool
from tests.harness.netns import NetnsPool


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
