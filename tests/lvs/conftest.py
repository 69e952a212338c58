"""Fixtures for ocf:hakit:lvs: the two kernel guests its IPVS tests run in, started together.

The host kernel has no ip_vs, so everything that needs IPVS runs in Debian's kernel under
QEMU (tests.harness.vm).  Two guests cover it: the contract guest (lifecycle, roles,
ocf-tester, ownership, health checks and the sorry server) and the failover guest (a
long-lived connection across failover and failback, then the same through keepalived).
Both start when the first test needs either, so they boot and run side by side.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

from tests.harness.ocf import AGENTS
from tests.harness.vm import Guest, GuestKernel, GuestResult
from tests.kernel.guestkit import Steps
from tests.lvs import lab

LVS_AGENT = AGENTS / "lvs"
#: Generous: TCG guests on a loaded 2-CPU CI machine run the agents ten times slower.
GUEST_TIMEOUT = 900


class GuestRun:
    """A started guest whose result is waited for once, on first use."""

    def __init__(self, guest: Guest) -> None:
        self.guest = guest
        self._result: Optional[GuestResult] = None

    def result(self) -> GuestResult:
        if self._result is None:
            self._result = self.guest.wait(GUEST_TIMEOUT)
        return self._result

    @property
    def steps(self) -> Steps:
        self.result()
        return Steps(self.guest.dir)

    def text(self, name: str) -> str:
        self.result()
        path = self.guest.path(name)
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="session")
def lvs_guests(guest_kernel: GuestKernel, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[dict[str, GuestRun]]:
    base: Path = tmp_path_factory.mktemp("lvs-guests")
    guests = {
        "contract": Guest(guest_kernel, base / "contract", name="lvs-contract", memory_mb=384),
        "failover": Guest(guest_kernel, base / "failover", name="lvs-failover", memory_mb=384),
    }
    try:
        guests["contract"].start(lab.contract_script())
        guests["failover"].start(lab.failover_script(anchor=True))
        yield {name: GuestRun(g) for name, g in guests.items()}
    finally:
        for guest in guests.values():
            guest.kill()


@pytest.fixture(scope="session")
def contract_guest(lvs_guests: dict[str, GuestRun]) -> GuestRun:
    run = lvs_guests["contract"]
    assert run.result().rc == 0, run.result().output[-3000:]
    return run


@pytest.fixture(scope="session")
def failover_guest(lvs_guests: dict[str, GuestRun]) -> GuestRun:
    run = lvs_guests["failover"]
    assert run.result().rc == 0, run.result().output[-3000:]
    return run
