"""A real Redfish BMC (sushy-emulator, fake driver) for the Redfish tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.redfish_sim import SUSHY_VENV, FakeSystem, RedfishSimulator


@pytest.fixture(scope="module")
def bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishSimulator]:
    """One BMC managing two systems, node1 (on) and node2 (off)."""
    if not (SUSHY_VENV / "bin" / "sushy-emulator").exists():
        pytest.fail("sushy-emulator is missing: run `make deps`")
    sim = RedfishSimulator(tmp_path_factory.mktemp("redfish"),
                           [FakeSystem("node1", str(uuid.uuid4()), "On"),
                            FakeSystem("node2", str(uuid.uuid4()), "Off")])
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
